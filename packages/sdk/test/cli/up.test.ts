/**
 * `virtkit up` as users run it: a real process serving the API, driven by the real kubectl binary with
 * the kubeconfig it wrote, then stopped with SIGINT.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'virtkit-up-'));
const kubeconfig = join(dir, 'kubeconfig');
let proc: ChildProcess;
let output = '';

beforeAll(async () => {
  const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;
  proc = spawn(
    process.execPath,
    ['--conditions=@virtkit/source', main, 'up', '--nodes', '2', '--kubeconfig', kubeconfig, '--speed', '20'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      output += b.toString();
      if (output.includes('kubeconfig written')) resolve();
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`virtkit up exited ${code}: ${output}`)));
  });
}, 60_000);

afterAll(async () => {
  if (proc && proc.exitCode === null) proc.kill('SIGKILL');
});

const kubectl = async (...args: string[]) => (await run('kubectl', ['--kubeconfig', kubeconfig, ...args])).stdout;

it('serves kubectl: apply, get with columns, wait for Running, delete; exits cleanly on SIGINT', async () => {
  writeFileSync(
    join(dir, 'vm.yaml'),
    `apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: { name: up-vm }
spec:
  runStrategy: Always
  template:
    spec:
      domain:
        devices: { disks: [{ name: root, disk: { bus: virtio } }] }
        resources: { requests: { memory: 128Mi } }
      volumes: [{ name: root, containerDisk: { image: cirros } }]
`,
  );
  expect(await kubectl('apply', '-f', join(dir, 'vm.yaml'))).toContain('virtualmachine.kubevirt.io/up-vm created');
  await kubectl('wait', '--for=jsonpath={.status.printableStatus}=Running', 'vm/up-vm', '--timeout=60s');
  const table = await kubectl('get', 'vms,vmis,nodes');
  expect(table).toMatch(/up-vm\s+\S+\s+Running\s+True/);
  expect(table).toMatch(/node-1\s+Ready/);
  expect(await kubectl('delete', 'vm', 'up-vm')).toContain('deleted');
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  proc.kill('SIGINT');
  expect(await exited).toBe(0);
  expect(output).toContain('shutting down');
}, 120_000);
