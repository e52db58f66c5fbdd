/**
 * The ResourceStore contract: every implementation runs exactly this suite. Time comes from a VirtualClock, uids
 * from a counter and generateName suffixes from a seeded generator, so every run is the same.
 */
import {
  AlreadyExistsError,
  ConflictError,
  GoneError,
  InvalidSpecError,
  NotFoundError,
  RequestError,
  type ResourceStore,
  type StoreOptions,
  TimeoutError,
  VirtualClock,
  type VirtualMachine,
  type VirtualMachineInstance,
} from '@virtkit/engine';
import { afterEach, describe, expect, it } from 'vitest';
import {
  caught,
  counterUid,
  event,
  lease,
  migration,
  node,
  ownedBy,
  replicaSet,
  seeded,
  summary,
  take,
  vm,
  vmi,
} from './fixtures.ts';

export type StoreFactory = (options: StoreOptions) => ResourceStore | Promise<ResourceStore>;

const START = Date.UTC(2026, 0, 1);
const CONFLICT = 'the object has been modified; please apply your changes to the latest version and try again';

export function describeStoreContract(name: string, factory: StoreFactory): void {
  describe(`ResourceStore contract: ${name}`, () => {
    const open: ResourceStore[] = [];
    let clock: VirtualClock;

    const make = async (options: StoreOptions = {}): Promise<ResourceStore> => {
      clock = new VirtualClock({ start: START });
      const s = await factory({ clock, uid: counterUid(), random: seeded(7), ...options });
      open.push(s);
      return s;
    };

    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
    });

    describe('create', () => {
      it('fills uid, creationTimestamp, resourceVersion, generation, apiVersion/kind and the default namespace', async () => {
        const s = await make();
        await clock.advance(65_000);
        const created = await s.create('VirtualMachine', {
          metadata: { name: 'web' },
          spec: vm('x').spec,
        } as VirtualMachine);
        expect(created.apiVersion).toBe('kubevirt.io/v1');
        expect(created.kind).toBe('VirtualMachine');
        expect(created.metadata).toEqual({
          name: 'web',
          namespace: 'default',
          uid: 'uid-1',
          creationTimestamp: '2026-01-01T00:01:05Z',
          generation: 1,
          resourceVersion: '1',
        });
        expect(s.currentResourceVersion()).toBe('1');
        const second = await s.create('VirtualMachine', vm('db', { namespace: 'prod' }));
        expect(second.metadata.resourceVersion).toBe('2');
        expect(second.metadata.uid).toBe('uid-2');
        expect(second.metadata.namespace).toBe('prod');
      });

      it('ignores system fields sent by the client (uid, creationTimestamp, generation, deletionTimestamp)', async () => {
        const s = await make();
        const input = vm('a');
        Object.assign(input.metadata, {
          uid: 'forged',
          creationTimestamp: '1999-01-01T00:00:00Z',
          generation: 42,
          deletionTimestamp: '1999-01-01T00:00:00Z',
        });
        const created = await s.create('VirtualMachine', input);
        expect(created.metadata.uid).toBe('uid-1');
        expect(created.metadata.creationTimestamp).toBe('2026-01-01T00:00:00Z');
        expect(created.metadata.generation).toBe(1);
        expect(created.metadata.deletionTimestamp).toBeUndefined();
      });

      it('keeps cluster-scoped kinds out of namespaces and rejects a namespace on them', async () => {
        const s = await make();
        const n = await s.create('Node', node('n1'));
        expect(n.metadata.namespace).toBeUndefined();
        const e = await caught(() => s.create('Node', node('n2', { namespace: 'default' })));
        expect(e).toBeInstanceOf(InvalidSpecError);
        expect(e.causes?.map((c) => c.field)).toEqual(['metadata.namespace']);
        expect(await s.tryGet('Node', undefined, 'n2')).toBeUndefined();
      });

      it('generates names from generateName with the injected randomness', async () => {
        const s = await make();
        const a = await s.create('VirtualMachineInstance', vmi('', { generateName: 'web-' }));
        const b = await s.create('VirtualMachineInstance', vmi('', { generateName: 'web-' }));
        expect(a.metadata.name).toMatch(/^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
        expect(b.metadata.name).toMatch(/^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
        expect(a.metadata.name).not.toBe(b.metadata.name);
        expect(a.metadata.generateName).toBe('web-');
        // Same seed, same names: a fresh store replays the sequence.
        const s2 = await make();
        const a2 = await s2.create('VirtualMachineInstance', vmi('', { generateName: 'web-' }));
        expect(a2.metadata.name).toBe(a.metadata.name);
      });

      it('retries generateName on collision', async () => {
        const s = await make({ random: () => 0 });
        const first = await s.create('VirtualMachine', vm('', { generateName: 'x-' }));
        expect(first.metadata.name).toBe('x-bbbbb');
        const e = await caught(() => s.create('VirtualMachine', vm('', { generateName: 'x-' })));
        expect(e).toBeInstanceOf(AlreadyExistsError);
        let calls = 0;
        const s2 = await make({ random: () => (calls++ < 10 ? 0 : 0.5) });
        await s2.create('VirtualMachine', vm('', { generateName: 'x-' }));
        const second = await s2.create('VirtualMachine', vm('', { generateName: 'x-' }));
        expect(second.metadata.name).not.toBe('x-bbbbb');
      });

      it('rejects duplicates with AlreadyExistsError but allows the same name in another namespace', async () => {
        const s = await make();
        await s.create('VirtualMachine', vm('a'));
        const e = await caught(() => s.create('VirtualMachine', vm('a')));
        expect(e).toBeInstanceOf(AlreadyExistsError);
        expect(e.message).toContain('VirtualMachine "a" in namespace "default" already exists');
        await s.create('VirtualMachine', vm('a', { namespace: 'other' }));
        // Same name, different kind: independent.
        await s.create('VirtualMachineInstance', vmi('a'));
        expect(s.currentResourceVersion()).toBe('3');
      });

      it('drops status on create for kinds with a status subresource, keeps it for others', async () => {
        const s = await make();
        const input = vmi('a');
        input.status = { phase: 'Running', nodeName: 'n1' };
        const created = await s.create('VirtualMachineInstance', input);
        expect(created.status).toBeUndefined();
        const l = await s.create('Lease', lease('lock', 'me'));
        expect(l.spec?.holderIdentity).toBe('me');
      });

      it('rejects invalid objects with InvalidSpecError naming each field, storing nothing', async () => {
        const s = await make();
        const cases: [unknown, string[]][] = [
          [vm(''), ['metadata.name']],
          [vm('Upper_Case'), ['metadata.name']],
          [vm('a', { namespace: 'Bad NS' }), ['metadata.namespace']],
          [vm('a', { resourceVersion: '5' }), ['metadata.resourceVersion']],
          [{ ...vm('a'), kind: 'VirtualMachineInstance' }, ['kind']],
          [{ ...vm('a'), apiVersion: 'kubevirt.io/v2' }, ['apiVersion']],
          [vm('a', { labels: { 'bad key!': 'x' } }), ['metadata.labels']],
          [vm('a', { labels: { ok: 'bad value!' } }), ['metadata.labels[ok]']],
          [vm('a', { finalizers: ['not a finalizer'] }), ['metadata.finalizers[0]']],
          [
            vm('a', { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n', uid: '' }] }),
            ['metadata.ownerReferences[0].uid'],
          ],
          [{ ...vm('a'), spec: { when: new Date(0) } }, ['spec.when']],
          [{ ...vm('a'), spec: { n: Number.NaN } }, ['spec.n']],
          [{ ...vm('a'), spec: { list: [1, undefined] } }, ['spec.list[1]']],
          [{ ...vm('a'), spec: { f: () => 1 } }, ['spec.f']],
        ];
        for (const [input, fields] of cases) {
          const e = await caught(() => s.create('VirtualMachine', input as VirtualMachine));
          expect(e, JSON.stringify(input)).toBeInstanceOf(InvalidSpecError);
          expect(e.causes?.map((c) => c.field)).toEqual(fields);
        }
        const cyclic = vm('a') as VirtualMachine & { spec: { self?: unknown } };
        cyclic.spec.self = cyclic.spec;
        expect(await caught(() => s.create('VirtualMachine', cyclic))).toBeInstanceOf(InvalidSpecError);
        expect(await caught(() => s.create('VirtualMachine', null as unknown as VirtualMachine))).toBeInstanceOf(
          RequestError,
        );
        expect(s.currentResourceVersion()).toBe('0');
        expect((await s.list('VirtualMachine')).items).toEqual([]);
      });

      it('rejects oversized objects with RequestError TooLarge', async () => {
        const s = await make({ maxObjectBytes: 10_000 });
        const big = vm('big', { annotations: { blob: 'x'.repeat(20_000) } });
        const e = await caught(() => s.create('VirtualMachine', big));
        expect(e).toBeInstanceOf(RequestError);
        expect(e.code).toBe('TooLarge');
      });

      it('rejects unknown kinds with BadRequest', async () => {
        const s = await make();
        const e = await caught(() => s.create('Pod' as 'Node', node('x')));
        expect(e).toBeInstanceOf(RequestError);
        expect(e.code).toBe('BadRequest');
      });

      it('never lets callers reach stored objects: input and results are copies', async () => {
        const s = await make();
        const input = vm('a', { labels: { app: 'web' } });
        const created = await s.create('VirtualMachine', input);
        input.metadata.labels!.app = 'mutated-input';
        created.metadata.labels!.app = 'mutated-result';
        created.spec.running = true;
        const got = await s.get('VirtualMachine', 'default', 'a');
        expect(got.metadata.labels).toEqual({ app: 'web' });
        expect(got.spec.running).toBe(false);
        got.metadata.labels!.app = 'mutated-get';
        const listed = (await s.list('VirtualMachine')).items[0]!;
        expect(listed.metadata.labels).toEqual({ app: 'web' });
        listed.spec.template.spec.domain.devices.autoattachSerialConsole = true;
        expect((await s.get('VirtualMachine', 'default', 'a')).spec.template.spec.domain.devices).toEqual({});
      });
    });

    describe('get and tryGet', () => {
      it('NotFoundError names kind, name and namespace; tryGet resolves undefined', async () => {
        const s = await make();
        const e = await caught(() => s.get('VirtualMachine', 'prod', 'missing'));
        expect(e).toBeInstanceOf(NotFoundError);
        expect(e.message).toBe('VirtualMachine "missing" in namespace "prod" not found');
        expect(await s.tryGet('VirtualMachine', 'prod', 'missing')).toBeUndefined();
        expect(await caught(() => s.get('Node', undefined, 'nope'))).toBeInstanceOf(NotFoundError);
      });

      it('defaults the namespace for namespaced kinds and refuses one for cluster-scoped kinds', async () => {
        const s = await make();
        await s.create('VirtualMachine', vm('a'));
        await s.create('Node', node('n'));
        expect((await s.get('VirtualMachine', undefined, 'a')).metadata.namespace).toBe('default');
        expect(await s.tryGet('VirtualMachine', 'other', 'a')).toBeUndefined();
        expect((await s.get('Node', undefined, 'n')).metadata.name).toBe('n');
        expect(await caught(() => s.get('Node', 'default', 'n'))).toBeInstanceOf(RequestError);
        expect(await caught(() => s.get('VirtualMachine', 'default', ''))).toBeInstanceOf(RequestError);
      });
    });

    describe('update', () => {
      it('fails with ConflictError on a stale resourceVersion; an empty one is unconditional', async () => {
        const s = await make();
        const v1 = await s.create('VirtualMachine', vm('a'));
        const v2 = await s.update('VirtualMachine', { ...v1, metadata: { ...v1.metadata, labels: { x: '1' } } });
        expect(v2.metadata.resourceVersion).toBe('2');
        const e = await caught(() =>
          s.update('VirtualMachine', { ...v1, metadata: { ...v1.metadata, labels: { x: '2' } } }),
        );
        expect(e).toBeInstanceOf(ConflictError);
        expect(e.message).toContain(CONFLICT);
        expect(e.message).toContain('virtualmachines.kubevirt.io "a"');
        const forced = await s.update('VirtualMachine', {
          ...v1,
          metadata: { ...v1.metadata, resourceVersion: '', labels: { x: '3' } },
        });
        expect(forced.metadata.labels).toEqual({ x: '3' });
        expect(forced.metadata.resourceVersion).toBe('3');
      });

      it('lets exactly one of two concurrent read-modify-writes win', async () => {
        const s = await make();
        const base = await s.create('VirtualMachine', vm('a'));
        const writes = ['x', 'y', 'z'].map((v) =>
          s.update('VirtualMachine', { ...base, metadata: { ...base.metadata, labels: { v } } }),
        );
        const results = await Promise.allSettled(writes);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError);
      });

      it('bumps generation only when spec changes', async () => {
        const s = await make();
        let cur = await s.create('VirtualMachine', vm('a'));
        cur = await s.update('VirtualMachine', { ...cur, metadata: { ...cur.metadata, labels: { a: 'b' } } });
        expect(cur.metadata.generation).toBe(1);
        cur = await s.updateStatus('VirtualMachine', { ...cur, status: { printableStatus: 'Stopped' } });
        expect(cur.metadata.generation).toBe(1);
        cur = await s.update('VirtualMachine', { ...cur, spec: { ...cur.spec, running: true } });
        expect(cur.metadata.generation).toBe(2);
        cur = await s.update('VirtualMachine', { ...cur, metadata: { ...cur.metadata, generation: 99 } });
        expect(cur.metadata.generation).toBe(2);
      });

      it('is a no-op (same resourceVersion, no event) when nothing changes', async () => {
        const s = await make();
        const cur = await s.create('VirtualMachine', vm('a', { labels: { a: 'b' } }));
        const w = s.watch('VirtualMachine', { resourceVersion: cur.metadata.resourceVersion! })[Symbol.asyncIterator]();
        const same = await s.update('VirtualMachine', cur);
        expect(same.metadata.resourceVersion).toBe(cur.metadata.resourceVersion);
        const sameStatus = await s.updateStatus('VirtualMachine', cur);
        expect(sameStatus.metadata.resourceVersion).toBe(cur.metadata.resourceVersion);
        // Empty labels/finalizers are the same as absent ones.
        await s.update('VirtualMachine', { ...cur, metadata: { ...cur.metadata, finalizers: [] } });
        expect(s.currentResourceVersion()).toBe('1');
        await s.create('VirtualMachine', vm('marker'));
        expect(summary(await take(w, 1))).toEqual([['ADDED', 'marker', '2']]);
      });

      it('ignores status for kinds with a status subresource; updateStatus changes only status', async () => {
        const s = await make();
        const cur = await s.create('VirtualMachineInstance', vmi('a'));
        const u = await s.update('VirtualMachineInstance', { ...cur, status: { phase: 'Running' } });
        expect(u.status).toBeUndefined();
        const st = await s.updateStatus('VirtualMachineInstance', {
          ...u,
          metadata: { ...u.metadata, labels: { sneaky: 'yes' } },
          spec: { domain: { devices: { autoattachSerialConsole: true } } },
          status: { phase: 'Running', nodeName: 'n1' },
        });
        expect(st.status).toEqual({ phase: 'Running', nodeName: 'n1' });
        expect(st.metadata.labels).toBeUndefined();
        expect(st.spec).toEqual({ domain: { devices: {} } });
        expect(st.metadata.generation).toBe(1);
        // The status survives later main-resource updates that do not carry it.
        const { status: _dropped, ...withoutStatus } = st;
        const later = await s.update('VirtualMachineInstance', {
          ...withoutStatus,
          metadata: { ...st.metadata, labels: { l: '1' } },
        });
        expect(later.status).toEqual({ phase: 'Running', nodeName: 'n1' });
        // updateStatus honours resourceVersion too.
        const e = await caught(() => s.updateStatus('VirtualMachineInstance', { ...st, status: { phase: 'Failed' } }));
        expect(e).toBeInstanceOf(ConflictError);
      });

      it('writes every field for kinds without a status subresource; updateStatus is refused there', async () => {
        const s = await make();
        const l = await s.create('Lease', lease('lock', 'a'));
        const u = await s.update('Lease', { ...l, spec: { holderIdentity: 'b', leaseTransitions: 1 } });
        expect(u.spec).toEqual({ holderIdentity: 'b', leaseTransitions: 1 });
        const e = await caught(() => s.updateStatus('Lease', u));
        expect(e).toBeInstanceOf(RequestError);
        expect(e.code).toBe('BadRequest');
      });

      it('keeps uid, creationTimestamp, name and namespace immutable', async () => {
        const s = await make();
        const cur = await s.create('VirtualMachine', vm('a'));
        await clock.advance(10_000);
        const e = await caught(() =>
          s.update('VirtualMachine', { ...cur, metadata: { ...cur.metadata, uid: 'other' } }),
        );
        expect(e).toBeInstanceOf(InvalidSpecError);
        expect(e.causes?.[0]?.field).toBe('metadata.uid');
        const u = await s.update('VirtualMachine', {
          ...cur,
          metadata: { ...cur.metadata, creationTimestamp: '2000-01-01T00:00:00Z', labels: { a: '1' } },
        });
        expect(u.metadata.creationTimestamp).toBe(cur.metadata.creationTimestamp);
        // A different name or namespace names a different object.
        expect(
          await caught(() => s.update('VirtualMachine', { ...u, metadata: { ...u.metadata, name: 'b' } })),
        ).toBeInstanceOf(NotFoundError);
        expect(
          await caught(() => s.update('VirtualMachine', { ...u, metadata: { ...u.metadata, namespace: 'elsewhere' } })),
        ).toBeInstanceOf(NotFoundError);
        const bad = await caught(() =>
          s.update('VirtualMachine', { ...u, metadata: { ...u.metadata, resourceVersion: 'abc' } }),
        );
        expect(bad).toBeInstanceOf(InvalidSpecError);
        expect(bad.causes?.[0]?.field).toBe('metadata.resourceVersion');
      });

      it('rejects invalid updates without changing anything', async () => {
        const s = await make();
        const cur = await s.create('VirtualMachine', vm('a'));
        const e = await caught(() =>
          s.update('VirtualMachine', { ...cur, metadata: { ...cur.metadata, labels: { 'no good': 'x' } } }),
        );
        expect(e).toBeInstanceOf(InvalidSpecError);
        expect(await s.get('VirtualMachine', 'default', 'a')).toEqual(cur);
        expect(s.currentResourceVersion()).toBe('1');
      });
    });

    describe('patch', () => {
      it('applies JSON merge patches (RFC 7386), null deleting keys, arrays replacing', async () => {
        const s = await make();
        await s.create('VirtualMachine', vm('a', { labels: { a: '1', b: '2' }, finalizers: ['x.io/one', 'x.io/two'] }));
        const p = await s.patch('VirtualMachine', 'default', 'a', 'merge', {
          metadata: { labels: { a: null, c: '3' }, finalizers: ['x.io/three'] },
          spec: { running: true },
        });
        expect(p.metadata.labels).toEqual({ b: '2', c: '3' });
        expect(p.metadata.finalizers).toEqual(['x.io/three']);
        expect(p.spec.running).toBe(true);
        expect(p.spec.template).toEqual(vm('a').spec.template);
        expect(p.metadata.generation).toBe(2);
      });

      it('treats strategic merge patches as merge patches', async () => {
        const s = await make();
        await s.create('VirtualMachine', vm('a'));
        const p = await s.patch('VirtualMachine', 'default', 'a', 'strategic', {
          metadata: { annotations: { n: 'v' } },
        });
        expect(p.metadata.annotations).toEqual({ n: 'v' });
      });

      it('applies JSON patches (RFC 6902): add, remove, replace, move, copy, test', async () => {
        const s = await make();
        await s.create('VirtualMachine', vm('a', { labels: { a: '1' }, finalizers: ['x.io/f'] }));
        const p = await s.patch('VirtualMachine', 'default', 'a', 'json', [
          { op: 'test', path: '/metadata/labels/a', value: '1' },
          { op: 'add', path: '/metadata/labels/b', value: '2' },
          { op: 'copy', from: '/metadata/labels/b', path: '/metadata/labels/c' },
          { op: 'move', from: '/metadata/labels/a', path: '/metadata/labels/d' },
          { op: 'replace', path: '/spec/running', value: true },
          { op: 'add', path: '/metadata/finalizers/-', value: 'x.io/g' },
          { op: 'add', path: '/metadata/finalizers/0', value: 'x.io/e' },
          { op: 'remove', path: '/metadata/finalizers/1' },
          { op: 'add', path: '/metadata/annotations', value: { 'example.com/x': 'escaped' } },
          { op: 'test', path: '/metadata/annotations/example.com~1x', value: 'escaped' },
        ]);
        expect(p.metadata.labels).toEqual({ b: '2', c: '2', d: '1' });
        expect(p.metadata.finalizers).toEqual(['x.io/e', 'x.io/g']);
        expect(p.spec.running).toBe(true);
      });

      it('fails a JSON patch whose test fails with InvalidSpecError and changes nothing', async () => {
        const s = await make();
        const cur = await s.create('VirtualMachine', vm('a', { labels: { a: '1' } }));
        const e = await caught(() =>
          s.patch('VirtualMachine', 'default', 'a', 'json', [
            { op: 'replace', path: '/metadata/labels/a', value: '2' },
            { op: 'test', path: '/spec/running', value: true },
          ]),
        );
        expect(e).toBeInstanceOf(InvalidSpecError);
        expect(e.causes?.[0]?.field).toBe('/spec/running');
        expect(e.message).toContain('test failed');
        const missing = await caught(() =>
          s.patch('VirtualMachine', 'default', 'a', 'json', [{ op: 'remove', path: '/metadata/labels/zzz' }]),
        );
        expect(missing).toBeInstanceOf(InvalidSpecError);
        expect(await s.get('VirtualMachine', 'default', 'a')).toEqual(cur);
      });

      it('rejects malformed patches with BadRequest', async () => {
        const s = await make();
        await s.create('VirtualMachine', vm('a'));
        const bad: [string, unknown][] = [
          ['json', { op: 'add' }],
          ['json', [{ op: 'frobnicate', path: '/x' }]],
          ['json', [{ op: 'add', path: 'no-slash', value: 1 }]],
          ['json', [{ op: 'add', path: '/metadata/labels/x' }]],
          ['json', [{ op: 'move', from: '/spec', path: '/spec/template/x' }]],
          ['merge', ['not', 'an', 'object']],
          ['merge', 'string'],
          ['yaml', {}],
        ];
        for (const [type, body] of bad) {
          const e = await caught(() => s.patch('VirtualMachine', 'default', 'a', type as 'json', body));
          expect(e, JSON.stringify(body)).toBeInstanceOf(RequestError);
          expect(e.code).toBe('BadRequest');
        }
        expect(s.currentResourceVersion()).toBe('1');
      });

      it('touches only status with subresource status, and ignores status otherwise', async () => {
        const s = await make();
        await s.create('VirtualMachineInstance', vmi('a'));
        const main = await s.patch('VirtualMachineInstance', 'default', 'a', 'merge', {
          metadata: { labels: { l: '1' } },
          status: { phase: 'Running' },
        });
        expect(main.metadata.labels).toEqual({ l: '1' });
        expect(main.status).toBeUndefined();
        const st = await s.patch(
          'VirtualMachineInstance',
          'default',
          'a',
          'merge',
          { metadata: { labels: { l: '2' } }, status: { phase: 'Running', nodeName: 'n1' } },
          { subresource: 'status' },
        );
        expect(st.status).toEqual({ phase: 'Running', nodeName: 'n1' });
        expect(st.metadata.labels).toEqual({ l: '1' });
        const jp = await s.patch(
          'VirtualMachineInstance',
          'default',
          'a',
          'json',
          [{ op: 'replace', path: '/status/phase', value: 'Succeeded' }],
          { subresource: 'status' },
        );
        expect(jp.status?.phase).toBe('Succeeded');
        expect(
          await caught(() => s.patch('Lease', 'default', 'x', 'merge', {}, { subresource: 'status' })),
        ).toBeInstanceOf(RequestError);
      });

      it('treats metadata.resourceVersion in a patch as a precondition', async () => {
        const s = await make();
        await s.create('VirtualMachine', vm('a'));
        await s.patch('VirtualMachine', 'default', 'a', 'merge', { metadata: { labels: { x: '1' } } });
        const e = await caught(() =>
          s.patch('VirtualMachine', 'default', 'a', 'merge', {
            metadata: { resourceVersion: '1', labels: { x: '2' } },
          }),
        );
        expect(e).toBeInstanceOf(ConflictError);
        expect(e.message).toContain(CONFLICT);
        const ok = await s.patch('VirtualMachine', 'default', 'a', 'merge', {
          metadata: { resourceVersion: '2', labels: { x: '3' } },
        });
        expect(ok.metadata.labels).toEqual({ x: '3' });
        const jsonStale = await caught(() =>
          s.patch('VirtualMachine', 'default', 'a', 'json', [
            { op: 'replace', path: '/metadata/resourceVersion', value: '2' },
          ]),
        );
        expect(jsonStale).toBeInstanceOf(ConflictError);
      });

      it('refuses to change name, namespace or uid, and answers NotFound for a missing object', async () => {
        const s = await make();
        await s.create('VirtualMachine', vm('a'));
        for (const meta of [{ name: 'b' }, { namespace: 'other' }, { uid: 'forged' }]) {
          const e = await caught(() => s.patch('VirtualMachine', 'default', 'a', 'merge', { metadata: meta }));
          expect(e, JSON.stringify(meta)).toBeInstanceOf(InvalidSpecError);
        }
        expect(await caught(() => s.patch('VirtualMachine', 'default', 'zz', 'merge', {}))).toBeInstanceOf(
          NotFoundError,
        );
      });
    });

    describe('delete', () => {
      it('removes an object without finalizers at once and resolves its last state', async () => {
        const s = await make();
        await s.create('VirtualMachine', vm('a', { labels: { k: 'v' } }));
        const gone = await s.delete('VirtualMachine', 'default', 'a');
        expect(gone.metadata.labels).toEqual({ k: 'v' });
        expect(gone.metadata.resourceVersion).toBe('2');
        expect(await s.tryGet('VirtualMachine', 'default', 'a')).toBeUndefined();
        expect(await caught(() => s.delete('VirtualMachine', 'default', 'a'))).toBeInstanceOf(NotFoundError);
        // The name is free again, with a new uid.
        const again = await s.create('VirtualMachine', vm('a'));
        expect(again.metadata.uid).toBe('uid-2');
      });

      it('checks uid and resourceVersion preconditions', async () => {
        const s = await make();
        const cur = await s.create('VirtualMachine', vm('a'));
        const byUid = await caught(() =>
          s.delete('VirtualMachine', 'default', 'a', { preconditions: { uid: 'nope' } }),
        );
        expect(byUid).toBeInstanceOf(ConflictError);
        expect(byUid.message).toContain('Precondition failed: UID in precondition: nope, UID in object meta: uid-1');
        const byRv = await caught(() =>
          s.delete('VirtualMachine', 'default', 'a', { preconditions: { resourceVersion: '7' } }),
        );
        expect(byRv).toBeInstanceOf(ConflictError);
        expect(await s.tryGet('VirtualMachine', 'default', 'a')).toBeDefined();
        await s.delete('VirtualMachine', 'default', 'a', {
          preconditions: { uid: cur.metadata.uid!, resourceVersion: cur.metadata.resourceVersion! },
        });
        expect(await s.tryGet('VirtualMachine', 'default', 'a')).toBeUndefined();
      });

      it('rejects invalid delete options with BadRequest', async () => {
        const s = await make();
        await s.create('VirtualMachine', vm('a'));
        for (const options of [
          { propagationPolicy: 'Sideways' },
          { gracePeriodSeconds: -1 },
          { gracePeriodSeconds: 1.5 },
        ]) {
          const e = await caught(() => s.delete('VirtualMachine', 'default', 'a', options as never));
          expect(e).toBeInstanceOf(RequestError);
        }
        expect(await s.tryGet('VirtualMachine', 'default', 'a')).toBeDefined();
      });

      it('marks an object with finalizers and removes it when an update drops the last one', async () => {
        const s = await make();
        await s.create('VirtualMachine', vm('a', { finalizers: ['x.io/a', 'x.io/b'] }));
        const w = s.watch('VirtualMachine', { resourceVersion: '1' })[Symbol.asyncIterator]();
        await clock.advance(3_000);
        const marked = await s.delete('VirtualMachine', 'default', 'a', { gracePeriodSeconds: 30 });
        expect(marked.metadata.deletionTimestamp).toBe('2026-01-01T00:00:03Z');
        expect(marked.metadata.deletionGracePeriodSeconds).toBe(30);
        expect(marked.metadata.generation).toBe(2);
        // Deleting again changes nothing.
        const again = await s.delete('VirtualMachine', 'default', 'a');
        expect(again.metadata.resourceVersion).toBe(marked.metadata.resourceVersion);
        // No new finalizers while deleting.
        const add = await caught(() =>
          s.update('VirtualMachine', {
            ...marked,
            metadata: { ...marked.metadata, finalizers: ['x.io/a', 'x.io/b', 'x.io/c'] },
          }),
        );
        expect(add).toBeInstanceOf(InvalidSpecError);
        expect(add.causes?.[0]?.field).toBe('metadata.finalizers');
        // The deletion timestamp cannot be cleared by an update.
        const { deletionTimestamp: _cleared, ...metaWithoutDeletion } = marked.metadata;
        const one = await s.update('VirtualMachine', {
          ...marked,
          metadata: { ...metaWithoutDeletion, finalizers: ['x.io/b'] },
        });
        expect(one.metadata.deletionTimestamp).toBe('2026-01-01T00:00:03Z');
        const last = await s.update('VirtualMachine', { ...one, metadata: { ...one.metadata, finalizers: [] } });
        expect(last.metadata.finalizers).toBeUndefined();
        expect(await s.tryGet('VirtualMachine', 'default', 'a')).toBeUndefined();
        expect(summary(await take(w, 3))).toEqual([
          ['MODIFIED', 'a', '2'],
          ['MODIFIED', 'a', '3'],
          ['DELETED', 'a', '4'],
        ]);
        expect(last.metadata.resourceVersion).toBe('4');
      });

      it('also completes a deletion when the last finalizer goes through a patch', async () => {
        const s = await make();
        await s.create(
          'VirtualMachineInstance',
          vmi('a', { finalizers: ['kubevirt.io/virtualMachineControllerFinalize'] }),
        );
        await s.delete('VirtualMachineInstance', 'default', 'a');
        await s.patch('VirtualMachineInstance', 'default', 'a', 'json', [
          { op: 'remove', path: '/metadata/finalizers' },
        ]);
        expect(await s.tryGet('VirtualMachineInstance', 'default', 'a')).toBeUndefined();
      });
    });

    describe('ownerReferences and garbage collection', () => {
      const family = async (s: ResourceStore) => {
        const owner = await s.create('VirtualMachine', vm('web'));
        const a = await s.create('VirtualMachineInstance', vmi('web-a', { ownerReferences: [ownedBy(owner)] }));
        const b = await s.create('VirtualMachineInstance', vmi('web-b', { ownerReferences: [ownedBy(owner, false)] }));
        return { owner, a, b };
      };

      it('Background (default): dependents of another kind are deleted after the owner', async () => {
        const s = await make();
        await family(s);
        const unrelated = await s.create('VirtualMachineInstance', vmi('other'));
        const w = s
          .watch('VirtualMachineInstance', { resourceVersion: s.currentResourceVersion() })
          [Symbol.asyncIterator]();
        await s.delete('VirtualMachine', 'default', 'web');
        expect(await s.tryGet('VirtualMachine', 'default', 'web')).toBeUndefined();
        expect((await s.list('VirtualMachineInstance')).items.map((i) => i.metadata.name)).toEqual([
          unrelated.metadata.name,
        ]);
        expect(summary(await take(w, 2))).toEqual([
          ['DELETED', 'web-a', '6'],
          ['DELETED', 'web-b', '7'],
        ]);
      });

      it('Background respects dependents’ own finalizers and the owner’s', async () => {
        const s = await make();
        const owner = await s.create('VirtualMachine', vm('web', { finalizers: ['x.io/hold'] }));
        await s.create(
          'VirtualMachineInstance',
          vmi('held', { ownerReferences: [ownedBy(owner)], finalizers: ['x.io/keep'] }),
        );
        const marked = await s.delete('VirtualMachine', 'default', 'web');
        // The owner still exists, so its dependents are untouched.
        expect(marked.metadata.deletionTimestamp).toBeDefined();
        expect((await s.get('VirtualMachineInstance', 'default', 'held')).metadata.deletionTimestamp).toBeUndefined();
        await s.patch('VirtualMachine', 'default', 'web', 'merge', { metadata: { finalizers: null } });
        expect(await s.tryGet('VirtualMachine', 'default', 'web')).toBeUndefined();
        const held = await s.get('VirtualMachineInstance', 'default', 'held');
        expect(held.metadata.deletionTimestamp).toBeDefined();
        await s.patch('VirtualMachineInstance', 'default', 'held', 'merge', { metadata: { finalizers: null } });
        expect(await s.tryGet('VirtualMachineInstance', 'default', 'held')).toBeUndefined();
      });

      it('keeps a dependent that has another owner, dropping only the dangling reference', async () => {
        const s = await make();
        const one = await s.create('VirtualMachine', vm('one'));
        const two = await s.create('VirtualMachine', vm('two'));
        await s.create(
          'VirtualMachineInstance',
          vmi('shared', { ownerReferences: [ownedBy(one), ownedBy(two, true, false)] }),
        );
        await s.delete('VirtualMachine', 'default', 'one');
        const shared = await s.get('VirtualMachineInstance', 'default', 'shared');
        expect(shared.metadata.ownerReferences?.map((r) => r.name)).toEqual(['two']);
        await s.delete('VirtualMachine', 'default', 'two');
        expect(await s.tryGet('VirtualMachineInstance', 'default', 'shared')).toBeUndefined();
      });

      it('matches owners by uid: a recreated owner of the same name does not own old dependents', async () => {
        const s = await make();
        const old = await s.create('VirtualMachine', vm('web', { finalizers: ['x.io/f'] }));
        await s.create('VirtualMachineInstance', vmi('child', { ownerReferences: [ownedBy(old)] }));
        await s.delete('VirtualMachine', 'default', 'web', { propagationPolicy: 'Orphan' });
        await s.patch('VirtualMachine', 'default', 'web', 'merge', { metadata: { finalizers: null } });
        const recreated = await s.create('VirtualMachine', vm('web'));
        await s.create('VirtualMachineInstance', vmi('mine', { ownerReferences: [ownedBy(recreated)] }));
        await s.delete('VirtualMachine', 'default', 'web');
        expect((await s.list('VirtualMachineInstance')).items.map((i) => i.metadata.name)).toEqual(['child']);
      });

      it('collects a dependent written after its owner is gone (the controller race)', async () => {
        const s = await make();
        const owner = await s.create('VirtualMachine', vm('web'));
        await s.delete('VirtualMachine', 'default', 'web');
        const w = s
          .watch('VirtualMachineInstance', { resourceVersion: s.currentResourceVersion() })
          [Symbol.asyncIterator]();
        const created = await s.create('VirtualMachineInstance', vmi('late', { ownerReferences: [ownedBy(owner)] }));
        expect(created.metadata.resourceVersion).toBe('3');
        expect(await s.tryGet('VirtualMachineInstance', 'default', 'late')).toBeUndefined();
        expect(summary(await take(w, 2))).toEqual([
          ['ADDED', 'late', '3'],
          ['DELETED', 'late', '4'],
        ]);
        // With one live owner left, only the dangling reference goes.
        const live = await s.create('Node', node('n1'));
        await s.create(
          'VirtualMachineInstance',
          vmi('half', { ownerReferences: [ownedBy(owner), ownedBy(live, false, false)] }),
        );
        expect(
          (await s.get('VirtualMachineInstance', 'default', 'half')).metadata.ownerReferences?.map((r) => r.name),
        ).toEqual(['n1']);
        // References to kinds this store does not hold cannot be checked and are left alone.
        const foreign = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'd', uid: 'elsewhere' };
        await s.create('VirtualMachineInstance', vmi('foreign', { ownerReferences: [foreign] }));
        expect((await s.get('VirtualMachineInstance', 'default', 'foreign')).metadata.ownerReferences).toEqual([
          foreign,
        ]);
        // An update that points an object at a missing owner is collected the same way.
        const half = await s.get('VirtualMachineInstance', 'default', 'half');
        await s.update('VirtualMachineInstance', {
          ...half,
          metadata: { ...half.metadata, ownerReferences: [ownedBy(owner)] },
        });
        expect(await s.tryGet('VirtualMachineInstance', 'default', 'half')).toBeUndefined();
      });

      it('Orphan: dependents stay, their references to the owner removed', async () => {
        const s = await make();
        const other = await s.create('Node', node('n1'));
        const owner = await s.create('VirtualMachine', vm('web'));
        await s.create('VirtualMachineInstance', vmi('a', { ownerReferences: [ownedBy(owner)] }));
        await s.create(
          'VirtualMachineInstance',
          vmi('b', { ownerReferences: [ownedBy(owner), ownedBy(other, false, false)] }),
        );
        const gone = await s.delete('VirtualMachine', 'default', 'web', { propagationPolicy: 'Orphan' });
        expect(gone.metadata.finalizers).toBeUndefined();
        expect(await s.tryGet('VirtualMachine', 'default', 'web')).toBeUndefined();
        expect((await s.get('VirtualMachineInstance', 'default', 'a')).metadata.ownerReferences).toBeUndefined();
        expect(
          (await s.get('VirtualMachineInstance', 'default', 'b')).metadata.ownerReferences?.map((r) => r.kind),
        ).toEqual(['Node']);
      });

      it('Orphan also applies through a stored "orphan" finalizer', async () => {
        const s = await make();
        const owner = await s.create('VirtualMachine', vm('web', { finalizers: ['orphan'] }));
        await s.create('VirtualMachineInstance', vmi('a', { ownerReferences: [ownedBy(owner)] }));
        await s.delete('VirtualMachine', 'default', 'web');
        expect(await s.tryGet('VirtualMachine', 'default', 'web')).toBeUndefined();
        expect((await s.get('VirtualMachineInstance', 'default', 'a')).metadata.ownerReferences).toBeUndefined();
      });

      it('Foreground: the owner waits, marked, until blocking dependents are gone', async () => {
        const s = await make();
        const owner = await s.create('VirtualMachine', vm('web'));
        await s.create(
          'VirtualMachineInstance',
          vmi('blocker', { ownerReferences: [ownedBy(owner)], finalizers: ['x.io/drain'] }),
        );
        await s.create('VirtualMachineInstance', vmi('free', { ownerReferences: [ownedBy(owner)] }));
        await clock.advance(1_000);
        const w = s.watch('VirtualMachine', { resourceVersion: s.currentResourceVersion() })[Symbol.asyncIterator]();
        const marked = await s.delete('VirtualMachine', 'default', 'web', { propagationPolicy: 'Foreground' });
        expect(marked.metadata.finalizers).toEqual(['foregroundDeletion']);
        expect(marked.metadata.deletionTimestamp).toBe('2026-01-01T00:00:01Z');
        expect(await s.tryGet('VirtualMachineInstance', 'default', 'free')).toBeUndefined();
        const blocker = await s.get('VirtualMachineInstance', 'default', 'blocker');
        expect(blocker.metadata.deletionTimestamp).toBeDefined();
        expect((await s.get('VirtualMachine', 'default', 'web')).metadata.deletionTimestamp).toBeDefined();
        await s.update('VirtualMachineInstance', { ...blocker, metadata: { ...blocker.metadata, finalizers: [] } });
        expect(await s.tryGet('VirtualMachineInstance', 'default', 'blocker')).toBeUndefined();
        expect(await s.tryGet('VirtualMachine', 'default', 'web')).toBeUndefined();
        expect((await take(w, 2)).map((e) => e.type)).toEqual(['MODIFIED', 'DELETED']);
      });

      it('Foreground does not wait for dependents without blockOwnerDeletion', async () => {
        const s = await make();
        const owner = await s.create('VirtualMachine', vm('web'));
        await s.create(
          'VirtualMachineInstance',
          vmi('slow', { ownerReferences: [ownedBy(owner, false)], finalizers: ['x.io/slow'] }),
        );
        await s.delete('VirtualMachine', 'default', 'web', { propagationPolicy: 'Foreground' });
        expect(await s.tryGet('VirtualMachine', 'default', 'web')).toBeUndefined();
        expect((await s.get('VirtualMachineInstance', 'default', 'slow')).metadata.deletionTimestamp).toBeDefined();
      });

      it('Foreground without dependents still removes the owner (MODIFIED then DELETED)', async () => {
        const s = await make();
        await s.create('Node', node('n1'));
        const w = s.watch('Node', { resourceVersion: '1' })[Symbol.asyncIterator]();
        const out = await s.delete('Node', undefined, 'n1', { propagationPolicy: 'Foreground' });
        expect(await s.tryGet('Node', undefined, 'n1')).toBeUndefined();
        expect(out.metadata.resourceVersion).toBe('2');
        expect(summary(await take(w, 2))).toEqual([
          ['MODIFIED', 'n1', '2'],
          ['DELETED', 'n1', '3'],
        ]);
      });

      it('cascades through several levels and kinds: replica set → VMIs → migrations', async () => {
        const s = await make();
        const rs = await s.create('VirtualMachineInstanceReplicaSet', replicaSet('pool'));
        const v1 = await s.create('VirtualMachineInstance', vmi('pool-1', { ownerReferences: [ownedBy(rs)] }));
        await s.create('VirtualMachineInstance', vmi('pool-2', { ownerReferences: [ownedBy(rs)] }));
        await s.create(
          'VirtualMachineInstanceMigration',
          migration('mig', 'pool-1', { ownerReferences: [ownedBy(v1)], finalizers: ['x.io/m'] }),
        );
        await s.delete('VirtualMachineInstanceReplicaSet', 'default', 'pool', { propagationPolicy: 'Foreground' });
        // The migration holds pool-1, which holds the replica set.
        expect(
          (await s.get('VirtualMachineInstanceReplicaSet', 'default', 'pool')).metadata.deletionTimestamp,
        ).toBeDefined();
        expect((await s.get('VirtualMachineInstance', 'default', 'pool-1')).metadata.finalizers).toEqual([
          'foregroundDeletion',
        ]);
        expect(await s.tryGet('VirtualMachineInstance', 'default', 'pool-2')).toBeUndefined();
        await s.patch('VirtualMachineInstanceMigration', 'default', 'mig', 'merge', { metadata: { finalizers: null } });
        expect(await s.tryGet('VirtualMachineInstanceMigration', 'default', 'mig')).toBeUndefined();
        expect(await s.tryGet('VirtualMachineInstance', 'default', 'pool-1')).toBeUndefined();
        expect(await s.tryGet('VirtualMachineInstanceReplicaSet', 'default', 'pool')).toBeUndefined();
      });

      it('Background cascades through several levels too', async () => {
        const s = await make();
        const owner = await s.create('VirtualMachine', vm('web'));
        const child = await s.create('VirtualMachineInstance', vmi('web', { ownerReferences: [ownedBy(owner)] }));
        await s.create('VirtualMachineInstanceMigration', migration('m', 'web', { ownerReferences: [ownedBy(child)] }));
        await s.create(
          'Event',
          event(
            'web.1',
            { kind: 'VirtualMachineInstance', name: 'web' },
            { ownerReferences: [ownedBy(child, false, false)] },
          ),
        );
        await s.delete('VirtualMachine', 'default', 'web');
        expect((await s.list('VirtualMachineInstance')).items).toEqual([]);
        expect((await s.list('VirtualMachineInstanceMigration')).items).toEqual([]);
        expect((await s.list('Event')).items).toEqual([]);
      });
    });

    describe('list', () => {
      const seed = async (s: ResourceStore) => {
        await s.create('VirtualMachineInstance', vmi('b', { namespace: 'ns1', labels: { app: 'web', tier: 'front' } }));
        await s.create('VirtualMachineInstance', vmi('a', { namespace: 'ns2', labels: { app: 'web', tier: 'back' } }));
        await s.create('VirtualMachineInstance', vmi('c', { namespace: 'ns1', labels: { app: 'db' } }));
        await s.create('VirtualMachineInstance', vmi('a', { namespace: 'ns1' }));
        for (const [ns, name, phase, nodeName] of [
          ['ns1', 'a', 'Running', 'n1'],
          ['ns1', 'b', 'Running', 'n2'],
          ['ns2', 'a', 'Pending', ''],
        ] as const) {
          const cur = await s.get('VirtualMachineInstance', ns, name);
          await s.updateStatus('VirtualMachineInstance', {
            ...cur,
            status: nodeName ? { phase, nodeName } : { phase },
          });
        }
      };
      const names = (items: VirtualMachineInstance[]) => items.map((i) => `${i.metadata.namespace}/${i.metadata.name}`);

      it('returns items sorted by namespace then name, with the store resourceVersion', async () => {
        const s = await make();
        await seed(s);
        const all = await s.list('VirtualMachineInstance');
        expect(names(all.items)).toEqual(['ns1/a', 'ns1/b', 'ns1/c', 'ns2/a']);
        expect(all.resourceVersion).toBe(s.currentResourceVersion());
        expect(all.continue).toBeUndefined();
        expect(names((await s.list('VirtualMachineInstance', { namespace: 'ns1' })).items)).toEqual([
          'ns1/a',
          'ns1/b',
          'ns1/c',
        ]);
        expect(names((await s.list('VirtualMachineInstance', { namespace: 'ns3' })).items)).toEqual([]);
      });

      it('filters by label selectors in every form', async () => {
        const s = await make();
        await seed(s);
        const sel = async (labelSelector: string) =>
          names((await s.list('VirtualMachineInstance', { labelSelector })).items);
        expect(await sel('app=web')).toEqual(['ns1/b', 'ns2/a']);
        expect(await sel('app==web,tier=back')).toEqual(['ns2/a']);
        expect(await sel('app!=web')).toEqual(['ns1/a', 'ns1/c']);
        expect(await sel('app in (web, db)')).toEqual(['ns1/b', 'ns1/c', 'ns2/a']);
        expect(await sel('app notin (web)')).toEqual(['ns1/a', 'ns1/c']);
        expect(await sel('tier')).toEqual(['ns1/b', 'ns2/a']);
        expect(await sel('!tier')).toEqual(['ns1/a', 'ns1/c']);
        expect(await sel('')).toEqual(['ns1/a', 'ns1/b', 'ns1/c', 'ns2/a']);
      });

      it('filters by field selectors', async () => {
        const s = await make();
        await seed(s);
        const sel = async (fieldSelector: string, namespace?: string) =>
          names((await s.list('VirtualMachineInstance', { fieldSelector, ...(namespace ? { namespace } : {}) })).items);
        expect(await sel('metadata.name=a')).toEqual(['ns1/a', 'ns2/a']);
        expect(await sel('metadata.namespace=ns2')).toEqual(['ns2/a']);
        expect(await sel('status.phase=Running')).toEqual(['ns1/a', 'ns1/b']);
        expect(await sel('status.phase!=Running')).toEqual(['ns1/c', 'ns2/a']);
        expect(await sel('status.nodeName=n2,status.phase=Running')).toEqual(['ns1/b']);
        expect(await sel('status.nodeName=')).toEqual(['ns1/c', 'ns2/a']);
        expect(await sel('metadata.name=a', 'ns1')).toEqual(['ns1/a']);
        await s.create('VirtualMachineInstanceMigration', migration('m1', 'a'));
        await s.create('VirtualMachineInstanceMigration', migration('m2', 'b'));
        const migs = await s.list('VirtualMachineInstanceMigration', { fieldSelector: 'spec.vmiName=b' });
        expect(migs.items.map((m) => m.metadata.name)).toEqual(['m2']);
        await s.create('Event', event('e1', { kind: 'VirtualMachine', name: 'a' }));
        await s.create('Event', event('e2', { kind: 'VirtualMachineInstance', name: 'a' }));
        const evs = await s.list('Event', {
          fieldSelector: 'involvedObject.kind=VirtualMachineInstance,involvedObject.name=a',
        });
        expect(evs.items.map((e) => e.metadata.name)).toEqual(['e2']);
      });

      it('rejects invalid selectors, limits and tokens with BadRequest', async () => {
        const s = await make();
        await seed(s);
        const bad = [
          { labelSelector: 'app in web' },
          { labelSelector: 'app=(x)' },
          { labelSelector: 'a=b c' },
          { labelSelector: '!' },
          { fieldSelector: 'spec.whatever=x' },
          { fieldSelector: 'metadata.name' },
          { limit: -1 },
          { limit: 1.5 },
          { continue: 'not-a-token' },
        ];
        for (const options of bad) {
          const e = await caught(() => s.list('VirtualMachineInstance', options));
          expect(e, JSON.stringify(options)).toBeInstanceOf(RequestError);
          expect(e.code).toBe('BadRequest');
        }
        const page = await s.list('VirtualMachineInstance', { limit: 1 });
        const wrongKind = await caught(() => s.list('VirtualMachine', { continue: page.continue! }));
        expect(wrongKind).toBeInstanceOf(RequestError);
      });

      it('paginates with limit/continue, every item exactly once, filters applied', async () => {
        const s = await make();
        for (let i = 0; i < 25; i++) {
          await s.create(
            'VirtualMachine',
            vm(`vm-${String(i).padStart(2, '0')}`, { labels: { even: String(i % 2 === 0) } }),
          );
        }
        const seen: string[] = [];
        let token: string | undefined;
        let pages = 0;
        do {
          const page = await s.list('VirtualMachine', {
            limit: 4,
            labelSelector: 'even=true',
            ...(token ? { continue: token } : {}),
          });
          expect(page.items.length).toBeLessThanOrEqual(4);
          expect(page.resourceVersion).toBe('25');
          seen.push(...page.items.map((v) => v.metadata.name!));
          token = page.continue;
          pages++;
        } while (token);
        expect(pages).toBe(4);
        expect(seen).toEqual(Array.from({ length: 13 }, (_, k) => `vm-${String(k * 2).padStart(2, '0')}`));
        // An exact fit leaves no continue token.
        const exact = await s.list('VirtualMachine', { limit: 25 });
        expect(exact.items).toHaveLength(25);
        expect(exact.continue).toBeUndefined();
      });

      it('serves later pages from the first page’s snapshot', async () => {
        const s = await make();
        for (const n of ['a', 'b', 'c', 'd', 'e']) await s.create('VirtualMachine', vm(n));
        const first = await s.list('VirtualMachine', { limit: 2 });
        expect(first.items.map((v) => v.metadata.name)).toEqual(['a', 'b']);
        await s.delete('VirtualMachine', 'default', 'c');
        await s.create('VirtualMachine', vm('bb'));
        await s.create('VirtualMachine', vm('f'));
        await s.patch('VirtualMachine', 'default', 'd', 'merge', { metadata: { labels: { changed: 'yes' } } });
        const second = await s.list('VirtualMachine', { limit: 2, continue: first.continue! });
        expect(second.resourceVersion).toBe('5');
        expect(second.items.map((v) => v.metadata.name)).toEqual(['c', 'd']);
        expect(second.items[1]!.metadata.labels).toBeUndefined();
        expect(second.items[1]!.metadata.resourceVersion).toBe('4');
        const third = await s.list('VirtualMachine', { limit: 2, continue: second.continue! });
        expect(third.items.map((v) => v.metadata.name)).toEqual(['e']);
        expect(third.continue).toBeUndefined();
        // A fresh list sees the present.
        expect((await s.list('VirtualMachine')).items.map((v) => v.metadata.name)).toEqual([
          'a',
          'b',
          'bb',
          'd',
          'e',
          'f',
        ]);
      });

      it('answers GoneError when a continue token outlived the history', async () => {
        const s = await make({ historyLimit: 3 });
        for (const n of ['a', 'b', 'c']) await s.create('VirtualMachine', vm(n));
        const first = await s.list('VirtualMachine', { limit: 1 });
        for (const n of ['d', 'e', 'f', 'g']) await s.create('VirtualMachine', vm(n));
        const e = await caught(() => s.list('VirtualMachine', { limit: 1, continue: first.continue! }));
        expect(e).toBeInstanceOf(GoneError);
        expect(e.code).toBe('Gone');
      });

      it('ignores the namespace option for cluster-scoped kinds', async () => {
        const s = await make();
        await s.create('Node', node('n2'));
        await s.create('Node', node('n1'));
        expect((await s.list('Node', { namespace: 'default' })).items.map((n) => n.metadata.name)).toEqual([
          'n1',
          'n2',
        ]);
      });
    });

    describe('watch', () => {
      it('without a resourceVersion: synthetic ADDED for current objects, then live changes', async () => {
        const s = await make();
        await s.create('VirtualMachine', vm('b'));
        await s.create('VirtualMachine', vm('a'));
        await s.create('VirtualMachineInstance', vmi('not-a-vm'));
        for (const rv of [undefined, '0']) {
          const w = s.watch('VirtualMachine', rv === undefined ? {} : { resourceVersion: rv })[Symbol.asyncIterator]();
          const initial = await take(w, 2);
          expect(summary(initial)).toEqual([
            ['ADDED', 'a', '2'],
            ['ADDED', 'b', '1'],
          ]);
          await w.return?.();
        }
        const w = s.watch('VirtualMachine')[Symbol.asyncIterator]();
        await take(w, 2);
        await s.create('VirtualMachine', vm('c'));
        await s.patch('VirtualMachine', 'default', 'a', 'merge', { metadata: { labels: { x: 'y' } } });
        await s.delete('VirtualMachine', 'default', 'b');
        expect(summary(await take(w, 3))).toEqual([
          ['ADDED', 'c', '4'],
          ['MODIFIED', 'a', '5'],
          ['DELETED', 'b', '6'],
        ]);
      });

      it('from a resourceVersion: every change after it, from history', async () => {
        const s = await make();
        await s.create('VirtualMachine', vm('a'));
        const mark = s.currentResourceVersion();
        await s.create('VirtualMachine', vm('b'));
        await s.patch('VirtualMachine', 'default', 'a', 'merge', { spec: { running: true } });
        await s.delete('VirtualMachine', 'default', 'b');
        const w = s.watch('VirtualMachine', { resourceVersion: mark })[Symbol.asyncIterator]();
        const events = await take(w, 3);
        expect(summary(events)).toEqual([
          ['ADDED', 'b', '2'],
          ['MODIFIED', 'a', '3'],
          ['DELETED', 'b', '4'],
        ]);
        expect((events[1]!.object as VirtualMachine).spec.running).toBe(true);
        // From the current version: only what happens next.
        const now = s.watch('VirtualMachine', { resourceVersion: s.currentResourceVersion() })[Symbol.asyncIterator]();
        await s.create('VirtualMachine', vm('c'));
        expect(summary(await take(now, 1))).toEqual([['ADDED', 'c', '5']]);
      });

      it('answers GoneError for a compacted resourceVersion and TimeoutError for a future one', async () => {
        const s = await make({ historyLimit: 4 });
        for (let i = 0; i < 10; i++) await s.create('Node', node(`n${i}`));
        const old = await caught(() => s.watch('Node', { resourceVersion: '3' }));
        expect(old).toBeInstanceOf(GoneError);
        expect(old.message).toBe('too old resource version: 3 (7)');
        // The oldest resumable version still works.
        const w = s.watch('Node', { resourceVersion: '6' })[Symbol.asyncIterator]();
        expect(summary(await take(w, 4)).map((e) => e[2])).toEqual(['7', '8', '9', '10']);
        expect(await caught(() => s.watch('Node', { resourceVersion: '11' }))).toBeInstanceOf(TimeoutError);
        expect(await caught(() => s.watch('Node', { resourceVersion: 'abc' }))).toBeInstanceOf(RequestError);
      });

      it('filters by namespace', async () => {
        const s = await make();
        const w = s.watch('VirtualMachine', { namespace: 'team', resourceVersion: '0' })[Symbol.asyncIterator]();
        await s.create('VirtualMachine', vm('x', { namespace: 'other' }));
        await s.create('VirtualMachine', vm('y', { namespace: 'team' }));
        await s.create('VirtualMachine', vm('z', { namespace: 'teamster' }));
        await s.create('VirtualMachine', vm('w', { namespace: 'team' }));
        expect(summary(await take(w, 2))).toEqual([
          ['ADDED', 'y', '2'],
          ['ADDED', 'w', '4'],
        ]);
      });

      it('turns label changes into ADDED/DELETED for a selective watcher', async () => {
        const s = await make();
        await s.create('VirtualMachine', vm('a', { labels: { app: 'web' } }));
        const w = s.watch('VirtualMachine', { labelSelector: 'app=web' })[Symbol.asyncIterator]();
        expect(summary(await take(w, 1))).toEqual([['ADDED', 'a', '1']]);
        await s.patch('VirtualMachine', 'default', 'a', 'merge', { metadata: { labels: { app: 'db' } } });
        await s.patch('VirtualMachine', 'default', 'a', 'merge', { metadata: { annotations: { n: '1' } } });
        await s.patch('VirtualMachine', 'default', 'a', 'merge', { metadata: { labels: { app: 'web' } } });
        await s.patch('VirtualMachine', 'default', 'a', 'merge', { metadata: { annotations: { n: '2' } } });
        await s.create('VirtualMachine', vm('b', { labels: { app: 'db' } }));
        await s.delete('VirtualMachine', 'default', 'a');
        const events = await take(w, 4);
        expect(summary(events)).toEqual([
          ['DELETED', 'a', '2'],
          ['ADDED', 'a', '4'],
          ['MODIFIED', 'a', '5'],
          ['DELETED', 'a', '7'],
        ]);
        // Leaving the selection is reported with the last state the watcher could see.
        expect(events[0]!.object.metadata.labels).toEqual({ app: 'web' });
      });

      it('turns status changes into ADDED/DELETED for a field-selective watcher', async () => {
        const s = await make();
        const a = await s.create('VirtualMachineInstance', vmi('a'));
        const w = s
          .watch('VirtualMachineInstance', { fieldSelector: 'status.nodeName=n1', resourceVersion: '1' })
          [Symbol.asyncIterator]();
        const r1 = await s.updateStatus('VirtualMachineInstance', {
          ...a,
          status: { phase: 'Scheduled', nodeName: 'n1' },
        });
        const r2 = await s.updateStatus('VirtualMachineInstance', {
          ...r1,
          status: { phase: 'Running', nodeName: 'n1' },
        });
        await s.updateStatus('VirtualMachineInstance', { ...r2, status: { phase: 'Running', nodeName: 'n2' } });
        expect(summary(await take(w, 3))).toEqual([
          ['ADDED', 'a', '2'],
          ['MODIFIED', 'a', '3'],
          ['DELETED', 'a', '4'],
        ]);
      });

      it('replays filtered history with the same transitions', async () => {
        const s = await make();
        await s.create('VirtualMachine', vm('a', { labels: { app: 'web' } }));
        await s.patch('VirtualMachine', 'default', 'a', 'merge', { metadata: { labels: { app: 'db' } } });
        await s.patch('VirtualMachine', 'default', 'a', 'merge', { metadata: { labels: { app: 'web' } } });
        const w = s.watch('VirtualMachine', { labelSelector: 'app=web', resourceVersion: '1' })[Symbol.asyncIterator]();
        expect(summary(await take(w, 2))).toEqual([
          ['DELETED', 'a', '2'],
          ['ADDED', 'a', '3'],
        ]);
      });

      it('sends BOOKMARKs after the initial events and every interval of the injected clock', async () => {
        const s = await make({ bookmarkIntervalMs: 5_000 });
        await s.create('Node', node('n1'));
        const w = s.watch('Node', { allowBookmarks: true })[Symbol.asyncIterator]();
        const [added, first] = await take(w, 2);
        expect(added!.type).toBe('ADDED');
        expect(first).toEqual({
          type: 'BOOKMARK',
          object: { apiVersion: 'v1', kind: 'Node', metadata: { resourceVersion: '1' } },
        });
        await s.create('Node', node('n2'));
        await clock.advance(4_999);
        await s.create('Node', node('n3'));
        await clock.advance(1);
        const [e2, e3, bm] = await take(w, 3);
        expect([e2!.type, e3!.type]).toEqual(['ADDED', 'ADDED']);
        expect(bm).toEqual({
          type: 'BOOKMARK',
          object: { apiVersion: 'v1', kind: 'Node', metadata: { resourceVersion: '3' } },
        });
        await clock.advance(5_000);
        expect((await take(w, 1))[0]!.type).toBe('BOOKMARK');
        // Without allowBookmarks there are none.
        const plain = s.watch('Node', { resourceVersion: '3' })[Symbol.asyncIterator]();
        await clock.advance(20_000);
        await s.create('Node', node('n4'));
        expect(summary(await take(plain, 1))).toEqual([['ADDED', 'n4', '4']]);
      });

      it('ends when the signal aborts, including a pending next()', async () => {
        const s = await make({ bookmarkIntervalMs: 1_000 });
        const ac = new AbortController();
        const w = s
          .watch('VirtualMachine', { signal: ac.signal, allowBookmarks: true, resourceVersion: '0' })
          [Symbol.asyncIterator]();
        await take(w, 1);
        const pending = w.next();
        ac.abort();
        expect(await pending).toEqual({ value: undefined, done: true });
        expect(await w.next()).toEqual({ value: undefined, done: true });
        await s.create('VirtualMachine', vm('after'));
        expect(await w.next()).toEqual({ value: undefined, done: true });
        // Aborted before the watch starts: ends at once.
        const pre = new AbortController();
        pre.abort();
        const none = s.watch('VirtualMachine', { signal: pre.signal })[Symbol.asyncIterator]();
        expect(await none.next()).toEqual({ value: undefined, done: true });
        // Bookmark timers stop with the watch.
        await clock.advance(10_000);
        expect(clock.pendingTimers).toBe(0);
      });

      it('answers concurrent next() calls in order', async () => {
        const s = await make();
        const w = s.watch('Node', { resourceVersion: '0' })[Symbol.asyncIterator]();
        const pending = [w.next(), w.next(), w.next()];
        await s.create('Node', node('a'));
        await s.create('Node', node('b'));
        await s.delete('Node', undefined, 'a');
        const got = await Promise.all(pending);
        expect(summary(got.map((r) => r.value!))).toEqual([
          ['ADDED', 'a', '1'],
          ['ADDED', 'b', '2'],
          ['DELETED', 'a', '3'],
        ]);
      });

      it('ends when the consumer breaks out of for-await', async () => {
        const s = await make();
        await s.create('VirtualMachine', vm('a'));
        await s.create('VirtualMachine', vm('b'));
        const seen: string[] = [];
        for await (const e of s.watch('VirtualMachine')) {
          seen.push(e.object.metadata.name!);
          break;
        }
        expect(seen).toEqual(['a']);
      });

      it('cuts off a watcher that falls too far behind with GoneError, without blocking writers', async () => {
        const s = await make({ watchBufferLimit: 5 });
        await s.create('Node', node('pre'));
        const slow = s.watch('Node')[Symbol.asyncIterator]();
        const fast = s.watch('Node', { resourceVersion: '1' })[Symbol.asyncIterator]();
        for (let i = 0; i < 8; i++) {
          await s.create('Node', node(`n${i}`));
          await take(fast, 1);
        }
        expect(s.currentResourceVersion()).toBe('9');
        // The initial ADDED does not count against the limit; five live events were queued before the cut-off.
        const got = await take(slow, 6);
        expect(got.map((e) => e.object.metadata.name)).toEqual(['pre', 'n0', 'n1', 'n2', 'n3', 'n4']);
        const e = await caught(() => slow.next());
        expect(e).toBeInstanceOf(GoneError);
        expect(e.message).toContain('fell more than 5 events behind');
        expect(await slow.next()).toEqual({ value: undefined, done: true });
        // The fast one is unaffected and can resume the slow one's stream.
        const resumed = s.watch('Node', { resourceVersion: '6' })[Symbol.asyncIterator]();
        expect(summary(await take(resumed, 3)).map((x) => x[1])).toEqual(['n5', 'n6', 'n7']);
      });

      it('hands every watcher its own copy of each event', async () => {
        const s = await make();
        const w1 = s.watch('VirtualMachine', { resourceVersion: '0' })[Symbol.asyncIterator]();
        const w2 = s.watch('VirtualMachine', { resourceVersion: '0' })[Symbol.asyncIterator]();
        await s.create('VirtualMachine', vm('a', { labels: { k: 'v' } }));
        const [e1] = await take(w1, 1);
        e1!.object.metadata.labels!.k = 'changed';
        const [e2] = await take(w2, 1);
        expect(e2!.object.metadata.labels).toEqual({ k: 'v' });
        expect((await s.get('VirtualMachine', 'default', 'a')).metadata.labels).toEqual({ k: 'v' });
      });

      it('delivers the same ordered stream to many watchers', async () => {
        const s = await make();
        const watchers = Array.from({ length: 10 }, () =>
          s.watch('VirtualMachine', { resourceVersion: '0' })[Symbol.asyncIterator](),
        );
        await s.create('VirtualMachine', vm('a'));
        await s.create('VirtualMachine', vm('b'));
        await s.delete('VirtualMachine', 'default', 'a');
        for (const w of watchers) {
          expect(summary(await take(w, 3))).toEqual([
            ['ADDED', 'a', '1'],
            ['ADDED', 'b', '2'],
            ['DELETED', 'a', '3'],
          ]);
        }
      });

      it('reports a deletion completed by an update with the object’s final state', async () => {
        const s = await make();
        await s.create('VirtualMachine', vm('a', { finalizers: ['x.io/f'], labels: { k: 'v' } }));
        const w = s.watch('VirtualMachine', { labelSelector: 'k=v', resourceVersion: '1' })[Symbol.asyncIterator]();
        await s.delete('VirtualMachine', 'default', 'a');
        await s.patch('VirtualMachine', 'default', 'a', 'merge', {
          metadata: { finalizers: null, labels: { k: 'other' } },
        });
        const [marked, deleted] = await take(w, 2);
        expect(marked!.type).toBe('MODIFIED');
        expect(deleted!.type).toBe('DELETED');
        expect(deleted!.object.metadata.resourceVersion).toBe('3');
        expect(deleted!.object.metadata.deletionTimestamp).toBeDefined();
      });

      it('ends every watch on close()', async () => {
        const s = await make();
        const w = s.watch('VirtualMachine')[Symbol.asyncIterator]();
        const pending = w.next();
        await s.close();
        expect(await pending).toEqual({ value: undefined, done: true });
        expect((await caught(() => s.get('VirtualMachine', 'default', 'x'))).message).toContain('closed');
        await s.close();
      });

      it('rejects invalid selectors synchronously with BadRequest', async () => {
        const s = await make();
        const e = await caught(() => s.watch('VirtualMachine', { labelSelector: 'a in (' }));
        expect(e).toBeInstanceOf(RequestError);
        expect(e.code).toBe('BadRequest');
        expect(await caught(() => s.watch('VirtualMachine', { fieldSelector: 'nope=1' }))).toBeInstanceOf(RequestError);
      });
    });

    describe('resourceVersion', () => {
      it('is one increasing counter across kinds, never reused after deletes', async () => {
        const s = await make();
        const seen: number[] = [];
        const a = await s.create('VirtualMachine', vm('a'));
        seen.push(Number(a.metadata.resourceVersion));
        const n = await s.create('Node', node('n'));
        seen.push(Number(n.metadata.resourceVersion));
        const d = await s.delete('VirtualMachine', 'default', 'a');
        seen.push(Number(d.metadata.resourceVersion));
        const b = await s.create('VirtualMachine', vm('a'));
        seen.push(Number(b.metadata.resourceVersion));
        expect(seen).toEqual([1, 2, 3, 4]);
        expect(s.currentResourceVersion()).toBe('4');
        // Failed writes do not consume versions.
        await caught(() => s.create('VirtualMachine', vm('a')));
        expect(s.currentResourceVersion()).toBe('4');
      });
    });
  });
}
