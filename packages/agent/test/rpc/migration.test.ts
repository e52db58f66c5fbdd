// Two real libvirtd instances on this machine (own namespaces, host UUIDs, TCP ports) and live migration
// between them with the client's peer-to-peer migrate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibvirtClient } from '../../src/rpc/client.ts';
import { JobStatsFlags, ListFlags, MigrateFlags } from '../../src/rpc/constants.ts';
import { driverErrorReason, LibvirtError, toDriverError } from '../../src/rpc/errors.ts';
import { type LibvirtDaemon, startLibvirtDaemons } from '../../src/testing/libvirt-daemons.ts';
import { rejectionOf, requireRoot, tinyDomainXml, waitFor } from './helpers.ts';

let a: LibvirtDaemon;
let b: LibvirtDaemon;
let ca: LibvirtClient;
let cb: LibvirtClient;

// Keep the migration stream on loopback whatever the hostname resolves to.
const loopback = { migrateUri: 'tcp://127.0.0.1', listenAddress: '127.0.0.1' };

beforeAll(async () => {
  requireRoot();
  [a, b] = (await startLibvirtDaemons(2, 'rpc-mig')) as [LibvirtDaemon, LibvirtDaemon];
  ca = await LibvirtClient.connect({ socketPath: a.socketPath });
  cb = await LibvirtClient.connect({ host: '127.0.0.1', port: b.tcpPort }); // B over TCP, A over its socket
}, 60_000);

afterAll(async () => {
  await ca?.close();
  await cb?.close();
  await Promise.all([a?.stop(), b?.stop()]);
});

