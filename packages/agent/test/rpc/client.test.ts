// The client against the REAL system libvirtd (scripts/setup-libvirt.sh), cross-checked with virsh.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibvirtClient, type LifecycleEventMessage } from '../../src/rpc/client.ts';
import { ListFlags, XmlFlags } from '../../src/rpc/constants.ts';
import { LibvirtConnectionError, LibvirtError, toDriverError } from '../../src/rpc/errors.ts';
import { XdrError } from '../../src/rpc/xdr.ts';
import {
  connectSystem,
  rejectionOf,
  removeDomain,
  SYSTEM_SOCKET,
  tinyDomainXml,
  uniqueName,
  waitFor,
} from './helpers.ts';

const virsh = (...args: string[]) => execFileSync('virsh', ['-c', 'qemu:///system', ...args], { encoding: 'utf8' });
const versionNumber = (v: string) => {
  const [a = 0, b = 0, c = 0] = v.split('.').map(Number);
  return a * 1_000_000 + b * 1000 + c;
};

let c: LibvirtClient;
const created: string[] = [];

beforeAll(async () => {
  c = await connectSystem();
});

afterAll(async () => {
  for (const name of created) await removeDomain(c, name);
  await c?.close();
});

describe('connection-level calls', () => {
  it('reports the same versions as virsh', async () => {
    const out = virsh('version');
    const lib = /Using library: libvirt (\d+\.\d+\.\d+)/.exec(out)?.[1];
    const hv = /Running hypervisor: QEMU (\d+\.\d+\.\d+)/.exec(out)?.[1];
    expect(lib && hv).toBeTruthy();
    expect(await c.getLibVersion()).toBe(versionNumber(lib!));
    expect(await c.getVersion()).toBe(versionNumber(hv!));
  });

  it('reports host facts', async () => {
    expect(await c.getHostname()).toBe(hostname());
    expect(await c.getUri()).toBe('qemu:///system');
    const info = await c.nodeGetInfo();
    expect(info.model).toBe('x86_64');
    expect(info.cpus).toBe(cpus().length);
    const nodeinfo = virsh('nodeinfo');
    expect(`${info.memoryKiB} KiB`).toBe(/Memory size:\s+(\d+ KiB)/.exec(nodeinfo)?.[1]);
    expect(String(info.mhz)).toBe(/CPU frequency:\s+(\d+) MHz/.exec(nodeinfo)?.[1]);
    const conf = readFileSync('/etc/libvirt/libvirtd.conf', 'utf8');
    const hostUuid = /^host_uuid = "([0-9a-f-]{36})"$/m.exec(conf)?.[1];
    expect(hostUuid).toBeDefined();
    expect(await c.getCapabilities()).toContain(`<uuid>${hostUuid}</uuid>`);
    const domcaps = await c.getDomainCapabilities({ virtType: 'qemu', arch: 'x86_64' });
    expect(domcaps).toMatch(/<domainCapabilities>[\s\S]*<domain>qemu<\/domain>/);
  });

  it('connects over TCP on 127.0.0.1:16509 as well', async () => {
    const t = await LibvirtClient.connect({ host: '127.0.0.1', port: 16509 });
    try {
      expect(await t.getHostname()).toBe(hostname());
    } finally {
      await t.close();
    }
  });

  it('matches pipelined replies to their calls by serial', async () => {
    const names = [uniqueName('pipe'), uniqueName('pipe'), uniqueName('pipe')];
    created.push(...names);
    const doms = await Promise.all(names.map((n) => c.defineXML(tinyDomainXml(n))));
    const asks = Array.from({ length: 150 }, (_, i) => names[i % 3]!);
    const answers = await Promise.all(asks.map((n) => c.lookupByName(n)));
    expect(answers.map((d) => d.name)).toEqual(asks);
    expect(answers.map((d) => d.uuid)).toEqual(asks.map((n) => doms[names.indexOf(n)]!.uuid));
    for (const d of doms) await c.undefine(d);
  });

  it('closes cleanly: later calls fail with LibvirtConnectionError and close listeners run', async () => {
    const t = await connectSystem();
    let closedWith: LibvirtConnectionError | undefined;
    t.onClose((e) => {
      closedWith = e;
    });
    await t.close();
    expect(t.closed).toBe(true);
    expect(closedWith).toBeInstanceOf(LibvirtConnectionError);
    const err = await rejectionOf(t.getVersion());
    expect(err).toBeInstanceOf(LibvirtConnectionError);
    expect(toDriverError(err, 'n').reason).toBe('NodeUnreachable');
    await t.close(); // twice is fine
  });

  it('fails to connect with a clear error when nothing listens', async () => {
    const err = await rejectionOf(LibvirtClient.connect({ socketPath: `${SYSTEM_SOCKET}.nonexistent` }));
    expect(err).toBeInstanceOf(LibvirtConnectionError);
    expect(String(err)).toMatch(/ENOENT/);
  });
});

