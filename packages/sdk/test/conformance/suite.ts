/**
 * The SDK conformance suite: one set of behaviours every mode must show identically. Run by
 * embedded.test.ts (engine in-process) and kubernetes.test.ts (through the HTTP API with client-node).
 */
import {
  AlreadyExistsError,
  ConflictError,
  IllegalTransitionError,
  InvalidSpecError,
  NotFoundError,
  replicaSet,
  TimeoutError,
  type VirtkitClient,
  vm,
} from '@virtkit/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

export interface ConformanceTarget {
  client: VirtkitClient;
  close(): Promise<void>;
}

const small = (name: string) => vm(name).label('suite', 'conformance').memory('128Mi').cores(1).containerDisk('cirros');

export function describeConformance(mode: string, open: () => Promise<ConformanceTarget>): void {
  describe(`SDK conformance: ${mode}`, () => {
    let target: ConformanceTarget;
    let vk: VirtkitClient;
    beforeAll(async () => {
      target = await open();
      vk = target.client;
    });
    afterAll(async () => {
      await target?.close();
    });

    it('creates a VM from the builder and it runs', async () => {
      const created = await vk.vms.create(small('alpha').cloudInit({ hostname: 'alpha-host' }).build());
      expect(created.metadata.uid).toBeTruthy();
      expect(created.metadata.namespace).toBe('default');
      const running = await vk.vms.waitFor('alpha', 'Running', { timeoutMs: 600_000 });
      expect(running.status?.ready).toBe(true);
      const vmi = await vk.vmis.get('alpha');
      expect(vmi.status?.phase).toBe('Running');
      expect(vmi.status?.nodeName).toMatch(/^node-/);
    });

    it('lists with label selectors and gets by name', async () => {
      await vk.vms.create(small('beta').label('tier', 'db').runStrategy('Halted').build());
      const dbs = await vk.vms.list({ labelSelector: 'tier=db' });
      expect(dbs.map((v) => v.metadata.name)).toEqual(['beta']);
      const all = await vk.vms.list({ labelSelector: 'suite=conformance' });
      expect(all.map((v) => v.metadata.name).sort()).toEqual(['alpha', 'beta']);
      expect((await vk.vms.get('beta')).spec.runStrategy).toBe('Halted');
    });

    it('accepts YAML text, and rejects an invalid manifest with every cause', async () => {
      const yaml = `apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: { name: from-yaml }
spec:
  runStrategy: Halted
  template:
    spec:
      domain:
        devices: {}
        resources: { requests: { memory: 64Mi } }
`;
      expect((await vk.vms.create(yaml)).metadata.name).toBe('from-yaml');
      const bad = small('Bad_Name').memory('lots').build();
      const err = await vk.vms.create(bad).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidSpecError);
      const fields = (err as InvalidSpecError).causes.map((c) => c.field);
      expect(fields).toContain('metadata.name');
      expect(fields.some((f) => f.includes('memory'))).toBe(true);
      expect(await vk.vms.tryGet('Bad_Name')).toBeUndefined();
    });

    it('answers AlreadyExists, NotFound and Conflict with typed errors', async () => {
      await expect(vk.vms.create(small('alpha').build())).rejects.toBeInstanceOf(AlreadyExistsError);
      await expect(vk.vms.get('nope')).rejects.toBeInstanceOf(NotFoundError);
      const beta = await vk.vms.get('beta');
      const stale = structuredClone(beta);
      await vk.transport.update('VirtualMachine', { ...beta, metadata: { ...beta.metadata, labels: { x: '1' } } });
      await expect(vk.transport.update('VirtualMachine', stale)).rejects.toBeInstanceOf(ConflictError);
    });

    it('apply creates, then updates in place', async () => {
      const first = await vk.vms.apply(small('gamma').runStrategy('Halted').build());
      const second = await vk.vms.apply(small('gamma').runStrategy('Halted').label('rev', '2').build());
      expect(second.metadata.uid).toBe(first.metadata.uid);
      expect(second.metadata.labels?.rev).toBe('2');
    });

    it('stops, starts, pauses and unpauses', async () => {
      await vk.vms.stop('alpha', { wait: { timeoutMs: 600_000 } });
      expect((await vk.vms.get('alpha')).status?.printableStatus).toBe('Stopped');
      expect(await vk.vmis.tryGet('alpha')).toBeUndefined();
      await vk.vms.start('alpha', { wait: { timeoutMs: 600_000 } });
      await vk.vms.pause('alpha', { wait: { timeoutMs: 600_000 } });
      expect((await vk.vms.get('alpha')).status?.printableStatus).toBe('Paused');
      await vk.vms.unpause('alpha', { wait: { timeoutMs: 600_000 } });
      expect((await vk.vms.get('alpha')).status?.printableStatus).toBe('Running');
    });

    it('refuses illegal transitions before changing anything', async () => {
      const err = await vk.vms.pause('beta').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IllegalTransitionError);
      expect((err as IllegalTransitionError).code).toBe('IllegalTransition');
      await expect(vk.vms.migrate('beta')).rejects.toBeInstanceOf(IllegalTransitionError);
      expect((await vk.vms.get('beta')).status?.printableStatus).toBe('Stopped');
    });

    it('streams the serial console with the cloud-init hostname', async () => {
      const ac = new AbortController();
      let ready = '';
      for await (const line of vk.vms.console('alpha', { signal: ac.signal })) {
        if (line.includes('ready')) {
          ready = line;
          ac.abort();
        }
      }
      expect(ready).toContain('hostname=alpha-host');
    });

    it('live-migrates to a chosen node', async () => {
      const from = (await vk.vmis.get('alpha')).status?.nodeName;
      const to = ['node-1', 'node-2', 'node-3'].find((n) => n !== from) ?? 'node-1';
      const m = await vk.vms.migrate('alpha', { targetNode: to });
      const done = await vk.migrations.waitFor(m.metadata.name ?? '', 'Succeeded', { timeoutMs: 600_000 });
      expect(done.status?.migrationState?.sourceNode).toBe(from);
      expect(done.status?.migrationState?.targetNode).toBe(to);
      expect((await vk.vmis.get('alpha')).status?.nodeName).toBe(to);
    });

    it('watches typed events until aborted', async () => {
      const ac = new AbortController();
      const seen: string[] = [];
      const watching = (async () => {
        for await (const ev of vk.vms.watch({ labelSelector: 'watch=me', signal: ac.signal })) {
          seen.push(`${ev.type} ${ev.object.metadata.name}`);
          if (ev.type === 'DELETED') ac.abort();
        }
      })();
      await vk.vms.create(small('watched').label('watch', 'me').runStrategy('Halted').build());
      await vk.vms.delete('watched');
      await watching;
      expect(seen[0]).toBe('ADDED watched');
      expect(seen.at(-1)).toBe('DELETED watched');
    });

    it('times out waitFor with a TimeoutError naming the last status', async () => {
      const err = await vk.vms.waitFor('beta', 'Running', { timeoutMs: 50 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TimeoutError);
      expect((err as Error).message).toContain('Stopped');
    });

    it('scales a replica set up and down', async () => {
      await vk.replicaSets.create(replicaSet('pool', 3, small('pool')));
      await vk.replicaSets.waitFor('pool', (rs) => rs?.status?.readyReplicas === 3, { timeoutMs: 600_000 });
      await vk.replicaSets.scale('pool', 1, { wait: { timeoutMs: 600_000 } });
      const vmis = await vk.vmis.list({ labelSelector: 'virtkit.io/replicaset=pool' });
      expect(vmis.filter((v) => !v.metadata.deletionTimestamp)).toHaveLength(1);
    });

    it('cordons and drains a node', async () => {
      const node = (await vk.vmis.get('alpha')).status?.nodeName ?? '';
      await vk.vms.create(
        small('delta').evictionStrategy('LiveMigrate').nodeSelector({ 'kubernetes.io/hostname': node }).build(),
      );
      await vk.vms.waitFor('delta', 'Running', { timeoutMs: 600_000 });
      // delta is pinned to the node: draining must stop it (it cannot go anywhere else), alpha migrates.
      await vk.vms.delete('delta', { wait: true, timeoutMs: 600_000 });
      const progress = await vk.nodes.drain(node, { timeoutMs: 600_000 });
      expect(progress.remaining).toBe(0);
      expect((await vk.nodes.get(node)).spec?.unschedulable).toBe(true);
      // alpha has no evictionStrategy: it was stopped and its VM (runStrategy Always) restarts elsewhere.
      const moved = await vk.vmis.waitFor(
        'alpha',
        (o) => o?.status?.phase === 'Running' && o.status.nodeName !== node,
        { timeoutMs: 600_000 },
      );
      expect(moved.status?.nodeName).not.toBe(node);
      await vk.nodes.uncordon(node);
      expect((await vk.nodes.get(node)).spec?.unschedulable).toBeFalsy();
    });

    it('deletes a running VM and its instance', async () => {
      await vk.vms.delete('alpha', { wait: true, timeoutMs: 600_000 });
      expect(await vk.vms.tryGet('alpha')).toBeUndefined();
      await vk.vmis.waitFor('alpha', (o) => o === undefined, { timeoutMs: 600_000 });
    });

    it('close() is idempotent', async () => {
      const t = await open();
      await t.client.close();
      await t.client.close();
      await t.close();
    });
  });
}
