import type { NodeDriver } from '@virtkit/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibvirtNodeDriver } from '../../src/index.ts';
import { GUEST_HEARTBEAT_PREFIX, type LibvirtDaemon, startLibvirtDaemons } from '../../src/testing/index.ts';

import { EventLog, guestDefinition, guestTranslations, RUN, requireLibvirt, tempDataDir } from '../helpers.ts';

const UID = `mig-uid-${RUN}`;
const ID = `vk-test_mig-${RUN}`;

describe('live migration between two LibvirtNodeDrivers (two libvirtd on one machine)', () => {
  let daemons: LibvirtDaemon[] = [];
  const drivers: LibvirtNodeDriver[] = [];
  const dirs: { cleanup: () => Promise<void> }[] = [];
  const logA = new EventLog();
  const logB = new EventLog();

  beforeAll(async () => {
    requireLibvirt();
    daemons = await startLibvirtDaemons(2, 'mig');
    const registry = new Map<string, NodeDriver>();
    const translations = await guestTranslations();
    for (const [i, d] of daemons.entries()) {
      const data = await tempDataDir(`mig${i}`);
      dirs.push(data);
      const driver = await LibvirtNodeDriver.open({
        nodeName: `mig-node-${i}`,
        dataDir: data.dir,
        libvirt: { socketPath: d.socketPath },
        imageTranslations: translations,
        migrationUri: d.tcpUri,
        peers: (n) => registry.get(n),
        migrationPollMs: 100,
      });
      registry.set(driver.nodeName, driver);
      drivers.push(driver);
    }
    drivers[0]?.onEvent(logA.push);
    drivers[1]?.onEvent(logB.push);
  }, 180_000);

  afterAll(async () => {
    for (const d of drivers) {
      await d.destroyDomain(ID).catch(() => undefined);
      await d.undefineDomain(ID).catch(() => undefined);
      await d.close();
    }
    await Promise.all(daemons.map((d) => d.stop()));
    for (const d of dirs) await d.cleanup();
  }, 60_000);

  it('moves a running guest: the console heartbeat continues on the target, downtime is reported', async () => {
    const [a, b] = drivers as [LibvirtNodeDriver, LibvirtNodeDriver];
    await a.defineDomain(await guestDefinition(`mig-${RUN}`, UID, { memory: '128Mi' }));
    await a.startDomain(ID);
    await logA.waitFor((e) => e.domain === ID && e.type === 'guest-ready', 90_000, 'guest-ready on the source');

    // An abort leaves the guest on the source; nothing appears on the target.
    const slow = a.migrateDomain(ID, b.nodeName, { bandwidthBytesPerSec: 1024 * 1024 });
    await logA.waitFor((e) => e.domain === ID && e.type === 'migration' && e.phase === 'progress', 30_000, 'progress');
    await a.abortMigration(ID);
    await expect(slow).rejects.toMatchObject({ reason: 'MigrationAborted' });
    expect((await a.getDomain(ID))?.state).toBe('running');
    expect(await b.getDomain(ID)).toBeUndefined();

    // A migration that cannot finish in time is aborted by the agent and reported as failed.
    await expect(
      a.migrateDomain(ID, b.nodeName, { bandwidthBytesPerSec: 1024 * 1024, completionTimeoutMs: 1500 }),
    ).rejects.toMatchObject({
      reason: 'MigrationFailed',
      message: expect.stringMatching(/not completed within 1500 ms/),
    });
    expect((await a.getDomain(ID))?.state).toBe('running');
    expect(await b.getDomain(ID)).toBeUndefined();

    const result = await a.migrateDomain(ID, b.nodeName);
    expect(result.targetNode).toBe(b.nodeName);
    expect(result.downtimeMs).toBeGreaterThan(0);
    expect(result.durationMs).toBeGreaterThan(0);
    expect(await a.getDomain(ID)).toBeUndefined();
    const onB = await b.getDomain(ID);
    expect(onB).toMatchObject({ state: 'running', uid: UID, guestReady: true });

    // Heartbeats numbered after the migration, read through the target's console stream.
    const before = logA.events
      .flatMap((e) => (e.type === 'console' ? [e.line] : []))
      .filter((l) => l.startsWith(GUEST_HEARTBEAT_PREFIX));
    const lastBefore = Number(before.at(-1)?.split(' ').at(-1) ?? 0);
    const ac = new AbortController();
    const seen: number[] = [];
    for await (const line of b.console(ID, { signal: ac.signal })) {
      if (line.startsWith(GUEST_HEARTBEAT_PREFIX)) seen.push(Number(line.split(' ').at(-1)));
      if (seen.some((n) => n > lastBefore + 1)) ac.abort();
    }
    expect(Math.max(...seen)).toBeGreaterThan(lastBefore);

    // Progress samples depend on timing; their presence during the aborted run was awaited above.
    expect(logA.sequence(ID).filter((s) => s !== 'migration progress')).toEqual([
      'Defined/Added',
      'Started/Booted',
      'guest-ready',
      'migration started',
      'migration aborted',
      'migration started',
      'migration failed',
      'migration started',
      'migration completed',
      'Stopped/Migrated',
    ]);
    expect(logB.sequence(ID)).toEqual(['Started/Migrated']);
    const completed = logA.events.find((e) => e.type === 'migration' && e.phase === 'completed');
    expect(completed?.type === 'migration' && completed.downtimeMs).toBe(result.downtimeMs);

    await b.destroyDomain(ID);
    await b.undefineDomain(ID);
    expect(logB.sequence(ID)).toEqual(['Started/Migrated', 'Stopped/Destroyed', 'Undefined/Removed']);
  }, 300_000);
});
