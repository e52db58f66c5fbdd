/**
 * Errors of the libvirt RPC client, and the one place where libvirt's error codes become the engine's
 * `DriverError` reasons.
 */
import { DriverError, type DriverErrorReason } from '@virtkit/engine';
import { ErrorCode } from './constants.ts';

/** The daemon's error reply (virNetMessageError): libvirt's code, domain and message. */
export interface LibvirtErrorFields {
  /** virErrorNumber, e.g. 42 = VIR_ERR_NO_DOMAIN. See `ErrorCode`. */
  code: number;
  /** virErrorDomain: which part of libvirt raised it (10 = QEMU, 20 = domain config...). */
  domain: number;
  message: string;
  /** 1 = warning, 2 = error. */
  level: number;
  str1?: string | undefined;
  str2?: string | undefined;
  str3?: string | undefined;
  int1: number;
  int2: number;
}

/** A call the daemon answered with an error. */
export class LibvirtError extends Error {
  readonly code: number;
  readonly domain: number;
  readonly level: number;
  readonly str1: string | undefined;
  readonly str2: string | undefined;
  readonly str3: string | undefined;
  readonly int1: number;
  readonly int2: number;
  /** The procedure that failed (REMOTE_PROC_* number). */
  readonly procedure: number;

  constructor(fields: LibvirtErrorFields, procedure: number) {
    super(fields.message || `libvirt error ${fields.code}`);
    this.name = 'LibvirtError';
    this.code = fields.code;
    this.domain = fields.domain;
    this.level = fields.level;
    this.str1 = fields.str1;
    this.str2 = fields.str2;
    this.str3 = fields.str3;
    this.int1 = fields.int1;
    this.int2 = fields.int2;
    this.procedure = procedure;
  }
}

/**
 * The connection failed, closed, or the peer stopped answering (keepalive). Every call pending on the
 * connection rejects with this; the client is unusable afterwards and the caller decides whether to
 * connect again.
 */
export class LibvirtConnectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LibvirtConnectionError';
  }
}

/** The daemon sent something this client cannot decode (a bug on one side, or not libvirt at all). */
export class LibvirtProtocolError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LibvirtProtocolError';
  }
}

/** What the failed call was doing; some codes mean different things in a migration. */
export type ErrorContext = 'migrate' | 'other';

/**
 * The `DriverErrorReason` for an error thrown by this client:
 * - VIR_ERR_NO_DOMAIN → DomainNotFound; VIR_ERR_DOM_EXIST, or a define whose name exists with another
 *   UUID (VIR_ERR_OPERATION_FAILED "... already exists with uuid ...") → DomainExists
 * - VIR_ERR_OPERATION_INVALID → InvalidState (start a running domain, suspend a shut-off one...)
 * - XML/argument/config errors → InvalidSpec; unsupported operations → Unsupported
 * - connection loss, RPC and auth failures → NodeUnreachable
 * - in a migration: VIR_ERR_OPERATION_ABORTED → MigrationAborted, anything else but the above → MigrationFailed
 * - everything else → Internal
 */
export function driverErrorReason(err: unknown, context: ErrorContext = 'other'): DriverErrorReason {
  if (err instanceof LibvirtConnectionError) return 'NodeUnreachable';
  if (!(err instanceof LibvirtError)) return context === 'migrate' ? 'MigrationFailed' : 'Internal';
  switch (err.code) {
    case ErrorCode.NoDomain:
      return 'DomainNotFound';
    case ErrorCode.DomExist:
      return 'DomainExists';
    case ErrorCode.OperationInvalid:
      return 'InvalidState';
    case ErrorCode.NoConnect:
    case ErrorCode.InvalidConn:
    case ErrorCode.Rpc:
    case ErrorCode.AuthFailed:
    case ErrorCode.AuthUnavailable:
      return 'NodeUnreachable';
    case ErrorCode.OperationAborted:
      return context === 'migrate' ? 'MigrationAborted' : 'Internal';
    case ErrorCode.OperationFailed:
      // Defining a name that exists with another UUID has no code of its own; the daemon runs in the C
      // locale, so its message is stable.
      if (/already (exists|defined) with uuid/.test(err.message)) return 'DomainExists';
      break;
  }
  if (context === 'migrate') return 'MigrationFailed';
  switch (err.code) {
    case ErrorCode.XmlError:
    case ErrorCode.XmlDetail:
    case ErrorCode.XmlInvalidSchema:
    case ErrorCode.InvalidArg:
    case ErrorCode.ConfigUnsupported:
      return 'InvalidSpec';
    case ErrorCode.NoSupport:
    case ErrorCode.OperationUnsupported:
    case ErrorCode.ArgumentUnsupported:
      return 'Unsupported';
    default:
      return 'Internal';
  }
}

/**
 * Wraps any error from this client in the engine's `DriverError` for node `node` (the original stays
 * the `cause`). A `DriverError` passes through unchanged.
 */
export function toDriverError(err: unknown, node: string, context: ErrorContext = 'other'): DriverError {
  if (err instanceof DriverError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new DriverError(driverErrorReason(err, context), node, message, { cause: err });
}
