import { ConflictError, DriverError, NotFoundError, VirtkitError } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';

describe('typed errors', () => {
  it('carry a stable code, http status and cause', () => {
    const cause = new Error('socket closed');
    const e = new DriverError('NodeUnreachable', 'node-1', 'ping failed', { cause });
    expect(e.code).toBe('DriverError');
    expect(e.reason).toBe('NodeUnreachable');
    expect(e.cause).toBe(cause);
    expect(e).toBeInstanceOf(VirtkitError);
    expect(e).not.toBeInstanceOf(ConflictError);
    expect(new NotFoundError('VirtualMachine', 'a', 'ns').httpStatus).toBe(404);
  });

  it('instanceof survives a duplicate copy of the class (brand, not prototype)', () => {
    // A structurally separate object carrying the registry-wide brand, as a second copy's instance would.
    const foreign = Object.create(Error.prototype) as Record<symbol, unknown>;
    Object.defineProperty(foreign, Symbol.for('@virtkit/error:NotFoundError'), { value: true });
    Object.defineProperty(foreign, Symbol.for('@virtkit/error:VirtkitError'), { value: true });
    expect(foreign instanceof NotFoundError).toBe(true);
    expect(foreign instanceof VirtkitError).toBe(true);
    expect(foreign instanceof ConflictError).toBe(false);
  });
});
