// Soak (npm run test:chaos): an API server in its own process, 100 watchers on real TLS watch streams, and a
// steady load of VM creates, updates and deletes at a fixed rate for a fixed time. Every watcher must receive
// every change, in order, with increasing resourceVersions; the server's memory (after forced GC) may not
// grow beyond a generous bound. Loopback only.
//
//   VIRTKIT_SOAK_SECONDS  how long the load runs (default 20)
//   VIRTKIT_SOAK_RATE     writes per second (default 50)
//   VIRTKIT_SOAK_WATCHERS watchers (default 100)
import { type KubeObject, seededRandom } from '@virtkit/engine';
import { afterAll, describe, expect, it } from 'vitest';
import { vm } from '../api/support.ts';
import { ChildServer, type Memory, RawWatch, type WatchEventLine } from './child-server.ts';

const SECONDS = Number(process.env.VIRTKIT_SOAK_SECONDS ?? 20);
const RATE = Number(process.env.VIRTKIT_SOAK_RATE ?? 50);
const WATCHERS = Number(process.env.VIRTKIT_SOAK_WATCHERS ?? 100);
/**
 * Writes before the baseline, served to one watcher: enough to fill what is bounded but large — the store's
 * history (HISTORY events), the watch cache (1,024 events) and the API server's shared JSON cache (16,384
 * encoded object versions, filled only by serving them) — so growth after the baseline is what leaks.
 */
const HISTORY = 2000;
const WARMUP = 17_000;
const VMS = '/apis/kubevirt.io/v1/namespaces/default/virtualmachines';
const MiB = 1024 * 1024;
/** Generous: a leak of a few hundred bytes per delivered event would exceed it within the default 20 s. */
const HEAP_GROWTH_BOUND = 16 * MiB;
/** RSS is not compacted by GC (V8 and malloc keep pages): only a gross leak shows here. */
const RSS_GROWTH_BOUND = 256 * MiB;

interface Written {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  name: string;
  rv: string;
}

let server: ChildServer | undefined;
const watches: RawWatch[] = [];
afterAll(async () => {
  for (const w of watches) w.close();
  await server?.close();
});

const fmt = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

