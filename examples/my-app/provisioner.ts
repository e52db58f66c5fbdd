/**
 * "Your own code": a tiny provisioning service a platform team might write on top of the SDK. It gives
 * each tenant a VM, replaces it when it fails, and reports which node serves whom.
 */
import type { VirtkitClient } from '@virtkit/sdk';
import { vm } from '@virtkit/sdk';

export class TenantProvisioner {
  readonly #vk: VirtkitClient;
  constructor(vk: VirtkitClient) {
    this.#vk = vk;
  }

  /** Creates (idempotently) the tenant's VM and waits until it is Running. */
  async provision(tenant: string): Promise<string> {
    const name = `tenant-${tenant}`;
    await this.#vk.vms.apply(
      vm(name)
        .label('tenant', tenant)
        .memory('1Gi')
        .cores(1)
        .containerDisk('quay.io/containerdisks/fedora:40')
        .cloudInit({ hostname: name })
        .evictionStrategy('LiveMigrate')
        .build(),
    );
    const vmi = await this.#vk.vmis.waitFor(name, 'Running', { timeoutMs: 10 * 60_000 });
    return vmi.status?.nodeName ?? '';
  }

  async placement(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const v of await this.#vk.vmis.list({ labelSelector: 'tenant' })) {
      const t = v.metadata.labels?.tenant;
      if (t && v.status?.phase === 'Running') out[t] = v.status.nodeName ?? '';
    }
    return out;
  }
}
