import { parseBytes, parseMillis } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';
import {
  centre,
  cpuToMillis,
  formatBytes,
  memoryToBytes,
  parseQuantity,
  Rng,
  sample,
  validateDist,
} from '../src/index.ts';

describe('Rng', () => {
  it('gives the same stream for the same seed and a different one for another seed', () => {
    const a = Rng.from(42);
    const b = Rng.from(42);
    const c = Rng.from(43);
    const xs = Array.from({ length: 8 }, () => a.uint32());
    expect(Array.from({ length: 8 }, () => b.uint32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.uint32())).not.toEqual(xs);
    expect(Rng.from('42').uint32()).not.toBe(Rng.from(42).uint32());
  });

  it('forks by label only: draws on the parent or other forks do not shift a fork', () => {
    const root1 = Rng.from(7);
    const f1 = root1.fork('node:a');
    const root2 = Rng.from(7);
    for (let i = 0; i < 100; i++) root2.uint32();
    root2.fork('node:b').uint32();
    const f2 = root2.fork('node:a');
    expect(Array.from({ length: 5 }, () => f2.next())).toEqual(Array.from({ length: 5 }, () => f1.next()));
    expect(root1.fork('node:b').uint32()).not.toBe(root1.fork('node:a').uint32());
  });

  it('is roughly uniform', () => {
    const r = Rng.from(1);
    const buckets = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) buckets[Math.floor(r.next() * 10)]++;
    for (const b of buckets) expect(Math.abs(b - 10_000)).toBeLessThan(500);
  });
});

describe('distributions', () => {
  it('keeps uniform samples within range', () => {
    const r = Rng.from(3);
    for (let i = 0; i < 1000; i++) {
      const v = sample({ min: 400, max: 600 }, r);
      expect(v).toBeGreaterThanOrEqual(400);
      expect(v).toBeLessThan(600);
    }
  });

  it('fits a log-normal to median and p95, and clamps', () => {
    const r = Rng.from(5);
    const xs = Array.from({ length: 20_000 }, () => sample({ median: 4100, p95: 5200 }, r)).sort((a, b) => a - b);
    expect(Math.abs(xs[10_000]! - 4100)).toBeLessThan(40);
    expect(Math.abs(xs[19_000]! - 5200)).toBeLessThan(80);
    const clamped = Array.from({ length: 2000 }, () => sample({ median: 4100, p95: 5200, min: 4000, max: 4200 }, r));
    expect(Math.min(...clamped)).toBe(4000);
    expect(Math.max(...clamped)).toBe(4200);
  });

  it('samples normals around the mean and constants as they are', () => {
    const r = Rng.from(9);
    const xs = Array.from({ length: 10_000 }, () => sample({ mean: 100, sd: 10 }, r));
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(Math.abs(mean - 100)).toBeLessThan(0.5);
    expect(sample(250, r)).toBe(250);
    expect(centre({ min: 2, max: 4 })).toBe(3);
  });

  it('rejects specs that cannot be durations', () => {
    expect(() => validateDist({ median: 10, p95: 5 })).toThrow(TypeError);
    expect(() => validateDist({ min: 5, max: 1 })).toThrow(TypeError);
    expect(() => validateDist(-1)).toThrow(TypeError);
    expect(() => validateDist({ median: 10, p95: 20 })).not.toThrow();
  });
});

describe('quantities', () => {
  it('parses Kubernetes quantities', () => {
    expect(memoryToBytes('256Mi')).toBe(256 * 2 ** 20);
    expect(memoryToBytes('1G')).toBe(1e9);
    expect(memoryToBytes('1.5Gi')).toBe(1.5 * 2 ** 30);
    expect(cpuToMillis('500m')).toBe(500);
    expect(cpuToMillis(2)).toBe(2000);
    expect(cpuToMillis('0.1')).toBe(100);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(parseQuantity('12 apples')).toBeUndefined();
  });

  it('reads them as the engine does: exact decimals, capped at the int64 limit, canonical text', () => {
    expect(parseQuantity('12.12m')).toBe(0.01212);
    expect(memoryToBytes('1e400')).toBe(Number(parseBytes('1e400')));
    expect(cpuToMillis('9Ei')).toBe(Number(parseMillis('9Ei')));
    for (const q of ['1.1Gi', '4.35M', '0.1Ki', '1.0000000001', '1e-10']) {
      expect(memoryToBytes(q), q).toBe(Number(parseBytes(q)));
      expect(cpuToMillis(q), q).toBe(Number(parseMillis(q)));
    }
    expect(formatBytes(1000)).toBe('1k');
    expect(formatBytes(1536 * 2 ** 20)).toBe('1536Mi');
  });
});