describe('soak: watchers under a steady write load', () => {
  it(
    `delivers every change to ${WATCHERS} watchers for ${SECONDS} s at ${RATE} writes/s, memory bounded`,
    async () => {
      server = await ChildServer.start({ store: { historyLimit: HISTORY } });
      const s = server;

      // Warm-up (see WARMUP), watched by one reader so the encoded versions are cached as they will be.
      const warmWatch = new RawWatch(s, `${VMS}?watch=true`);
      warmWatch.keep = false;
      watches.push(warmWatch);
      while ((await s.stats()).openWatches < 1) await new Promise((r) => setTimeout(r, 10));
      await s.create(vm('warm') as unknown as KubeObject);
      for (let i = 0; i < WARMUP; i++) {
        await s.label('warm', String(i));
        if (i % 100 === 99) await warmWatch.until(() => warmWatch.received >= i, 30_000, `warm-up event ${i}`);
      }
      await s.delete('warm');
      await warmWatch.until(() => warmWatch.received >= WARMUP + 2, 30_000, 'the end of the warm-up');
      warmWatch.close();
      watches.pop();
      while ((await s.stats()).openWatches > 0) await new Promise((r) => setTimeout(r, 10));

      const log: Written[] = [];
      const problems: string[] = [];
      const start = (await s.stats()).resourceVersion;
      // Each watcher's events are compared with the write log in order. An event may arrive before the write's
      // acknowledgement does, so what is not yet in the log waits in `pending`.
      const checkers: (() => void)[] = [];
      for (let w = 0; w < WATCHERS; w++) {
        const watch = new RawWatch(s, `${VMS}?watch=true&resourceVersion=${start}`);
        watch.keep = false;
        const pending: WatchEventLine[] = [];
        let checked = 0;
        let lastRv = Number(start);
        const check = () => {
          while (pending.length > 0 && checked < log.length) {
            const e = pending.shift()!;
            const want = log[checked]!;
            const rv = Number(e.object.metadata?.resourceVersion);
            const got = `${e.type} ${e.object.metadata?.name} ${e.object.metadata?.resourceVersion}`;
            if (problems.length < 10) {
              if (got !== `${want.type} ${want.name} ${want.rv}`)
                problems.push(
                  `watcher ${w}: event ${checked} is ${got}, expected ${want.type} ${want.name} ${want.rv}`,
                );
              else if (!(rv > lastRv)) problems.push(`watcher ${w}: resourceVersion ${rv} after ${lastRv}`);
            }
            lastRv = rv;
            checked++;
          }
        };
        watch.onEvent = (e: WatchEventLine) => {
          pending.push(e);
          check();
        };
        checkers.push(check);
        watches.push(watch);
      }
      for (let t = 0; (await s.stats()).openWatches < WATCHERS; t++) {
        if (t > 1000) throw new Error(`only ${(await s.stats()).openWatches} of ${WATCHERS} watches opened`);
        await new Promise((r) => setTimeout(r, 10));
      }
      const before = await s.memory();
      const samples: Memory[] = [before];

      // The load: one write in flight at a time, started on a fixed schedule.
      // Seeded: the load is the same on every run.
      const random = seededRandom(20_240_601);
      const live: string[] = [];
      let created = 0;
      const counts = { ADDED: 0, MODIFIED: 0, DELETED: 0 };
      const write = async (): Promise<void> => {
        const r = random();
        if (live.length < 20 || (live.length < 80 && r < 0.3)) {
          const name = `soak-${created++}`;
          const rv = await s.create(vm(name, 'default', { gen: String(created) }) as unknown as KubeObject);
          live.push(name);
          log.push({ type: 'ADDED', name, rv });
        } else if (r < 0.6) {
          const [name] = live.splice(Math.floor(random() * live.length), 1);
          log.push({ type: 'DELETED', name: name!, rv: await s.delete(name!) });
        } else {
          const name = live[Math.floor(random() * live.length)]!;
          log.push({ type: 'MODIFIED', name, rv: await s.label(name, String(log.length)) });
        }
        counts[log.at(-1)!.type]++;
        for (const c of checkers) c();
      };
      const interval = 1000 / RATE;
      const began = performance.now();
      let next = began;
      let lastSample = began;
      while (performance.now() - began < SECONDS * 1000) {
        await write();
        next += interval;
        const now = performance.now();
        if (now - lastSample >= 5000) {
          samples.push(await s.memory());
          lastSample = performance.now();
          const stats = await s.stats();
          if (stats.openWatches !== WATCHERS) problems.push(`only ${stats.openWatches} watches open mid-run`);
        }
        if (next > now) await new Promise((r) => setTimeout(r, next - now));
      }
      const elapsed = (performance.now() - began) / 1000;

      // Everyone catches up (bounded), then the final figures.
      const deadline = performance.now() + 60_000;
      while (watches.some((w) => w.received < log.length) && performance.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      for (const c of checkers) c();
      const after = await s.memory();
      samples.push(after);
      const stats = await s.stats();

      const delivered = watches.reduce((n, w) => n + w.received, 0);
      const heapGrowth = after.heapUsed - before.heapUsed;
      const rssGrowth = after.rss - before.rss;
      const peakRss = Math.max(...samples.map((m) => m.rss));
      console.log(
        `soak: ${log.length} writes in ${elapsed.toFixed(1)} s (${(log.length / elapsed).toFixed(1)}/s; ` +
          `${counts.ADDED} creates, ${counts.MODIFIED} updates, ${counts.DELETED} deletes) to ${WATCHERS} watchers; ` +
          `${delivered} events delivered of ${log.length * WATCHERS} expected\n` +
          `  server heapUsed ${fmt(before.heapUsed)} -> ${fmt(after.heapUsed)} (${heapGrowth >= 0 ? '+' : ''}${fmt(heapGrowth)}), ` +
          `rss ${fmt(before.rss)} -> ${fmt(after.rss)} (peak ${fmt(peakRss)}); samples (heap): ${samples
            .map((m) => fmt(m.heapUsed))
            .join(', ')}`,
      );
      expect(problems).toEqual([]);
      expect(watches.map((w) => w.received)).toEqual(Array(WATCHERS).fill(log.length));
      expect(delivered).toBe(log.length * WATCHERS);
      expect(stats.openWatches).toBe(WATCHERS);
      expect(log.length).toBeGreaterThan(SECONDS * RATE * 0.5);
      expect(heapGrowth).toBeLessThan(HEAP_GROWTH_BOUND);
      expect(rssGrowth).toBeLessThan(RSS_GROWTH_BOUND);
    },
    (SECONDS + 180) * 1000,
  );
});
