/**
 * Maps a Kubernetes `Status` (an API server's error answer) to virtkit's typed errors, so callers see
 * the same `code`s in kubernetes mode as in embedded mode.
 */
import {
  AlreadyExistsError,
  ConflictError,
  DriverError,
  type FieldCause,
  GoneError,
  IllegalTransitionError,
  InvalidSpecError,
  NotFoundError,
  RequestError,
  TimeoutError,
  UnschedulableError,
  VirtkitError,
} from '@virtkit/engine';

export interface KubeStatus {
  kind?: 'Status';
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: { field?: string; reason?: string; message?: string }[];
  };
}

export function errorFromStatus(httpCode: number, body: unknown, cause?: unknown): VirtkitError {
  const s: KubeStatus = typeof body === 'object' && body !== null ? (body as KubeStatus) : {};
  const message = s.message ?? (typeof body === 'string' && body ? body : `HTTP ${httpCode}`);
  const kind = s.details?.kind ?? 'object';
  const name = s.details?.name ?? '';
  const opts = cause === undefined ? {} : { cause };
  const causes = s.details?.causes ?? [];
  // virtkit's API server tags its own error kinds in the first cause; real clusters never do.
  const tag = causes.find((c) => c.field === 'virtkit.io/error')?.reason;
  switch (tag ?? s.reason) {
    case 'NotFound':
      return new NotFoundError(kind, name, undefined, opts);
    case 'AlreadyExists':
      return new AlreadyExistsError(kind, name, undefined, opts);
    case 'Conflict':
      return new ConflictError(message, opts);
    case 'Invalid': {
      const fc: FieldCause[] = causes
        .filter((c) => c.field !== 'virtkit.io/error')
        .map((c) => ({ field: c.field ?? '', reason: c.reason ?? 'FieldValueInvalid', message: c.message ?? '' }));
      return new InvalidSpecError(kind, name, fc, opts);
    }
    case 'Expired':
    case 'Gone':
      return new GoneError(message, opts);
    case 'IllegalTransition': {
      const m = /^cannot (\S+) a VM that is (\S+?)(?::|$)/.exec(message);
      return new IllegalTransitionError(m?.[2] ?? 'unknown', m?.[1] ?? 'request', undefined, opts);
    }
    case 'Unschedulable':
      return new UnschedulableError(message, opts);
    case 'Timeout':
      return new TimeoutError(message, opts);
    case 'DriverError':
      return new DriverError('Internal', 'remote', message, opts);
    case 'Unauthorized':
      return new RequestError('Unauthorized', message, opts);
    case 'Forbidden':
      return new RequestError('Forbidden', message, opts);
    case 'RequestEntityTooLarge':
      return new RequestError('TooLarge', message, opts);
    case 'BadRequest':
      return new RequestError('BadRequest', message, opts);
  }
  switch (httpCode) {
    case 404:
      return new NotFoundError(kind, name, undefined, opts);
    case 409:
      return new ConflictError(message, opts);
    case 410:
      return new GoneError(message, opts);
    case 422:
      return new InvalidSpecError(kind, name, [], opts);
    case 401:
      return new RequestError('Unauthorized', message, opts);
    case 403:
      return new RequestError('Forbidden', message, opts);
    case 413:
      return new RequestError('TooLarge', message, opts);
    case 400:
      return new RequestError('BadRequest', message, opts);
    case 504:
      return new TimeoutError(message, opts);
  }
  return new VirtkitError('Internal', `API server answered ${httpCode}: ${message}`, httpCode, opts);
}
