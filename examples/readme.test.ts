/**
 * "The README's examples must run as written": every TypeScript block of every README type-checks as a
 * reader's own file would and runs, unchanged, in its own process. A block is a script
 * (`node --conditions=@virtkit/source`) unless the line before it says `<!-- readme-test: vitest -->`, for
 * blocks written as tests. Shell blocks are either run by readme-cli.test.ts (`cli-server`, `cli`) or say
 * why they cannot run here (`manual: <reason>`). Anything else fails with the block's file and line, so no
 * block is left out unnoticed.
 */
import { describe, expect, it } from 'vitest';
import { type ReadmeBlock, readmeBlocks, readmeFiles, where } from './readme/blocks.ts';
import { runBlock } from './readme/run-block.ts';
import { typecheckBlocks } from './readme/typecheck-blocks.ts';

const TS = new Set(['ts', 'typescript']);
const SH = new Set(['sh', 'bash', 'shell', 'console']);
const RUN_TIMEOUT_MS = 60_000;

const blocks = readmeFiles().flatMap((f) => readmeBlocks(f));

/** How a block is checked, or why it cannot be. */
function plan(b: ReadmeBlock): { run: 'node' | 'vitest' } | { shell: string } | { error: string } | undefined {
  if (TS.has(b.lang)) {
    if (b.marker === undefined) return { run: 'node' };
    if (b.marker === 'vitest') return { run: 'vitest' };
    return { error: `${where(b)}: unknown readme-test marker "${b.marker}" on a TypeScript block (none, or "vitest")` };
  }
  if (SH.has(b.lang)) {
    if ((b.marker === 'cli-server' || b.marker === 'cli') && b.file === 'README.md') return { shell: b.marker };
    if (b.marker && /^manual:\s*\S/.test(b.marker)) return { shell: 'manual' };
    return {
      error: `${where(b)}: shell block with no way to run it — mark it <!-- readme-test: cli --> (README.md's CLI walk-through) or <!-- readme-test: manual: why it cannot run in a test -->`,
    };
  }
  return undefined;
}

describe('README blocks', () => {
  it('finds the READMEs and their TypeScript blocks', () => {
    expect(readmeFiles()).toContain('README.md');
    expect(blocks.filter((b) => b.file === 'README.md' && TS.has(b.lang)).length).toBeGreaterThanOrEqual(2);
  });

  it('every shell block is either run by the CLI test or says why it cannot be', () => {
    const problems = blocks.flatMap((b) => {
      const p = plan(b);
      return p && 'error' in p && SH.has(b.lang) ? [p.error] : [];
    });
    expect(problems).toEqual([]);
  });

  it('every TypeScript block type-checks as written', async () => {
    expect(
      await typecheckBlocks(
        blocks.filter((b) => TS.has(b.lang)),
        180_000,
      ),
    ).toEqual([]);
  }, 200_000);

  for (const b of blocks.filter((x) => TS.has(x.lang))) {
    it(
      `${where(b)} runs as written`,
      async () => {
        const p = plan(b);
        if (!p || !('run' in p)) throw new Error(p && 'error' in p ? p.error : `${where(b)}: cannot run`);
        const r = await runBlock(b, p.run, RUN_TIMEOUT_MS);
        if (r.timedOut) throw new Error(`${where(b)} did not finish within ${RUN_TIMEOUT_MS / 1000} s:\n${r.output}`);
        if (r.code !== 0) throw new Error(`${where(b)} failed (exit ${r.code}):\n${r.output}`);
      },
      RUN_TIMEOUT_MS + 30_000,
    );
  }
});
