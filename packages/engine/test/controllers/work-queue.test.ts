import { describe, expect, it } from 'vitest';
import { Informer } from '../../src/controllers/informer.ts';
import { WorkQueue } from '../../src/controllers/work-queue.ts';
import {
  ConflictError,
  KUBEVIRT_API_VERSION,
  MemoryStore,
  VirtualClock,
  type VirtualMachine,
} from '../../src/index.ts';

const tick = () => new Promise<void>((r) => setImmediate(r));
async function drain(q: WorkQueue) {
  for (let i = 0; i < 50 && !q.idle; i++) await tick();
  await tick();
}

describe('WorkQueue', () => {
  it('deduplicates waiting keys and never runs one key twice at once', async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    let active = 0;
    let maxPerKey = 0;
    const inFlight = new Map<string, number>();
    const q = new WorkQueue(
      clock,
      async (key) => {
        inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
        maxPerKey = Math.max(maxPerKey, inFlight.get(key)!);
        active++;
        log.push(key);
        await tick();
        await tick();
        active--;
        inFlight.set(key, inFlight.get(key)! - 1);
      },
      { name: 't', concurrency: 4 },
    );
    q.start();
    q.add('a');
    q.add('a');
    q.add('b');
    await tick();
    // 'a' is in process: adding it again runs it once more afterwards, not in parallel.
    q.add('a');
    q.add('a');
    await drain(q);
    expect(log.filter((k) => k === 'a')).toHaveLength(2);
    expect(log.filter((k) => k === 'b')).toHaveLength(1);
    expect(maxPerKey).toBe(1);
    expect(active).toBe(0);
  });

  it('retries failures with doubling back-off on the clock and resets after a success', async () => {
    const clock = new VirtualClock();
    const attempts: number[] = [];
    let failUntil = 3;
    const errors: unknown[] = [];
    const q = new WorkQueue(
      clock,
      async () => {
        attempts.push(clock.now());
        if (attempts.length <= failUntil) throw new Error('boom');
      },
      { name: 't', baseRetryMs: 100, maxRetryMs: 1000, onError: (_k, e) => errors.push(e) },
    );
    q.start();
    const t0 = clock.now();
    q.add('k');
    await drain(q);
    await clock.advance(5000);
    await drain(q);
    expect(attempts.map((t) => t - t0)).toEqual([0, 100, 300, 700]);
    expect(errors).toHaveLength(3);
    // Reset: the next failure starts from the base delay again.
    failUntil = 5;
    const before = attempts.length;
    q.add('k');
    await drain(q);
    await clock.advance(150);
    await drain(q);
    expect(attempts.length - before).toBe(2);
  });

  it('conflicts are retried without being reported', async () => {
    const clock = new VirtualClock();
    let n = 0;
    const errors: unknown[] = [];
    const q = new WorkQueue(
      clock,
      async () => {
        if (++n === 1) throw new ConflictError('stale');
      },
      { name: 't', baseRetryMs: 10, onError: (_k, e) => errors.push(e) },
    );
    q.start();
    q.add('x');
    await drain(q);
    await clock.advance(20);
    await drain(q);
    expect(n).toBe(2);
    expect(errors).toEqual([]);
  });

  it('addAfter keeps the earliest time and requeueAfterMs schedules the next look', async () => {
    const clock = new VirtualClock();
    const at: number[] = [];
    const q = new WorkQueue(
      clock,
      async () => {
        at.push(clock.now());
        return at.length === 1 ? { requeueAfterMs: 500 } : undefined;
      },
      { name: 't' },
    );
    q.start();
    const t0 = clock.now();
    q.addAfter('k', 2000);
    q.addAfter('k', 1000);
    q.addAfter('k', 3000);
    await clock.advance(1000);
    await drain(q);
    await clock.advance(3000);
    await drain(q);
    expect(at.map((t) => t - t0)).toEqual([1000, 1500]);
  });
});

describe('Informer', () => {
  const vm = (name: string): VirtualMachine => ({
    apiVersion: KUBEVIRT_API_VERSION,
    kind: 'VirtualMachine' as const,
    metadata: { name, namespace: 'ns' },
    spec: { runStrategy: 'Halted' as const, template: { spec: { domain: { devices: {} } } } },
  });

  it('lists, then follows changes; observe() is ignored for older versions and deleted objects', async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore({ clock });
    await store.create('VirtualMachine', vm('a'));
    const inf = new Informer(store, 'VirtualMachine');
    const seen: string[] = [];
    inf.on({
      add: (o) => seen.push(`add ${o.metadata.name}`),
      update: (_o, n) => seen.push(`update ${n.metadata.name}`),
      delete: (o) => seen.push(`delete ${o.metadata.name}`),
    });
    inf.addIndex('by-strategy', (o) => [o.spec.runStrategy ?? '']);
    await inf.start();
    expect(seen).toEqual(['add a']);
    const b = await store.create('VirtualMachine', vm('b'));
    for (let i = 0; i < 5; i++) await tick();
    expect(inf.get('ns', 'b')?.metadata.uid).toBe(b.metadata.uid);
    expect(
      inf
        .byIndex('by-strategy', 'Halted')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['a', 'b']);
    const old = inf.get('ns', 'a')!;
    const updated = await store.update('VirtualMachine', { ...old, spec: { ...old.spec, runStrategy: 'Always' } });
    inf.observe(updated);
    expect(inf.get('ns', 'a')?.spec.runStrategy).toBe('Always');
    inf.observe(old); // stale: ignored
    expect(inf.get('ns', 'a')?.spec.runStrategy).toBe('Always');
    expect(inf.byIndex('by-strategy', 'Always').map((o) => o.metadata.name)).toEqual(['a']);
    const gone = await store.delete('VirtualMachine', 'ns', 'b');
    for (let i = 0; i < 5; i++) await tick();
    inf.observe(b); // a late write result must not resurrect it
    expect(inf.get('ns', 'b')).toBeUndefined();
    void gone;
    expect(seen).toContain('delete b');
    await inf.stop();
  });
});
