import { execFile } from 'node:child_process';

export interface RunOptions {
  /** Kills the process and rejects after this long. Every external call is bounded. */
  timeoutMs?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: Buffer | string;
  maxBuffer?: number;
}

export class CommandError extends Error {
  readonly command: string;
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(command: string, exitCode: number | null, stderr: string, options?: { cause?: unknown }) {
    super(`${command} failed (exit ${exitCode ?? 'signal'}): ${stderr.trim().slice(-600) || 'no output'}`, options);
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** Runs `file` with an argument array (never a shell) and resolves with its stdout. */
export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        encoding: 'buffer',
        timeout: options.timeoutMs ?? 120_000,
        killSignal: 'SIGKILL',
        maxBuffer: options.maxBuffer ?? 256 * 1024 * 1024,
        cwd: options.cwd,
        env: options.env,
      },
      (err, stdout, stderr) => {
        if (err) {
          const code = typeof err.code === 'number' ? err.code : null;
          const why = err.killed ? `timed out after ${options.timeoutMs ?? 120_000} ms; ` : '';
          reject(new CommandError([file, ...args].join(' '), code, why + stderr.toString('utf8'), { cause: err }));
          return;
        }
        resolve(stdout);
      },
    );
    if (options.input !== undefined) {
      // A reader may stop early (xz --single-stream); that is its answer, not a failure of ours.
      child.stdin?.on('error', () => {});
      child.stdin?.end(options.input);
    }
  });
}
