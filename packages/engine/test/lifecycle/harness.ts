/**
 * A small scripted controller for scenario tests: holds one lifecycle actor and a virtual "now",
 * stamps every event with it, and offers the moves a controller makes (ack commands, fire deadlines).
 */
import {
  type Command,
  type LifecycleActor,
  type LifecycleInput,
  type LifecycleSnapshot,
  lifecycleMachine,
  nextDeadline,
  printableStatus,
  send,
  stateName,
  type VMLifecycleEvent,
  vmiPhase,
} from '@virtkit/engine';
import { createActor } from 'xstate';
import { T0 } from './model.ts';

export type Untimed<E> = E extends unknown ? Omit<E, 'now'> : never;

export class Vm {
  readonly actor: LifecycleActor;
  now = T0;

  constructor(input: LifecycleInput = {}) {
    this.actor = createActor(lifecycleMachine, { input: { now: T0, ...input } }).start();
  }

  get snapshot(): LifecycleSnapshot {
    return this.actor.getSnapshot();
  }
  get state(): string {
    return stateName(this.snapshot);
  }
  get printable() {
    return printableStatus(this.snapshot);
  }
  get phase() {
    return vmiPhase(this.snapshot);
  }
  get pending(): Command[] {
    return this.snapshot.context.pending;
  }
  /** Pending commands as `type@node` strings, in order. */
  get queue(): string[] {
    return this.pending.map((c) => `${c.type}@${c.node}`);
  }

  /** Sends an event stamped with the current time (after moving time on by `after` ms). */
  send(event: Untimed<VMLifecycleEvent>, after = 1000): this {
    this.now += after;
    send(this.actor, { ...event, now: this.now } as VMLifecycleEvent);
    return this;
  }

  /** Moves time to `at` and sends the TICK a controller's timer would. */
  tickAt(at: number): this {
    this.now = Math.max(this.now, at);
    send(this.actor, { type: 'TICK', now: this.now });
    return this;
  }

  /** Fires the next armed deadline. */
  tick(): this {
    const at = nextDeadline(this.snapshot);
    if (at === undefined) throw new Error(`no deadline armed in ${this.state}`);
    return this.tickAt(at);
  }

  /** Acknowledges the first pending command of `type` (the controller's driver call resolved). */
  ack(type: Command['type']): this {
    const c = this.pending.find((p) => p.type === type);
    if (!c) throw new Error(`no pending ${type} in ${this.state}: ${this.queue.join(', ')}`);
    return this.send({ type: 'ACK', commandId: c.id });
  }

  /** Acknowledges every pending command in order, as a controller whose calls all succeed. */
  ackAll(): this {
    for (let guard = 0; this.pending.length > 0 && guard < 50; guard++) {
      const c = this.pending[0]!;
      this.send({ type: 'ACK', commandId: c.id });
    }
    return this;
  }

  /** Boots from stopped to running on `node`, the way the controller and a healthy driver do. */
  boot(node = 'n1'): this {
    this.send({ type: 'START' }).send({ type: 'PROVISIONED' }).send({ type: 'SCHEDULED', node });
    this.ack('define').ack('start').send({ type: 'GUEST_READY' });
    return this;
  }
}
