// Watch semantics over HTTPS, and what a slow or stalled watch client may cost: bounded, and never others' latency.
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { MemoryStore, VirtualClock } from '@virtkit/engine';
import { afterEach, describe, expect, it } from 'vitest';
import { type ApiServerOptions, createApiHandler, type WatchStream } from '../../src/api/index.ts';
import { type Harness, startServer, vm, watchRaw } from './support.ts';

const VMS = '/apis/kubevirt.io/v1/namespaces/default/virtualmachines';
const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function label(name: string, value: string): Promise<void> {
  const cur = await h!.store.get('VirtualMachine', 'default', name);
  await h!.store.update('VirtualMachine', {
    ...cur,
    metadata: { ...cur.metadata, labels: { ...cur.metadata.labels, v: value } },
  });
}

describe('watch', () => {
  it('streams ADDED, MODIFIED, DELETED from a resourceVersion, in order', async () => {
    h = await startServer();
    const rv = h.store.currentResourceVersion();
    const w = watchRaw(h.server, `${VMS}?watch=true&resourceVersion=${rv}`);
    expect(await w.status).toBe(200);
    await h.store.create('VirtualMachine', vm('a'));
    await label('a', '1');
    await h.store.delete('VirtualMachine', 'default', 'a');
    const events = [await w.next(), await w.next(), await w.next()];
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED a', 'MODIFIED a', 'DELETED a']);
    const rvs = events.map((e) => Number(e.object.metadata.resourceVersion));
    expect(rvs).toEqual([...rvs].sort((x, y) => x - y));
    expect(rvs[0]).toBeGreaterThan(Number(rv));
    w.close();
  });

  it('starts with the current objects when no resourceVersion is given, and filters by label', async () => {
    h = await startServer();
    await h.store.create('VirtualMachine', vm('web', 'default', { tier: 'web' }));
    await h.store.create('VirtualMachine', vm('db', 'default', { tier: 'db' }));
    const w = watchRaw(h.server, `${VMS}?watch=1&labelSelector=tier%3Dweb`);
    expect((await w.next()).object.metadata.name).toBe('web');
    await label('db', 'x');
    await label('web', 'y');
    const e = await w.next();
    expect(`${e.type} ${e.object.metadata.name} ${e.object.metadata.labels?.v}`).toBe('MODIFIED web y');
    w.close();
  });

  it('watches one object through the /watch/ path prefix', async () => {
    h = await startServer();
    await h.store.create('VirtualMachine', vm('one'));
    await h.store.create('VirtualMachine', vm('two'));
    const w = watchRaw(h.server, '/apis/kubevirt.io/v1/watch/namespaces/default/virtualmachines/two');
    expect((await w.next()).object.metadata.name).toBe('two');
    await label('one', '1');
    await label('two', '2');
    expect((await w.next()).object.metadata.labels?.v).toBe('2');
    w.close();
  });

  it('serves older versions converted: kubevirt.io/v1alpha3 objects in a v1alpha3 watch', async () => {
    h = await startServer();
    const w = watchRaw(h.server, '/apis/kubevirt.io/v1alpha3/namespaces/default/virtualmachines?watch=true');
    await h.store.create('VirtualMachine', vm('old'));
    const e = await w.next();
    expect(e.object.apiVersion).toBe('kubevirt.io/v1alpha3');
    w.close();
  });

  it('sends bookmarks on the store clock, and ends after timeoutSeconds on the server clock', async () => {
    const clock = new VirtualClock();
    h = await startServer({ clock }, { clock, bookmarkIntervalMs: 1000 });
    await h.store.create('VirtualMachine', vm('before'));
    // (Not "0": that would mean "start with the current state".)
    const rv = h.store.currentResourceVersion();
    const w = watchRaw(h.server, `${VMS}?watch=true&allowWatchBookmarks=true&resourceVersion=${rv}&timeoutSeconds=5`);
    expect(await w.status).toBe(200);
    await h.store.create('VirtualMachine', vm('b'));
    expect((await w.next()).type).toBe('ADDED');
    await clock.advance(1000);
    const bookmark = await w.next();
    expect(bookmark.type).toBe('BOOKMARK');
    expect(bookmark.object.metadata).toEqual({ resourceVersion: h.store.currentResourceVersion() });
    expect(h.server.handler.openWatches).toBe(1);
    await clock.advance(4000);
    await w.ended;
    // Everything before the timeout was delivered: the bookmarks at 2s, 3s and 4s.
    const rest = [];
    for (;;) {
      try {
        rest.push((await w.next()).type);
      } catch {
        break;
      }
    }
    expect(rest).toEqual(['BOOKMARK', 'BOOKMARK', 'BOOKMARK']);
    expect(h.server.handler.openWatches).toBe(0);
  });

  it('streams lists (sendInitialEvents) ending with the initial-events-end bookmark', async () => {
    h = await startServer();
    await h.store.create('VirtualMachine', vm('x'));
    await h.store.create('VirtualMachine', vm('y'));
    const w = watchRaw(
      h.server,
      `${VMS}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan`,
    );
    const got = [await w.next(), await w.next(), await w.next()];
    expect(got.map((e) => e.type)).toEqual(['ADDED', 'ADDED', 'BOOKMARK']);
    expect(got[2]!.object.metadata.annotations).toEqual({ 'k8s.io/initial-events-end': 'true' });
    w.close();
  });

  it('sends Table rows to a watch that asks for Tables (kubectl get -w)', async () => {
    h = await startServer();
    const events: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const req = httpsRequest(
        new URL(`${VMS}?watch=true`, h!.server.url),
        { headers: { authorization: `Bearer ${h!.server.token}`, accept: TABLE }, ca: h!.server.caCertificate },
        (res) => {
          expect(res.headers['content-type']).toBe('application/json;as=Table;v=v1;g=meta.k8s.io');
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            events.push(...c.split('\n').filter(Boolean));
            if (events.length >= 1) {
              req.destroy();
              resolve();
            }
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
    await h.store.create('VirtualMachine', vm('t'));
    await done;
    const e = JSON.parse(events[0]!) as { type: string; object: Record<string, unknown> };
    expect(e.type).toBe('ADDED');
    expect(e.object).toMatchObject({
      kind: 'Table',
      apiVersion: 'meta.k8s.io/v1',
      rows: [{ cells: ['t', expect.any(String), '', ''] }],
    });
    expect((e.object.columnDefinitions as { name: string }[]).map((c) => c.name)).toEqual([
      'Name',
      'Age',
      'Status',
      'Ready',
    ]);
  });

  it('releases the store watch when the client disconnects', async () => {
    h = await startServer();
    const w = watchRaw(h.server, `${VMS}?watch=true`);
    await w.status;
    expect(h.server.handler.openWatches).toBe(1);
    w.close();
    while (h.server.handler.openWatches > 0) await new Promise((r) => setTimeout(r, 5));
    expect(h.server.handler.openWatches).toBe(0);
  });
});

describe('slow watchers', () => {
  it('closes a watcher that stops reading with 410, without holding up another one', async () => {
    const store = new MemoryStore();
    const handler = createApiHandler({ store, token: false, watchLimits: { maxEvents: 20, flushIntervalMs: 0 } });
    await store.create('VirtualMachine', vm('s'));
    const rv = store.currentResourceVersion();
    const watch = (): Promise<{ stream: WatchStream }> =>
      handler.handleRequest({ method: 'GET', path: VMS, query: `watch=true&resourceVersion=${rv}` }) as never;
    const stalled = (await watch()).stream;
    const live = (await watch()).stream;
    const seen: number[] = [];
    const reading = (async () => {
      for await (const batch of live) {
        for (const line of batch.split('\n').filter(Boolean))
          seen.push(Number(JSON.parse(line).object.metadata.labels.n));
        if (seen.length === 50) break;
      }
    })();
    // One write per turn of the event loop, like writes arriving over the network: the reading watcher keeps
    // up, the stalled one falls behind.
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setImmediate(r));
      const cur = await store.get('VirtualMachine', 'default', 's');
      await store.update('VirtualMachine', { ...cur, metadata: { ...cur.metadata, labels: { n: String(i) } } });
    }
    await reading;
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i));
    // The stalled one holds at most its 20 events plus the error, and stopped watching the store.
    expect(stalled.isOverflowed).toBe(true);
    expect(stalled.signal.aborted).toBe(true);
    const lines = (await stalled.next())!.split('\n').filter(Boolean);
    expect(lines.length).toBe(21);
    const last = JSON.parse(lines[20]!) as { type: string; object: { code: number; reason: string } };
    expect(last).toMatchObject({ type: 'ERROR', object: { code: 410, reason: 'Expired' } });
    expect(await stalled.next()).toBeUndefined();
    expect(handler.openWatches).toBe(0);
    await store.close();
  });

  /** Opens a raw watch request on `h`'s server; `onResponse` decides how (or whether) to read. */
  function open(path: string, onResponse: (res: IncomingMessage) => void): ClientRequest {
    const server = h!.server;
    const req = httpsRequest(
      new URL(path, server.url),
      { headers: { authorization: `Bearer ${server.token}` }, ca: server.caCertificate },
      onResponse,
    );
    req.on('error', () => {});
    req.end();
    return req;
  }

  /**
   * 100 changes of ~200 KB each: ~20 MB per watcher, far more than socket buffers hold. Each change waits
   * until the reading watcher has it (`received()`), so that one never falls behind: client and server
   * share this process, and an unpaced burst would outrun any reader.
   */
  async function burst(received: () => number): Promise<void> {
    const filler = 'z'.repeat(200 * 1024);
    for (let i = 0; i < 100; i++) {
      const cur = await h!.store.get('VirtualMachine', 'default', 'big');
      await h!.store.update('VirtualMachine', {
        ...cur,
        metadata: { ...cur.metadata, annotations: { filler, n: String(i) } },
      });
      while (received() <= i) await new Promise((r) => setImmediate(r));
    }
  }

  function countLines(res: IncomingMessage, onCount: (n: number) => void): void {
    let buf = '';
    let n = 0;
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      buf += c;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      n += parts.length;
      onCount(n);
    });
  }

  /**
   * A server whose watchers may buffer 1 MiB, with the object `burst` changes, one watcher that reads every
   * event as it comes (`read()` counts them) and one that paused at once.
   */
  async function readingAndPaused(
    options: Partial<ApiServerOptions> = {},
  ): Promise<{ read: () => number; paused: IncomingMessage }> {
    h = await startServer({ watchLimits: { maxBytes: 1024 * 1024 }, ...options });
    await h.store.create('VirtualMachine', vm('big'));
    const path = `${VMS}?watch=true&resourceVersion=${h.store.currentResourceVersion()}`;
    let read = 0;
    open(path, (res) =>
      countLines(res, (n) => {
        read = n;
      }),
    );
    const paused = await new Promise<IncomingMessage>((resolve) => {
      open(path, (res) => {
        res.pause();
        resolve(res);
      });
    });
    while (h.server.handler.openWatches < 2) await new Promise((r) => setTimeout(r, 5));
    return { read: () => read, paused };
  }

  it('over HTTPS: a client that pauses overflows its buffer and reads 410 when it resumes; others are unaffected', async () => {
    const { read, paused } = await readingAndPaused();
    await burst(read);
    expect(read()).toBe(100);

    let text = '';
    paused.setEncoding('utf8');
    paused.on('data', (c: string) => {
      text += c;
    });
    const ended = new Promise<void>((resolve) => paused.on('end', resolve));
    paused.resume();
    await ended;
    const events = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; object: { code?: number } });
    expect(events.length).toBeLessThan(100);
    expect(events.slice(0, -1).every((e) => e.type === 'MODIFIED')).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'ERROR', object: { code: 410 } });
  });

  it('over HTTPS: a client that never reads again is cut off after the grace period', async () => {
    const { read, paused: stalled } = await readingAndPaused({ stalledWatchGraceMs: 100 });
    const server = h!.server;
    expect(server.openConnections).toBe(2);
    await burst(read);
    expect(read()).toBe(100);
    // Its buffer overflowed, so it no longer watches the store; after the grace period the server also
    // drops the connection (the client, not reading, cannot even see that).
    expect(server.handler.openWatches).toBe(1);
    while (server.openConnections > 1) await new Promise((r) => setTimeout(r, 10));
    expect(server.openConnections).toBe(1);
    stalled.destroy();
  });
});

