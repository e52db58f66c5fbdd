// The simulator's default timings reproduce the real agent's calibrated medians (calibration.json, measured
// by scripts/calibrate.ts): each interval is measured in virtual time exactly as the script measures it on
// the real node, over many seeds, and its median must lie within 25% of the calibrated one.
import { type DomainDefinition, type DomainEvent, VirtualClock } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import { CALIBRATION, type CalibratedFigure, DEFAULT_TIMING, SimFabric, SimNode } from '../src/index.ts';

const SEEDS = 150;
const GUEST = 'virtkit/test-guest';
const MiB = 2 ** 20;

function definition(name: string, memoryBytes: number): DomainDefinition {
  return {
    id: `vk-calibrate_${name}`,
    uid: `calibrate-${name}`,
    name,
    namespace: 'vk-calibrate',
    spec: {
      domain: {
        cpu: { cores: 1 },
        memory: { guest: `${memoryBytes / MiB}Mi` },
        resources: { requests: { cpu: '100m' } },
        firmware: {
          kernelBoot: {
            kernelArgs: 'console=ttyS0 quiet panic=-1',
            container: { image: GUEST, kernelPath: '/vmlinux', initrdPath: '/initrd.cpio' },
          },
        },
        devices: { disks: [{ name: 'cloudinit', disk: { bus: 'virtio' } }] },
      },
      volumes: [{ name: 'cloudinit', cloudInitNoCloud: { userData: '#cloud-config\n' } }],
    },
  };
}

type Samples = Record<
  'rpc' | 'define' | 'start' | 'boot' | 'acpiShutdown' | 'destroy' | 'undefine' | 'migrationWall' | 'migrationDowntime',
  number[]
>;

/** One seeded world: the calibration script's lifecycle and one migration, timed on the virtual clock. */
async function measure(seed: number, out: Samples): Promise<void> {
  const clock = new VirtualClock();
  const fabric = new SimFabric({ clock, seed });
  // Like the real node: the test guest's kernel and initrd are local files, never fetched.
  const a = new SimNode({ name: 'a', fabric, preloadedImages: [GUEST] });
  const b = new SimNode({ name: 'b', fabric, preloadedImages: [GUEST] });
  const events: DomainEvent[] = [];
  a.onEvent((e) => events.push(e));

  /** Drives the clock until `p` settles; returns its value and the virtual time it took. */
  const timed = async <T>(p: Promise<T>): Promise<{ value: T; ms: number; end: number }> => {
    const t0 = clock.now();
    let done = false;
    const watched = p.finally(() => {
      done = true;
    });
    watched.catch(() => {});
    while (!done) {
      const next = clock.nextTimerAt();
      if (next === undefined) await new Promise((r) => setImmediate(r));
      else await clock.advanceTo(next);
    }
    const value = await watched;
    return { value, ms: clock.now() - t0, end: clock.now() };
  };
  /** Virtual time from `after` until the first event matching `match` at or after it. */
  const until = async (after: number, match: (e: DomainEvent) => boolean): Promise<number> => {
    for (;;) {
      const hit = events.find((e) => e.at >= after && match(e));
      if (hit) return hit.at - after;
      const next = clock.nextTimerAt();
      if (next === undefined) throw new Error('the simulation went idle before the event');
      await clock.advanceTo(next);
    }
  };

  const def = definition(`s${seed}`, 192 * MiB);
  const id = def.id;
  out.define.push((await timed(a.defineDomain(def))).ms);
  const started = await timed(a.startDomain(id));
  out.start.push(started.ms);
  out.boot.push(await until(started.end, (e) => e.domain === id && e.type === 'guest-ready'));
  out.rpc.push((await timed(a.getDomain(id))).ms);
  const asked = await timed(a.shutdownDomain(id));
  out.acpiShutdown.push(
    await until(asked.end, (e) => e.domain === id && e.type === 'lifecycle' && e.event === 'Stopped'),
  );
  await timed(a.startDomain(id));
  out.destroy.push((await timed(a.destroyDomain(id))).ms);
  out.undefine.push((await timed(a.undefineDomain(id))).ms);

  const mig = definition(`m${seed}`, Number(CALIBRATION.method.migrationMemoryBytes));
  await timed(a.defineDomain(mig));
  const booted = await timed(a.startDomain(mig.id));
  await until(booted.end, (e) => e.domain === mig.id && e.type === 'guest-ready');
  const moved = await timed(a.migrateDomain(mig.id, 'b'));
  out.migrationWall.push(moved.ms);
  out.migrationDowntime.push(moved.value.downtimeMs);
  a.dispose();
  b.dispose();
}

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

describe('calibration: the simulator reproduces the measured medians', () => {
  it('its default timings are the calibrated figures', () => {
    const f = CALIBRATION.figures;
    expect(DEFAULT_TIMING.boot).toMatchObject({ median: f.boot.median });
    expect(DEFAULT_TIMING.start).toMatchObject({ median: f.start.median });
    expect(DEFAULT_TIMING.migrationBandwidth).toBe(f.migrationBandwidth.median);
    expect(CALIBRATION.machine.libvirt).toMatch(/^\d+\.\d+\.\d+$/);
    expect(CALIBRATION.machine.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it(`each step's median over ${SEEDS} seeded runs is within 25% of the calibrated median`, async () => {
    const out: Samples = {
      rpc: [],
      define: [],
      start: [],
      boot: [],
      acpiShutdown: [],
      destroy: [],
      undefine: [],
      migrationWall: [],
      migrationDowntime: [],
    };
    for (let seed = 1; seed <= SEEDS; seed++) await measure(seed, out);
    const rows = (Object.keys(out) as (keyof Samples)[]).map((k) => {
      const cal = (CALIBRATION.figures as Record<string, CalibratedFigure>)[k]!.median;
      const sim = median(out[k]);
      // The virtual clock counts whole milliseconds: half a millisecond of rounding on top of the 25%.
      return { step: k, calibrated: cal, sim, within: Math.abs(sim - cal) <= 0.25 * cal + 0.5 };
    });
    const table = rows.map((r) => `${r.step}: calibrated ${r.calibrated} ms, sim ${r.sim} ms`).join('\n');
    expect(
      rows.filter((r) => !r.within),
      table,
    ).toEqual([]);
    expect(rows.every((r) => out[r.step].length === SEEDS)).toBe(true);
  }, 60_000);
});
