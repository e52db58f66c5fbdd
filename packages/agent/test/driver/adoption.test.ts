import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibvirtNodeDriver, type LibvirtNodeDriverOptions } from '../../src/index.ts';
import { GUEST_HEARTBEAT_PREFIX } from '../../src/testing/index.ts';
import { EventLog, guestDefinition, guestTranslations, RUN, requireLibvirt, tempDataDir } from '../helpers.ts';

const UID = `adopt-uid-${RUN}`;
const ID = `vk-test_adopt-${RUN}`;

/** QEMU's pid for a domain, from the pid file libvirt keeps while it runs. */
const qemuPid = () => Number(readFileSync(`/run/libvirt/qemu/${ID}.pid`, 'utf8').trim());

describe('agent restart', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let options: LibvirtNodeDriverOptions;
  let second: LibvirtNodeDriver | undefined;

  beforeAll(async () => {
    requireLibvirt();
    data = await tempDataDir('adopt');
    options = { nodeName: `adopt-node-${RUN}`, dataDir: data.dir, imageTranslations: await guestTranslations() };
  }, 300_000);

  afterAll(async () => {
    const d = second ?? new LibvirtNodeDriver(options);
    await d.destroyDomain(ID).catch(() => undefined);
    await d.undefineDomain(ID).catch(() => undefined);
    await d.close();
    await data?.cleanup();
  }, 60_000);

  it('adopts a running domain without restarting it, with its readiness and console', async () => {
    const first = await LibvirtNodeDriver.open(options);
    const log1 = new EventLog();
    first.onEvent(log1.push);
    await first.defineDomain(await guestDefinition(`adopt-${RUN}`, UID));
    await first.startDomain(ID);
    await log1.waitFor((e) => e.domain === ID && e.type === 'guest-ready', 90_000, 'guest-ready');
    const pid = qemuPid();
    await first.close(); // leaves the domain running

    second = await LibvirtNodeDriver.open(options);
    const log2 = new EventLog();
    second.onEvent(log2.push);
    const listed = await second.listDomains();
    expect(listed.map((d) => [d.id, d.uid, d.state, d.guestReady])).toEqual([[ID, UID, 'running', true]]);
    expect(qemuPid()).toBe(pid);
    // Defining again with the same uid is a no-op that returns the running domain.
    expect((await second.defineDomain(await guestDefinition(`adopt-${RUN}`, UID))).state).toBe('running');
    await expect(second.startDomain(ID)).rejects.toMatchObject({ reason: 'InvalidState' });

    // The console keeps streaming through the new agent.
    const heartbeat = await log2.waitFor(
      (e) => e.type === 'console' && e.line.startsWith(GUEST_HEARTBEAT_PREFIX),
      15_000,
      'a heartbeat through the adopting agent',
    );
    expect(heartbeat.domain).toBe(ID);
    expect(qemuPid()).toBe(pid);
    expect(log2.sequence(ID)).toEqual([]);

    await second.destroyDomain(ID);
    await second.undefineDomain(ID);
    expect(log2.sequence(ID)).toEqual(['Stopped/Destroyed', 'Undefined/Removed']);
  }, 180_000);
});
