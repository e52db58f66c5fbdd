import { afterEach, describe, expect, it } from 'vitest';
import {
  createEngine,
  type DeleteOptions,
  DriverRegistry,
  type Engine,
  type EngineConfig,
  type Event,
  EventRecorder,
  isoTime,
  type Kind,
  type KindMap,
  type ListOptions,
  type ListResult,
  MemoryStore,
  seededRandom,
  VirtualClock,
  type VirtualMachine,
} from '../../src/index.ts';

const HOUR = 3_600_000;

/** A MemoryStore that counts Event lists and deletes, and can act between a delete's decision and its write. */
class CountingStore extends MemoryStore {
  eventLists = 0;
  eventDeletes = 0;
  beforeEventDelete: ((name: string) => Promise<void>) | undefined;

  override list<K extends Kind>(kind: K, options?: ListOptions): Promise<ListResult<KindMap[K]>> {
    if (kind === 'Event') this.eventLists++;
    return super.list(kind, options);
  }

  override async delete<K extends Kind>(
    kind: K,
    namespace: string | undefined,
    name: string,
    options?: DeleteOptions,
  ): Promise<KindMap[K]> {
    if (kind === 'Event') {
      this.eventDeletes++;
      const hook = this.beforeEventDelete;
      this.beforeEventDelete = undefined;
      await hook?.(name);
    }
    return super.delete(kind, namespace, name, options);
  }
}

interface Env {
  clock: VirtualClock;
  store: CountingStore;
  engine: Engine;
  restart(config?: EngineConfig): Promise<Engine>;
  /** Advances virtual time, letting the engine finish what came due. */
  advance(ms: number): Promise<void>;
  names(): Promise<string[]>;
}

let env: Env | undefined;
afterEach(async () => {
  await env?.engine.stop();
  env = undefined;
});

async function setup(config?: EngineConfig, seed?: (store: CountingStore, clock: VirtualClock) => Promise<void>) {
  const clock = new VirtualClock();
  let n = 0;
  const store = new CountingStore({ clock, uid: () => `uid-${++n}`, random: seededRandom(1) });
  await seed?.(store, clock);
  const make = (cfg?: EngineConfig) =>
    createEngine({ store, clock, drivers: new DriverRegistry(), ...(cfg ? { config: cfg } : {}) });
  let engine = make(config);
  await engine.start();
  const e: Env = {
    clock,
    store,
    get engine() {
      return engine;
    },
    async restart(cfg) {
      await engine.stop();
      engine = make(cfg);
      await engine.start();
      return engine;
    },
    async advance(ms) {
      await engine.settled();
      await clock.advance(ms);
      await engine.settled();
    },
    async names() {
      return (await store.list('Event')).items.map((ev) => ev.metadata.name ?? '').sort();
    },
  };
  env = e;
  return e;
}

function event(name: string, lastMs: number | undefined, over: Partial<Event> = {}): Event {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name, namespace: 'default' },
    involvedObject: { kind: 'VirtualMachine', name: 'vm', namespace: 'default' },
    reason: 'Tested',
    message: name,
    type: 'Normal',
    count: 1,
    ...(lastMs === undefined ? {} : { firstTimestamp: isoTime(lastMs), lastTimestamp: isoTime(lastMs) }),
    ...over,
  };
}

const vmObject: VirtualMachine = {
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachine',
  metadata: { name: 'vm', namespace: 'default', uid: 'vm-uid' },
  spec: { runStrategy: 'Halted', template: { spec: { domain: { devices: {} } } } },
} as VirtualMachine;

