import { DriverError } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TIMING } from '../src/index.ts';
import { rejection, run, summary, vmDef, world } from './helpers.ts';

/** The measured range a calibrated default is clamped to. */
const range = (d: unknown) => d as { min: number; max: number };

const A = 'default_a';

async function running(w: ReturnType<typeof world>, name = 'a', opts: Parameters<typeof vmDef>[1] = {}) {
  await run(w.clock, w.node.defineDomain(vmDef(name, opts)));
  await run(w.clock, w.node.startDomain(`default_${name}`));
  await w.clock.advance(10_000);
}

describe('canonical event sequences', () => {
  it('define (with image fetch) then start → Started/Booted, console lines, guest-ready', async () => {
    const w = world();
    await running(w);
    expect(summary(w.events)).toEqual([
      'n1 image fetching',
      'n1 image fetched',
      'n1 lifecycle Defined/Added',
      'n1 lifecycle Started/Booted',
      'n1 guest-ready console',
    ]);
    const all = w.events.map((e) => e.type);
    const started = w.events.findIndex((e) => e.type === 'lifecycle' && e.event === 'Started');
    expect(all.slice(started + 1, -1).length).toBeGreaterThan(5);
    expect(all.slice(started + 1, -1).every((t) => t === 'console')).toBe(true);
    expect((await run(w.clock, w.node.getDomain(A)))!).toMatchObject({
      state: 'running',
      reason: 'booted',
      guestReady: true,
    });
  });

  it('a second define of another VM with the cached image fetches nothing', async () => {
    const w = world();
    await run(w.clock, w.node.defineDomain(vmDef('a')));
    w.events.length = 0;
    await run(w.clock, w.node.defineDomain(vmDef('b')));
    expect(summary(w.events)).toEqual(['n1 lifecycle Defined/Added']);
    expect(w.node.isImageCached('virtkit/test-guest')).toBe(true);
  });

  it('start resolves when the domain runs, before the guest is ready', async () => {
    const w = world();
    await run(w.clock, w.node.defineDomain(vmDef('a')));
    const t0 = w.clock.now();
    await run(w.clock, w.node.startDomain(A));
    const took = w.clock.now() - t0;
    expect(took).toBeGreaterThanOrEqual(Math.floor(range(DEFAULT_TIMING.start).min));
    expect(took).toBeLessThanOrEqual(Math.ceil(range(DEFAULT_TIMING.start).max));
    expect(w.node.peek(A)).toMatchObject({ state: 'running', guestReady: false });
  });

  it('pause/resume → Suspended/Paused, Resumed/Unpaused; pause freezes the boot', async () => {
    const w = world();
    await run(w.clock, w.node.defineDomain(vmDef('a', { annotations: { 'sim.virtkit.io/boot-ms': '4000' } })));
    await run(w.clock, w.node.startDomain(A));
    await run(w.clock, w.node.pauseDomain(A));
    await w.clock.advance(60_000);
    expect(w.node.peek(A)).toMatchObject({ state: 'paused', reason: 'user', guestReady: false });
    await run(w.clock, w.node.resumeDomain(A));
    await w.clock.advance(4_000);
    expect(summary(w.events).slice(-3)).toEqual([
      'n1 lifecycle Suspended/Paused',
      'n1 lifecycle Resumed/Unpaused',
      'n1 guest-ready console',
    ]);
  });

  it('ACPI shutdown → Shutdown/Finished, Stopped/Shutdown after the guest complies', async () => {
    const w = world();
    await running(w);
    w.events.length = 0;
    const t0 = w.clock.now();
    await run(w.clock, w.node.shutdownDomain(A));
    expect(w.node.peek(A)!.state).toBe('running');
    const latest = Math.ceil(range(DEFAULT_TIMING.acpiShutdown).max + range(DEFAULT_TIMING.rpc).max);
    await w.clock.advance(latest);
    expect(summary(w.events)).toEqual(['n1 lifecycle Shutdown/Finished', 'n1 lifecycle Stopped/Shutdown']);
    const stoppedAt = w.events.at(-1)!.at - t0;
    expect(stoppedAt).toBeGreaterThanOrEqual(Math.floor(range(DEFAULT_TIMING.acpiShutdown).min));
    expect(stoppedAt).toBeLessThanOrEqual(latest);
    expect(w.node.peek(A)).toMatchObject({ state: 'shutoff', reason: 'shutdown', guestReady: false });
  });

  it('a guest that ignores ACPI never stops on shutdown; destroy still works', async () => {
    const w = world();
    await running(w, 'a', { image: 'virtkit/test-guest-noacpi' });
    w.events.length = 0;
    await run(w.clock, w.node.shutdownDomain(A));
    await w.clock.advance(60_000);
    expect(summary(w.events)).toEqual([]);
    const t0 = w.clock.now();
    await run(w.clock, w.node.destroyDomain(A));
    expect(w.clock.now() - t0).toBeGreaterThanOrEqual(1400);
    expect(summary(w.events)).toEqual(['n1 lifecycle Stopped/Destroyed']);
  });

  it('destroy of a shut-off or missing domain is a silent no-op', async () => {
    const w = world();
    await run(w.clock, w.node.defineDomain(vmDef('a')));
    w.events.length = 0;
    await run(w.clock, w.node.destroyDomain(A));
    await run(w.clock, w.node.destroyDomain('default_nope'));
    expect(w.events).toEqual([]);
  });

  it('reboot → console lines of a new boot, guest-ready; no lifecycle events', async () => {
    const w = world();
    await running(w);
    w.events.length = 0;
    await run(w.clock, w.node.rebootDomain(A));
    await w.clock.advance(15_000);
    const s = summary(w.events, { console: true });
    expect(s[0]).toMatch(/reboot: Restarting system/);
    expect(s).toContain('n1 console SeaBIOS (version 1.16.2-debian-1.16.2-1)');
    expect(s.at(-1)).toBe('n1 guest-ready console');
    expect(s.filter((x) => x.includes('lifecycle'))).toEqual([]);
  });

  it('undefine → Undefined/Removed and frees capacity; again is a no-op', async () => {
    const w = world();
    await run(w.clock, w.node.defineDomain(vmDef('a', { memory: '1Gi' })));
    expect(w.node.used.memoryBytes).toBe(2 ** 30);
    w.events.length = 0;
    await run(w.clock, w.node.undefineDomain(A));
    await run(w.clock, w.node.undefineDomain(A));
    expect(summary(w.events)).toEqual(['n1 lifecycle Undefined/Removed']);
    expect(w.node.used).toEqual({ cpuMillis: 0, memoryBytes: 0, vms: 0 });
    expect(await run(w.clock, w.node.getDomain(A))).toBeUndefined();
  });
});

