/**
 * README.md's CLI walk-through, run as written: the `cli-server` block's command (`virtkit up`) in the
 * background as the reader's first terminal, the `file` blocks saved under their names, then every line of
 * the `cli` blocks in order, each checked for success — with the real kubectl and a HOME of its own, so
 * `~/.virtkit/kubeconfig` is this run's. `npx virtkit` is the SDK's `virtkit` bin, run here from its source.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { REPO_ROOT, type ReadmeBlock, readmeBlocks, where } from './readme/blocks.ts';

const CLI_MAIN = join(REPO_ROOT, 'packages', 'sdk', 'src', 'cli', 'main.ts');
const home = mkdtempSync(join(tmpdir(), 'virtkit-readme-cli-'));
const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
for (const k of Object.keys(env))
  if (k === 'KUBECONFIG' || k === 'VIRTKIT_KUBECONFIG' || k.startsWith('VITEST')) delete env[k];

interface Command {
  at: string;
  argv: [string, ...string[]];
}

/** One shell line as a shell would run it, for the few forms the README uses; anything else is refused. */
function command(b: ReadmeBlock, offset: number, line: string): Command | undefined {
  const at = `README.md:${b.line + 1 + offset}`;
  const text = line.replace(/(^|\s)#.*$/, '').trim();
  if (text === '') return undefined;
  if (/[|;&$<>()`"'\\*?]/.test(text)) throw new Error(`${at}: "${line}" needs a shell feature this test does not run`);
  const words = text.split(/\s+/).map((w) => (w === '~' ? home : w.startsWith('~/') ? join(home, w.slice(2)) : w));
  if (words[0] === 'npx' && words[1] === 'virtkit') {
    return { at, argv: [process.execPath, '--conditions=@virtkit/source', CLI_MAIN, ...words.slice(2)] };
  }
  if (words[0] === 'kubectl') return { at, argv: ['kubectl', ...words.slice(1)] };
  throw new Error(`${at}: "${line}" runs a program this test does not know (npx virtkit, kubectl)`);
}

const commands = (b: ReadmeBlock) =>
  b.code.split('\n').flatMap((l, i) => {
    const c = command(b, i, l);
    return c ? [c] : [];
  });

function run(c: Command): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      c.argv[0],
      c.argv.slice(1),
      { cwd: home, env, timeout: 120_000, killSignal: 'SIGKILL' },
      (err, out, errOut) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, output: `${out}${errOut}` });
      },
    );
  });
}

/** What a successful run of each kind of README command prints. */
function expectedOutput(c: Command): RegExp | undefined {
  const words = c.argv.slice(c.argv[0] === 'kubectl' ? 1 : 3);
  const verb = words.find((w) => !w.startsWith('-') && !w.includes('/'));
  if (c.argv[0] === 'kubectl' && verb === 'apply') return /created|configured|unchanged/;
  if (verb === 'start' && words.includes('--wait')) return /is Running/;
  if (verb === 'migrate' && words.includes('--wait')) return /migration Succeeded/;
  if (verb === 'nodes' && words.includes('drain')) return /drained/;
  return undefined;
}

let server: ChildProcess | undefined;
afterAll(() => {
  if (server && server.exitCode === null) server.kill('SIGKILL');
  rmSync(home, { recursive: true, force: true });
});

it('README.md: the CLI and kubectl walk-through runs as written', async () => {
  const blocks = readmeBlocks('README.md');
  const serverBlocks = blocks.filter((b) => b.marker === 'cli-server');
  const cliBlocks = blocks.filter((b) => b.marker === 'cli');
  expect(serverBlocks, 'one <!-- readme-test: cli-server --> block').toHaveLength(1);
  expect(cliBlocks.length, 'a <!-- readme-test: cli --> block').toBeGreaterThan(0);
  for (const b of blocks) {
    const name = /^file\s+(\S+)$/.exec(b.marker ?? '')?.[1];
    if (name) writeFileSync(join(home, name), b.code);
  }

  const serverBlock = serverBlocks[0] as ReadmeBlock;
  const serverCommands = commands(serverBlock);
  expect(serverCommands, `${where(serverBlock)}: one command`).toHaveLength(1);
  const up = serverCommands[0] as Command;
  let serverOutput = '';
  const proc = spawn(up.argv[0], up.argv.slice(1), { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] });
  server = proc;
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${up.at}: no "kubeconfig written" within 90 s:\n${serverOutput}`)),
      90_000,
    );
    const onData = (chunk: Buffer) => {
      serverOutput += chunk.toString();
      if (serverOutput.includes('kubeconfig written')) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${up.at}: exited ${code} before serving:\n${serverOutput}`));
    });
  });

  for (const c of cliBlocks.flatMap(commands)) {
    const r = await run(c);
    if (r.code !== 0) throw new Error(`${c.at}: exit ${r.code}\n${r.output}\n--- virtkit up:\n${serverOutput}`);
    const want = expectedOutput(c);
    if (want) expect(r.output, c.at).toMatch(want);
  }

  proc.kill('SIGINT'); // Ctrl-C in the first terminal
  expect(await exited, `${up.at}: exit code after Ctrl-C`).toBe(0);
}, 600_000);
