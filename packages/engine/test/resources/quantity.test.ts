import {
  checkQuantity,
  compareQuantities,
  formatBytes,
  formatMillis,
  formatQuantity,
  parseBytes,
  parseMillis,
  parseQuantity,
  quantityMilliValue,
  quantityValue,
  RequestError,
} from '@virtkit/engine';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const MAX_INT64 = 9223372036854775807n;

describe('parseQuantity: the Kubernetes grammar', () => {
  it.each([
    ['0', 0n, 'DecimalSI'],
    ['1', 1n, 'DecimalSI'],
    ['007', 7n, 'DecimalSI'],
    ['+5', 5n, 'DecimalSI'],
    ['1k', 1000n, 'DecimalSI'],
    ['1M', 1_000_000n, 'DecimalSI'],
    ['1G', 1_000_000_000n, 'DecimalSI'],
    ['1T', 10n ** 12n, 'DecimalSI'],
    ['1P', 10n ** 15n, 'DecimalSI'],
    ['1E', 10n ** 18n, 'DecimalSI'],
    ['1Ki', 1024n, 'BinarySI'],
    ['128Mi', 134_217_728n, 'BinarySI'],
    ['1Gi', 1_073_741_824n, 'BinarySI'],
    ['1.5Gi', 1_610_612_736n, 'BinarySI'],
    ['1Ti', 1024n ** 4n, 'BinarySI'],
    ['1Pi', 1024n ** 5n, 'BinarySI'],
    ['1Ei', 1024n ** 6n, 'BinarySI'],
    ['2e3', 2000n, 'DecimalExponent'],
    ['2E3', 2000n, 'DecimalExponent'],
    ['1e+3', 1000n, 'DecimalExponent'],
    ['12.34e3', 12340n, 'DecimalExponent'],
    ['5.', 5n, 'DecimalSI'],
    ['1.G', 1_000_000_000n, 'DecimalSI'],
  ] as const)('%s is %s base units (%s)', (text, units, format) => {
    const q = parseQuantity(text);
    expect(quantityValue(q)).toBe(units);
    expect(q.format).toBe(format);
    expect(q.nanos).toBe(units * 1_000_000_000n);
  });

  it('parses fractions and small suffixes exactly', () => {
    expect(parseQuantity('500m').nanos).toBe(500_000_000n);
    expect(parseQuantity('.5').nanos).toBe(500_000_000n);
    expect(parseQuantity('1u').nanos).toBe(1000n);
    expect(parseQuantity('1n').nanos).toBe(1n);
    expect(parseQuantity('1E-3').nanos).toBe(1_000_000n);
    expect(parseQuantity('1e-9').nanos).toBe(1n);
    expect(parseQuantity('0.0001m').nanos).toBe(100n);
    expect(parseQuantity('-1.5').nanos).toBe(-1_500_000_000n);
    expect(parseQuantity('0.1Ki').nanos).toBe(102_400_000_000n);
  });

  it('rounds up to the next nano, away from zero, at parse time', () => {
    expect(parseQuantity('0.1n').nanos).toBe(1n);
    expect(parseQuantity('1.5n').nanos).toBe(2n);
    expect(parseQuantity('-1.5n').nanos).toBe(-2n);
    expect(parseQuantity('1e-30').nanos).toBe(1n);
    expect(parseQuantity('1e-999999999').nanos).toBe(1n);
    expect(parseQuantity('0.000e-999999').nanos).toBe(0n);
  });

  it('caps the magnitude at 2^63-1 base units like Kubernetes', () => {
    expect(quantityValue(parseQuantity('8Ei'))).toBe(MAX_INT64);
    expect(quantityValue(parseQuantity('-8Ei'))).toBe(-MAX_INT64);
    expect(quantityValue(parseQuantity('123456789012345678901234567890'))).toBe(MAX_INT64);
    expect(quantityValue(parseQuantity('1e999999999'))).toBe(MAX_INT64);
    expect(quantityValue(parseQuantity('7Ei'))).toBe(7n * 1024n ** 6n);
  });

  it('has no negative zero', () => {
    expect(parseQuantity('-0').nanos).toBe(0n);
    expect(formatQuantity(parseQuantity('-0.0m'))).toBe('0');
  });

  it('trims surrounding space (as Kubernetes does when decoding JSON)', () => {
    expect(parseBytes(' 128Mi\n')).toBe(134_217_728n);
  });

  it('accepts JSON numbers as YAML produces them', () => {
    expect(parseBytes(128)).toBe(128n);
    expect(parseMillis(0.5)).toBe(500n);
    expect(parseBytes(1e21)).toBe(MAX_INT64);
    expect(parseMillis(1e-7)).toBe(1n);
  });

  it.each([
    ['', 'must not be empty'],
    ['   ', 'must not be empty'],
    ['-', 'quantities must match the regular expression'],
    ['+', 'quantities must match the regular expression'],
    ['.', 'quantities must match the regular expression'],
    ['Gi', 'quantities must match the regular expression'],
    ['m', 'quantities must match the regular expression'],
    ['1.1.1', 'quantities must match the regular expression'],
    ['1+1', "unable to parse quantity's suffix"],
    ['1 Gi', 'quantities must match the regular expression'],
    ['1Kb', 'quantities must match the regular expression'],
    ['0x10', 'quantities must match the regular expression'],
    ['1_000', 'quantities must match the regular expression'],
    ['1e1.0', 'quantities must match the regular expression'],
    ['1e3k', 'quantities must match the regular expression'],
    ['--1', 'quantities must match the regular expression'],
    ['1K', "unable to parse quantity's suffix"],
    ['1ki', "unable to parse quantity's suffix"],
    ['1KI', 'quantities must match the regular expression'],
    ['1e', "unable to parse quantity's suffix"],
    ['1i', "unable to parse quantity's suffix"],
    ['1Ki5', "unable to parse quantity's suffix"],
    ['1mi', "unable to parse quantity's suffix"],
    ['1e99999999999', 'out of range'],
  ])('rejects %j: %s', (text, reason) => {
    const r = checkQuantity(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
    expect(() => parseQuantity(text)).toThrow(RequestError);
  });

  it('rejects values that are not strings or finite numbers, saying what they were', () => {
    expect(checkQuantity(Number.NaN)).toEqual({ ok: false, reason: 'NaN is not a finite number' });
    expect(checkQuantity(Number.POSITIVE_INFINITY).ok).toBe(false);
    expect(checkQuantity(true)).toEqual({ ok: false, reason: 'must be a string or a number, not boolean' });
    expect(checkQuantity(null)).toEqual({ ok: false, reason: 'must be a string or a number, not null' });
    expect(checkQuantity({})).toEqual({ ok: false, reason: 'must be a string or a number, not object' });
  });

  it('names the text and the reason in the thrown error', () => {
    try {
      parseQuantity('12Kb');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(RequestError);
      expect((e as RequestError).code).toBe('BadRequest');
      expect((e as Error).message).toMatch(/^invalid quantity "12Kb": quantities must match/);
    }
  });
});

describe('Value and MilliValue round up away from zero', () => {
  it.each([
    ['1.5', 2n, 1500n],
    ['0.5', 1n, 500n],
    ['1m', 1n, 1n],
    ['0.1m', 1n, 1n],
    ['1n', 1n, 1n],
    ['-1.5', -2n, -1500n],
    ['-0.1m', -1n, -1n],
    ['2', 2n, 2000n],
    ['250m', 1n, 250n],
    ['1.5Ki', 1536n, 1_536_000n],
  ])('%s: Value %s, MilliValue %s', (text, value, milli) => {
    const q = parseQuantity(text);
    expect(quantityValue(q)).toBe(value);
    expect(quantityMilliValue(q)).toBe(milli);
  });

  it('gives memory in bytes and CPU in millicores', () => {
    expect(parseBytes('1024M')).toBe(1_024_000_000n);
    expect(parseBytes('1.1Ki')).toBe(1127n);
    expect(parseMillis('2')).toBe(2000n);
    expect(parseMillis('100m')).toBe(100n);
  });

  it('orders quantities by value across notations', () => {
    expect(compareQuantities(parseQuantity('1Ki'), parseQuantity('1k'))).toBe(1);
    expect(compareQuantities(parseQuantity('1000m'), parseQuantity('1'))).toBe(0);
    expect(compareQuantities(parseQuantity('1e3'), parseQuantity('1Ki'))).toBe(-1);
  });
});

describe('formatQuantity: the canonical form Kubernetes prints', () => {
  it.each([
    ['0', '0'],
    ['0Mi', '0'],
    ['1.5Gi', '1536Mi'],
    ['0.5Gi', '512Mi'],
    ['128Mi', '128Mi'],
    ['1024Mi', '1Gi'],
    ['1Ki', '1Ki'],
    ['1.5Ki', '1536'],
    ['0.5Ki', '512'],
    ['1.1Ki', '1126400m'],
    ['1000', '1k'],
    ['1500', '1500'],
    ['1000m', '1'],
    ['0.5', '500m'],
    ['100m', '100m'],
    ['.001', '1m'],
    ['100.035k', '100035'],
    ['0.0001m', '100n'],
    ['1u', '1u'],
    ['2e3', '2e3'],
    ['1.5e3', '1500'],
    ['12e6', '12e6'],
    ['1e-3', '1e-3'],
    ['1E', '1E'],
    ['-1Ki', '-1Ki'],
    ['-1500m', '-1500m'],
    ['8Ei', '9223372036854775807'],
  ])('%s → %s', (text, canonical) => {
    expect(formatQuantity(parseQuantity(text))).toBe(canonical);
  });

  it('formats bytes in binary SI and millicores in decimal SI', () => {
    expect(formatBytes(134_217_728)).toBe('128Mi');
    expect(formatBytes(1536n)).toBe('1536');
    expect(formatBytes(1000)).toBe('1k');
    expect(formatBytes(0)).toBe('0');
    expect(formatBytes(3n * 1024n ** 6n)).toBe('3Ei');
    expect(formatMillis(500)).toBe('500m');
    expect(formatMillis(2000)).toBe('2');
    expect(formatMillis(1500n)).toBe('1500m');
    expect(formatMillis(3_000_000)).toBe('3k');
    expect(() => formatBytes(1.5)).toThrow(RequestError);
  });

  it('round-trips: canonical text parses back to the same value (property, fixed seed)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n }), (bytes) => {
        expect(parseBytes(formatBytes(bytes))).toBe(bytes);
      }),
      { seed: 20260101, numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 18n), max: 10n ** 18n }), (millis) => {
        expect(parseMillis(formatMillis(millis))).toBe(millis);
      }),
      { seed: 20260102, numRuns: 500 },
    );
    const text = fc
      .tuple(
        fc.constantFrom('', '-', '+'),
        fc.stringMatching(/^[0-9]{0,12}$/),
        fc.option(fc.stringMatching(/^[0-9]{0,10}$/)),
        fc.constantFrom(
          '',
          'n',
          'u',
          'm',
          'k',
          'M',
          'G',
          'T',
          'P',
          'E',
          'Ki',
          'Mi',
          'Gi',
          'Ti',
          'Pi',
          'Ei',
          'e3',
          'e-7',
          'E12',
        ),
      )
      .map(([sign, int, frac, suffix]) => `${sign}${int || '0'}${frac === null ? '' : `.${frac}`}${suffix}`);
    fc.assert(
      fc.property(text, (t) => {
        const q = parseQuantity(t);
        const again = parseQuantity(formatQuantity(q));
        expect(again.nanos).toBe(q.nanos);
        expect(formatQuantity(again)).toBe(formatQuantity(q));
      }),
      { seed: 20260103, numRuns: 1000 },
    );
  });
});
