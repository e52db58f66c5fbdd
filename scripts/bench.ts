// Runs every benchmark (`packages/*/bench/*.bench.ts`) in its own Node process, one after another, so
// figures do not disturb each other. `npm run bench -- store` runs those whose path contains "store".
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const filters = process.argv.slice(2);
const files: string[] = [];
for (const pkg of readdirSync(join(root, 'packages'))) {
  const dir = join(root, 'packages', pkg, 'bench');
  let entries: string[] = [];
  try {
    entries = readdirSync(dir);
  } catch {
    continue;
  }
  for (const f of entries.sort()) if (f.endsWith('.bench.ts')) files.push(join(dir, f));
}
const selected = files.filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)));
let failed = 0;
for (const file of selected) {
  console.log(`\n=== ${file.slice(root.length + 1)}`);
  const r = spawnSync(process.execPath, ['--conditions=@virtkit/source', '--expose-gc', file], {
    stdio: 'inherit',
    cwd: root,
  });
  if (r.status !== 0) {
    failed++;
    console.log(`!!! ${file} exited with ${r.status ?? r.signal}`);
  }
}
console.log(`\n${selected.length - failed} benchmarks ran, ${failed} failed`);
process.exit(failed ? 1 : 0);
