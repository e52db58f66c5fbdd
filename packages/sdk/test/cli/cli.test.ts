import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimEnv } from '@virtkit/sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer } from '../../src/api/index.ts';
import { EXIT, runCli } from '../../src/cli/commands.ts';

let env: SimEnv;
let server: Awaited<ReturnType<typeof createApiServer>>;
let kubeconfig: string;
const dir = mkdtempSync(join(tmpdir(), 'virtkit-cli-'));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const ac = new AbortController();
  const code = await runCli([...argv, '--kubeconfig', kubeconfig], {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: {},
    signal: ac.signal,
  });
  return { code, out, err };
}

beforeAll(async () => {
  env = await SimEnv.create({ nodes: 3, seed: 11 });
  await env.waitFor(async () => (await env.store.list('Node')).items.length === 3, { what: 'nodes' });
  if (!env.engine) throw new Error('no engine');
  server = await createApiServer({ store: env.store, actions: env.engine.actions, clock: env.clock, port: 0 });
  kubeconfig = join(dir, 'kubeconfig');
  await server.kubeconfig(kubeconfig);
});

afterAll(async () => {
  await server?.close();
  await env?.[Symbol.asyncDispose]();
});

const manifest = `apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: cli-vm
  labels: { app: cli }
spec:
  runStrategy: Halted
  template:
    spec:
      domain:
        devices: { disks: [{ name: root, disk: { bus: virtio } }] }
        resources: { requests: { memory: 128Mi } }
      volumes: [{ name: root, containerDisk: { image: cirros } }]
`;

describe('virtkit CLI', () => {
  it('prints help for every command and exits 0; unknown commands exit 2', async () => {
    for (const c of ['apply', 'get', 'describe', 'start', 'stop', 'migrate', 'console', 'delete', 'nodes', 'up']) {
      const r = await cli(c, '--help');
      expect(r.code).toBe(EXIT.ok);
      expect(r.out).toContain(`virtkit ${c}`);
    }
    const r = await cli('frobnicate');
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toContain('unknown command "frobnicate"');
  });

  it('applies a manifest, then reports it configured on the second apply', async () => {
    const file = join(dir, 'vm.yaml');
    writeFileSync(file, manifest);
    expect((await cli('apply', '-f', file)).out).toContain('virtualmachine.kubevirt.io/cli-vm created');
    expect((await cli('apply', '-f', file)).out).toContain('virtualmachine.kubevirt.io/cli-vm configured');
  });

  it('gets as table, yaml, json and name', async () => {
    const table = await cli('get', 'vms');
    expect(table.out.split('\n')[0]).toMatch(/^NAME\s+AGE\s+STATUS\s+READY$/);
    expect(table.out).toMatch(/cli-vm\s+\S+\s+Stopped\s+false/);
    expect(JSON.parse((await cli('get', 'vm', 'cli-vm', '-o', 'json')).out).metadata.name).toBe('cli-vm');
    expect((await cli('get', 'vm', 'cli-vm', '-o', 'yaml')).out).toContain('runStrategy: Halted');
    expect((await cli('get', 'vms', '-o', 'name')).out.trim()).toBe('virtualmachine/cli-vm');
    expect((await cli('get', 'nodes')).out).toMatch(/node-1\s+Ready/);
  });

  it('starts with --wait, migrates, stops, and describes with events', async () => {
    const s = await cli('start', 'cli-vm', '--wait', '--timeout', '600');
    expect(s.code).toBe(EXIT.ok);
    expect(s.out).toContain('VM cli-vm is Running');
    const m = await cli('migrate', 'cli-vm', '--wait', '--timeout', '600');
    expect(m.code).toBe(EXIT.ok);
    expect(m.out).toMatch(/migration Succeeded: node-\d -> node-\d/);
    const d = await cli('describe', 'vm', 'cli-vm');
    expect(d.out).toContain('printableStatus: Running');
    expect(d.out).toContain('Events:');
    const stop = await cli('stop', 'cli-vm', '--wait', '--timeout', '600');
    expect(stop.out).toContain('VM cli-vm is Stopped');
  });

  it('exits with stable codes: 3 not found, 4 illegal transition, 5 invalid', async () => {
    const nf = await cli('get', 'vm', 'ghost');
    expect(nf.code).toBe(EXIT.notFound);
    expect(nf.err).toContain('not found');
    const illegal = await cli('pause', 'cli-vm');
    expect(illegal.code).toBe(EXIT.conflict);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, manifest.replace('name: cli-vm', 'name: Not_Valid').replace('128Mi', 'lots'));
    const inv = await cli('apply', '-f', bad);
    expect(inv.code).toBe(EXIT.invalid);
    expect(inv.err).toContain('metadata.name');
  });

  it('deletes with --wait', async () => {
    const r = await cli('delete', 'vm', 'cli-vm', '--wait');
    expect(r.code).toBe(EXIT.ok);
    expect((await cli('get', 'vm', 'cli-vm')).code).toBe(EXIT.notFound);
  });
});
