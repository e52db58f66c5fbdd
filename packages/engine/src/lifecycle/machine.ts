/**
 * The VM lifecycle machine (xstate v5): the single source of truth for one VM/VMI's lifecycle.
 *
 * It is pure. No invoked actors, no delayed transitions, no clock reads: every driver call it wants is
 * recorded as data in `context.pending` (see `Command`), and every deadline is an absolute time in
 * `context.deadlines`, fired by a `TICK {now}` event from the controller. A persisted snapshot therefore
 * restores exactly: unacknowledged commands are still pending (so they are re-issued), acknowledged ones
 * are gone, and deadlines keep their absolute times (`nextDeadline` tells the controller when to tick).
 *
 * runStrategy (context data, set at creation and by `SET_RUN_STRATEGY`) decides only what happens when
 * the guest stops without being asked:
 * - guest shut itself down: `Always` starts it again at once; every other strategy leaves it `stopped`.
 * - crash, boot timeout, start failure, lost node: `Always` and `RerunOnFailure` retry after a growing
 *   back-off (`failed.backingOff`, CrashLoopBackOff); `Manual`, `Once` and `Halted` stay `failed.halted`.
 * Starting a VM at creation and mapping user stop/start to strategy changes is the VM controller's job.
 */
import { and, assign, setup } from 'xstate';
import {
  backoffDelay,
  type CommandSpec,
  cleanupSpecs,
  findPending,
  forgetNode,
  hasPending,
  record,
  settle,
  settledBy,
} from './commands.ts';
import {
  type CommandType,
  DEFAULT_LIFECYCLE_CONFIG,
  type DeadlineKind,
  type Deadlines,
  type LifecycleContext,
  type LifecycleInput,
  type StopReason,
  type VMLifecycleEvent,
} from './types.ts';

type Ctx = LifecycleContext;
type Ev = VMLifecycleEvent;
type Patch = Partial<Ctx>;

function initialContext(input: LifecycleInput | undefined): Ctx {
  const cfg = input?.config;
  return {
    runStrategy: input?.runStrategy ?? 'Always',
    config: {
      ...DEFAULT_LIFECYCLE_CONFIG,
      ...cfg,
      backoff: { ...DEFAULT_LIFECYCLE_CONFIG.backoff, ...cfg?.backoff },
    },
    now: input?.now ?? 0,
    domainNodes: [],
    nextCommandId: 1,
    pending: [],
    deadlines: {},
    failureCount: 0,
  };
}

function withoutDeadlines(d: Deadlines, ...kinds: DeadlineKind[]): Deadlines {
  const out: Deadlines = { ...d };
  for (const k of kinds) delete out[k];
  return out;
}

/**
 * Every update first moves `now` forward and applies the stable-run reset when it is due: a VM that ran
 * `resetAfterMs` without failing starts its next crash loop from the first back-off step again.
 */
function stamp(ctx: Ctx, event: Ev): Ctx {
  const now = Math.max(ctx.now, event.now);
  const stableAt = ctx.deadlines.stableRun;
  if (stableAt !== undefined && stableAt <= now) {
    return { ...ctx, now, failureCount: 0, deadlines: withoutDeadlines(ctx.deadlines, 'stableRun') };
  }
  return now === ctx.now ? ctx : { ...ctx, now };
}

/** An assign that stamps first and then applies `fn`'s patch. */
function update<P = undefined>(fn: (ctx: Ctx, event: Ev, params: P) => Patch) {
  return assign<Ctx, Ev, P, Ev, never>(({ context, event }, params: P) => {
    const c = stamp(context, event);
    return { ...c, ...fn(c, event, params) };
  });
}

function add(ctx: Ctx, specs: readonly CommandSpec[]): Patch {
  return record(ctx, ctx.now, specs);
}

function graceMs(ctx: Ctx, event: Ev): number {
  const requested =
    event.type === 'STOP' || event.type === 'DELETE' || event.type === 'RESTART' ? event.gracePeriodSeconds : undefined;
  return (requested ?? ctx.config.defaultGracePeriodSeconds) * 1000;
}

/**
 * The VM is off and leaves its node: queue an undefine for every node that may hold a domain (skipped
 * where one is already last in line).
 */
function undefineAll(ctx: Ctx): Patch {
  return { node: undefined, ...(ctx.domainNodes.length === 0 ? {} : add(ctx, cleanupSpecs(ctx.domainNodes, false))) };
}

