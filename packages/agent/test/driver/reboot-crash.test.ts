import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibvirtNodeDriver } from '../../src/index.ts';
import { EventLog, guestDefinition, guestTranslations, RUN, requireLibvirt, tempDataDir } from '../helpers.ts';

describe('reboot and guest crash', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let driver: LibvirtNodeDriver;
  const log = new EventLog();

  beforeAll(async () => {
    requireLibvirt();
    data = await tempDataDir('reboot');
    driver = await LibvirtNodeDriver.open({
      nodeName: `reboot-node-${RUN}`,
      dataDir: data.dir,
      imageTranslations: await guestTranslations(),
    });
    driver.onEvent(log.push);
  }, 300_000);
  afterAll(async () => {
    for (const id of [`vk-test_reboot-${RUN}`, `vk-test_crash-${RUN}`, `vk-test_selfreboot-${RUN}`]) {
      await driver.destroyDomain(id).catch(() => undefined);
      await driver.undefineDomain(id).catch(() => undefined);
    }
    await driver?.close();
    await data?.cleanup();
  }, 60_000);

  it('reboot: console lines of the new boot, then guest-ready again, no lifecycle events', async () => {
    const id = `vk-test_reboot-${RUN}`;
    await driver.defineDomain({
      ...(await guestDefinition(`reboot-${RUN}`, `uid-reboot-${RUN}`)),
      readinessLine: `instance-id=uid-reboot-${RUN}`,
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

  it('a reboot by the guest itself: ready again after the new boot, no lifecycle events', async () => {
    const id = `vk-test_selfreboot-${RUN}`;
    // Reboots once: the marker on the seed disk cannot be written, so the second boot checks the console
    // log instead — it simply reboots on every boot, and the test stops it after the second ready line.
    await driver.defineDomain(
      await guestDefinition(`selfreboot-${RUN}`, `uid-selfreboot-${RUN}`, {
        userData: '#!/bin/sh\nsleep 1\nreboot -f\n',
      }),
    );
    await driver.startDomain(id);
    await log.waitFor((e) => e.domain === id && e.type === 'guest-ready', 90_000, 'first guest-ready');
    const first = log.events.findIndex((e) => e.domain === id && e.type === 'guest-ready');
    await log.waitFor(
      (e) => log.events.indexOf(e) > first && e.domain === id && e.type === 'guest-ready',
      90_000,
      'guest-ready after the guest rebooted itself',
    );
    await driver.destroyDomain(id);
    await driver.undefineDomain(id);
    const seq = log.sequence(id);
    expect(seq.slice(0, 4)).toEqual(['Defined/Added', 'Started/Booted', 'guest-ready', 'guest-ready']);
    expect(seq.slice(-2)).toEqual(['Stopped/Destroyed', 'Undefined/Removed']);
    expect(seq.filter((s) => s !== 'guest-ready')).toEqual([
      'Defined/Added',
      'Started/Booted',
      'Stopped/Destroyed',
      'Undefined/Removed',
    ]);
  }, 240_000);

  it('a guest panic is reported through pvpanic: Crashed/Panicked, then Stopped/Crashed', async () => {
    const id = `vk-test_crash-${RUN}`;
    await driver.defineDomain(
      await guestDefinition(`crash-${RUN}`, `uid-crash-${RUN}`, {
        userData: '#!/bin/sh\nsleep 1\necho c > /proc/sysrq-trigger\n',
      }),
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
