import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibvirtNodeDriver } from '../../src/index.ts';
import { EventLog, guestDefinition, guestTranslations, RUN, requireLibvirt, tempDataDir } from '../helpers.ts';

const ID = `vk-test_resync-${RUN}`;

describe('lost connection to libvirtd', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let driver: LibvirtNodeDriver;
  const log = new EventLog();

  beforeAll(async () => {
    requireLibvirt();
    data = await tempDataDir('resync');
    driver = await LibvirtNodeDriver.open({
      nodeName: `resync-node-${RUN}`,
      dataDir: data.dir,
      imageTranslations: await guestTranslations(),
    });
    driver.onEvent(log.push);
  }, 300_000);
  afterAll(async () => {
    await driver.destroyDomain(ID).catch(() => undefined);
    await driver.undefineDomain(ID).catch(() => undefined);
    try {
      execFileSync('virsh', ['undefine', ID], { stdio: 'ignore' });
    } catch {
      // Already gone: the test removed it.
    }
    await driver?.close();
    await data?.cleanup();
  }, 60_000);

  it('reconnects by itself and reports what happened meanwhile', async () => {
    await driver.defineDomain(await guestDefinition(`resync-${RUN}`, `uid-resync-${RUN}`));
    await driver.startDomain(ID);
    // Drop the connection, change the domain behind the agent's back, and let it come back on its own.
    (await driver.connect()).abort();
    execFileSync('virsh', ['destroy', ID]);
    await log.waitFor(
      (e) => e.domain === ID && e.type === 'lifecycle' && e.event === 'Stopped',
      15_000,
      'caught-up stop',
    );
    expect((await driver.getDomain(ID))?.state).toBe('shutoff');

    // Removed by someone else while connected: the agent forgets it.
    execFileSync('virsh', ['undefine', ID]);
    await log.waitFor((e) => e.domain === ID && e.type === 'lifecycle' && e.event === 'Undefined', 15_000, 'undefine');
    expect(await driver.getDomain(ID)).toBeUndefined();
    expect(log.sequence(ID)).toEqual(['Defined/Added', 'Started/Booted', 'Stopped/Destroyed', 'Undefined/Removed']);
  }, 60_000);
});
