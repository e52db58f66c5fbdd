// Watch clients that stop reading, over real TLS sockets, against an API server in its own process: the
// server's memory stays within its per-watcher bounds (measured after forced GC), and a watcher that reads
// gets every event in order meanwhile.
import type { KubeObject } from '@virtkit/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vm } from '../api/support.ts';
import { ChildServer, type Memory, RawWatch } from '../soak/child-server.ts';

const VMS = '/apis/kubevirt.io/v1/namespaces/default/virtualmachines';
const MAX_BYTES = 1024 * 1024;
const WRITES = 200;
const FILLER = 100 * 1024;
const NEVER_READ = 10;
const STOP_READING = 10;
const MiB = 1024 * 1024;

let server: ChildServer;
const sockets: RawWatch[] = [];

beforeAll(async () => {
  server = await ChildServer.start({
    // Small history and watch cache, so what stays in memory is what the watchers hold.
    store: { historyLimit: 32 },
    server: { watchLimits: { maxBytes: MAX_BYTES }, watchCacheEvents: 8, stalledWatchGraceMs: 120_000 },
  });
});
afterAll(async () => {
  for (const w of sockets) w.close();
  await server?.close();
});

const fmt = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

describe('watch clients that stop reading', () => {
  it(`cost at most their buffer: ${NEVER_READ + STOP_READING} stalled watchers, ${WRITES} changes of ${FILLER / 1024} KiB`, async () => {
    await server.create(vm('big') as unknown as KubeObject);
    const { resourceVersion } = await server.stats();
    const path = `${VMS}?watch=true&resourceVersion=${resourceVersion}`;
    const live = new RawWatch(server, path);
    sockets.push(live);
    for (let i = 0; i < NEVER_READ; i++) sockets.push(new RawWatch(server, path, 0));
    for (let i = 0; i < STOP_READING; i++) sockets.push(new RawWatch(server, path, 64 * 1024));
    const watchers = 1 + NEVER_READ + STOP_READING;
    for (let t = 0; (await server.stats()).openWatches < watchers; t++) {
      if (t > 500) throw new Error(`only ${(await server.stats()).openWatches} of ${watchers} watches opened`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const before = await server.memory();
    let peak: Memory = before;
    for (let i = 0; i < WRITES; i++) {
      await server.label('big', String(i), FILLER);
      // Paced by the reading watcher, which therefore never falls behind: the stalled ones do.
      await live.until(() => live.events.length > i, 20_000, `event ${i}`);
      if (i % 40 === 39) {
        const m = await server.memory();
        if (m.heapUsed > peak.heapUsed) peak = { ...m, rss: Math.max(m.rss, peak.rss) };
        else peak = { ...peak, rss: Math.max(m.rss, peak.rss) };
      }
    }
    const stats = await server.stats();
    const after = await server.memory();

    // The reader got everything, in order.
    expect(live.events.map((e) => e.type)).toEqual(Array(WRITES).fill('MODIFIED'));
    const rvs = live.events.map((e) => Number(e.object.metadata?.resourceVersion));
    expect(rvs.every((rv, i) => i === 0 || rv > rvs[i - 1]!)).toBe(true);
    // The stalled ones overflowed and let go of their watch; their connections stay until the grace period.
    expect(stats.openWatches).toBe(1);
    expect(stats.openConnections).toBe(watchers);

    const unbounded = (NEVER_READ + STOP_READING) * WRITES * FILLER;
    const heapGrowth = peak.heapUsed - before.heapUsed;
    const rssGrowth = peak.rss - before.rss;
    console.log(
      `stalled watchers: heap ${fmt(before.heapUsed)} -> peak ${fmt(peak.heapUsed)} -> ${fmt(after.heapUsed)}, ` +
        `rss ${fmt(before.rss)} -> peak ${fmt(peak.rss)}; unbounded buffering would hold ${fmt(unbounded)}; ` +
        `live watcher got ${live.events.length} events`,
    );
    // Per stalled watcher: its 1 MiB buffer plus what the socket holds; generous, and far below unbounded.
    expect(heapGrowth).toBeLessThan((NEVER_READ + STOP_READING) * 3 * MAX_BYTES + 32 * MiB);
    expect(rssGrowth).toBeLessThan(unbounded / 2);
  }, 120_000);
});