const STOP_REASONS: readonly StopReason[] = ['shutdown', 'destroyed', 'crashed', 'migrated', 'failed'];
const ANY_BUT_MIGRATED: readonly StopReason[] = ['shutdown', 'destroyed', 'crashed', 'failed'];
const ABNORMAL_STOP: readonly StopReason[] = ['destroyed', 'crashed', 'failed'];
const GUEST_SHUTDOWN: readonly StopReason[] = ['shutdown'];

const restarting = (s: Ctx['runStrategy']) => s === 'Always' || s === 'RerunOnFailure';

/** Whether a migration is under way (recorded and not ended). */
const migrationActive = (ctx: Ctx) => ctx.migration !== undefined && ctx.migration.outcome === undefined;

function endMigration(ctx: Ctx, outcome: 'Succeeded' | 'Failed', reason?: string, downtimeMs?: number): Patch {
  if (!ctx.migration) return {};
  const m = { ...ctx.migration, outcome, endedAt: ctx.now };
  if (reason !== undefined) m.failureReason = reason;
  if (downtimeMs !== undefined) m.downtimeMs = downtimeMs;
  return {
    migration: m,
    deadlines: withoutDeadlines(ctx.deadlines, 'migrationCompletion', 'migrationProgress'),
  };
}

function failureOf(event: Ev): { reason: string; message: string } {
  switch (event.type) {
    case 'TICK':
      return { reason: 'BootTimeout', message: 'the guest did not become ready in time' };
    case 'CRASHED':
      return { reason: 'Crashed', message: event.message ?? 'the guest crashed' };
    case 'STOPPED':
      return event.reason === 'crashed'
        ? { reason: 'Crashed', message: 'the domain stopped after a crash' }
        : { reason: `Stopped:${event.reason}`, message: `the domain stopped unexpectedly (${event.reason})` };
    case 'NODE_LOST':
      return { reason: 'NodeLost', message: `node ${event.node} was lost` };
    case 'DRIVER_ERROR':
      return { reason: event.reason, message: event.message };
    default:
      return { reason: 'Failed', message: `failed on ${event.type}` };
  }
}