describe('errors as libvirt gives them through the agent', () => {
  it('start of a running domain → InvalidState', async () => {
    const w = world();
    await running(w);
    const e = await rejection(run(w.clock, w.node.startDomain(A)));
    expect(e).toBeInstanceOf(DriverError);
    expect(e).toMatchObject({ reason: 'InvalidState' });
    expect(e.message).toContain('domain is already running');
  });

  it('two concurrent starts: the second waits for the first, then fails InvalidState', async () => {
    const w = world();
    await run(w.clock, w.node.defineDomain(vmDef('a')));
    const first = w.node.startDomain(A);
    const second = rejection(w.node.startDomain(A));
    await run(w.clock, first);
    expect((await run(w.clock, second)).reason).toBe('InvalidState');
    expect(summary(w.events).filter((s) => s.includes('Started'))).toHaveLength(1);
  });

  it('unknown domain → DomainNotFound for every domain call except destroy/undefine/get', async () => {
    const w = world();
    for (const call of [
      (): Promise<unknown> => w.node.startDomain('x'),
      () => w.node.shutdownDomain('x'),
      () => w.node.pauseDomain('x'),
      () => w.node.resumeDomain('x'),
      () => w.node.rebootDomain('x'),
      () => w.node.migrateDomain('x', 'n2'),
    ]) {
      const e = await rejection(run(w.clock, call()));
      expect(e.reason).toBe('DomainNotFound');
      expect(e.message).toContain("no domain with matching name 'x'");
    }
  });

  it('pause/resume/shutdown/reboot of a shut-off domain → InvalidState; pause twice is a no-op; resume running → InvalidState', async () => {
    const w = world();
    await run(w.clock, w.node.defineDomain(vmDef('a')));
    for (const call of [
      () => w.node.pauseDomain(A),
      () => w.node.resumeDomain(A),
      () => w.node.shutdownDomain(A),
      () => w.node.rebootDomain(A),
    ]) {
      expect((await rejection(run(w.clock, call()))).message).toContain('domain is not running');
    }
    await run(w.clock, w.node.startDomain(A));
    expect((await rejection(run(w.clock, w.node.resumeDomain(A)))).message).toContain('already running');
    await run(w.clock, w.node.pauseDomain(A));
    w.events.length = 0;
    await run(w.clock, w.node.pauseDomain(A));
    expect(w.events).toEqual([]);
  });

  it('undefine of a running domain → InvalidState', async () => {
    const w = world();
    await running(w);
    expect((await rejection(run(w.clock, w.node.undefineDomain(A)))).reason).toBe('InvalidState');
  });

  it('define is idempotent by uid; same id with another uid → DomainExists', async () => {
    const w = world();
    const first = await run(w.clock, w.node.defineDomain(vmDef('a')));
    w.events.length = 0;
    const again = await run(w.clock, w.node.defineDomain(vmDef('a')));
    expect(again).toEqual(first);
    expect(w.events).toEqual([]);
    const e = await rejection(run(w.clock, w.node.defineDomain(vmDef('a', { uid: 'other' }))));
    expect(e.reason).toBe('DomainExists');
    expect(w.node.domainIds()).toEqual([A]);
  });

  it('an invalid spec → InvalidSpec', async () => {
    const w = world();
    const def = vmDef('a');
    def.spec.domain.memory = { guest: 'lots' };
    expect((await rejection(run(w.clock, w.node.defineDomain(def)))).reason).toBe('InvalidSpec');
  });
});

