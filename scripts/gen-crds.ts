// Writes deploy/crds/*.yaml from the engine's supported-field table (see packages/sdk/src/cluster/crds.ts).
// Run: node --conditions=@virtkit/source scripts/gen-crds.ts   (`--check` fails when the files are stale).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCrds, crdYaml, structuralProblems } from '@virtkit/sdk/cluster';

const dir = join(import.meta.dirname, '..', 'deploy', 'crds');
const check = process.argv.includes('--check');
let stale = 0;
for (const { file, crd } of buildCrds()) {
  const problems = structuralProblems(crd.spec.versions[0]!.schema.openAPIV3Schema);
  if (problems.length) throw new Error(`${file} is not structural:\n  ${problems.join('\n  ')}`);
  const text = crdYaml(crd);
  const path = join(dir, file);
  if (check) {
    let current = '';
    try {
      current = readFileSync(path, 'utf8');
    } catch {}
    if (current !== text) {
      console.error(`stale: deploy/crds/${file}`);
      stale++;
    }
  } else {
    writeFileSync(path, text);
    console.log(`wrote deploy/crds/${file}`);
  }
}
if (stale) process.exitCode = 1;
