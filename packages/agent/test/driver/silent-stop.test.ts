/**
 * libvirt 9.0 stops a domain without any lifecycle event when a restarted daemon cannot finish reconnecting
 * to its QEMU (qemuProcessReconnect's error path). Two ways the agent meets that, made deterministic by
 * freezing the QEMU processes (SIGSTOP) across the daemon restart so their reconnects hang:
 * - the QEMU dies during the reconnect: libvirt shows the domain shut off (reason daemon) and says nothing;
 * - a destroy arrives during the reconnect: libvirt kills QEMU first, the reconnect fails and stops the
 *   domain, and the destroy then fails with "domain is not running".
 * Either way a destroyDomain of the agent must leave the stop reported (the engine waits for it); and a
 * stop nobody asked for must be reported by the agent's silent-stop check.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DomainEvent } from '@virtkit/engine';
import { afterAll, describe, expect, it } from 'vitest';
import { LibvirtNodeDriver } from '../../src/index.ts';
import { LibvirtClient } from '../../src/rpc/client.ts';
import { type LibvirtDaemon, startLibvirtDaemon } from '../../src/testing/index.ts';
import { EventLog, guestDefinition, guestTranslations, poll, RUN, requireLibvirt, tempDataDir } from '../helpers.ts';

const SIGTERM_BIT = 1n << 14n; // signal 15 in /proc/<pid>/status masks

function qemuPid(daemon: LibvirtDaemon, domain: string): number {
  return Number(readFileSync(join(daemon.baseDir, 'run', 'qemu', `${domain}.pid`), 'utf8').trim());
}

/** Whether SIGTERM is pending for the (stopped) process: libvirt's destroy has begun killing it. */
function sigtermPending(pid: number): boolean {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const shd = /^ShdPnd:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return shd !== undefined && (BigInt(`0x${shd}`) & SIGTERM_BIT) !== 0n;
}

describe('a domain libvirt stops without an event after a daemon restart', () => {
  let daemon: LibvirtDaemon | undefined;
  let driver: LibvirtNodeDriver | undefined;
  let watcher: LibvirtNodeDriver | undefined;
  let raw: LibvirtClient | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    await raw?.close().catch(() => undefined);
    await driver?.close();
    await watcher?.close();
    await daemon?.stop();
    for (const c of cleanups) await c();
  }, 60_000);

  it('destroyDomain, and otherwise the silent-stop check, report the stop', async () => {
    requireLibvirt();
    daemon = await startLibvirtDaemon({ name: 'silent' });
    const d = daemon;
    const data = await tempDataDir('silent');
    cleanups.push(data.cleanup);
    driver = await LibvirtNodeDriver.open({
      nodeName: `silent-node-${RUN}`,
      dataDir: data.dir,
      libvirt: { socketPath: d.socketPath },
      imageTranslations: await guestTranslations(),
      hypervisor: 'qemu',
      // Only destroyDomain may notice the stops of this driver's domains.
      silentStopCheckMs: 3_600_000,
    });
    const drv = driver;
    // A second agent (its own node name, its own domain) checks often.
    watcher = await LibvirtNodeDriver.open({
      nodeName: `silent-watch-${RUN}`,
      dataDir: data.dir,
      libvirt: { socketPath: d.socketPath },
      imageTranslations: await guestTranslations(),
      hypervisor: 'qemu',
      silentStopCheckMs: 200,
    });
    const watch = watcher;
    const watchLog = new EventLog();
    watch.onEvent(watchLog.push);
    const unasked = 'vk-test_silent-unasked';
    await watch.defineDomain(await guestDefinition('silent-unasked', `uid-silent-unasked-${RUN}`));
    await watch.startDomain(unasked);
    const log = new EventLog();
    drv.onEvent(log.push);
    const dying = 'vk-test_silent-dies';
    const destroyed = 'vk-test_silent-destroyed';
    await drv.defineDomain(await guestDefinition('silent-dies', `uid-silent-dies-${RUN}`));
    await drv.defineDomain(await guestDefinition('silent-destroyed', `uid-silent-destroyed-${RUN}`));
    await drv.startDomain(dying);
    await drv.startDomain(destroyed);
    const pids = [qemuPid(d, dying), qemuPid(d, destroyed), qemuPid(d, unasked)] as const;
    for (const pid of pids) process.kill(pid, 'SIGSTOP');

    await d.restart({ signal: 'SIGKILL' });
    raw = await LibvirtClient.connect({ socketPath: d.socketPath });
    const client = raw;
    // The agent is back (its relist sees both domains running: libvirt still has them so).
    await poll(
      () =>
        drv.listDomains().then(
          (l) => (l.length === 2 ? l : undefined),
          () => undefined,
        ),
      20_000,
      'agent',
    );
    expect((await drv.getDomain(dying))?.state).toBe('running');
    await poll(
      () =>
        watch.listDomains().then(
          (l) => (l.length === 1 ? l : undefined),
          () => undefined,
        ),
      20_000,
      'watch',
    );
    expect((await watch.getDomain(unasked))?.state).toBe('running');

    // 0. The QEMU dies while the daemon reconnects to it, and nobody asks anything: the check reports it.
    process.kill(pids[2], 'SIGKILL');
    await watchLog.waitFor(
      (e) => e.domain === unasked && e.type === 'lifecycle' && e.event === 'Stopped',
      20_000,
      'the silent stop reported',
    );
    expect(watchLog.lifecycle(unasked)).toEqual(['Defined/Added', 'Started/Booted', 'Stopped/Failed']);
    await watch.undefineDomain(unasked);

    // 1. The QEMU dies while the daemon reconnects to it: shut off, and no event.
    process.kill(pids[0], 'SIGKILL');
    await poll(
      () => client.getState(dying).then((s) => (s.state === 'shutoff' ? s : undefined)),
      20_000,
      'libvirt to stop the domain',
    );
    expect(log.lifecycle(dying)).not.toContain('Stopped/Failed');
    await drv.destroyDomain(dying);
    expect(log.lifecycle(dying)).toEqual(['Defined/Added', 'Started/Booted', 'Stopped/Failed']);

    // 2. A destroy during the reconnect: libvirt sends SIGTERM (pending: the QEMU is frozen); the QEMU dies.
    const call = drv.destroyDomain(destroyed);
    await poll(async () => sigtermPending(pids[1]) || undefined, 20_000, 'libvirt to signal the QEMU');
    process.kill(pids[1], 'SIGKILL');
    await call;
    expect(log.lifecycle(destroyed)).toEqual(['Defined/Added', 'Started/Booted', 'Stopped/Destroyed']);
    expect((await drv.getDomain(destroyed))?.state).toBe('shutoff');

    // Nothing more arrives later (no second stop from a late libvirt event).
    const stops = (e: DomainEvent) => e.type === 'lifecycle' && e.event === 'Stopped';
    await drv.undefineDomain(dying);
    await drv.undefineDomain(destroyed);
    expect(log.events.filter(stops).length).toBe(2);
  }, 120_000);
});
