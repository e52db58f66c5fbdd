/**
 * An integration test of "your own code" (TenantProvisioner) against a simulated cluster, written with
 * SimEnv and vitest: real engine, simulated nodes, virtual time, injected faults — no root, no libvirt.
 */

import { clientForSimEnv } from '@virtkit/sdk';
import { SimEnv } from '@virtkit/sim';
import { expect, it } from 'vitest';
import { TenantProvisioner } from './provisioner.ts';

it('keeps every tenant served when the node under one of them crashes', async () => {
  await using env = await SimEnv.create({ nodes: 3, seed: 1 });
  const vk = clientForSimEnv(env);
  const app = new TenantProvisioner(vk);
  const first = await app.provision('acme');
  await app.provision('globex');

  env.faults.crashNode(first);
  // The engine notices the missed heartbeats, fails the VMI and reschedules it (runStrategy Always).
  await vk.vmis.waitFor('tenant-acme', (v) => v?.status?.phase === 'Running' && v.status.nodeName !== first, {
    timeoutMs: 15 * 60_000,
  });
  const placement = await app.placement();
  expect(Object.keys(placement).sort()).toEqual(['acme', 'globex']);
  expect(placement.acme).not.toBe(first);
});
