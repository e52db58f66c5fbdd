// Leader election on a coordination.k8s.io/v1 Lease through KubernetesStore and our API server; time is virtual.
import { type Lease, VirtualClock } from '@virtkit/engine';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type KubernetesStore, LeaderElector, type LeaderElectorOptions } from '../../src/cluster/index.ts';
import { type ClusterHarness, startCluster, until } from './support.ts';

const LEASE = { namespace: 'virtkit-system', name: 'virtkit-controller' };
const TIMING = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

let h: ClusterHarness;
let clock: VirtualClock;
const electors: LeaderElector[] = [];

beforeEach(async () => {
  h = await startCluster();
  clock = new VirtualClock({ start: Date.UTC(2026, 0, 1) });
});
afterEach(async () => {
  running = 0;
  for (const e of electors.splice(0)) await e.stop();
  await h.close();
});

interface Candidate {
  elector: LeaderElector;
  /** The candidate's own connection to the API server. */
  store: KubernetesStore;
  log: string[];
  /** The signal handed to onStartedLeading, for the current term. */
  term: AbortSignal | undefined;
}

async function candidate(identity: string, extra: Partial<LeaderElectorOptions> = {}): Promise<Candidate> {
  const store = await h.client();
  const c: Candidate = { elector: undefined as unknown as LeaderElector, store, log: [], term: undefined };
  c.elector = new LeaderElector({
    store,
    clock,
    ...LEASE,
    ...TIMING,
    identity,
    onStartedLeading: (signal) => {
      c.term = signal;
      c.log.push('started');
    },
    onStoppedLeading: () => {
      c.log.push('stopped');
    },
    onNewLeader: (who) => c.log.push(`leader=${who}`),
    ...extra,
  });
  electors.push(c.elector);
  return c;
}

const lease = () => h.backing.get('Lease', LEASE.namespace, LEASE.name) as Promise<Lease>;

/** Candidates started and not stopped: each is either talking to the server or sleeping on the clock. */
let running = 0;
function start(c: Candidate): void {
  c.elector.start();
  running++;
}

/**
 * Advances virtual time a second at a time; after each step, waits until every running candidate finished
 * its round trip to the API server and sleeps on the clock again.
 */
async function advance(ms: number): Promise<void> {
  for (let done = 0; done < ms; done += 1_000) {
    await clock.advance(Math.min(1_000, ms - done));
    await until(() => clock.pendingTimers >= running, 'candidates asleep');
  }
}

describe('LeaderElector', () => {
  it('one of two contenders wins; the other takes over only after the lease expired when the leader dies', async () => {
    const a = await candidate('pod-a');
    const b = await candidate('pod-b');
    start(a);
    await until(() => a.elector.isLeader, 'pod-a leads');
    start(b);
    await until(() => b.elector.leader === 'pod-a', 'pod-b observes pod-a');
    expect(b.elector.isLeader).toBe(false);
    const first = await lease();
    expect(first.spec).toMatchObject({ holderIdentity: 'pod-a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    expect(first.spec?.renewTime).toBe('2026-01-01T00:00:00.000000Z');

    // The leader renews; the contender keeps waiting however long that goes on.
    await advance(30_000);
    expect(a.elector.isLeader).toBe(true);
    expect(b.elector.isLeader).toBe(false);
    expect((await lease()).spec?.renewTime).toBe('2026-01-01T00:00:30.000000Z');

    // pod-a dies: its connection to the API server is gone, nothing renews the lease any more.
    const killedAt = clock.now();
    await a.store.close();
    await advance(10_000);
    // The dead leader steps down by its renew deadline, before the lease can have expired for anyone else.
    await until(() => !a.elector.isLeader, 'pod-a steps down');
    expect(a.log).toEqual(['leader=pod-a', 'started', 'stopped']);
    expect(a.term?.aborted).toBe(true);
    expect(b.elector.isLeader).toBe(false);
    await advance(4_000);
    expect(b.elector.isLeader).toBe(false);
    // Past a whole lease duration since pod-b last saw the lease change, it takes over.
    await advance(4_000);
    await until(() => b.elector.isLeader, 'pod-b takes over');
    expect(clock.now() - killedAt).toBeGreaterThanOrEqual(TIMING.leaseDurationMs);
    expect(b.log).toEqual(['leader=pod-a', 'leader=pod-b', 'started']);
    expect((await lease()).spec).toMatchObject({ holderIdentity: 'pod-b', leaseTransitions: 1 });
  });

  it('a stopped leader releases the lease: its successor takes over at its next retry, without waiting for expiry', async () => {
    const order: string[] = [];
    const a = await candidate('pod-a', {
      onStoppedLeading: async () => {
        // The successor must not start before the old leader's work has stopped.
        await new Promise((r) => setTimeout(r, 20));
        order.push('pod-a stopped');
      },
    });
    const b = await candidate('pod-b', { onStartedLeading: () => void order.push('pod-b started') });
    start(a);
    await until(() => a.elector.isLeader, 'pod-a leads');
    start(b);
    await until(() => b.elector.leader === 'pod-a', 'pod-b observes pod-a');
    await a.elector.stop();
    running--;
    expect(a.elector.isLeader).toBe(false);
    expect((await lease()).spec?.holderIdentity).toBe('');
    await advance(2_000);
    await until(() => b.elector.isLeader, 'pod-b leads');
    expect(order).toEqual(['pod-a stopped', 'pod-b started']);
    expect((await lease()).spec).toMatchObject({ holderIdentity: 'pod-b', leaseTransitions: 1 });
  });

  it('a leader that sees another holder in the lease steps down at once', async () => {
    const a = await candidate('pod-a');
    start(a);
    await until(() => a.elector.isLeader, 'pod-a leads');
    // An operator (or a split brain) hands the lease to someone else.
    const cur = await lease();
    await h.backing.update('Lease', { ...cur, spec: { ...cur.spec, holderIdentity: 'pod-z' } });
    await advance(2_000);
    await until(() => !a.elector.isLeader, 'pod-a steps down');
    expect(a.elector.leader).toBe('pod-z');
    expect(a.log).toEqual(['leader=pod-a', 'started', 'leader=pod-z', 'stopped']);
  });

  it('exactly one of many simultaneous contenders wins a fresh lease', async () => {
    const all = await Promise.all(['p1', 'p2', 'p3', 'p4', 'p5'].map((id) => candidate(id)));
    for (const c of all) start(c);
    await until(() => all.some((c) => c.elector.isLeader), 'someone leads');
    await advance(6_000);
    const leaders = all.filter((c) => c.elector.isLeader).map((c) => c.elector.identity);
    expect(leaders).toHaveLength(1);
    expect((await lease()).spec?.holderIdentity).toBe(leaders[0]);
  });

  it('rejects timings where a leader could outlive its lease', () => {
    const store = h.backing;
    const base = { store, clock, ...LEASE, identity: 'x' };
    expect(() => new LeaderElector({ ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).toThrow(
      'renewDeadlineMs must be less than leaseDurationMs',
    );
    expect(() => new LeaderElector({ ...base, retryPeriodMs: 10_000 })).toThrow('retryPeriodMs');
  });
});
