import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibvirtNodeDriver } from '../../src/index.ts';
import { EventLog, guestDefinition, guestTranslations, requireLibvirt, tempDataDir } from '../helpers.ts';

describe('reboot and guest crash', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let driver: LibvirtNodeDriver;
  const log = new EventLog();

  beforeAll(async () => {
    requireLibvirt();
    data = await tempDataDir('reboot');
    driver = await LibvirtNodeDriver.open({
      nodeName: 'reboot-node',
      dataDir: data.dir,
      imageTranslations: await guestTranslations(),
    });
    driver.onEvent(log.push);
  }, 300_000);
  afterAll(async () => {
    for (const id of ['vk-test_reboot', 'vk-test_crash']) {
      await driver.destroyDomain(id).catch(() => undefined);
      await driver.undefineDomain(id).catch(() => undefined);
    }
    await driver?.close();
    await data?.cleanup();
  }, 60_000);

  it('reboot: console lines of the new boot, then guest-ready again, no lifecycle events', async () => {
    const id = 'vk-test_reboot';
    await driver.defineDomain({
      ...(await guestDefinition('reboot', 'uid-reboot-1')),
      readinessLine: 'instance-id=uid-reboot-1',
    });
    await driver.startDomain(id);
    await log.waitFor((e) => e.domain === id && e.type === 'guest-ready', 90_000, 'first guest-ready');
    const mark = log.events.length;
    await driver.rebootDomain(id);
    expect((await driver.getDomain(id))?.guestReady).toBe(false);
    await log.waitFor(
      (e) => log.events.indexOf(e) >= mark && e.domain === id && e.type === 'guest-ready',
      90_000,
      'guest-ready after reboot',
    );
    const after = log.events.slice(mark).filter((e) => e.domain === id);
    expect(after.some((e) => e.type === 'console' && e.line.includes('power button'))).toBe(true);
    expect(after.filter((e) => e.type === 'lifecycle')).toEqual([]);
    expect((await driver.getDomain(id))?.state).toBe('running');
    await driver.destroyDomain(id);
    expect(log.sequence(id)).toEqual([
      'Defined/Added',
      'Started/Booted',
      'guest-ready',
      'guest-ready',
      'Stopped/Destroyed',
    ]);
  }, 240_000);

  it('a guest panic is reported through pvpanic: Crashed/Panicked, then Stopped/Crashed', async () => {
    const id = 'vk-test_crash';
    await driver.defineDomain(
      await guestDefinition('crash', 'uid-crash-1', { userData: '#!/bin/sh\nsleep 1\necho c > /proc/sysrq-trigger\n' }),
    );
    await driver.startDomain(id);
    await log.waitFor(
      (e) => e.domain === id && e.type === 'lifecycle' && e.event === 'Stopped',
      120_000,
      'the crashed guest to stop',
    );
    expect(log.sequence(id)).toEqual([
      'Defined/Added',
      'Started/Booted',
      'guest-ready',
      'Crashed/Panicked',
      'Stopped/Crashed',
    ]);
    expect((await driver.getDomain(id))?.state).toBe('shutoff');
  }, 240_000);
});
