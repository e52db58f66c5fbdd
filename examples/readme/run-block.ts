/**
 * Runs one README TypeScript block as a reader would: the block alone in a file inside the repository
 * (so `@virtkit/*` resolve to the workspace packages' sources), in its own process, with a time bound.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, type ReadmeBlock } from './blocks.ts';

export interface BlockRun {
  code: number | null;
  /** Set when the process had to be killed at the time bound. */
  timedOut: boolean;
  output: string;
}

const VITEST_CONFIG = `import { defineConfig } from 'vitest/config';
export default defineConfig({
  resolve: { conditions: ['@virtkit/source'] },
  ssr: { resolve: { conditions: ['@virtkit/source'] } },
  test: { include: ['*.readme.ts'], testTimeout: 60_000 },
});
`;

/** A child environment without the outer vitest's variables, which would confuse a nested run. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('VITEST') && k !== 'NODE_OPTIONS') env[k] = v;
  return env;
}

/** `node` runs the block as a script; `vitest` runs it as a test file (for blocks written with `it`). */
export async function runBlock(block: ReadmeBlock, runner: 'node' | 'vitest', timeoutMs: number): Promise<BlockRun> {
  const base = join(REPO_ROOT, 'tmp');
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, 'readme-'));
  const stem = `${block.file.replace(/[^\w.-]+/g, '_')}-L${block.line}`;
  try {
    let args: string[];
    if (runner === 'node') {
      writeFileSync(join(dir, `${stem}.ts`), block.code);
      args = ['--conditions=@virtkit/source', join(dir, `${stem}.ts`)];
    } else {
      writeFileSync(join(dir, `${stem}.readme.ts`), block.code);
      writeFileSync(join(dir, 'vitest.config.ts'), VITEST_CONFIG);
      const vitest = join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs');
      args = [vitest, 'run', '--root', dir, '--config', 'vitest.config.ts', '--reporter', 'verbose'];
    }
    return await new Promise<BlockRun>((resolve) => {
      execFile(
        process.execPath,
        args,
        { cwd: dir, env: childEnv(), timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const output = `${stdout}${stderr}`;
          if (!err) return resolve({ code: 0, timedOut: false, output });
          const e = err as NodeJS.ErrnoException & { code?: unknown; killed?: boolean };
          resolve({ code: typeof e.code === 'number' ? e.code : null, timedOut: e.killed === true, output });
        },
      );
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
