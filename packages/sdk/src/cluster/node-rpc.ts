/**
 * The wire format between the controller's RemoteNodeDriver and a node agent's serveNodeDriver: every
 * NodeDriver method is `POST /v1/call/<method>` with the arguments as a JSON array; events are one
 * NDJSON stream (`GET /v1/events`), numbered per agent process so a client that reconnects gets what it
 * missed; a console is an NDJSON stream of lines (`GET /v1/console/<domain>`). Bearer token on every
 * request; TLS with a certificate the agent publishes in its registration (see agent-registry.ts).
 */
import type { DomainEvent, DriverErrorReason } from '@virtkit/engine';
import { DriverError, isVirtkitError } from '@virtkit/engine';

/** The NodeDriver methods served as calls (console and onEvent are streams; close stays local). */
export const CALL_METHODS = [
  'info',
  'ping',
  'defineDomain',
  'startDomain',
  'shutdownDomain',
  'destroyDomain',
  'pauseDomain',
  'resumeDomain',
  'rebootDomain',
  'undefineDomain',
  'getDomain',
  'listDomains',
  'migrateDomain',
  'abortMigration',
] as const;

export type CallMethod = (typeof CALL_METHODS)[number];

export const DRIVER_ERROR_REASONS: readonly DriverErrorReason[] = [
  'DomainNotFound',
  'DomainExists',
  'InvalidState',
  'InsufficientResources',
  'InvalidSpec',
  'ImageFetchFailed',
  'DiskFull',
  'MigrationFailed',
  'MigrationAborted',
  'NodeUnreachable',
  'Unsupported',
  'Internal',
];

/** A DriverError on the wire: reason, node and the message without DriverError's `node X: ` prefix. */
export interface WireError {
  reason: DriverErrorReason;
  node: string;
  message: string;
}

/** One line of the events stream. */
export type EventLine =
  | { seq: number; event: DomainEvent }
  /** First line of every stream: the agent process's epoch and whether the requested replay was complete. */
  | { hello: { epoch: string; replayed: boolean; seq: number } }
  | { heartbeat: number };

/** One line of a console stream. */
export type ConsoleLine = { line: string } | { error: WireError } | { end: true };

export function toWireError(err: unknown, nodeName: string): WireError {
  if (err instanceof DriverError) {
    const prefix = `node ${err.node}: `;
    return {
      reason: err.reason,
      node: err.node,
      message: err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message,
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { reason: 'Internal', node: nodeName, message: isVirtkitError(err) ? `${err.code}: ${message}` : message };
}

export function fromWireError(w: unknown, nodeName: string): DriverError {
  const e = (typeof w === 'object' && w !== null ? w : {}) as Partial<WireError>;
  const reason = DRIVER_ERROR_REASONS.includes(e.reason as DriverErrorReason)
    ? (e.reason as DriverErrorReason)
    : 'Internal';
  return new DriverError(reason, typeof e.node === 'string' ? e.node : nodeName, String(e.message ?? 'unknown error'));
}
