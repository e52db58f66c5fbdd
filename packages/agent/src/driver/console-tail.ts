import { type FSWatcher, watch } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { Clock, TimerHandle } from '@virtkit/engine';

// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape sequences are control characters
const ANSI = /\u001B(?:\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_])/g;

/** One console line as a person would read it: no CR, no terminal escape sequences. */
export function cleanLine(raw: string): string {
  return raw.replace(ANSI, '').replace(/\r/g, '');
}

/**
 * Follows a growing serial log from a byte offset and hands out complete lines. Woken by inotify
 * (fs.watch) and, because watches can miss events on some file systems, by a poll timer as well.
 */
export class ConsoleTail {
  readonly path: string;
  #offset: number;
  #partial = '';
  #watcher: FSWatcher | undefined;
  #timer: TimerHandle | undefined;
  #reading = false;
  #again = false;
  #stopped = false;
  readonly #clock: Clock;
  readonly #pollMs: number;
  readonly #onLine: (line: string) => void;

  constructor(path: string, offset: number, clock: Clock, onLine: (line: string) => void, pollMs = 200) {
    this.path = path;
    this.#offset = offset;
    this.#clock = clock;
    this.#onLine = onLine;
    this.#pollMs = pollMs;
  }

  get offset(): number {
    return this.#offset;
  }

  start(): void {
    try {
      this.#watcher = watch(this.path, { persistent: false }, () => void this.poll());
      this.#watcher.on('error', () => this.#watcher?.close());
    } catch {
      // The file may not exist yet (QEMU creates it); the poll timer covers it until it does.
    }
    this.#schedule();
    void this.poll();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimer(this.#pollMs, () => {
      if (!this.#watcher && !this.#stopped) {
        try {
          this.#watcher = watch(this.path, { persistent: false }, () => void this.poll());
          this.#watcher.on('error', () => this.#watcher?.close());
        } catch {}
      }
      void this.poll().finally(() => this.#schedule());
    });
  }

  /** Reads whatever was appended since the last read. */
  async poll(): Promise<void> {
    if (this.#reading) {
      this.#again = true;
      return;
    }
    this.#reading = true;
    try {
      do {
        this.#again = false;
        await this.#readNew();
      } while (this.#again && !this.#stopped);
    } finally {
      this.#reading = false;
    }
  }

  async #readNew(): Promise<void> {
    let size: number;
    try {
      size = (await stat(this.path)).size;
    } catch {
      return;
    }
    if (size < this.#offset) {
      // Truncated or replaced: start over from its beginning.
      this.#offset = 0;
      this.#partial = '';
    }
    if (size === this.#offset) return;
    const fh = await open(this.path, 'r');
    try {
      const buf = Buffer.alloc(Math.min(size - this.#offset, 4 * 1024 * 1024));
      const { bytesRead } = await fh.read(buf, 0, buf.length, this.#offset);
      this.#offset += bytesRead;
      const text = this.#partial + buf.toString('utf8', 0, bytesRead);
      const lines = text.split('\n');
      this.#partial = lines.pop() ?? '';
      for (const l of lines) if (!this.#stopped) this.#onLine(cleanLine(l));
    } finally {
      await fh.close();
    }
  }

  /** Stops following; reads once more first so lines written just before the stop are not lost. */
  async stop(flush = true): Promise<void> {
    if (flush && !this.#stopped) await this.poll();
    if (flush && this.#partial && !this.#stopped) {
      this.#onLine(cleanLine(this.#partial));
      this.#partial = '';
    }
    this.#stopped = true;
    this.#timer?.cancel();
    this.#watcher?.close();
  }
}

/** The last `maxLines` complete lines of a file starting at `from` (at most the last 256 KiB are read). */
export async function readLastLines(path: string, from: number, maxLines: number): Promise<string[]> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch {
    return [];
  }
  try {
    const size = (await fh.stat()).size;
    const start = Math.max(from, size - 256 * 1024);
    if (start >= size) return [];
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    const lines = buf.toString('utf8').split('\n');
    lines.pop();
    if (start > from) lines.shift();
    return lines.slice(-maxLines).map(cleanLine);
  } finally {
    await fh.close();
  }
}
