/**
 * Kubernetes `Status` bodies (meta/v1) and the mapping from virtkit's typed errors to them, so every
 * client (kubectl, client-go, client-node) sees the reason and HTTP code it already knows how to handle.
 */
import { InvalidSpecError, isVirtkitError } from '@virtkit/engine';

/** meta/v1 StatusCause: the cause type travels under the JSON key `reason`. */
export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** An error that already knows its Kubernetes reason and HTTP code. Thrown inside the handler only. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: StatusDetails | undefined;
  constructor(code: number, reason: string, message: string, details?: StatusDetails) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.reason = reason;
    this.details = details;
  }
}

export const badRequest = (message: string, causes?: StatusCause[]): ApiError =>
  new ApiError(400, 'BadRequest', message, causes ? { causes } : undefined);

export const notFound = (message: string): ApiError => new ApiError(404, 'NotFound', message);

export const methodNotAllowed = (method: string, what: string): ApiError =>
  new ApiError(
    405,
    'MethodNotAllowed',
    `the server does not allow this method on the requested resource: ${method} ${what}`,
  );

/** 422 with one cause, as the apiserver answers for an invalid field of a request (not of an object). */
export const invalidField = (what: string, field: string, reason: string, message: string): ApiError =>
  new ApiError(422, 'Invalid', `${what} is invalid: ${field}: ${message}`, {
    causes: [{ reason, field, message }],
  });

export function statusOf(code: number, reason: string, message: string, details?: StatusDetails): Status {
  const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) s.details = details;
  return s;
}

export function successStatus(details?: StatusDetails): Status {
  const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 200 };
  if (details) s.details = details;
  return s;
}

/** Kubernetes reason for each virtkit error code. */
const REASONS: Record<string, string> = {
  NotFound: 'NotFound',
  AlreadyExists: 'AlreadyExists',
  Conflict: 'Conflict',
  Invalid: 'Invalid',
  // The apiserver answers "too old resource version" and expired continue tokens with reason Expired.
  Gone: 'Expired',
  IllegalTransition: 'Conflict',
  Unschedulable: 'Conflict',
  Timeout: 'Timeout',
  Unauthorized: 'Unauthorized',
  Forbidden: 'Forbidden',
  TooLarge: 'RequestEntityTooLarge',
  BadRequest: 'BadRequest',
};

/** The `field` of the cause that carries virtkit's own error code. */
export const VIRTKIT_ERROR_FIELD = 'virtkit.io/error';

const TAGGED = new Set(['IllegalTransition', 'Unschedulable', 'DriverError', 'StoreCorrupt']);

/** What the failing request was about, to fill `details` the way the apiserver does. */
export interface ErrorSubject {
  /** `plural` or `plural.group`, e.g. `virtualmachines.kubevirt.io`. */
  qualifiedResource?: string;
  group?: string;
  plural?: string;
  /** The Kind, e.g. `VirtualMachine`: 422 Invalid Statuses name the kind, not the resource. */
  kind?: string;
  name?: string;
}

/** Maps anything thrown while serving a request to a Status. Unknown errors become 500 InternalError. */
export function statusFromError(err: unknown, subject: ErrorSubject = {}): Status {
  if (err instanceof ApiError) return statusOf(err.code, err.reason, err.message, err.details);
  if (isVirtkitError(err)) {
    const reason = REASONS[err.code] ?? 'InternalError';
    const details: StatusDetails = {};
    if (subject.name !== undefined) details.name = subject.name;
    if (subject.group !== undefined) details.group = subject.group;
    if (subject.plural !== undefined) details.kind = subject.plural;
    let message = err.message;
    const what = subject.qualifiedResource;
    // Phrase the common cases exactly as the apiserver does; kubectl users grep for these.
    if (what && subject.name !== undefined && err.code === 'NotFound') message = `${what} "${subject.name}" not found`;
    if (what && subject.name !== undefined && err.code === 'AlreadyExists')
      message = `${what} "${subject.name}" already exists`;
    if (err instanceof InvalidSpecError) {
      details.causes = err.causes.map((c) => ({ reason: c.reason, field: c.field, message: c.message }));
      if (subject.kind !== undefined) details.kind = subject.kind;
      if (subject.kind !== undefined && subject.name !== undefined) {
        const list = err.causes.map((c) => `${c.field}: ${c.message}`).join(', ');
        const qualifiedKind = subject.group ? `${subject.kind}.${subject.group}` : subject.kind;
        message = `${qualifiedKind} "${subject.name}" is invalid: ${list}`;
      }
    }
    if (err.code === 'Conflict' && what && subject.name !== undefined && !err.message.includes(subject.name)) {
      message = `Operation cannot be fulfilled on ${what} "${subject.name}": ${err.message}`;
    }
    // The Kubernetes reason loses virtkit's finer code for these; a tagged first cause keeps it for virtkit's
    // own client (kubectl and other clients only show causes of Invalid errors, which are never tagged).
    if (TAGGED.has(err.code)) details.causes = [{ field: VIRTKIT_ERROR_FIELD, reason: err.code, message: err.message }];
    const code = reason === 'InternalError' ? 500 : err.httpStatus;
    return statusOf(code, reason, message, Object.keys(details).length ? details : undefined);
  }
  const message = err instanceof Error ? err.message : String(err);
  return statusOf(500, 'InternalError', `Internal error occurred: ${message}`);
}
