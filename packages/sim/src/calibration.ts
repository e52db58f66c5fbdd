/**
 * The real agent's timings as measured on this project's machines by `scripts/calibrate.ts`
 * (`calibration.json`, committed with the machine it was measured on). `defaults.ts` builds the simulator's
 * default TimingProfile from these figures; `test/calibration.test.ts` checks the simulator reproduces
 * their medians.
 */
import calibration from './calibration.json' with { type: 'json' };
import type { Dist } from './distributions.ts';

export interface CalibratedFigure {
  /** The interval measured, in words. */
  what: string;
  unit: 'ms' | 'bytes' | 'bytes/s';
  n: number;
  median: number;
  p95: number;
  min: number;
  max: number;
  samples: number[];
}

export interface Calibration {
  about: string;
  machine: {
    cpu: string;
    cores: number;
    kernel: string;
    os: string;
    libvirt: string;
    qemu: string;
    hypervisor: 'kvm' | 'qemu';
    emulationReason?: string;
    date: string;
    /** Other work slows every figure: the 1-minute load average when the measurement started and ended. */
    loadAverage1m: string;
  };
  method: Record<string, string | number>;
  kvm: { usable: boolean; reason?: string };
  figures: Record<
    | 'rpc'
    | 'define'
    | 'start'
    | 'boot'
    | 'acpiShutdown'
    | 'destroy'
    | 'undefine'
    | 'migrationWall'
    | 'migrationDowntime'
    | 'migrationSetup'
    | 'migrationBytes'
    | 'migrationBandwidth',
    CalibratedFigure
  > &
    Partial<Record<'bootKvm', CalibratedFigure>>;
}

export const CALIBRATION: Calibration = calibration as Calibration;

/**
 * A duration distribution with the figure's median and p95 (log-normal: durations are positive and
 * right-skewed), clamped to the measured range widened by 10% on each side. The clamp never moves the
 * median, so the simulator's median is the measured one.
 */
export function calibratedDist(f: CalibratedFigure): Dist {
  return {
    median: f.median,
    p95: Math.max(f.p95, f.median * 1.01),
    min: Math.min(f.min * 0.9, f.median),
    max: Math.max(f.max * 1.1, f.median),
  };
}
