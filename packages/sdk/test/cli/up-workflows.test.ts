/**
 * Node workflows against `virtkit up` with the engine and simulated nodes, driven by the real kubectl:
 * node versions, `describe node` with the VM's virt-launcher pod, and `kubectl drain` live-migrating a
 * LiveMigrate VM to the other node through pod eviction, then an orphaned VMI adopted by its VM again.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startUp, type UpProcess } from './up-process.ts';

let up: UpProcess;
let dir = '';
const kubectl = (...args: string[]) => up.kubectl(...args);

beforeAll(async () => {
  up = await startUp({ prefix: 'virtkit-up-nodes' });
  dir = up.dir;
}, 60_000);

afterAll(() => up?.kill());

it('shows node versions, the VM in describe node, and drains it by live migration', async () => {
  const nodes = await kubectl('get', 'nodes', '-o', 'wide');
  expect(nodes).toMatch(
    /node-1\s+Ready\s+<none>\s+\S+\s+virtkit-sim-\S+\s+<none>\s+<none>\s+<unknown>\s+<unknown>\s+sim:\/\//,
  );

  writeFileSync(
    join(dir, 'vm.yaml'),
    `apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: { name: mover }
spec:
  runStrategy: Always
  template:
    spec:
      evictionStrategy: LiveMigrate
      domain:
        devices: { disks: [{ name: root, disk: { bus: virtio } }] }
        resources: { requests: { memory: 128Mi } }
      volumes: [{ name: root, containerDisk: { image: cirros } }]
`,
  );
  await kubectl('apply', '-f', join(dir, 'vm.yaml'));
  await kubectl('wait', '--for=condition=Ready', 'vmi/mover', '--timeout=60s');
  const from = await kubectl('get', 'vmi', 'mover', '-o', 'jsonpath={.status.nodeName}');
  const described = await kubectl('describe', 'node', from);
  expect(described).toMatch(/Non-terminated Pods:\s+\(1 in total\)/);
  expect(described).toMatch(/default\s+virt-launcher-mover-\w{5}\s+1 \(25%\)/);

  const drained = await kubectl('drain', from, '--timeout=90s');
  // The first eviction is refused while the VM migrates (kubectl retries); the retry finds the pod gone.
  expect(drained).toMatch(
    /^node\/node-\d cordoned\nevicting pod default\/virt-launcher-mover-\w{5}\n(.*\n)*node\/node-\d drained\n$/,
  );
  const to = await kubectl('get', 'vmi', 'mover', '-o', 'jsonpath={.status.nodeName} {.status.phase}');
  expect(to).toMatch(/^node-\d Running$/);
  expect(to.split(' ')[0]).not.toBe(from);
  const migrations = await kubectl('get', 'vmim', '-o', 'jsonpath={.items[*].status.phase}');
  expect(migrations).toBe('Succeeded');
  expect(await kubectl('uncordon', from)).toContain('uncordoned');

  // --cascade=orphan keeps the VMI running; the VM applied again adopts it instead of reporting VMIExists.
  const uid = await kubectl('get', 'vmi', 'mover', '-o', 'jsonpath={.metadata.uid}');
  await kubectl('delete', 'vm', 'mover', '--cascade=orphan');
  expect(await kubectl('get', 'vmi', 'mover', '-o', 'jsonpath={.status.phase} {.metadata.ownerReferences}')).toBe(
    'Running ',
  );
  await kubectl('apply', '-f', join(dir, 'vm.yaml'));
  await kubectl('wait', '--for=jsonpath={.status.printableStatus}=Running', 'vm/mover', '--timeout=60s');
  expect(
    await kubectl('get', 'vmi', 'mover', '-o', 'jsonpath={.metadata.uid} {.metadata.ownerReferences[0].kind}'),
  ).toBe(`${uid} VirtualMachine`);
}, 180_000);
