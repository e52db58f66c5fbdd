import { afterAll, describe, expect, it } from 'vitest';
import { LibvirtNodeDriver } from '../../src/index.ts';
import { type LibvirtDaemon, startLibvirtDaemon } from '../../src/testing/index.ts';
import { RUN, requireLibvirt, tempDataDir } from '../helpers.ts';

describe('node unreachable', () => {
  let daemon: LibvirtDaemon | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    await daemon?.stop();
    for (const c of cleanups) await c();
  });

  it('ping and info fail with NodeUnreachable once the daemon is gone; close() still works', async () => {
    requireLibvirt();
    daemon = await startLibvirtDaemon({ name: 'gone', keepaliveIntervalSec: 1, keepaliveCount: 2 });
    const data = await tempDataDir('unreachable');
    cleanups.push(data.cleanup);
    const driver = await LibvirtNodeDriver.open({
      nodeName: `gone-node-${RUN}`,
      dataDir: data.dir,
      libvirt: { socketPath: daemon.socketPath },
      hypervisor: 'qemu',
    });
    await driver.ping();
    expect((await driver.info()).emulationReason).toBe('software emulation configured');
    await daemon.stop();
    daemon = undefined;
    await expect(driver.ping()).rejects.toMatchObject({ reason: 'NodeUnreachable' });
    await expect(driver.info()).rejects.toMatchObject({ reason: 'NodeUnreachable' });
    await driver.close();
    await expect(driver.ping()).rejects.toMatchObject({ reason: 'NodeUnreachable' });
  }, 60_000);

  it('fails with NodeUnreachable when there is no daemon at all', async () => {
    const data = await tempDataDir('nodaemon');
    cleanups.push(data.cleanup);
    const driver = new LibvirtNodeDriver({
      nodeName: `no-node-${RUN}`,
      dataDir: data.dir,
      libvirt: { socketPath: `${data.dir}/no-such-sock` },
    });
    await expect(driver.ping()).rejects.toMatchObject({ reason: 'NodeUnreachable' });
    await expect(driver.listDomains()).rejects.toMatchObject({ reason: 'NodeUnreachable' });
  });
});
