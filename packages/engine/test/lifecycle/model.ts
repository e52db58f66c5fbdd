/**
 * Shared model for the lifecycle tests: which events to try in each state (for `xstate/graph`
 * traversal), how to fold a snapshot into a finite abstract state, and the invariants every reachable
 * state must satisfy.
 */
import {
  IllegalTransitionError,
  type LifecycleSnapshot,
  lifecycleMachine,
  nextDeadline,
  persist,
  printableStatus,
  RUN_STRATEGIES,
  restore,
  restoreSnapshot,
  type StopReason,
  send,
  stateName,
  type VMLifecycleEvent,
  vmiPhase,
} from '@virtkit/engine';
import { expect } from 'vitest';
import { type ActorScope, type AnyTransitionDefinition, createActor } from 'xstate';
import { transitionName } from './coverage.ts';

export const T0 = Date.UTC(2026, 0, 1);
export const STEP_MS = 1000;
const STOP_REASONS: StopReason[] = ['shutdown', 'destroyed', 'crashed', 'migrated', 'failed'];

/** A fresh actor at `T0`, started. */
export function fresh(input: Parameters<typeof createActor<typeof lifecycleMachine>>[1] = {}) {
  return createActor(lifecycleMachine, { input: { now: T0 }, ...input }).start();
}

/** A model event: a concrete event plus a label naming it abstractly (`ACK:define@here`, `TICK:boot`). */
export type ModelEvent = VMLifecycleEvent & { label: string };

/** A node's role relative to the VM, so abstract states and labels do not depend on node names. */
function role(snapshot: LifecycleSnapshot, node: string): string {
  const c = snapshot.context;
  if (node === c.node) return 'here';
  if (node === c.migration?.targetNode) return 'target';
  if (node === c.migration?.sourceNode) return 'source';
  return 'other';
}

/**
 * Every event worth trying in `snapshot`: each request in its variants, every report, an ACK and a
 * DRIVER_ERROR for the command(s) the controller would be running, and a TICK at every armed deadline. Time moves on by
 * `STEP_MS` per event except for ticks, which land exactly on their deadline.
 */
export function eventsFor(snapshot: LifecycleSnapshot): ModelEvent[] {
  const ctx = snapshot.context;
  const now = ctx.now + STEP_MS;
  const here = ctx.node ?? 'n1';
  const other = here === 'n1' ? 'n2' : 'n1';
  const m = ctx.migration;
  const ev = (label: string, e: VMLifecycleEvent): ModelEvent => ({ ...e, label });
  const events: ModelEvent[] = [
    ev('START', { type: 'START', now }),
    ev('STOP', { type: 'STOP', now }),
    ev('STOP:force', { type: 'STOP', graceful: false, now }),
    ev('FORCE_STOP', { type: 'FORCE_STOP', now }),
    ev('RESTART', { type: 'RESTART', now }),
    ev('RESTART:now', { type: 'RESTART', gracePeriodSeconds: 0, now }),
    ev('PAUSE', { type: 'PAUSE', now }),
    ev('UNPAUSE', { type: 'UNPAUSE', now }),
    ev('MIGRATE:other', { type: 'MIGRATE', targetNode: other, migrationName: `mig-${ctx.nextCommandId}`, now }),
    ev('MIGRATE:here', { type: 'MIGRATE', targetNode: here, migrationName: 'same-node', now }),
    ev('CANCEL_MIGRATION', { type: 'CANCEL_MIGRATION', now }),
    ev('REBOOT', { type: 'REBOOT', now }),
    ev('DELETE', { type: 'DELETE', now }),
    ev('DELETE:now', { type: 'DELETE', gracePeriodSeconds: 0, now }),
    ev('SET_RUN_STRATEGY:Manual', { type: 'SET_RUN_STRATEGY', runStrategy: 'Manual', now }),
    ev('SET_RUN_STRATEGY:Always', { type: 'SET_RUN_STRATEGY', runStrategy: 'Always', now }),
    ev('PROVISIONED', { type: 'PROVISIONED', now }),
    ev('SCHEDULED', { type: 'SCHEDULED', node: 'n1', now }),
    ev('UNSCHEDULABLE', { type: 'UNSCHEDULABLE', message: '0/2 nodes are available', now }),
    ev('DEFINED', { type: 'DEFINED', now }),
    ev('STARTED', { type: 'STARTED', now }),
    ev('GUEST_READY', { type: 'GUEST_READY', now }),
    ev('PAUSED', { type: 'PAUSED', now }),
    ev('RESUMED', { type: 'RESUMED', now }),
    ...STOP_REASONS.map((reason) => ev(`STOPPED:${reason}`, { type: 'STOPPED', reason, now })),
    ev('CRASHED', { type: 'CRASHED', now }),
    ev('MIGRATION_PROGRESS', {
      type: 'MIGRATION_PROGRESS',
      dataRemaining: (m?.dataRemaining ?? 1000) - 100,
      dataTotal: 1000,
      now,
    }),
    ev('MIGRATION_SUCCEEDED', { type: 'MIGRATION_SUCCEEDED', node: m?.targetNode ?? other, downtimeMs: 20, now }),
    ev('MIGRATION_FAILED', { type: 'MIGRATION_FAILED', reason: 'MigrationFailed', now }),
    ev('ACK:none', { type: 'ACK', commandId: 999_999, now }),
    ev('DRIVER_ERROR:none', { type: 'DRIVER_ERROR', commandId: 999_999, reason: 'Internal', message: 'stale', now }),
    ev('TICK:none', { type: 'TICK', now }),
  ];
  const nodes = new Set([here, ...ctx.domainNodes, ...(m ? [m.targetNode] : [])]);
  for (const node of nodes) events.push(ev(`NODE_LOST:${role(snapshot, node)}`, { type: 'NODE_LOST', node, now }));
  // The controller runs commands one at a time in id order (a migrate runs in the background), so only
  // the head of the queue, or the command after a migrate, can be acknowledged or fail.
  const [head, second] = ctx.pending;
  const running = head?.type === 'migrate' && second ? [head, second] : head ? [head] : [];
  for (const c of running) {
    const what = `${c.type}@${role(snapshot, c.node)}`;
    events.push(ev(`ACK:${what}`, { type: 'ACK', commandId: c.id, now }));
    events.push(
      ev(`DRIVER_ERROR:${what}`, { type: 'DRIVER_ERROR', commandId: c.id, reason: 'Internal', message: 'boom', now }),
    );
  }
  for (const [kind, at] of Object.entries(ctx.deadlines)) {
    if (at !== undefined) events.push(ev(`TICK:${kind}`, { type: 'TICK', now: Math.max(at, ctx.now) }));
  }
  // One event per label: the first pending command of a kind stands for the others.
  const seen = new Set<string>();
  return events.filter((e) => !seen.has(e.label) && seen.add(e.label));
}

