/**
 * `virtkit up` as users run it: a real process serving the API with simulated nodes, and the real kubectl
 * pointed at the kubeconfig it wrote. Shared by the tests that drive it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface UpProcess {
  readonly dir: string;
  readonly kubeconfig: string;
  readonly proc: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** Runs kubectl against this server (own discovery cache) and returns its stdout. */
  kubectl(...args: string[]): Promise<string>;
  /** SIGKILL unless it already exited. */
  kill(): void;
}

export async function startUp(options: { prefix: string; nodes?: number; speed?: number }): Promise<UpProcess> {
  const dir = mkdtempSync(join(tmpdir(), `${options.prefix}-`));
  const kubeconfig = join(dir, 'kubeconfig');
  const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;
  const proc = spawn(
    process.execPath,
    [
      '--conditions=@virtkit/source',
      main,
      'up',
      '--nodes',
      String(options.nodes ?? 2),
      '--kubeconfig',
      kubeconfig,
      '--speed',
      String(options.speed ?? 20),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      output += b.toString();
      if (output.includes('kubeconfig written')) resolve();
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`virtkit up exited ${code}: ${output}`)));
  });
  return {
    dir,
    kubeconfig,
    proc,
    output: () => output,
    kubectl: async (...args: string[]) =>
      (await run('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args])).stdout,
    kill: () => {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    },
  };
}
