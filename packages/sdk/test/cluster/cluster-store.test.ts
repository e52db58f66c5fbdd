/**
 * KubernetesStore beyond the shared contract: how it behaves where a store behind HTTP must differ
 * (watch errors on the first next(), slow consumers cut off by the server), what it adds (watches that
 * outlive the apiserver's own, deletes that return the final state), and how it reads a real apiserver's
 * Status answers. Against our API server on 127.0.0.1.
 */
import {
  AlreadyExistsError,
  ConflictError,
  GoneError,
  InvalidSpecError,
  NotFoundError,
  TimeoutError,
  type VirtualMachine,
  type WatchEvent,
} from '@virtkit/engine';
import { afterEach, describe, expect, it } from 'vitest';
import { errorFromStatus } from '../../src/client/status-errors.ts';
import { refineError } from '../../src/cluster/kubernetes-store.ts';
import { type ClusterHarness, startCluster, until } from './support.ts';

const harnesses: ClusterHarness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});

async function cluster(...args: Parameters<typeof startCluster>): Promise<ClusterHarness> {
  const h = await startCluster(...args);
  harnesses.push(h);
  return h;
}

const vm = (name: string, labels: Record<string, string> = {}): VirtualMachine => ({
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachine',
  metadata: { name, namespace: 'default', labels },
  spec: { running: false, template: { spec: { domain: { devices: {} } } } },
});

async function firstError(it: AsyncIterator<unknown>): Promise<unknown> {
  try {
    await it.next();
  } catch (err) {
    return err;
  }
  throw new Error('expected the watch to fail');
}

describe('KubernetesStore watches', () => {
  it('report a compacted resourceVersion (GoneError) and a future one (TimeoutError) on the first next()', async () => {
    const h = await cluster({ historyLimit: 4 });
    const s = await h.client();
    for (let i = 0; i < 10; i++) await s.create('VirtualMachine', vm(`v${i}`));
    const gone = await firstError(s.watch('VirtualMachine', { resourceVersion: '3' })[Symbol.asyncIterator]());
    expect(gone).toBeInstanceOf(GoneError);
    expect((gone as Error).message).toBe('too old resource version: 3 (7)');
    const future = await firstError(s.watch('VirtualMachine', { resourceVersion: '11' })[Symbol.asyncIterator]());
    expect(future).toBeInstanceOf(TimeoutError);
    // The oldest version still in history resumes.
    const ok = s.watch('VirtualMachine', { resourceVersion: '6' })[Symbol.asyncIterator]();
    expect((await ok.next()).value?.object.metadata.name).toBe('v6');
    await ok.return?.();
  });

  it('outlive the server ending them: resumed from the last version, nothing lost or repeated', async () => {
    const h = await cluster();
    const s = await h.client();
    const ac = new AbortController();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const e of s.watch('VirtualMachine', { signal: ac.signal, resourceVersion: '0' })) {
        seen.push(`${e.type} ${e.object.metadata.name}`);
      }
    })();
    await s.create('VirtualMachine', vm('a'));
    await until(() => seen.length === 1, 'first event');
    // The apiserver ends every watch (its request timeout, a restart behind a load balancer ...).
    h.server.handler.closeWatches();
    await until(() => h.server.handler.openWatches === 0, 'watches ended');
    await s.create('VirtualMachine', vm('b'));
    await s.delete('VirtualMachine', 'default', 'a');
    await until(() => seen.length === 3, 'events after the resume');
    expect(seen).toEqual(['ADDED a', 'ADDED b', 'DELETED a']);
    ac.abort();
    await reading;
  });

  it('end with GoneError when the consumer falls so far behind that the server cuts it off', async () => {
    const h = await cluster({}, { watchLimits: { maxEvents: 20 } });
    const s = await h.client();
    const writer = await h.client();
    const w = s.watch('VirtualMachine', { resourceVersion: '0' })[Symbol.asyncIterator]();
    // Nobody reads while the events pile up: the socket buffers fill, then the server's 20 events.
    // 400 × 64 KB: more than any socket buffers on the way can hold.
    const big = 'x'.repeat(64_000);
    for (let i = 0; i < 400; i++) await writer.create('VirtualMachine', vm(`v${i}`, {}));
    for (let i = 0; i < 400; i++) {
      await writer.patch('VirtualMachine', 'default', `v${i}`, 'merge', { metadata: { annotations: { big } } });
    }
    let events = 0;
    let failure: unknown;
    try {
      for (let r = await w.next(); !r.done; r = await w.next()) events++;
    } catch (err) {
      failure = err;
    }
    expect(failure).toBeInstanceOf(GoneError);
    expect(events).toBeGreaterThan(0);
    expect(events).toBeLessThan(800);
  });

  it('register at watch() time: a write issued right after is seen, even before the first next()', async () => {
    const h = await cluster();
    const s = await h.client();
    const w = s.watch('VirtualMachine', { resourceVersion: '0' })[Symbol.asyncIterator]();
    await s.create('VirtualMachine', vm('right-after'));
    const first = (await w.next()).value as WatchEvent;
    expect([first.type, first.object.metadata.name]).toEqual(['ADDED', 'right-after']);
    await w.return?.();
  });
});

