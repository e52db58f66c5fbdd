/**
 * Type-checks README TypeScript blocks as readers' own files would be: each block a module on its own,
 * under the repository's compiler settings, `@virtkit/*` resolved to the workspace sources.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, type ReadmeBlock, where } from './blocks.ts';

/** tsc's diagnostics with each position turned into its README file and line; empty when all check. */
export async function typecheckBlocks(blocks: readonly ReadmeBlock[], timeoutMs: number): Promise<string[]> {
  const base = join(REPO_ROOT, 'tmp');
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, 'readme-tsc-'));
  const byFile = new Map<string, ReadmeBlock>();
  try {
    for (const b of blocks) {
      const name = `${b.file.replace(/[^\w.-]+/g, '_')}-L${b.line}.ts`;
      byFile.set(name, b);
      writeFileSync(join(dir, name), b.code);
    }
    const compilerOptions = {
      noEmit: true,
      composite: false,
      declaration: false,
      declarationMap: false,
      sourceMap: false,
      customConditions: ['@virtkit/source'],
    };
    const tsconfig = { extends: join(REPO_ROOT, 'tsconfig.base.json'), compilerOptions, include: ['*.ts'] };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const output = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [tsc, '-p', dir, '--pretty', 'false'],
        { cwd: dir, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err && (err as { killed?: boolean }).killed)
            reject(new Error(`tsc did not finish within ${timeoutMs} ms`));
          else resolve(err ? `${stdout}${stderr}` : '');
        },
      );
    });
    return output
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => {
        const m = /^(?:.*\/)?([^/(]+\.ts)\((\d+),(\d+)\): (.*)$/.exec(l);
        const b = m ? byFile.get(m[1] ?? '') : undefined;
        return b && m ? `${b.file}:${b.line + Number(m[2])}:${m[3]} (${where(b)}): ${m[4]}` : l;
      });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
