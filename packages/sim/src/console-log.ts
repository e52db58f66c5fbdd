/**
 * A domain's serial console on one node: a bounded backlog (like virtlogd's log file) and live readers.
 * A reader gets the backlog, then new lines, and ends when the domain stops; it throws when the
 * connection to the node breaks.
 */
import { CONSOLE_BACKLOG_LINES } from './defaults.ts';

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class ConsoleLog {
  readonly #cap: number;
  #lines: string[] = [];
  /** Absolute index of `#lines[0]`. */
  #first = 0;
  /** Absolute index where the current (or last) run of the domain started. */
  #runStart = 0;
  #live = false;
  /** Bumped when the connection breaks; readers started before it throw. */
  #failGen = 0;
  #failure: unknown;
  readonly #waiters = new Set<Waiter>();

  constructor(cap = CONSOLE_BACKLOG_LINES) {
    this.#cap = cap;
  }

  get total(): number {
    return this.#first + this.#lines.length;
  }

  /** Lines still held, oldest first. */
  backlog(): readonly string[] {
    return this.#lines;
  }

  get live(): boolean {
    return this.#live;
  }

  /** The domain started: readers wait for lines from now on. */
  startRun(): void {
    this.#runStart = this.total;
    this.#live = true;
  }

  append(line: string): void {
    this.#lines.push(line);
    // Trim in batches so appends stay O(1) amortised.
    if (this.#lines.length >= this.#cap * 2) {
      const drop = this.#lines.length - this.#cap;
      this.#lines = this.#lines.slice(drop);
      this.#first += drop;
    }
    this.#wake();
  }

  /** The domain stopped: readers drain what is left and end. */
  endRun(): void {
    this.#live = false;
    this.#wake();
  }

  /** The connection to the node broke: current readers throw `error`. */
  fail(error: unknown): void {
    this.#failGen++;
    this.#failure = error;
    const ws = [...this.#waiters];
    this.#waiters.clear();
    for (const w of ws) w.reject(error);
  }

  /** What is held of the current (or last) run, then live lines. */
  async *read(signal?: AbortSignal): AsyncGenerator<string> {
    const gen = this.#failGen;
    let pos = Math.max(this.#runStart, this.#first);
    for (;;) {
      if (signal?.aborted) return;
      if (gen !== this.#failGen) throw this.#failure;
      if (pos < this.#first) pos = this.#first;
      if (pos < this.total) {
        const line = this.#lines[pos - this.#first]!;
        pos++;
        yield line;
        continue;
      }
      if (!this.#live) return;
      await this.#next(signal);
    }
  }

  #next(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      const onAbort = () => {
        this.#waiters.delete(w);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(w);
    });
  }

  #wake(): void {
    if (this.#waiters.size === 0) return;
    const ws = [...this.#waiters];
    this.#waiters.clear();
    for (const w of ws) w.resolve();
  }
}
