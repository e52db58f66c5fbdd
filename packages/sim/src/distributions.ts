/**
 * Duration distributions, written the way measurements are reported: a constant, a `{ min, max }`
 * range (uniform), a `{ median, p95 }` pair (log-normal: durations are positive and right-skewed),
 * or `{ mean, sd }` (normal). Every sample is clamped to `[min, max]` when those are given, and never
 * below zero.
 */
import type { Rng } from './rng.ts';

export type Dist =
  | number
  | { min: number; max: number }
  | { median: number; p95: number; min?: number; max?: number }
  | { mean: number; sd: number; min?: number; max?: number };

/** z-score of the 95th percentile of the standard normal. */
const Z95 = 1.6448536269514722;

/** Throws a TypeError for a spec that cannot describe a duration. */
export function validateDist(d: Dist, what = 'distribution'): void {
  const bad = (why: string) => {
    throw new TypeError(`${what}: ${why} (${JSON.stringify(d)})`);
  };
  if (typeof d === 'number') {
    if (!Number.isFinite(d) || d < 0) bad('a constant must be a finite number >= 0');
    return;
  }
  const min = 'min' in d ? d.min : undefined;
  const max = 'max' in d ? d.max : undefined;
  if (min !== undefined && (!Number.isFinite(min) || min < 0)) bad('min must be >= 0');
  if (max !== undefined && !Number.isFinite(max)) bad('max must be finite');
  if (min !== undefined && max !== undefined && min > max) bad('min > max');
  if ('median' in d) {
    if (!(d.median > 0)) bad('median must be > 0');
    if (!(d.p95 >= d.median)) bad('p95 must be >= median');
  } else if ('mean' in d) {
    if (!Number.isFinite(d.mean) || !(d.sd >= 0)) bad('mean must be finite and sd >= 0');
  } else if (min === undefined || max === undefined) {
    bad('expected a number, {min,max}, {median,p95} or {mean,sd}');
  }
}

/** Draws one value. Always consumes the same number of random draws for a given spec shape. */
export function sample(d: Dist, rng: Rng): number {
  if (typeof d === 'number') return d;
  let v: number;
  if ('median' in d) {
    const mu = Math.log(d.median);
    const sigma = (Math.log(d.p95) - mu) / Z95;
    v = Math.exp(mu + sigma * rng.normal());
  } else if ('mean' in d) {
    v = d.mean + d.sd * rng.normal();
  } else {
    v = rng.uniform(d.min, d.max);
  }
  if (d.min !== undefined && v < d.min) v = d.min;
  if (d.max !== undefined && v > d.max) v = d.max;
  return Math.max(v, 0);
}

/** The distribution's central value (median, mean, or midpoint), for documentation and estimates. */
export function centre(d: Dist): number {
  if (typeof d === 'number') return d;
  if ('median' in d) return d.median;
  if ('mean' in d) return d.mean;
  return (d.min + d.max) / 2;
}
