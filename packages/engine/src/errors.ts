/**
 * Typed errors with a stable `code`. `instanceof` works across duplicate copies of this package
 * (two versions in one node_modules tree) because it checks a registry-wide symbol brand, not the
 * prototype chain.
 */

/** Stable error codes. Identical in embedded and kubernetes modes; safe to switch on. */
export type ErrorCode =
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Invalid'
  | 'Gone'
  | 'IllegalTransition'
  | 'Unschedulable'
  | 'Timeout'
  | 'DriverError'
  | 'StoreCorrupt'
  | 'Unauthorized'
  | 'Forbidden'
  | 'TooLarge'
  | 'BadRequest'
  | 'Internal';

const brandOf = (name: string): symbol => Symbol.for(`@virtkit/error:${name}`);

/** Installs a symbol brand on `cls` so `x instanceof cls` is true for any copy of the same class. */
function brand(cls: { brandName: string }): void {
  const sym = brandOf(cls.brandName);
  Object.defineProperty(cls, Symbol.hasInstance, {
    value: (x: unknown) => typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[sym] === true,
  });
}

export interface VirtkitErrorOptions {
  cause?: unknown;
}

export class VirtkitError extends Error {
  static readonly brandName: string = 'VirtkitError';
  readonly code: ErrorCode;
  /** HTTP status a Kubernetes API server would answer with. */
  readonly httpStatus: number;

  constructor(code: ErrorCode, message: string, httpStatus: number, options?: VirtkitErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.httpStatus = httpStatus;
    this.name = new.target.name;
    // Mark every class in the chain so `instanceof Base` also holds across copies.
    for (let c: unknown = new.target; typeof c === 'function' && 'brandName' in c; c = Object.getPrototypeOf(c)) {
      Object.defineProperty(this, brandOf((c as { brandName: string }).brandName), { value: true });
    }
  }
}
brand(VirtkitError);

/** One problem with a submitted object, in Kubernetes `StatusCause` form. */
export interface FieldCause {
  /** Dotted path, e.g. `spec.template.spec.domain.memory.guest`. */
  field: string;
  /** Kubernetes cause type, e.g. `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`. */
  reason: string;
  message: string;
}

export class NotFoundError extends VirtkitError {
  static override readonly brandName = 'NotFoundError';
  readonly kind: string;
  readonly resourceName: string;
  constructor(kind: string, name: string, namespace?: string, options?: VirtkitErrorOptions) {
    const where = namespace ? ` in namespace "${namespace}"` : '';
    super('NotFound', `${kind} "${name}"${where} not found`, 404, options);
    this.kind = kind;
    this.resourceName = name;
  }
}
brand(NotFoundError);

export class AlreadyExistsError extends VirtkitError {
  static override readonly brandName = 'AlreadyExistsError';
  constructor(kind: string, name: string, namespace?: string, options?: VirtkitErrorOptions) {
    const where = namespace ? ` in namespace "${namespace}"` : '';
    super('AlreadyExists', `${kind} "${name}"${where} already exists; use update or apply to change it`, 409, options);
  }
}
brand(AlreadyExistsError);

export class ConflictError extends VirtkitError {
  static override readonly brandName = 'ConflictError';
  constructor(message: string, options?: VirtkitErrorOptions) {
    super('Conflict', message, 409, options);
  }
}
brand(ConflictError);

export class InvalidSpecError extends VirtkitError {
  static override readonly brandName = 'InvalidSpecError';
  readonly causes: readonly FieldCause[];
  constructor(kind: string, name: string, causes: readonly FieldCause[], options?: VirtkitErrorOptions) {
    const list = causes.map((c) => `${c.field}: ${c.message}`).join('; ');
    super('Invalid', `${kind} "${name}" is invalid: ${list}`, 422, options);
    this.causes = causes;
  }
}
brand(InvalidSpecError);

/** The requested resourceVersion is older than the retained history (HTTP 410); relist and watch again. */
export class GoneError extends VirtkitError {
  static override readonly brandName = 'GoneError';
  constructor(message: string, options?: VirtkitErrorOptions) {
    super('Gone', message, 410, options);
  }
}
brand(GoneError);

export class IllegalTransitionError extends VirtkitError {
  static override readonly brandName = 'IllegalTransitionError';
  readonly state: string;
  readonly request: string;
  constructor(state: string, request: string, hint?: string, options?: VirtkitErrorOptions) {
    super('IllegalTransition', `cannot ${request} a VM that is ${state}${hint ? `: ${hint}` : ''}`, 409, options);
    this.state = state;
    this.request = request;
  }
}
brand(IllegalTransitionError);

export class UnschedulableError extends VirtkitError {
  static override readonly brandName = 'UnschedulableError';
  constructor(message: string, options?: VirtkitErrorOptions) {
    super('Unschedulable', message, 409, options);
  }
}
brand(UnschedulableError);

export class TimeoutError extends VirtkitError {
  static override readonly brandName = 'TimeoutError';
  constructor(message: string, options?: VirtkitErrorOptions) {
    super('Timeout', message, 504, options);
  }
}
brand(TimeoutError);

/** Why a NodeDriver call failed. Both the libvirt agent and the simulator use exactly these. */
export type DriverErrorReason =
  | 'DomainNotFound'
  | 'DomainExists'
  | 'InvalidState'
  | 'InsufficientResources'
  | 'InvalidSpec'
  | 'ImageFetchFailed'
  | 'DiskFull'
  | 'MigrationFailed'
  | 'MigrationAborted'
  | 'NodeUnreachable'
  | 'Unsupported'
  | 'Internal';

export class DriverError extends VirtkitError {
  static override readonly brandName = 'DriverError';
  readonly reason: DriverErrorReason;
  readonly node: string;
  constructor(reason: DriverErrorReason, node: string, message: string, options?: VirtkitErrorOptions) {
    super('DriverError', `node ${node}: ${message}`, 500, options);
    this.reason = reason;
    this.node = node;
  }
}
brand(DriverError);

export class StoreCorruptError extends VirtkitError {
  static override readonly brandName = 'StoreCorruptError';
  readonly path: string;
  constructor(path: string, message: string, options?: VirtkitErrorOptions) {
    super('StoreCorrupt', `store file ${path}: ${message}`, 500, options);
    this.path = path;
  }
}
brand(StoreCorruptError);

/** Generic request-level errors used by the HTTP API. */
export class RequestError extends VirtkitError {
  static override readonly brandName = 'RequestError';
  constructor(
    code: 'Unauthorized' | 'Forbidden' | 'TooLarge' | 'BadRequest',
    message: string,
    options?: VirtkitErrorOptions,
  ) {
    const status = { Unauthorized: 401, Forbidden: 403, TooLarge: 413, BadRequest: 400 }[code];
    super(code, message, status, options);
  }
}
brand(RequestError);

export function isVirtkitError(x: unknown): x is VirtkitError {
  return x instanceof VirtkitError;
}
