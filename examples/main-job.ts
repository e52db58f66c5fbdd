/**
 * The main job: bring up a simulated 3-node cluster in-process, create a small fleet, live-migrate a VM,
 * drain a node, and print what happened. Runs in virtual time: minutes of cluster time take a second.
 *
 *   ./dev demo        (or: node --conditions=@virtkit/source examples/main-job.ts)
 */
import { readFileSync } from 'node:fs';
import { connect } from '@virtkit/sdk';
import { database, webServer } from './fleet.ts';

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const wall0 = performance.now();
  await using vk = await connect({ mode: 'embedded', nodes: 3, seed: 1 });
  const t0 = vk.transport.clock.now();
  const vt = () => `[+${((vk.transport.clock.now() - t0) / 1000).toFixed(1)}s]`;

  const nodes = await vk.nodes.list();
  log(`${vt()} cluster up: ${nodes.map((n) => n.metadata.name).join(', ')} (simulated, seed 1)`);

  const fleet = [webServer(1), webServer(2), webServer(3), webServer(4), database()];
  for (const m of fleet) await vk.vms.create(m);
  // KubeVirt's own example manifest, as-is: stored with running=false, then started.
  const cirros = await vk.vms.create(readFileSync(new URL('./manifests/vm-cirros.yaml', import.meta.url), 'utf8'));
  await vk.vms.start(cirros.metadata.name ?? 'vm-cirros');
  log(`${vt()} created ${fleet.length + 1} VMs`);

  const names = [...fleet.map((m) => m.metadata.name ?? ''), 'vm-cirros'];
  await Promise.all(names.map((n) => vk.vms.waitFor(n, 'Running')));
  log(`${vt()} all ${names.length} VMs Running:`);
  for (const vmi of await vk.vmis.list()) log(`    ${vmi.metadata.name?.padEnd(10)} on ${vmi.status?.nodeName}`);

  const ac = new AbortController();
  for await (const line of vk.vms.console('web-1', { signal: ac.signal })) {
    if (line.includes('ready')) {
      log(`${vt()} web-1 console: ${line}`);
      ac.abort();
    }
  }

  const before = (await vk.vms.instance('db'))?.status?.nodeName;
  const migration = await vk.vms.migrate('db');
  const done = await vk.migrations.waitFor(migration.metadata.name ?? '', (m) =>
    ['Succeeded', 'Failed'].includes(m?.status?.phase ?? ''),
  );
  const ms = done.status?.migrationState;
  log(
    `${vt()} live-migrated db ${before} -> ${ms?.targetNode}: ${done.status?.phase}, downtime ${ms?.downtimeMs ?? '?'} ms`,
  );

  const victim = (await vk.vmis.list()).find((v) => v.metadata.name === 'web-1')?.status?.nodeName ?? 'node-1';
  log(`${vt()} draining ${victim}...`);
  const drained = await vk.nodes.drain(victim, {
    onProgress: (p) =>
      log(
        `    ${p.remaining} left: ${p.migrated} live-migrated, ${p.evicted} restarted elsewhere, ${p.migrating} migrating`,
      ),
  });
  log(`${vt()} ${victim} drained: ${drained.migrated + drained.evicted} VMs moved, node cordoned`);

  log(`${vt()} final placement:`);
  for (const vmi of await vk.vmis.list()) {
    const vmObj = await vk.vms.get(vmi.metadata.name ?? '');
    log(`    ${vmi.metadata.name?.padEnd(10)} ${vmObj.status?.printableStatus?.padEnd(8)} on ${vmi.status?.nodeName}`);
  }
  const wall = ((performance.now() - wall0) / 1000).toFixed(2);
  log(`done: ${((vk.transport.clock.now() - t0) / 1000).toFixed(1)} s of cluster time in ${wall} s wall time`);
}

if (import.meta.main) await main();