describe('KubernetesStore writes', () => {
  it('resolves a delete with the final state and the deletion’s resourceVersion, even though the server answers a Status', async () => {
    const h = await cluster();
    const s = await h.client();
    const created = await s.create('VirtualMachine', vm('a', { keep: 'me' }));
    const gone = await s.delete('VirtualMachine', 'default', 'a');
    expect(gone.metadata.uid).toBe(created.metadata.uid);
    expect(gone.metadata.labels).toEqual({ keep: 'me' });
    expect(Number(gone.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
    expect(s.currentResourceVersion()).toBe(gone.metadata.resourceVersion);
  });

  it('never deletes an object re-created under the same name after it was read', async () => {
    const h = await cluster();
    const s = await h.client();
    await s.create('VirtualMachine', vm('a'));
    const stale = await s.get('VirtualMachine', 'default', 'a');
    await h.backing.delete('VirtualMachine', 'default', 'a');
    const fresh = await h.backing.create('VirtualMachine', vm('a'));
    const err = await s
      .delete('VirtualMachine', 'default', 'a', { preconditions: { uid: stale.metadata.uid! } })
      .catch((e) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((await h.backing.get('VirtualMachine', 'default', 'a')).metadata.uid).toBe(fresh.metadata.uid);
  });

  it('makes an update without resourceVersion unconditional (read, write, retry when someone wrote between)', async () => {
    const h = await cluster();
    const s = await h.client();
    const cur = await s.create('VirtualMachine', vm('a'));
    await h.backing.patch('VirtualMachine', 'default', 'a', 'merge', { metadata: { labels: { other: 'writer' } } });
    const { resourceVersion: _rv, ...meta } = cur.metadata;
    const u = await s.update('VirtualMachine', { ...cur, metadata: { ...meta, labels: { mine: 'yes' } } });
    expect(u.metadata.labels).toEqual({ mine: 'yes' });
  });

  it('refuses values JSON cannot carry before sending anything', async () => {
    const h = await cluster();
    const s = await h.client();
    const before = h.backing.currentResourceVersion();
    const bad = vm('a') as VirtualMachine & { spec: { when?: unknown } };
    bad.spec.when = new Date(0);
    const err = await s.create('VirtualMachine', bad).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidSpecError);
    expect((err as InvalidSpecError).causes.map((c) => c.field)).toEqual(['spec.when']);
    expect(h.backing.currentResourceVersion()).toBe(before);
  });
});

describe('Status answers of a real apiserver', () => {
  const status = (code: number, body: Record<string, unknown>) => errorFromStatus(code, body, body);

  it('name the kind, name and namespace the caller used, and read StatusCause.reason', () => {
    const nf = refineError(
      status(404, {
        kind: 'Status',
        reason: 'NotFound',
        code: 404,
        message: 'virtualmachines.kubevirt.io "web" not found',
        details: { name: 'web', group: 'kubevirt.io', kind: 'virtualmachines' },
      }),
      'VirtualMachine',
      'prod',
      'web',
    );
    expect(nf).toBeInstanceOf(NotFoundError);
    expect((nf as Error).message).toBe('VirtualMachine "web" in namespace "prod" not found');
    const ns = refineError(
      status(404, { reason: 'NotFound', code: 404, details: { name: 'nope', kind: 'namespaces' } }),
      'VirtualMachine',
      'nope',
      'web',
    );
    expect((ns as Error).message).toBe('Namespace "nope" not found');
    const exists = refineError(
      status(409, { reason: 'AlreadyExists', code: 409, details: { name: 'web-x7k2p', kind: 'virtualmachines' } }),
      'VirtualMachine',
      'default',
      'web-',
    );
    expect(exists).toBeInstanceOf(AlreadyExistsError);
    expect((exists as Error).message).toContain('VirtualMachine "web-x7k2p" in namespace "default" already exists');
    const invalid = refineError(
      status(422, {
        reason: 'Invalid',
        code: 422,
        message: 'VirtualMachine.kubevirt.io "web" is invalid: spec.runStrategy: Unsupported value',
        details: {
          name: 'web',
          kind: 'VirtualMachine',
          causes: [
            { reason: 'FieldValueNotSupported', field: 'spec.runStrategy', message: 'Unsupported value: "Often"' },
          ],
        },
      }),
      'VirtualMachine',
      'default',
      'web',
    ) as InvalidSpecError;
    expect(invalid).toBeInstanceOf(InvalidSpecError);
    expect(invalid.causes).toEqual([
      { field: 'spec.runStrategy', reason: 'FieldValueNotSupported', message: 'Unsupported value: "Often"' },
    ]);
    const conflict = refineError(
      status(409, { reason: 'Conflict', code: 409, message: 'Operation cannot be fulfilled ...' }),
      'VirtualMachine',
      'default',
      'web',
    );
    expect(conflict).toBeInstanceOf(ConflictError);
    expect(
      refineError(status(410, { reason: 'Expired', code: 410, message: 'too old' }), 'Node', undefined, undefined),
    ).toBeInstanceOf(GoneError);
  });
});
