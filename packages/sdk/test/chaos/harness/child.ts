/**
 * A harness child process: spawned with the project's Node and source conditions, its stdout read as lines
 * (every line the child wrote before it died is delivered, even after a SIGKILL), stderr kept as a tail for
 * failure messages, and SIGKILL that resolves once the process is gone and its output drained.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ChildOptions {
  /** Label in messages. */
  name: string;
  /** Script (a .ts file; Node strips the types). */
  script: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Called for every stdout line, in order. */
  onLine?: (line: string) => void;
}

export class Child {
  readonly name: string;
  readonly proc: ChildProcess;
  /** Resolves when the process exited and its stdout and stderr were read to the end. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #stderr: string[] = [];
  readonly #lineWaiters = new Set<{ match: (l: string) => boolean; resolve: (l: string) => void }>();
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(options: ChildOptions) {
    this.name = options.name;
    this.proc = spawn(process.execPath, ['--conditions=@virtkit/source', options.script, ...(options.args ?? [])], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
    });
    const out = createInterface({ input: this.proc.stdout!, crlfDelay: Number.POSITIVE_INFINITY });
    out.on('line', (line) => {
      options.onLine?.(line);
      for (const w of [...this.#lineWaiters]) {
        if (w.match(line)) {
          this.#lineWaiters.delete(w);
          w.resolve(line);
        }
      }
    });
    const err = createInterface({ input: this.proc.stderr!, crlfDelay: Number.POSITIVE_INFINITY });
    err.on('line', (line) => {
      this.#stderr.push(line);
      if (this.#stderr.length > 60) this.#stderr.shift();
    });
    const outClosed = new Promise<void>((r) => out.once('close', () => r()));
    const errClosed = new Promise<void>((r) => err.once('close', () => r()));
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      this.proc.once('exit', (code, signal) => resolve({ code, signal })),
    );
    this.exited = Promise.all([exit, outClosed, errClosed]).then(([e]) => {
      this.#exit = e;
      return e;
    });
    // A write to a child that just died must not take the harness down.
    this.proc.stdin!.on('error', () => {});
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  get alive(): boolean {
    return this.#exit === undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The last lines the child wrote to stderr. */
  stderrTail(n = 30): string {
    return this.#stderr.slice(-n).join('\n');
  }

  send(line: string): void {
    if (this.alive) this.proc.stdin!.write(`${line}\n`);
  }

  /** The next stdout line matching, within `timeoutMs` (rejects early when the child exits). */
  waitLine(match: (line: string) => boolean, timeoutMs: number, what: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const w = { match, resolve: (l: string) => done(() => resolve(l)) };
      const timer = setTimeout(
        () => done(() => reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms\n${this.stderrTail()}`))),
        timeoutMs,
      );
      const onExit = () =>
        done(() =>
          reject(new Error(`${this.name} exited (${JSON.stringify(this.#exit)}) before ${what}\n${this.stderrTail()}`)),
        );
      const done = (fn: () => void) => {
        clearTimeout(timer);
        this.#lineWaiters.delete(w);
        this.proc.off('exit', onExit);
        fn();
      };
      this.#lineWaiters.add(w);
      if (!this.alive) onExit();
      else this.proc.once('exit', onExit);
    });
  }

  /** SIGKILL, then waits until the process is gone and everything it wrote has been read. */
  async kill9(): Promise<void> {
    if (this.alive) this.proc.kill('SIGKILL');
    const e = await this.exited;
    if (e.signal !== 'SIGKILL') {
      throw new Error(
        `${this.name} had already exited (${JSON.stringify(e)}) when it was to be killed\n${this.stderrTail()}`,
      );
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