describe('engine: Event TTL', () => {
  it('deletes an Event once its TTL passed, not before, and touches no other kind', async () => {
    const e = await setup({ events: { ttlSeconds: 60 } });
    const t0 = e.clock.now();
    await e.store.create('Event', event('a', t0));
    await e.store.create('Lease', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'old', namespace: 'default' },
      spec: { holderIdentity: 'x' },
    });
    await e.advance(30_000);
    await e.store.create('Event', event('b', e.clock.now()));
    await e.advance(29_000);
    expect(await e.names()).toEqual(['a', 'b']);
    await e.advance(1_000);
    expect(await e.names()).toEqual(['b']);
    await e.advance(29_000);
    expect(await e.names()).toEqual(['b']);
    await e.advance(1_000);
    expect(await e.names()).toEqual([]);
    await e.advance(10 * HOUR);
    expect(await e.store.tryGet('Lease', 'default', 'old')).toBeDefined();
    expect(e.engine.errors).toEqual([]);
  });

  it('measures from lastTimestamp or eventTime, else from the creation', async () => {
    const e = await setup({ events: { ttlSeconds: 100 } });
    const t0 = e.clock.now();
    await e.store.create('Event', event('stamped-old', t0 - 90_000));
    await e.store.create('Event', event('micro', undefined, { eventTime: new Date(t0 + 50_000).toISOString() }));
    await e.store.create('Event', event('bare', undefined));
    await e.advance(10_000);
    expect(await e.names()).toEqual(['bare', 'micro']);
    await e.advance(90_000);
    expect(await e.names()).toEqual(['micro']);
    await e.advance(50_000);
    expect(await e.names()).toEqual([]);
  });

  it('defaults to one hour', async () => {
    const e = await setup();
    expect(e.engine.config.events.ttlSeconds).toBe(3600);
    await e.store.create('Event', event('a', e.clock.now()));
    await e.advance(HOUR - 1_000);
    expect(await e.names()).toEqual(['a']);
    await e.advance(1_000);
    expect(await e.names()).toEqual([]);
  });

  it('keeps a recurring Event alive from its latest occurrence', async () => {
    const e = await setup({ events: { ttlSeconds: 60 } });
    const recorder = new EventRecorder(e.store, e.clock);
    await recorder.record(vmObject, 'Warning', 'FailedCreate', 'no room');
    await e.advance(50_000);
    await recorder.record(vmObject, 'Warning', 'FailedCreate', 'no room');
    await e.advance(20_000);
    const [ev] = (await e.store.list('Event')).items;
    expect(ev?.count).toBe(2);
    await e.advance(39_000);
    expect((await e.store.list('Event')).items).toHaveLength(1);
    await e.advance(1_000);
    expect((await e.store.list('Event')).items).toHaveLength(0);
    // The next occurrence starts a fresh Event.
    await recorder.record(vmObject, 'Warning', 'FailedCreate', 'no room');
    expect((await e.store.list('Event')).items.map((x) => x.count)).toEqual([1]);
  });

  it('does not delete an Event that recurred after it was found due', async () => {
    const e = await setup({ events: { ttlSeconds: 60 } });
    await e.store.create('Event', event('a', e.clock.now()));
    await e.advance(30_000);
    // Between the decision and the delete the Event recurs (a count++ by its recorder).
    e.store.beforeEventDelete = async (name) => {
      const ev = await e.store.get('Event', 'default', name);
      await e.store.update('Event', { ...ev, count: 2, lastTimestamp: isoTime(e.clock.now()) });
    };
    await e.advance(30_000);
    await e.advance(1_000);
    const ev = await e.store.get('Event', 'default', 'a');
    expect(ev.count).toBe(2);
    await e.advance(58_000);
    expect(await e.names()).toEqual(['a']);
    await e.advance(2_000);
    expect(await e.names()).toEqual([]);
    expect(e.engine.errors).toEqual([]);
  });

  it('tolerates an Event deleted by someone else first', async () => {
    const e = await setup({ events: { ttlSeconds: 60 } });
    await e.store.create('Event', event('a', e.clock.now()));
    e.store.beforeEventDelete = async (name) => {
      await e.store.delete('Event', 'default', name);
    };
    await e.advance(61_000);
    expect(await e.names()).toEqual([]);
    expect(e.engine.errors).toEqual([]);
  });

  it.each([0, Number.POSITIVE_INFINITY])('keeps every Event with ttlSeconds %s', async (ttlSeconds) => {
    const e = await setup({ events: { ttlSeconds } });
    expect(e.engine.config.events.ttlSeconds).toBe(0);
    await e.store.create('Event', event('a', e.clock.now() - 100 * HOUR));
    await e.store.create('Event', event('b', e.clock.now()));
    await e.advance(48 * HOUR);
    expect(await e.names()).toEqual(['a', 'b']);
    // Not even watched: kept means no cache of them either.
    expect(e.store.eventLists).toBe(1);
  });

  it('starts without expiring Events when the store refuses to list them', async () => {
    const clock = new VirtualClock();
    const store = new (class extends MemoryStore {
      override list<K extends Kind>(kind: K, options?: ListOptions): Promise<ListResult<KindMap[K]>> {
        if (kind === 'Event') return Promise.reject(new Error('events is forbidden'));
        return super.list(kind, options);
      }
    })({ clock });
    await store.create('Event', event('a', clock.now()));
    const engine = createEngine({ store, clock, drivers: new DriverRegistry(), config: { events: { ttlSeconds: 1 } } });
    await engine.start();
    expect(engine.running).toBe(true);
    expect(engine.errors.map((x) => x.where)).toEqual(['informer Event (Events are not expired)']);
    await clock.advance(HOUR);
    await engine.settled();
    expect(await store.tryGet('Event', 'default', 'a')).toBeDefined();
    await engine.stop();
  });

  it('refuses a negative TTL', () => {
    expect(() =>
      createEngine({
        store: new MemoryStore(),
        clock: new VirtualClock(),
        drivers: new DriverRegistry(),
        config: { events: { ttlSeconds: -1 } },
      }),
    ).toThrow(RangeError);
  });

  it('deletes nothing while stopped, and recomputes every expiry from the store when started again', async () => {
    const e = await setup({ events: { ttlSeconds: 3600 } });
    const t0 = e.clock.now();
    await e.store.create('Event', event('early', t0));
    await e.advance(HOUR / 2);
    await e.engine.stop();
    await e.store.create('Event', event('while-stopped', e.clock.now()));
    // Past the first Event's expiry (t0 + 60 min), before the second's (t0 + 90 min).
    await e.clock.advance(45 * 60_000);
    expect(await e.names()).toEqual(['early', 'while-stopped']);
    await e.restart({ events: { ttlSeconds: 3600 } });
    await e.advance(0);
    expect(await e.names()).toEqual(['while-stopped']);
    await e.store.create('Event', event('late', e.clock.now()));
    await e.advance(15 * 60_000 - 1_000);
    expect(await e.names()).toEqual(['late', 'while-stopped']);
    await e.advance(1_000);
    expect(await e.names()).toEqual(['late']);
    await e.advance(2 * HOUR);
    expect(await e.names()).toEqual([]);
  });

  it('expires thousands of Events from one list, one delete each, without scanning them per tick', async () => {
    const count = 5_000;
    let t0 = 0;
    const e = await setup({ events: { ttlSeconds: 600 } }, async (store, clock) => {
      t0 = clock.now();
      // One per second over 5000 s, some recurring: written before the engine starts (a restart).
      for (let i = 0; i < count; i++) {
        const at = t0 + i * 1_000;
        await store.create('Event', event(`e${String(i).padStart(5, '0')}`, at, { firstTimestamp: isoTime(t0) }));
      }
    });
    expect(e.store.eventLists).toBe(1);
    // One timer for all of them, not one per Event.
    expect(e.clock.pendingTimers).toBeLessThan(5);
    // Step through the expiries a minute at a time: each step deletes the 60 that came due.
    let left = count;
    for (let minute = 1; left > 0; minute++) {
      await e.advance(60_000);
      const due = Math.min(count, Math.max(0, Math.floor((e.clock.now() - t0 - 600_000) / 1_000) + 1));
      expect(e.store.eventDeletes).toBe(due);
      left = count - due;
      expect(minute).toBeLessThan(200);
    }
    expect(await e.names()).toEqual([]);
    // The initial list and this test's own: never a list per timer tick.
    expect(e.store.eventLists).toBe(2);
    expect(e.store.eventDeletes).toBe(count);
    expect(e.engine.errors).toEqual([]);
  });
});