describe('two libvirtd instances on one machine', () => {
  it('are independent daemons with their own host UUID and domains', async () => {
    expect(a.hostUuid).not.toBe(b.hostUuid);
    expect(await ca.getCapabilities()).toContain(`<uuid>${a.hostUuid}</uuid>`);
    expect(await cb.getCapabilities()).toContain(`<uuid>${b.hostUuid}</uuid>`);
    // The same daemons by URI, as `virsh -c` would name them.
    const byTcp = await LibvirtClient.connectUri(b.tcpUri);
    const byUnix = await LibvirtClient.connectUri(`qemu+unix:///system?socket=${a.socketPath}`);
    expect(await byTcp.getCapabilities()).toContain(`<uuid>${b.hostUuid}</uuid>`);
    expect(await byUnix.getCapabilities()).toContain(`<uuid>${a.hostUuid}</uuid>`);
    await Promise.all([byTcp.close(), byUnix.close()]);
    const d = await ca.defineXML(tinyDomainXml('only-on-a'));
    expect((await ca.listAllDomains()).map((x) => x.name)).toEqual(['only-on-a']);
    expect(await cb.listAllDomains()).toEqual([]);
    await ca.undefine(d);
  });

  it('reports job stats during a migration, and an aborted migration leaves the domain running on the source', async () => {
    const name = 'mig-abort';
    const d = await ca.createDomain(await ca.defineXML(tinyDomainXml(name, { memoryMiB: 256 })));
    // 1 MiB/s keeps the copy of 256 MiB (mostly zero pages, ~1 MiB on the wire) running for over a second.
    const migration = ca.migrateToURI(d, b.tcpUri, { ...loopback, bandwidthMiBs: 1 });
    const outcome = migration.then(
      () => 'completed',
      (err: unknown) => err,
    );
    const stats = await waitFor('an active migration job with progress', async () => {
      const s = await ca.jobStats(d);
      return s.type === 'unbounded' && Number(s.params.data_processed) > 0 && s;
    });
    expect(stats.params.operation).toBe(5); // VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT
    expect(stats.params.data_total).toBeGreaterThanOrEqual(256 * 1024 * 1024);
    expect(Number(stats.params.data_remaining)).toBeGreaterThan(0);
    expect(stats.params.time_elapsed).toBeGreaterThanOrEqual(0);
    expect(stats.params.memory_iteration).toBeGreaterThanOrEqual(1);
    const info = await ca.getJobInfo(d);
    expect(info.type).toBe('unbounded');
    expect(info.dataTotal).toBe(stats.params.data_total);
    expect(info.memTotal).toBe(stats.params.memory_total);
    await ca.migrateSetMaxDowntime(d, 50);
    expect(await ca.migrateGetMaxDowntime(d)).toBe(50);

    await ca.abortJob(d);
    const err = await outcome;
    expect(err).toBeInstanceOf(LibvirtError);
    expect((err as LibvirtError).code).toBe(78); // VIR_ERR_OPERATION_ABORTED
    expect(toDriverError(err, 'a', 'migrate').reason).toBe('MigrationAborted');

    expect(await ca.getState(d)).toMatchObject({ state: 'running' });
    expect(driverErrorReason(await rejectionOf(cb.lookupByName(name)))).toBe('DomainNotFound');
    expect((await ca.jobStats(d)).type).toBe('none');
  });

  it('live-migrates a running domain peer-to-peer: running on B, gone from A', async () => {
    const name = 'mig-live';
    const def = await ca.defineXML(tinyDomainXml(name, { memoryMiB: 128 }));
    const d = await ca.createDomain(def);
    const eventsA: string[] = [];
    const eventsB: string[] = [];
    const offA = await ca.onLifecycleEvent((e) => {
      if (e.domain.name === name) eventsA.push(`${e.event}/${e.detail}`);
    });
    const offB = await cb.onLifecycleEvent((e) => {
      if (e.domain.name === name) eventsB.push(`${e.event}/${e.detail}`);
    });

    await ca.migrateToURI(d, b.tcpUri, { ...loopback, flags: MigrateFlags.PersistDest | MigrateFlags.UndefineSource });

    const onB = await cb.lookupByName(name);
    expect(onB.uuid).toBe(def.uuid);
    expect(await cb.getState(onB)).toEqual({ state: 'running', reason: 'migrated', stateCode: 1, reasonCode: 2 });
    expect((await cb.listAllDomains(ListFlags.Persistent)).map((x) => x.name)).toEqual([name]);
    expect(driverErrorReason(await rejectionOf(ca.lookupByName(name)))).toBe('DomainNotFound');
    expect((await ca.listAllDomains()).map((x) => x.name)).not.toContain(name);

    // The destination keeps the statistics of the incoming migration.
    const done = await cb.jobStats(onB, JobStatsFlags.Completed);
    expect(done.type).toBe('completed');
    expect(done.params.operation).toBe(4); // VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN
    expect(done.params.data_total).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(Number(done.params.downtime)).toBeGreaterThan(0);

    await waitFor('the source to report the domain stopped', () => eventsA.includes('Stopped/Migrated'));
    await waitFor('the target to report the domain resumed', () => eventsB.includes('Resumed/Migrated'));
    await Promise.all([ca.getVersion(), cb.getVersion()]); // one more round trip: nothing else was queued
    expect(eventsA).toEqual(['Suspended/Migrated', 'Stopped/Migrated']); // UndefineSource sends no Undefined event
    expect(eventsB).toEqual(['Started/Migrated', 'Defined/Added', 'Resumed/Migrated']);
    await offA();
    await offB();
    // Running domains are left to the daemons' stop(), which destroys them in parallel (~1.5 s each).
  });

  it('refuses to migrate a domain to its own host', async () => {
    const d = await ca.createDomain(await ca.defineXML(tinyDomainXml('mig-self')));
    const err = await rejectionOf(ca.migrateToURI(d, a.tcpUri, loopback));
    expect((err as Error).message).toMatch(/same host/);
    expect(toDriverError(err, 'a', 'migrate').reason).toBe('MigrationFailed');
    expect(await ca.getState(d)).toMatchObject({ state: 'running' });
  });
});
