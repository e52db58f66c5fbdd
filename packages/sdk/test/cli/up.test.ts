/**
 * `virtkit up` as users run it: a real process serving the API, driven by the real kubectl binary with
 * the kubeconfig it wrote, then stopped with SIGINT.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startUp, type UpProcess } from './up-process.ts';

let up: UpProcess;
let dir = '';
const kubectl = (...args: string[]) => up.kubectl(...args);

beforeAll(async () => {
  up = await startUp({ prefix: 'virtkit-up' });
  dir = up.dir;
}, 60_000);

afterAll(() => up?.kill());

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
  const exited = new Promise<number | null>((r) => up.proc.on('exit', (code) => r(code)));
  up.proc.kill('SIGINT');
  expect(await exited).toBe(0);
  expect(up.output()).toContain('shutting down');
}, 120_000);