describe('capacity', () => {
  it('refuses a define that does not fit memory, CPU or VM count; shut-off domains count', async () => {
    const w = world(1, { capacity: { cpu: 2, memory: '1Gi', vms: 3 } });
    await run(w.clock, w.node.defineDomain(vmDef('a', { memory: '768Mi' })));
    const mem = await rejection(run(w.clock, w.node.defineDomain(vmDef('b', { memory: '512Mi' }))));
    expect(mem.reason).toBe('InsufficientResources');
    expect(mem.message).toContain('memory');
    const cpu = await rejection(run(w.clock, w.node.defineDomain(vmDef('c', { memory: '64Mi', cpu: '2' }))));
    expect(cpu.reason).toBe('InsufficientResources');
    await run(w.clock, w.node.defineDomain(vmDef('d', { memory: '64Mi', cpu: '100m' })));
    await run(w.clock, w.node.defineDomain(vmDef('e', { memory: '64Mi', cpu: '100m' })));
    const vms = await rejection(run(w.clock, w.node.defineDomain(vmDef('f', { memory: '64Mi', cpu: '100m' }))));
    expect(vms.reason).toBe('InsufficientResources');
    expect(w.node.used).toEqual({ cpuMillis: 1200, memoryBytes: (768 + 128) * 2 ** 20, vms: 3 });
  });

  it('subtracts the reserve and allows memory overcommit only when asked', async () => {
    const strict = world(1, { capacity: { memory: '2Gi' }, reserve: { memory: '1Gi' } });
    expect(
      (await rejection(run(strict.clock, strict.node.defineDomain(vmDef('a', { memory: '1536Mi' }))))).reason,
    ).toBe('InsufficientResources');
    const loose = world(1, { capacity: { memory: '2Gi' }, reserve: { memory: '1Gi' }, overcommit: { memory: 2 } });
    await run(loose.clock, loose.node.defineDomain(vmDef('a', { memory: '1536Mi' })));
    const info = await run(loose.clock, loose.node.info());
    expect(info.allocatable.memoryBytes).toBe(2 ** 30);
  });

  it('concurrent defines cannot overbook', async () => {
    const w = world(1, { capacity: { memory: '1Gi' } });
    const results = await run(
      w.clock,
      Promise.allSettled([
        w.node.defineDomain(vmDef('a', { memory: '768Mi' })),
        w.node.defineDomain(vmDef('b', { memory: '768Mi' })),
      ]),
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
  });
});

describe('node info', () => {
  it('reports capacity, allocatable, labels and the hypervisor', async () => {
    const w = world(1, {
      capacity: { cpu: '3500m', memory: '4Gi', vms: 10 },
      reserve: { cpu: 1 },
      labels: { zone: 'a' },
    });
    const info = await run(w.clock, w.node.info());
    expect(info).toMatchObject({
      name: 'n1',
      capacity: { cpuMillis: 3500, memoryBytes: 4 * 2 ** 30, vms: 10 },
      allocatable: { cpuMillis: 2500, memoryBytes: 4 * 2 ** 30, vms: 10 },
      labels: { zone: 'a', 'kubernetes.io/hostname': 'n1' },
      hypervisor: 'qemu',
    });
    await run(w.clock, w.node.ping());
  });
});