export const lifecycleMachine = setup({
  types: {
    context: {} as Ctx,
    events: {} as Ev,
    input: {} as LifecycleInput | undefined,
  },
  actions: {
    /** Removes the commands this event settles; remembers a driver error. */
    settle: update((ctx, event) => {
      const patch: Patch = settle(ctx, event);
      if (event.type === 'DRIVER_ERROR') {
        const cmd = findPending(ctx, event.commandId);
        if (cmd) patch.lastError = { command: cmd.type, reason: event.reason, message: event.message, at: ctx.now };
      }
      return patch;
    }),
    stamp: update(() => ({})),
    setRunStrategy: update((_ctx, event) =>
      event.type === 'SET_RUN_STRATEGY' ? { runStrategy: event.runStrategy } : {},
    ),
    freshStart: update((ctx) => {
      return {
        exit: undefined,
        lastFailure: undefined,
        unschedulableMessage: undefined,
        afterStop: undefined,
        failureCount: 0,
        deadlines: withoutDeadlines(ctx.deadlines, 'backoff', 'stableRun'),
      };
    }),
    markUnschedulable: update((_ctx, event) =>
      event.type === 'UNSCHEDULABLE' ? { unschedulableMessage: event.message } : {},
    ),
    placeOnNode: update((ctx, event) => {
      if (event.type !== 'SCHEDULED') return {};
      return {
        unschedulableMessage: undefined,
        node: event.node,
        ...record(ctx, ctx.now, [{ type: 'define', node: event.node }]),
      };
    }),
    boot: update((ctx) => ({
      ...add(ctx, [{ type: 'start', node: ctx.node ?? '' }]),
      deadlines: { ...ctx.deadlines, boot: ctx.now + ctx.config.bootTimeoutMs },
    })),
    becomeReady: update((ctx) => {
      const deadlines = withoutDeadlines(ctx.deadlines, 'boot');
      if (ctx.failureCount > 0 && deadlines.stableRun === undefined) {
        deadlines.stableRun = ctx.now + ctx.config.backoff.resetAfterMs;
      }
      return { deadlines };
    }),
    disarmAll: update(() => ({ deadlines: {} })),
    clearGrace: update((ctx) => ({ deadlines: withoutDeadlines(ctx.deadlines, 'stopGrace') })),
    clearBoot: update((ctx) => ({ deadlines: withoutDeadlines(ctx.deadlines, 'boot') })),
    requestShutdown: update((ctx, event) => ({
      ...add(ctx, [{ type: 'shutdown', node: ctx.node ?? '' }]),
      deadlines: { ...ctx.deadlines, stopGrace: ctx.now + graceMs(ctx, event) },
    })),
    /** Forces every copy of the domain off; a running migration is aborted first. */
    forceOff: update((ctx) => {
      const specs: CommandSpec[] = [];
      if (migrationActive(ctx) && ctx.migration) specs.push({ type: 'abortMigration', node: ctx.migration.sourceNode });
      specs.push(...cleanupSpecs(ctx.domainNodes, true).filter((s) => s.type === 'destroy'));
      const patch: Patch = { ...add(ctx, specs), deadlines: withoutDeadlines(ctx.deadlines, 'stopGrace') };
      if (migrationActive(ctx) && ctx.migration) {
        // Stopping ends the migration: whatever the hypervisor still reports, both copies get destroyed.
        const m = { ...ctx.migration, abortRequested: true, abortReason: 'Stopping' };
        const ended = endMigration({ ...ctx, migration: m, deadlines: patch.deadlines ?? {} }, 'Failed', 'VMStopped');
        Object.assign(patch, ended);
      }
      return patch;
    }),
    restartAfterStop: update(() => ({ afterStop: 'restart' })),
    /** The domain is off: undefine every copy, leave the node, remember why it stopped. */
    finishStop: update((ctx, event, params: { reason: StopReason | 'requested' }) => {
      const base: Ctx = event.type === 'NODE_LOST' ? { ...ctx, ...forgetNode(ctx, event.node) } : ctx;
      return {
        ...base,
        ...undefineAll(base),
        afterStop: undefined,
        deadlines: withoutDeadlines(ctx.deadlines, 'stopGrace', 'stableRun', 'boot'),
        exit: { reason: params.reason, at: ctx.now },
      };
    }),
    undefineAll: update((ctx) => undefineAll(ctx)),
    // KubeVirt never moves a VMI out of a final phase: one deleted while Failed stays Failed.
    undefineFailed: update((ctx) => ({ ...undefineAll(ctx), deletedWhileFailed: true })),
    fail: update((ctx, event) => {
      let base: Ctx = { ...ctx, node: undefined, afterStop: undefined };
      if (event.type === 'NODE_LOST') base = { ...base, ...forgetNode(base, event.node) };
      if (migrationActive(base)) base = { ...base, ...endMigration(base, 'Failed', 'VMFailed') };
      return {
        ...base,
        ...record(base, ctx.now, cleanupSpecs(base.domainNodes, true)),
        failureCount: ctx.failureCount + 1,
        lastFailure: { ...failureOf(event), at: ctx.now },
        deadlines: {},
      };
    }),
    armBackoff: update((ctx) => ({
      deadlines: { ...ctx.deadlines, backoff: ctx.now + backoffDelay(ctx.config.backoff, ctx.failureCount) },
    })),
    clearBackoff: update((ctx) => ({ deadlines: withoutDeadlines(ctx.deadlines, 'backoff') })),
    requestPause: update((ctx) => add(ctx, [{ type: 'pause', node: ctx.node ?? '' }])),
    requestResume: update((ctx) => add(ctx, [{ type: 'resume', node: ctx.node ?? '' }])),
    requestReboot: update((ctx) => ({
      ...add(ctx, [{ type: 'reboot', node: ctx.node ?? '' }]),
      deadlines: { ...ctx.deadlines, boot: ctx.now + ctx.config.bootTimeoutMs },
    })),
    startMigration: update((ctx, event) => {
      if (event.type !== 'MIGRATE') return {};
      const source = ctx.node ?? '';
      const completionTimeoutMs = event.completionTimeoutMs ?? ctx.config.migrationCompletionTimeoutMs;
      return {
        ...add(ctx, [
          {
            type: 'migrate',
            node: source,
            target: event.targetNode,
            migrationName: event.migrationName,
            completionTimeoutMs,
          },
        ]),
        migration: {
          name: event.migrationName,
          sourceNode: source,
          targetNode: event.targetNode,
          startedAt: ctx.now,
          lastProgressAt: ctx.now,
          abortRequested: false,
        },
        deadlines: { ...ctx.deadlines, migrationCompletion: ctx.now + completionTimeoutMs },
      };
    }),
    /** The source started sending: from now on the migration must keep making progress. */
    migrationStarted: update((ctx) => ({
      deadlines: { ...ctx.deadlines, migrationProgress: ctx.now + ctx.config.migrationProgressTimeoutMs },
      ...(ctx.migration ? { migration: { ...ctx.migration, lastProgressAt: ctx.now } } : {}),
    })),
    migrationProgress: update((ctx, event) => {
      if (event.type !== 'MIGRATION_PROGRESS' || !ctx.migration) return {};
      const m = { ...ctx.migration };
      const before = m.dataRemaining;
      if (event.dataTotal !== undefined) m.dataTotal = event.dataTotal;
      if (event.dataRemaining !== undefined) m.dataRemaining = event.dataRemaining;
      // Only shrinking remaining data counts as progress (KubeVirt's progressTimeout rule).
      const progressed = event.dataRemaining !== undefined && (before === undefined || event.dataRemaining < before);
      if (!progressed) return { migration: m };
      m.lastProgressAt = ctx.now;
      return {
        migration: m,
        deadlines: { ...ctx.deadlines, migrationProgress: ctx.now + ctx.config.migrationProgressTimeoutMs },
      };
    }),
    requestAbort: update((ctx, _event, params: { reason: string }) => {
      if (!ctx.migration) return {};
      return {
        ...add(ctx, [{ type: 'abortMigration', node: ctx.migration.sourceNode }]),
        migration: { ...ctx.migration, abortRequested: true, abortReason: params.reason },
        deadlines: withoutDeadlines(ctx.deadlines, 'migrationCompletion', 'migrationProgress'),
      };
    }),
    /** The migration was called off before the source reported it running; it counts as failed. */
    abandonMigration: update((ctx, _event, params: { reason: string }) => endMigration(ctx, 'Failed', params.reason)),
    migrationSucceeded: update((ctx, event) => {
      if (event.type !== 'MIGRATION_SUCCEEDED') return {};
      const source = ctx.node;
      const moved: Patch = { ...endMigration(ctx, 'Succeeded', undefined, event.downtimeMs), node: event.node };
      const holders = ctx.domainNodes.includes(event.node) ? ctx.domainNodes : [...ctx.domainNodes, event.node];
      const base = { ...ctx, ...moved, domainNodes: holders };
      // The source keeps a shut-off definition; remove it.
      const cleanup: CommandSpec[] =
        source !== undefined && source !== event.node ? [{ type: 'undefine', node: source }] : [];
      return { ...moved, ...record(base, ctx.now, cleanup) };
    }),
    migrationFailed: update((ctx, event) => {
      const reason =
        event.type === 'MIGRATION_FAILED' || event.type === 'DRIVER_ERROR'
          ? event.reason
          : event.type === 'NODE_LOST'
            ? 'TargetLost'
            : 'Failed';
      const target = ctx.migration?.targetNode;
      const patch = endMigration(ctx, 'Failed', reason);
      // Nothing is left on the target of a failed migration (driver contract).
      return target !== undefined && target !== ctx.node ? { ...patch, ...forgetNode(ctx, target) } : patch;
    }),
    forgetLostNode: update((ctx, event) => (event.type === 'NODE_LOST' ? forgetNode(ctx, event.node) : {})),
  },
  guards: {
    isPendingCommand: ({ context, event }) =>
      (event.type === 'ACK' || event.type === 'DRIVER_ERROR') && findPending(context, event.commandId) !== undefined,
    settlesSomething: ({ context, event }) => settledBy(context, event).length > 0,
    acks: ({ context, event }, params: { command: CommandType }) =>
      event.type === 'ACK' && findPending(context, event.commandId)?.type === params.command,
    fails: ({ context, event }, params: { command: CommandType }) =>
      event.type === 'DRIVER_ERROR' && findPending(context, event.commandId)?.type === params.command,
    due: ({ context, event }, params: { deadline: DeadlineKind }) => {
      const at = context.deadlines[params.deadline];
      return event.type === 'TICK' && at !== undefined && at <= event.now;
    },
    stableRunDue: ({ context, event }) =>
      context.deadlines.stableRun !== undefined && context.deadlines.stableRun <= event.now,
    gracefulStop: ({ context, event }) =>
      (event.type === 'RESTART' || (event.type === 'STOP' && event.graceful !== false)) && graceMs(context, event) > 0,
    gracefulDelete: ({ context, event }) => event.type === 'DELETE' && graceMs(context, event) > 0,
    escalatesStop: ({ context, event }) =>
      event.type === 'STOP' && (event.graceful === false || graceMs(context, event) === 0),
    immediateDelete: ({ context, event }) => event.type === 'DELETE' && graceMs(context, event) === 0,
    restartsAfterFailure: ({ context }) => restarting(context.runStrategy),
    restartsAfterShutdown: ({ context }) => context.runStrategy === 'Always',
    stopsRestarting: ({ event }) => event.type === 'SET_RUN_STRATEGY' && !restarting(event.runStrategy),
    restartRequested: ({ context }) => context.afterStop === 'restart',
    stoppedHere: ({ context, event }, params: { reasons: readonly StopReason[] }) =>
      event.type === 'STOPPED' &&
      params.reasons.includes(event.reason) &&
      (event.node === undefined || event.node === context.node),
    lostCurrentNode: ({ context, event }) => event.type === 'NODE_LOST' && event.node === context.node,
    lostMigrationTarget: ({ context, event }) =>
      event.type === 'NODE_LOST' && migrationActive(context) && event.node === context.migration?.targetNode,
    lostOtherDomainNode: ({ context, event }) =>
      event.type === 'NODE_LOST' && event.node !== context.node && context.domainNodes.includes(event.node),
    targetIsElsewhere: ({ context, event }) =>
      event.type === 'MIGRATE' && event.targetNode !== '' && event.targetNode !== context.node,
    arrivedElsewhere: ({ context, event }) => event.type === 'MIGRATION_SUCCEEDED' && event.node !== context.node,
    nothingToDestroy: ({ context }) => !hasPending(context, 'destroy'),
    nothingToUndefine: ({ context }) => !hasPending(context, 'undefine'),
  },
}).createMachine({
  id: 'vm',
  context: ({ input }) => initialContext(input),
  initial: 'stopped',
  on: {
    SET_RUN_STRATEGY: { actions: 'setRunStrategy' },
    ACK: { guard: 'isPendingCommand', actions: 'settle' },
    DRIVER_ERROR: { guard: 'isPendingCommand', actions: 'settle' },
    STOPPED: { guard: 'settlesSomething', actions: 'settle' },
    MIGRATION_SUCCEEDED: { guard: 'settlesSomething', actions: 'settle' },
    MIGRATION_FAILED: { guard: 'settlesSomething', actions: 'settle' },
    NODE_LOST: { guard: 'lostOtherDomainNode', actions: 'forgetLostNode' },
    TICK: { guard: 'stableRunDue', actions: 'stamp' },
  },
  states: {
    stopped: {
      on: {
        START: { target: 'creating', actions: 'freshStart' },
        DELETE: { target: 'deleting.undefining', actions: 'undefineAll' },
      },
    },

    creating: {
      initial: 'provisioning',
      on: {
        // Nothing runs yet (earlier cleanup, if any, is already recorded).
        STOP: { target: 'stopped', actions: { type: 'finishStop', params: { reason: 'requested' } } },
        FORCE_STOP: { target: 'stopped', actions: { type: 'finishStop', params: { reason: 'requested' } } },
        DELETE: { target: 'deleting.undefining', actions: 'undefineAll' },
      },
      states: {
        provisioning: {
          on: { PROVISIONED: { target: 'scheduling', actions: 'stamp' } },
        },
        scheduling: {
          initial: 'pending',
          on: {
            SCHEDULED: { target: 'starting', actions: 'placeOnNode' },
            UNSCHEDULABLE: { target: '.unschedulable', actions: 'markUnschedulable' },
          },
          states: { pending: {}, unschedulable: {} },
        },
        starting: {
          initial: 'defining',
          exit: 'clearBoot',
          on: {
            STOP: { target: '#vm.stopping.forced', actions: 'forceOff' },
            FORCE_STOP: { target: '#vm.stopping.forced', actions: 'forceOff' },
            DELETE: { target: '#vm.deleting.forced', actions: 'forceOff' },
            DRIVER_ERROR: [
              {
                guard: { type: 'fails', params: { command: 'define' } },
                target: '#vm.failed',
                actions: ['settle', 'fail'],
              },
              {
                guard: { type: 'fails', params: { command: 'start' } },
                target: '#vm.failed',
                actions: ['settle', 'fail'],
              },
            ],
            TICK: {
              guard: { type: 'due', params: { deadline: 'boot' } },
              target: '#vm.failed',
              actions: ['settle', 'fail'],
            },
            CRASHED: { target: '#vm.failed', actions: ['settle', 'fail'] },
            STOPPED: {
              guard: { type: 'stoppedHere', params: { reasons: ANY_BUT_MIGRATED } },
              target: '#vm.failed',
              actions: ['settle', 'fail'],
            },
            NODE_LOST: { guard: 'lostCurrentNode', target: '#vm.failed', actions: ['settle', 'fail'] },
          },
          states: {
            defining: {
              on: {
                DEFINED: { target: 'booting', actions: ['settle', 'boot'] },
                ACK: {
                  guard: { type: 'acks', params: { command: 'define' } },
                  target: 'booting',
                  actions: ['settle', 'boot'],
                },
              },
            },
            booting: {
              on: {
                STARTED: { target: 'waitingForGuest', actions: 'settle' },
                ACK: {
                  guard: { type: 'acks', params: { command: 'start' } },
                  target: 'waitingForGuest',
                  actions: 'settle',
                },
                GUEST_READY: { target: '#vm.running', actions: ['settle', 'becomeReady'] },
              },
            },
            waitingForGuest: {
              on: { GUEST_READY: { target: '#vm.running', actions: ['settle', 'becomeReady'] } },
            },
          },
        },
      },
    },

    running: {
      initial: 'ready',
      on: {
        STOP: [
          { guard: 'gracefulStop', target: 'stopping.graceful', actions: 'requestShutdown' },
          { target: 'stopping.forced', actions: 'forceOff' },
        ],
        FORCE_STOP: { target: 'stopping.forced', actions: 'forceOff' },
        DELETE: [
          { guard: 'gracefulDelete', target: 'deleting.graceful', actions: 'requestShutdown' },
          { target: 'deleting.forced', actions: 'forceOff' },
        ],
        STOPPED: [
          {
            guard: and([{ type: 'stoppedHere', params: { reasons: GUEST_SHUTDOWN } }, 'restartsAfterShutdown']),
            target: 'creating',
            actions: ['settle', { type: 'finishStop', params: { reason: 'shutdown' } }],
          },
          {
            guard: { type: 'stoppedHere', params: { reasons: GUEST_SHUTDOWN } },
            target: 'stopped',
            actions: ['settle', { type: 'finishStop', params: { reason: 'shutdown' } }],
          },
          {
            guard: { type: 'stoppedHere', params: { reasons: ABNORMAL_STOP } },
            target: '#vm.failed',
            actions: ['settle', 'fail'],
          },
        ],
        CRASHED: { target: '#vm.failed', actions: ['settle', 'fail'] },
        NODE_LOST: { guard: 'lostCurrentNode', target: '#vm.failed', actions: ['settle', 'fail'] },
        // A migration we had given up on finished after all: follow the VM to its new node.
        MIGRATION_SUCCEEDED: { guard: 'arrivedElsewhere', actions: ['settle', 'migrationSucceeded'] },
      },
      states: {
        ready: {
          on: {
            PAUSE: { target: 'pausing', actions: 'requestPause' },
            REBOOT: { target: 'rebooting', actions: 'requestReboot' },
            RESTART: [
              {
                guard: 'gracefulStop',
                target: '#vm.stopping.graceful',
                actions: ['requestShutdown', 'restartAfterStop'],
              },
              { target: '#vm.stopping.forced', actions: ['forceOff', 'restartAfterStop'] },
            ],
            MIGRATE: { guard: 'targetIsElsewhere', target: '#vm.migrating', actions: 'startMigration' },
          },
        },
        pausing: {
          on: {
            PAUSED: { target: '#vm.paused', actions: 'settle' },
            ACK: { guard: { type: 'acks', params: { command: 'pause' } }, target: '#vm.paused', actions: 'settle' },
            DRIVER_ERROR: {
              guard: { type: 'fails', params: { command: 'pause' } },
              target: 'ready',
              actions: 'settle',
            },
          },
        },
        rebooting: {
          exit: 'clearBoot',
          on: {
            GUEST_READY: { target: 'ready', actions: 'settle' },
            DRIVER_ERROR: {
              guard: { type: 'fails', params: { command: 'reboot' } },
              target: 'ready',
              actions: 'settle',
            },
            TICK: {
              guard: { type: 'due', params: { deadline: 'boot' } },
              target: '#vm.failed',
              actions: ['settle', 'fail'],
            },
          },
        },
      },
    },

    paused: {
      initial: 'suspended',
      on: {
        // A paused guest cannot react to ACPI, so every stop of a paused VM is a forced one.
        STOP: { target: 'stopping.forced', actions: 'forceOff' },
        FORCE_STOP: { target: 'stopping.forced', actions: 'forceOff' },
        DELETE: { target: 'deleting.forced', actions: 'forceOff' },
        STOPPED: {
          guard: { type: 'stoppedHere', params: { reasons: ANY_BUT_MIGRATED } },
          target: '#vm.failed',
          actions: ['settle', 'fail'],
        },
        CRASHED: { target: '#vm.failed', actions: ['settle', 'fail'] },
        NODE_LOST: { guard: 'lostCurrentNode', target: '#vm.failed', actions: ['settle', 'fail'] },
      },
      states: {
        suspended: {
          on: {
            UNPAUSE: { target: 'resuming', actions: 'requestResume' },
            RESTART: { target: '#vm.stopping.forced', actions: ['forceOff', 'restartAfterStop'] },
          },
        },
        resuming: {
          on: {
            RESUMED: { target: '#vm.running', actions: 'settle' },
            ACK: { guard: { type: 'acks', params: { command: 'resume' } }, target: '#vm.running', actions: 'settle' },
            DRIVER_ERROR: {
              guard: { type: 'fails', params: { command: 'resume' } },
              target: 'suspended',
              actions: 'settle',
            },
          },
        },
      },
    },

    migrating: {
      initial: 'preparing',
      on: {
        MIGRATION_SUCCEEDED: { target: 'running', actions: ['settle', 'migrationSucceeded'] },
        MIGRATION_FAILED: { target: 'running', actions: ['settle', 'migrationFailed'] },
        DRIVER_ERROR: {
          guard: { type: 'fails', params: { command: 'migrate' } },
          target: 'running',
          actions: ['settle', 'migrationFailed'],
        },
        FORCE_STOP: { target: 'stopping.forced', actions: 'forceOff' },
        DELETE: { target: 'deleting.forced', actions: 'forceOff' },
        STOPPED: {
          guard: { type: 'stoppedHere', params: { reasons: ANY_BUT_MIGRATED } },
          target: '#vm.failed',
          actions: ['settle', 'fail'],
        },
        CRASHED: { target: '#vm.failed', actions: ['settle', 'fail'] },
        NODE_LOST: [
          { guard: 'lostCurrentNode', target: '#vm.failed', actions: ['settle', 'fail'] },
          {
            guard: 'lostMigrationTarget',
            target: 'running',
            actions: [{ type: 'requestAbort', params: { reason: 'TargetLost' } }, 'migrationFailed'],
          },
        ],
      },
      states: {
        preparing: {
          on: {
            ACK: {
              guard: { type: 'acks', params: { command: 'migrate' } },
              target: 'transferring',
              actions: ['settle', 'migrationStarted'],
            },
            MIGRATION_PROGRESS: {
              target: 'transferring',
              actions: ['settle', 'migrationStarted', 'migrationProgress'],
            },
            // Not known to be running yet: abort (a no-op when it never started) and carry on at once.
            CANCEL_MIGRATION: {
              target: '#vm.running',
              actions: [
                { type: 'requestAbort', params: { reason: 'Cancelled' } },
                { type: 'abandonMigration', params: { reason: 'Cancelled' } },
              ],
            },
            TICK: {
              guard: { type: 'due', params: { deadline: 'migrationCompletion' } },
              target: '#vm.running',
              actions: [
                { type: 'requestAbort', params: { reason: 'CompletionTimeout' } },
                { type: 'abandonMigration', params: { reason: 'CompletionTimeout' } },
              ],
            },
          },
        },
        transferring: {
          on: {
            MIGRATION_PROGRESS: { actions: ['settle', 'migrationProgress'] },
            CANCEL_MIGRATION: {
              target: 'aborting',
              actions: { type: 'requestAbort', params: { reason: 'Cancelled' } },
            },
            TICK: [
              {
                guard: { type: 'due', params: { deadline: 'migrationCompletion' } },
                target: 'aborting',
                actions: { type: 'requestAbort', params: { reason: 'CompletionTimeout' } },
              },
              {
                guard: { type: 'due', params: { deadline: 'migrationProgress' } },
                target: 'aborting',
                actions: { type: 'requestAbort', params: { reason: 'ProgressTimeout' } },
              },
            ],
          },
        },
        // Waits for the outcome: the abort usually wins (MIGRATION_FAILED), but the switch-over may beat it.
        aborting: {},
      },
    },

    stopping: {
      initial: 'graceful',
      states: {
        graceful: {
          on: {
            STOPPED: [
              {
                guard: and([{ type: 'stoppedHere', params: { reasons: STOP_REASONS } }, 'restartRequested']),
                target: '#vm.creating',
                actions: ['settle', { type: 'finishStop', params: { reason: 'requested' } }],
              },
              {
                guard: { type: 'stoppedHere', params: { reasons: STOP_REASONS } },
                target: '#vm.stopped',
                actions: ['settle', { type: 'finishStop', params: { reason: 'requested' } }],
              },
            ],
            TICK: { guard: { type: 'due', params: { deadline: 'stopGrace' } }, target: 'forced', actions: 'forceOff' },
            DRIVER_ERROR: {
              guard: { type: 'fails', params: { command: 'shutdown' } },
              target: 'forced',
              actions: ['settle', 'forceOff'],
            },
            STOP: { guard: 'escalatesStop', target: 'forced', actions: 'forceOff' },
            FORCE_STOP: { target: 'forced', actions: 'forceOff' },
            DELETE: [
              { guard: 'immediateDelete', target: '#vm.deleting.forced', actions: 'forceOff' },
              { target: '#vm.deleting.graceful', actions: 'stamp' },
            ],
          },
        },
        forced: {
          always: [
            {
              guard: and(['nothingToDestroy', 'restartRequested']),
              target: '#vm.creating',
              actions: { type: 'finishStop', params: { reason: 'requested' } },
            },
            {
              guard: 'nothingToDestroy',
              target: '#vm.stopped',
              actions: { type: 'finishStop', params: { reason: 'requested' } },
            },
          ],
          on: {
            // A failed destroy may leave the domain running: never report the VM stopped on that basis.
            DRIVER_ERROR: {
              guard: { type: 'fails', params: { command: 'destroy' } },
              target: 'destroyFailed',
              actions: 'settle',
            },
            FORCE_STOP: { actions: 'forceOff' },
            DELETE: { target: '#vm.deleting.forced', actions: 'stamp' },
          },
        },
        // Waits for the operator (or the domain's Stopped event): asking again re-issues the destroy.
        destroyFailed: {
          on: {
            FORCE_STOP: { target: 'forced', actions: 'forceOff' },
            STOP: { target: 'forced', actions: 'forceOff' },
            DELETE: { target: '#vm.deleting.forced', actions: 'forceOff' },
            STOPPED: [
              {
                guard: and([{ type: 'stoppedHere', params: { reasons: STOP_REASONS } }, 'restartRequested']),
                target: '#vm.creating',
                actions: ['settle', { type: 'finishStop', params: { reason: 'requested' } }],
              },
              {
                guard: { type: 'stoppedHere', params: { reasons: STOP_REASONS } },
                target: '#vm.stopped',
                actions: ['settle', { type: 'finishStop', params: { reason: 'requested' } }],
              },
            ],
          },
        },
      },
      on: {
        NODE_LOST: [
          {
            guard: and(['lostCurrentNode', 'restartRequested']),
            target: 'creating',
            actions: { type: 'finishStop', params: { reason: 'requested' } },
          },
          {
            guard: 'lostCurrentNode',
            target: 'stopped',
            actions: { type: 'finishStop', params: { reason: 'requested' } },
          },
        ],
      },
    },

    failed: {
      // Transient: decides between retrying and halting with the run strategy at the time of failure.
      initial: 'deciding',
      on: {
        STOP: { target: 'stopped', actions: { type: 'finishStop', params: { reason: 'requested' } } },
        FORCE_STOP: { target: 'stopped', actions: { type: 'finishStop', params: { reason: 'requested' } } },
        DELETE: { target: 'deleting.undefining', actions: 'undefineFailed' },
      },
      states: {
        deciding: {
          always: [
            { guard: 'restartsAfterFailure', target: 'backingOff', actions: 'armBackoff' },
            { target: 'halted' },
          ],
        },
        backingOff: {
          exit: 'clearBackoff',
          on: {
            TICK: { guard: { type: 'due', params: { deadline: 'backoff' } }, target: '#vm.creating', actions: 'stamp' },
            SET_RUN_STRATEGY: { guard: 'stopsRestarting', target: 'halted', actions: 'setRunStrategy' },
          },
        },
        halted: {
          on: { START: { target: '#vm.creating', actions: 'freshStart' } },
        },
      },
    },

    deleting: {
      initial: 'graceful',
      on: {
        // The node's domains are gone with it; the eventless transitions finish whatever else is left.
        NODE_LOST: { guard: 'lostCurrentNode', actions: 'forgetLostNode' },
      },
      states: {
        graceful: {
          exit: 'clearGrace',
          on: {
            STOPPED: {
              guard: { type: 'stoppedHere', params: { reasons: STOP_REASONS } },
              target: 'undefining',
              actions: ['settle', 'undefineAll'],
            },
            TICK: { guard: { type: 'due', params: { deadline: 'stopGrace' } }, target: 'forced', actions: 'forceOff' },
            DRIVER_ERROR: {
              guard: { type: 'fails', params: { command: 'shutdown' } },
              target: 'forced',
              actions: ['settle', 'forceOff'],
            },
            DELETE: { guard: 'immediateDelete', target: 'forced', actions: 'forceOff' },
            NODE_LOST: { guard: 'lostCurrentNode', target: 'forced', actions: ['forgetLostNode', 'forceOff'] },
          },
        },
        // Deletion never gets stuck: a failed destroy or undefine is given up (the node reaps orphans).
        forced: {
          always: { guard: 'nothingToDestroy', target: 'undefining', actions: 'undefineAll' },
        },
        undefining: {
          always: { guard: 'nothingToUndefine', target: '#vm.deleted' },
        },
      },
    },

    deleted: { type: 'final', entry: 'disarmAll' },
  },
});