/** The concrete event in `snapshot` for a model event's label (found in another, equivalent snapshot). */
export function concretize(snapshot: LifecycleSnapshot, label: string): ModelEvent {
  const e = eventsFor(snapshot).find((x) => x.label === label);
  if (!e) throw new Error(`no event "${label}" in ${JSON.stringify(snapshot.value)}`);
  return e;
}

/**
 * Finite abstractions of a snapshot for graph traversal; exact times, command ids, node names and
 * failure counts are folded away, or the graph would be infinite.
 *
 * `coarseState` keeps what decides which transitions can happen next at the level of the state chart
 * (state, run-strategy class, what follows a stop, where a migration stands, whether failures count and
 * a stable run is being timed); the model-based test walks it.
 * `fineState` also keeps pending commands and domain holders by kind and node role, the armed deadlines
 * (the restore test walks it).
 */
export function coarseState(snapshot: LifecycleSnapshot): string {
  const c = snapshot.context;
  const m = c.migration;
  return JSON.stringify([
    snapshot.value,
    c.runStrategy === 'Always' ? 'A' : 'M',
    c.afterStop ?? '',
    m ? (m.outcome ?? (m.abortRequested ? 'aborting' : 'active')) : '',
    c.failureCount > 0,
    c.deadlines.stableRun !== undefined,
  ]);
}

export function fineState(snapshot: LifecycleSnapshot): string {
  const c = snapshot.context;
  const roles = (xs: string[]) => [...new Set(xs)].sort();
  return JSON.stringify([
    coarseState(snapshot),
    roles(c.pending.map((p) => `${p.type}@${role(snapshot, p.node)}`)),
    roles(c.domainNodes.map((n) => role(snapshot, n))),
    c.node === undefined,
    Object.keys(c.deadlines).sort(),
  ]);
}

const DEADLINE_STATES: Record<string, (s: LifecycleSnapshot) => boolean> = {
  boot: (s) =>
    s.matches({ creating: { starting: 'booting' } }) ||
    s.matches({ creating: { starting: 'waitingForGuest' } }) ||
    s.matches({ running: 'rebooting' }),
  stopGrace: (s) => s.matches({ stopping: 'graceful' }) || s.matches({ deleting: 'graceful' }),
  migrationCompletion: (s) => s.matches({ migrating: 'preparing' }) || s.matches({ migrating: 'transferring' }),
  migrationProgress: (s) => s.matches({ migrating: 'transferring' }),
  backoff: (s) => s.matches({ failed: 'backingOff' }),
  stableRun: (s) =>
    s.context.failureCount > 0 &&
    (['running', 'paused', 'migrating', 'stopping', 'deleting'] as const).some((t) => s.matches(t)),
};

