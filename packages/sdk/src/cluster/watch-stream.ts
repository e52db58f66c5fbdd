/**
 * One logical watch over the Kubernetes watch protocol (newline-delimited `{type, object}` events).
 *
 * The request is sent as soon as the watch is opened, not when it is first read: the apiserver registers
 * a watch before it answers, so once `started` resolves nothing committed later is missed — the port's
 * promise. Events wait in the socket until read.
 *
 * The port's watch lasts until its signal aborts; an apiserver watch does not (request timeouts, load
 * balancers, apiserver restarts end it). So the stream is resumed from the last resourceVersion seen —
 * bookmarks are always requested to keep that version fresh, and only passed on when the caller asked.
 * A resume the server answers with 410 ends the watch with GoneError (the caller relists), as the port
 * says. The socket is paused while the consumer lags, so a slow consumer slows the server's sender and
 * the apiserver, not this process's memory, decides when it is too far behind.
 */
import type { IncomingMessage } from 'node:http';
import { createInterface } from 'node:readline';
import { type Clock, GoneError, type KubeObject, type WatchEvent, type WatchEventType } from '@virtkit/engine';
import { errorFromStatus } from '../client/status-errors.ts';
import type { KubeApi } from './kube-api.ts';

export interface WatchStreamOptions {
  api: KubeApi;
  clock: Clock;
  path: string;
  /** Query parameters other than watch, resourceVersion and allowWatchBookmarks. */
  query: Record<string, string | undefined>;
  resourceVersion: string | undefined;
  allowBookmarks: boolean;
  signal: AbortSignal;
  /** Turns a served object into the caller's form (apiVersion/kind filled or translated). */
  decode: (obj: KubeObject) => KubeObject;
  /** Called with every resourceVersion seen. */
  observe: (rv: string | undefined) => void;
  /** Consecutive failed resumes before the watch gives up with the last error. Default 5. */
  maxResumeFailures?: number;
}

/** Events buffered before the socket is paused; it resumes once the consumer drained them to LOW_WATER. */
const HIGH_WATER = 512;
const LOW_WATER = 128;

interface RawEvent {
  type?: string;
  object?: KubeObject & { code?: number; message?: string };
}

interface Connection {
  response: Promise<IncomingMessage>;
  abort: AbortController;
}

function connect(o: WatchStreamOptions, rv: string | undefined): Connection {
  const abort = new AbortController();
  const response = o.api
    .stream(
      o.path,
      { ...o.query, watch: 'true', allowWatchBookmarks: 'true', resourceVersion: rv },
      AbortSignal.any([o.signal, abort.signal]),
    )
    .then((res) => {
      // An error before the stream reads the response (or after it stopped) must not go unhandled.
      res.on('error', () => {});
      return res;
    });
  return { response, abort };
}

export interface OpenWatch {
  events: AsyncIterableIterator<WatchEvent>;
  /** Resolves (never rejects) once the server registered the first request or refused it. */
  started: Promise<void>;
}

export function openWatchStream(o: WatchStreamOptions): OpenWatch {
  const first = connect(o, o.resourceVersion);
  const started = first.response.then(
    () => undefined,
    () => undefined,
  );
  const gen = run(o, first);
  let begun = false;
  // A generator returned before its first next() never runs its finally: close the request here.
  const events: AsyncIterableIterator<WatchEvent> = {
    next: () => {
      begun = true;
      return gen.next();
    },
    return: (value?: unknown) => {
      if (!begun) first.abort.abort();
      return gen.return(value as undefined);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return { events, started };
}

async function* run(o: WatchStreamOptions, first: Connection): AsyncGenerator<WatchEvent> {
  let rv = o.resourceVersion;
  let failures = 0;
  /** Clean ends in a row that delivered nothing: a server closing at once must not make this spin. */
  let idleEnds = 0;
  const maxFailures = o.maxResumeFailures ?? 5;
  let conn: Connection | undefined = first;
  while (!o.signal.aborted) {
    const current: Connection = conn ?? connect(o, rv);
    conn = undefined;
    let res: IncomingMessage;
    try {
      res = await current.response;
    } catch (err) {
      if (o.signal.aborted) return;
      // An answer from the server (a typed error) is final; a transport problem may heal.
      if ((err as { httpStatus?: number }).httpStatus !== 503 || ++failures > maxFailures) throw err;
      await backoff(o.clock, failures, o.signal);
      continue;
    }
    const queue: RawEvent[] = [];
    let delivered = 0;
    let ended = false;
    let streamError: unknown;
    let wake: (() => void) | undefined;
    const finish = (err?: unknown) => {
      if (err && streamError === undefined) streamError = err;
      ended = true;
      wake?.();
    };
    const lines = createInterface({ input: res, crlfDelay: Number.POSITIVE_INFINITY });
    lines.on('line', (line) => {
      if (!line.trim()) return;
      try {
        queue.push(JSON.parse(line) as RawEvent);
      } catch {
        finish(new Error(`watch stream sent a line that is not JSON: ${line.slice(0, 80)}`));
      }
      if (queue.length >= HIGH_WATER) res.pause();
      wake?.();
    });
    lines.on('error', (err) => finish(err));
    lines.on('close', () => finish());
    res.on('error', (err) => finish(err));
    res.on('aborted', () => finish(new Error('watch connection aborted')));
    const onAbort = () => finish();
    o.signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        if (o.signal.aborted) return;
        const raw = queue.shift();
        if (raw === undefined) {
          if (ended) break;
          await new Promise<void>((r) => {
            wake = r;
          });
          wake = undefined;
          continue;
        }
        if (res.isPaused() && queue.length <= LOW_WATER) res.resume();
        const type = raw.type;
        const obj = raw.object;
        if (type === 'ERROR') {
          const code = obj?.code ?? 500;
          throw code === 410
            ? new GoneError(obj?.message ?? 'too old resource version', { cause: obj })
            : errorFromStatus(code, obj, obj);
        }
        if (!obj || (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED' && type !== 'BOOKMARK')) continue;
        failures = 0;
        delivered++;
        rv = obj.metadata?.resourceVersion ?? rv;
        o.observe(obj.metadata?.resourceVersion);
        if (type === 'BOOKMARK' && !o.allowBookmarks) continue;
        yield { type: type as WatchEventType, object: type === 'BOOKMARK' ? obj : o.decode(obj) };
      }
    } finally {
      o.signal.removeEventListener('abort', onAbort);
      current.abort.abort();
      lines.close();
      res.destroy();
    }
    if (o.signal.aborted) return;
    if (streamError !== undefined) {
      if (++failures > maxFailures) throw streamError;
      await backoff(o.clock, failures, o.signal);
      continue;
    }
    // A clean end (server-side timeout): resume from the last version seen.
    idleEnds = delivered > 0 ? 0 : idleEnds + 1;
    if (idleEnds > 0) await backoff(o.clock, idleEnds, o.signal);
  }
}

async function backoff(clock: Clock, failures: number, signal: AbortSignal): Promise<void> {
  try {
    await clock.sleep(Math.min(5_000, 100 * 2 ** (failures - 1)), signal);
  } catch {
    // aborted: the caller's loop sees the signal
  }
}
