/** Snapshot and actor types of the lifecycle machine. */
import type { Actor, SnapshotFrom } from 'xstate';
import type { lifecycleMachine } from './machine.ts';

export type LifecycleMachine = typeof lifecycleMachine;
export type LifecycleSnapshot = SnapshotFrom<LifecycleMachine>;
export type LifecycleActor = Actor<LifecycleMachine>;