describe('shared watch (one store watch per kind)', () => {
  const events = async (w: ReturnType<typeof watchRaw>, n: number) => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const e = await w.next();
      out.push(`${e.type} ${e.object.metadata.name} ${e.object.metadata.resourceVersion}`);
    }
    return out;
  };

  it('feeds many watchers from one store watch, identically', async () => {
    h = await startServer();
    await h.store.create('VirtualMachine', vm('seed'));
    const rv = h.store.currentResourceVersion();
    const ws = Array.from({ length: 10 }, () => watchRaw(h!.server, `${VMS}?watch=true&resourceVersion=${rv}`));
    await Promise.all(ws.map((w) => w.status));
    while (h.server.handler.openWatches < 10) await new Promise((r) => setTimeout(r, 5));
    expect(h.store.watcherCount).toBe(1);
    await h.store.create('VirtualMachine', vm('one'));
    await label('one', 'a');
    await h.store.delete('VirtualMachine', 'default', 'one');
    const seen = await Promise.all(ws.map((w) => events(w, 3)));
    expect(seen[0]!.map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual([
      'ADDED one',
      'MODIFIED one',
      'DELETED one',
    ]);
    for (const s of seen) expect(s).toEqual(seen[0]);
    for (const w of ws) w.close();
    while (h.store.watcherCount > 0) await new Promise((r) => setTimeout(r, 5));
    expect(h.server.handler.openWatches).toBe(0);
  });

  it('serves recent resumptions from its ring and older ones from the store', async () => {
    h = await startServer({ watchCacheEvents: 4 });
    await h.store.create('VirtualMachine', vm('r'));
    const keep = watchRaw(h.server, `${VMS}?watch=true&resourceVersion=${h.store.currentResourceVersion()}`);
    await keep.status;
    const rvs: string[] = [];
    for (let i = 0; i < 6; i++) {
      await label('r', String(i));
      rvs.push(h.store.currentResourceVersion());
    }
    await events(keep, 6);
    // The ring holds the last 4 changes: resuming after the 3rd is served from it...
    const recent = watchRaw(h.server, `${VMS}?watch=true&resourceVersion=${rvs[2]}`);
    expect((await events(recent, 3)).map((l) => l.split(' ')[2])).toEqual(rvs.slice(3));
    expect(h.store.watcherCount).toBe(1);
    // ...resuming after the 1st needs the store's history: its own store watch.
    const older = watchRaw(h.server, `${VMS}?watch=true&resourceVersion=${rvs[0]}`);
    expect((await events(older, 5)).map((l) => l.split(' ')[2])).toEqual(rvs.slice(1));
    expect(h.store.watcherCount).toBe(2);
    for (const w of [keep, recent, older]) w.close();
  });

  it('starts a watcher with the current state while writes go on, without gaps or repeats', async () => {
    h = await startServer();
    for (let i = 0; i < 20; i++) await h.store.create('VirtualMachine', vm(`s-${i}`));
    const first = watchRaw(h.server, `${VMS}?watch=true`);
    await first.status;
    // Writes interleave with the second watcher's list and subscription.
    const writing = (async () => {
      for (let i = 0; i < 40; i++) {
        await new Promise((r) => setImmediate(r));
        await label(`s-${i % 20}`, String(i));
      }
    })();
    const second = watchRaw(h.server, `${VMS}?watch=true`);
    await writing;
    // Replaying each watcher's events must give the store's final state, each change seen once.
    const finalRv = Number(h.store.currentResourceVersion());
    for (const w of [first, second]) {
      const state = new Map<string, number>();
      for (;;) {
        const e = await w.next();
        const v = Number(e.object.metadata.resourceVersion);
        expect(v).toBeGreaterThan(state.get(e.object.metadata.name!) ?? 0);
        state.set(e.object.metadata.name!, v);
        if (v === finalRv) break;
      }
      const stored = (await h.store.list('VirtualMachine')).items;
      expect(state.size).toBe(20);
      for (const o of stored) expect(state.get(o.metadata.name!)).toBe(Number(o.metadata.resourceVersion));
      w.close();
    }
    expect(h.store.watcherCount).toBeLessThanOrEqual(1);
  });

  it('leaves label-selector watchers to the store, and can be turned off', async () => {
    h = await startServer({ watchCacheEvents: 0 });
    const a = watchRaw(h.server, `${VMS}?watch=true`);
    const b = watchRaw(h.server, `${VMS}?watch=true`);
    await Promise.all([a.status, b.status]);
    while (h.server.handler.openWatches < 2) await new Promise((r) => setTimeout(r, 5));
    expect(h.store.watcherCount).toBe(2);
    a.close();
    b.close();
    await h.close();
    h = await startServer();
    const byName = watchRaw(h.server, `${VMS}?watch=true&fieldSelector=metadata.name%3Dx`);
    const byLabel = watchRaw(h.server, `${VMS}?watch=true&labelSelector=app%3Dx`);
    await Promise.all([byName.status, byLabel.status]);
    while (h.server.handler.openWatches < 2) await new Promise((r) => setTimeout(r, 5));
    // One shared watch (the name selector) plus the label selector's own.
    expect(h.store.watcherCount).toBe(2);
    await h.store.create('VirtualMachine', vm('x', 'default', { app: 'x' }));
    expect((await byName.next()).object.metadata.name).toBe('x');
    expect((await byLabel.next()).object.metadata.name).toBe('x');
    byName.close();
    byLabel.close();
  });
});
