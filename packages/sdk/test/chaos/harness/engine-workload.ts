/** What the engine kill loop's processes and harness agree on. */
import type { EngineConfig, Kind } from '@virtkit/engine';

/** A write the store acknowledged, as the engine process prints it. */
export interface Ack {
  /** resourceVersion of the object the call returned. */
  rv: number;
  kind: Kind;
  /** `namespace/name`, or the name of a cluster-scoped object. */
  key: string;
  uid: string;
  op: 'create' | 'update' | 'delete';
}

export const CHAOS_NAMESPACE = 'chaos';

/** Every change since the store file was created stays in its history, so every acknowledged write can be found. */
export const CHAOS_HISTORY_LIMIT = 10_000_000;

/**
 * Fast heartbeats and retries on the real clock; nodes are never lost here (they outlive the engine), so the
 * not-ready window is long enough that an engine restart never fences a healthy node by mistake.
 */
export const ENGINE_CONFIG: EngineConfig = {
  heartbeatIntervalMs: 300,
  nodeNotReadyAfterMs: 20_000,
  retry: { baseMs: 50, maxMs: 1000 },
};
