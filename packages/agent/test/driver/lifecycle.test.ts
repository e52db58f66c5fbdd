import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { DriverError } from '@virtkit/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibvirtNodeDriver } from '../../src/index.ts';
import { EventLog, guestDefinition, guestTranslations, RUN, requireLibvirt, tempDataDir } from '../helpers.ts';

const NODE = `lifecycle-node-${RUN}`;
const UID = `life-uid-${RUN}`;
const ID = `vk-test_life-${RUN}`;

function virshDomains(): string[] {
  return execFileSync('virsh', ['-q', 'list', '--all', '--name'], { encoding: 'utf8' })
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
}

describe('LibvirtNodeDriver against a real libvirtd', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let driver: LibvirtNodeDriver;
  const log = new EventLog();

  beforeAll(async () => {
    requireLibvirt();
    data = await tempDataDir('lifecycle');
    driver = await LibvirtNodeDriver.open({
      nodeName: NODE,
      dataDir: data.dir,
      imageTranslations: await guestTranslations(),
    });
    driver.onEvent(log.push);
  }, 120_000);

  afterAll(async () => {
    await driver?.destroyDomain(ID).catch(() => undefined);
    await driver?.undefineDomain(ID).catch(() => undefined);
    await driver?.close();
    await data?.cleanup();
  }, 60_000);

  it('reports the node: capacity, TCG with the reason when KVM cannot boot a guest, versions', async () => {
    const info = await driver.info();
    expect(info.name).toBe(NODE);
    expect(info.capacity.cpuMillis).toBeGreaterThan(0);
    expect(info.allocatable.memoryBytes).toBeLessThan(info.capacity.memoryBytes);
    expect(info.versions.libvirt).toMatch(/^\d+\.\d+\.\d+$/);
    if (info.hypervisor === 'qemu') expect(info.emulationReason).toMatch(/\S/);
    await driver.ping();
  });

  it('runs the whole lifecycle with the canonical event sequence and leaves nothing behind', async () => {
    const id = ID;
    const def = await guestDefinition(`life-${RUN}`, UID, { hostname: 'life-host' });
    const info = await driver.defineDomain(def);
    expect(info).toMatchObject({ id, uid: UID, state: 'shutoff', vcpus: 1, guestReady: false });
    // Idempotent by uid; another uid under the same id is refused.
    expect((await driver.defineDomain(def)).uid).toBe(UID);
    await expect(driver.defineDomain({ ...def, uid: 'other-uid' })).rejects.toMatchObject({ reason: 'DomainExists' });
    const dir = `${data.dir}/domains/${UID}`;
    expect(existsSync(`${dir}/cidata.iso`)).toBe(true);

    await driver.startDomain(id);
    await expect(driver.startDomain(id)).rejects.toSatisfy(
      (e: unknown) => e instanceof DriverError && e.reason === 'InvalidState',
    );
    await log.waitFor((e) => e.domain === id && e.type === 'guest-ready', 90_000, 'guest-ready');
    const lines = log.events.flatMap((e) => (e.type === 'console' && e.domain === id ? [e.line] : []));
    expect(lines).toContain(`virtkit-guest ready instance-id=${UID} hostname=life-host`);
    expect((await driver.getDomain(id))?.guestReady).toBe(true);

    await driver.pauseDomain(id);
    expect((await driver.getDomain(id))?.state).toBe('paused');
    await driver.resumeDomain(id);
    expect((await driver.getDomain(id))?.state).toBe('running');

    // A console stream: the backlog (this boot's lines so far), then new lines, ending when the domain stops.
    const streamed: string[] = [];
    const stream = (async () => {
      for await (const line of driver.console(id)) streamed.push(line);
    })();
    await driver.shutdownDomain(id);
    await log.waitFor(
      (e) => e.domain === id && e.type === 'lifecycle' && e.event === 'Stopped',
      60_000,
      'Stopped after ACPI shutdown',
    );
    expect((await driver.getDomain(id))?.state).toBe('shutoff');
    await Promise.race([
      stream,
      new Promise((_, reject) => setTimeout(() => reject(new Error('console stream did not end')), 10_000)),
    ]);
    expect(streamed).toContain(`virtkit-guest ready instance-id=${UID} hostname=life-host`);
    expect(streamed.some((l) => l.includes('power button, powering off'))).toBe(true);
    // After the stop, fromStart replays the last boot and ends.
    const replay: string[] = [];
    for await (const line of driver.console(id, { fromStart: true })) replay.push(line);
    expect(replay).toEqual(streamed.slice(streamed.length - replay.length));
    expect(replay).toContain(`virtkit-guest ready instance-id=${UID} hostname=life-host`);
    await expect(driver.pauseDomain(id)).rejects.toMatchObject({ reason: 'InvalidState' });

    await driver.startDomain(id);
    await driver.destroyDomain(id);
    await driver.destroyDomain(id); // already off: no-op, no event
    await driver.undefineDomain(id);
    await driver.undefineDomain(id); // already gone: no-op

    expect(log.sequence(id)).toEqual([
      'Defined/Added',
      'Started/Booted',
      'guest-ready',
      'Suspended/Paused',
      'Resumed/Unpaused',
      'Shutdown/Finished',
      'Stopped/Shutdown',
      'Started/Booted',
      'Stopped/Destroyed',
      'Undefined/Removed',
    ]);
    expect(virshDomains()).not.toContain(id);
    expect(existsSync(dir)).toBe(false);
    expect(await driver.getDomain(id)).toBeUndefined();
  }, 240_000);
});