/** What must hold in every reachable state. */
export function checkInvariants(s: LifecycleSnapshot): void {
  const c = s.context;
  const where = stateName(s);
  expect(printableStatus(s), where).not.toBe('Unknown');
  expect(vmiPhase(s), where).not.toBe('Unknown');
  // Ids strictly increase and stay below the next id.
  for (let i = 0; i < c.pending.length; i++) {
    const cmd = c.pending[i]!;
    expect(cmd.id, where).toBeLessThan(c.nextCommandId);
    if (i > 0) expect(cmd.id, where).toBeGreaterThan(c.pending[i - 1]!.id);
  }
  // A deadline is armed only in the states that watch it.
  for (const [kind, at] of Object.entries(c.deadlines)) {
    expect(at, `${where} ${kind}`).toBeTypeOf('number');
    expect(DEADLINE_STATES[kind]?.(s), `${where} must not arm ${kind}`).toBe(true);
  }
  if (s.matches({ failed: 'backingOff' })) expect(c.deadlines.backoff, where).toBeTypeOf('number');
  if (s.matches({ creating: { starting: 'booting' } })) expect(c.deadlines.boot, where).toBeTypeOf('number');
  if (s.matches({ stopping: 'graceful' })) expect(c.deadlines.stopGrace, where).toBeTypeOf('number');
  // A VM that runs somewhere knows where, and that node may hold its domain.
  if (['running', 'paused', 'migrating', 'creating.starting'].some((t) => where.startsWith(t))) {
    expect(c.node, where).toBeDefined();
    expect(c.domainNodes, where).toContain(c.node);
  }
  // Off: not placed; every node that may still hold a domain has its undefine queued.
  if (s.matches('stopped') || s.matches('failed') || s.matches({ deleting: 'undefining' })) {
    if (!s.matches('deleting')) expect(c.node, where).toBeUndefined();
    for (const n of c.domainNodes) {
      expect(
        c.pending.some((p) => p.type === 'undefine' && p.node === n),
        `${where}: undefine for ${n}`,
      ).toBe(true);
    }
  }
  if (s.matches({ stopping: 'forced' }))
    expect(
      c.pending.some((p) => p.type === 'destroy'),
      where,
    ).toBe(true);
  if (s.matches('migrating')) expect(c.migration?.outcome, where).toBeUndefined();
  if (s.matches('deleted')) {
    expect(s.status).toBe('done');
    expect(c.pending.filter((p) => p.type === 'destroy' || p.type === 'undefine')).toEqual([]);
    expect(nextDeadline(s)).toBeUndefined();
  }
  expect(RUN_STRATEGIES).toContain(c.runStrategy);
}

/**
 * Applies events purely, like xstate's `transition()`, but with one reused actor scope: the walks below
 * take hundreds of thousands of steps and `transition()` builds a throwaway actor for each.
 */
export function createStepper(): (s: LifecycleSnapshot, e: VMLifecycleEvent) => LifecycleSnapshot {
  const self = createActor(lifecycleMachine);
  const scope = {
    self,
    system: self.system,
    id: '',
    sessionId: '',
    logger: () => {},
    defer: () => {},
    emit: () => {},
    stopChild: () => {},
    actionExecutor: () => {},
  } as unknown as ActorScope<LifecycleSnapshot, VMLifecycleEvent>;
  return (s, e) => lifecycleMachine.transition(s, e, scope);
}

/** Breadth-first walk of every abstract state reachable with `eventsFor`, keyed by `abstraction`. */
export function reachable(abstraction: (s: LifecycleSnapshot) => string): Map<string, LifecycleSnapshot> {
  const step = createStepper();
  const start = fresh().getSnapshot();
  const seen = new Map<string, LifecycleSnapshot>([[abstraction(start), start]]);
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const s = queue[i]!;
    for (const e of eventsFor(s)) {
      const n = step(s, e);
      const k = abstraction(n);
      if (!seen.has(k)) {
        seen.set(k, n);
        queue.push(n);
      }
    }
  }
  return seen;
}

/**
 * The system under test for the model: an engine that keeps the VM only as persisted JSON. Each event
 * restores an actor from JSON, checks the request like the API does, applies it, and persists again,
 * reporting the transitions the real actor took.
 */
export class PersistedVm {
  json: string;
  constructor(snapshot: LifecycleSnapshot) {
    this.json = JSON.stringify(persist(snapshot));
  }
  snapshot(): LifecycleSnapshot {
    return restoreSnapshot(JSON.parse(this.json));
  }
  step(event: VMLifecycleEvent): {
    rejected: IllegalTransitionError | undefined;
    transitions: string[];
    states: string[];
  } {
    const actor = restore(JSON.parse(this.json));
    const transitions: string[] = [];
    const states: string[] = [];
    const sub = actor.system.inspect((ev) => {
      if (ev.type !== '@xstate.microstep') return;
      transitions.push(
        ...(ev as unknown as { _transitions: AnyTransitionDefinition[] })._transitions.map(transitionName),
      );
      for (const n of (ev.snapshot as LifecycleSnapshot)._nodes) states.push(n.id);
    });
    let rejected: IllegalTransitionError | undefined;
    try {
      send(actor, event);
    } catch (e) {
      if (!(e instanceof IllegalTransitionError)) throw e;
      rejected = e;
    }
    sub.unsubscribe();
    this.json = JSON.stringify(persist(actor));
    actor.stop();
    return { rejected, transitions, states };
  }
}