describe('domain lifecycle', () => {
  it('define → start → suspend → resume → reset → destroy → undefine, with states and events in order', async () => {
    const name = uniqueName('life');
    created.push(name);
    const events: string[] = [];
    const off = await c.onLifecycleEvent((e: LifecycleEventMessage) => {
      if (e.domain.name === name) events.push(`${e.event}/${e.detail}`);
    });
    const reboots: string[] = [];
    const offReboot = await c.onRebootEvent((d) => {
      if (d.name === name) reboots.push(d.uuid);
    });
    try {
      const def = await c.defineXML(tinyDomainXml(name));
      expect(def).toMatchObject({ name, id: -1 });
      expect(def.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(await c.lookupByUUID(def.uuid)).toEqual(def);
      expect(await c.getState(def)).toMatchObject({ state: 'shutoff' });
      expect((await c.listAllDomains(ListFlags.Inactive)).map((d) => d.name)).toContain(name);

      const running = await c.createDomain(def);
      expect(running.id).toBeGreaterThan(0);
      expect(await c.getState(running)).toEqual({ state: 'running', reason: 'booted', stateCode: 1, reasonCode: 1 });
      const info = await c.getInfo(running);
      expect(info).toMatchObject({ state: 'running', memoryKiB: 32768, maxMemoryKiB: 32768, vcpus: 1 });
      expect(typeof info.cpuTimeNs).toBe('bigint');
      expect((await c.listAllDomains(ListFlags.Active)).map((d) => d.name)).toContain(name);
      // virsh sees what we started, and we see what virsh reports.
      expect(virsh('domstate', '--reason', name).trim()).toBe('running (booted)');
      const xml = await c.getXMLDesc(running);
      expect(xml).toContain(`<name>${name}</name>`);
      expect(xml).toContain(`<uuid>${def.uuid}</uuid>`);
      expect(await c.getXMLDesc(running, XmlFlags.Inactive)).not.toContain('<seclabel');

      await c.suspend(running);
      expect(await c.getState(name)).toMatchObject({ state: 'paused', reason: 'user' });
      await c.resume(running);
      expect(await c.getState(name)).toMatchObject({ state: 'running', reason: 'unpaused' });
      await c.reset(running); // a reset is no lifecycle change, only a reboot event
      await waitFor('the reboot event', () => reboots.length === 1);
      expect(reboots).toEqual([def.uuid]);
      await c.destroy(running);
      expect(await c.getState(name)).toMatchObject({ state: 'shutoff', reason: 'destroyed' });
      await c.undefine(def);
      expect(toDriverError(await rejectionOf(c.lookupByName(name)), 'n').reason).toBe('DomainNotFound');

      await waitFor('the Undefined event', () => events.includes('Undefined/Removed'));
      expect(events).toEqual([
        'Defined/Added',
        'Resumed/Unpaused', // QEMU starts paused; libvirt resumes it
        'Started/Booted',
        'Suspended/Paused',
        'Resumed/Unpaused',
        'Shutdown/Host', // QEMU reports the SIGTERM of destroy as a host-requested shutdown
        'Stopped/Destroyed',
        'Undefined/Removed',
      ]);
    } finally {
      await off();
      await offReboot();
    }
  });

  it('stops delivering events after unsubscribing, while other connections still get them', async () => {
    const other = await connectSystem();
    const name = uniqueName('unsub');
    created.push(name);
    const mine: string[] = [];
    const theirs: string[] = [];
    try {
      const offMine = await c.onLifecycleEvent((e) => {
        if (e.domain.name === name) mine.push(e.event);
      });
      await other.onLifecycleEvent((e) => {
        if (e.domain.name === name) theirs.push(e.event);
      });
      await offMine();
      const d = await c.defineXML(tinyDomainXml(name));
      await c.undefine(d);
      await waitFor('the other connection to see both events', () => theirs.length === 2);
      // The same round trip that brought `theirs` both events has passed for this connection too.
      await c.getVersion();
      expect(theirs).toEqual(['Defined', 'Undefined']);
      expect(mine).toEqual([]);
    } finally {
      await other.close();
    }
  });
});

describe('errors as the engine sees them', () => {
  it('maps misuse to DriverError reasons', async () => {
    const name = uniqueName('err');
    created.push(name);
    const d = await c.defineXML(tinyDomainXml(name));

    const suspendOff = await rejectionOf(c.suspend(d));
    expect(suspendOff).toBeInstanceOf(LibvirtError);
    expect((suspendOff as LibvirtError).code).toBe(55);
    expect(toDriverError(suspendOff, 'n').reason).toBe('InvalidState');

    const running = await c.createDomain(d);
    const startAgain = await rejectionOf(c.createDomain(running));
    expect((startAgain as LibvirtError).message).toMatch(/already running/);
    expect(toDriverError(startAgain, 'n').reason).toBe('InvalidState');

    const missing = await rejectionOf(c.lookupByName(`${name}-missing`));
    expect(missing).toMatchObject({ code: 42, domain: 10 });
    expect(toDriverError(missing, 'n').reason).toBe('DomainNotFound');

    const dup = await rejectionOf(c.defineXML(tinyDomainXml(name, { uuid: '0badc0de-0000-4000-8000-000000000001' })));
    expect(toDriverError(dup, 'n').reason).toBe('DomainExists');

    expect(toDriverError(await rejectionOf(c.defineXML('<domain')), 'n').reason).toBe('InvalidSpec');
    const badType = tinyDomainXml(uniqueName('err')).replace("type='qemu'", "type='bogus'");
    expect(toDriverError(await rejectionOf(c.defineXML(badType)), 'n').reason).toBe('InvalidSpec');

    // Rejected before it reaches the daemon: a C string would end at the NUL.
    expect(await rejectionOf(c.lookupByName('vm\0other'))).toBeInstanceOf(XdrError);
    // The connection is still fine after all of that.
    expect(await c.getState(running)).toMatchObject({ state: 'running' });
    await c.destroy(running);
    await c.undefine(running);
  });
});
