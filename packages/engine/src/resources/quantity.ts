/**
 * Kubernetes resource quantities (`128Mi`, `1.5Gi`, `500m`, `2e3`), parsed with the semantics of
 * apimachinery's `resource.Quantity`, exactly, with BigInt arithmetic:
 *
 *   <quantity> ::= <sign>? <digits> ( "." <digits>? )? <suffix> | <sign>? "." <digits> <suffix>
 *   <suffix>   ::= Ki | Mi | Gi | Ti | Pi | Ei            (binary SI, powers of 1024)
 *                | n | u | m | "" | k | M | G | T | P | E (decimal SI)
 *                | (e | E) <sign>? <digits>              (decimal exponent)
 *
 * As Kubernetes does at parse time, a value is rounded up (away from zero) to the next multiple of
 * 10^-9 and its magnitude is capped at 2^63-1 base units. `Value()` and `MilliValue()` round up away
 * from zero as well, so `0.1m` of CPU is 1 millicore and `1.5` bytes is 2 bytes.
 *
 * One deliberate difference: Kubernetes' hand-written scanner also accepts a sign alone, a lone
 * ".", or a bare suffix ("Gi") as zero — an accident of its implementation that contradicts its own
 * documented grammar and error message. Those are rejected here.
 */
import { RequestError } from '../errors.ts';

export type QuantityFormat = 'BinarySI' | 'DecimalSI' | 'DecimalExponent';

export interface Quantity {
  /** The text that was parsed (a number input is converted with `String(n)`), surrounding space removed. */
  readonly text: string;
  /** The notation the value was written in; `formatQuantity` writes it back in the same family. */
  readonly format: QuantityFormat;
  /** The exact value in units of 10^-9 (after Kubernetes' parse-time rounding and cap). */
  readonly nanos: bigint;
}

export type QuantityCheck = { ok: true; quantity: Quantity } | { ok: false; reason: string };

const NANOS_PER_UNIT = 1_000_000_000n;
const NANOS_PER_MILLI = 1_000_000n;
/** Kubernetes caps every quantity at the largest int64, in base units. */
const MAX_UNITS = (1n << 63n) - 1n;
const MAX_NANOS = MAX_UNITS * NANOS_PER_UNIT;

/** Kubernetes' own wording for a malformed quantity, regex included, so clients see familiar text. */
export const QUANTITY_FORMAT_MESSAGE =
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const SUFFIX_MESSAGE = "unable to parse quantity's suffix";

/** Binary SI suffix → power of two. */
const BINARY_SUFFIXES: ReadonlyMap<string, bigint> = new Map([
  ['Ki', 10n],
  ['Mi', 20n],
  ['Gi', 30n],
  ['Ti', 40n],
  ['Pi', 50n],
  ['Ei', 60n],
]);
/** Decimal SI suffix → power of ten. */
const DECIMAL_SUFFIXES: ReadonlyMap<string, number> = new Map([
  ['n', -9],
  ['u', -6],
  ['m', -3],
  ['', 0],
  ['k', 3],
  ['M', 6],
  ['G', 9],
  ['T', 12],
  ['P', 15],
  ['E', 18],
]);
const DECIMAL_SUFFIX_BY_EXPONENT: ReadonlyMap<number, string> = new Map([...DECIMAL_SUFFIXES].map(([s, e]) => [e, s]));
const BINARY_SUFFIX_BY_POWER = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'] as const;
/** Characters Kubernetes' scanner takes as the letter part of a suffix. */
const SUFFIX_LETTERS = 'eEinumkKMGTP';
const INT32_MAX = 2 ** 31 - 1;
const LOG10_2 = Math.log10(2);

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

const pow10 = (n: number): bigint => 10n ** BigInt(n);

/** Checks and parses a quantity without throwing. Accepts a string or a finite number (as JSON numbers are). */
export function checkQuantity(input: unknown): QuantityCheck {
  let text: string;
  if (typeof input === 'string') text = input.trim();
  else if (typeof input === 'number') {
    if (!Number.isFinite(input)) return { ok: false, reason: `${input} is not a finite number` };
    text = String(input);
  } else {
    return { ok: false, reason: `must be a string or a number, not ${describeType(input)}` };
  }
  if (text === '') return { ok: false, reason: 'must not be empty' };

  // sign, integer digits, optional fraction
  let pos = 0;
  let negative = false;
  if (text[0] === '+' || text[0] === '-') {
    negative = text[0] === '-';
    pos = 1;
  }
  const intStart = pos;
  while (isDigit(text[pos])) pos++;
  const intDigits = text.slice(intStart, pos);
  let fracDigits = '';
  if (text[pos] === '.') {
    pos++;
    const fracStart = pos;
    while (isDigit(text[pos])) pos++;
    fracDigits = text.slice(fracStart, pos);
  }
  if (intDigits === '' && fracDigits === '') return { ok: false, reason: QUANTITY_FORMAT_MESSAGE };

  // suffix: letters, then an optional sign and digits (the exponent of an e/E suffix), then the end
  const suffixStart = pos;
  while (pos < text.length && SUFFIX_LETTERS.includes(text[pos] as string)) pos++;
  if (text[pos] === '+' || text[pos] === '-') pos++;
  while (isDigit(text[pos])) pos++;
  if (pos !== text.length) return { ok: false, reason: QUANTITY_FORMAT_MESSAGE };
  const suffix = text.slice(suffixStart);

  let format: QuantityFormat;
  let exp10: number;
  let exp2 = 0n;
  const binary = BINARY_SUFFIXES.get(suffix);
  const decimal = DECIMAL_SUFFIXES.get(suffix);
  if (binary !== undefined) {
    format = 'BinarySI';
    exp10 = 0;
    exp2 = binary;
  } else if (decimal !== undefined) {
    format = 'DecimalSI';
    exp10 = decimal;
  } else if (suffix.length > 1 && (suffix[0] === 'e' || suffix[0] === 'E') && /^[+-]?\d+$/.test(suffix.slice(1))) {
    format = 'DecimalExponent';
    const e = Number(suffix.slice(1));
    if (Math.abs(e) > INT32_MAX)
      return { ok: false, reason: `${SUFFIX_MESSAGE}: exponent ${suffix.slice(1)} is out of range` };
    exp10 = e;
  } else {
    return { ok: false, reason: SUFFIX_MESSAGE };
  }

  const magnitude = toNanos(intDigits + fracDigits, exp10 - fracDigits.length, exp2);
  return { ok: true, quantity: { text, format, nanos: negative ? -magnitude : magnitude } };
}

/**
 * `digits × 10^scale × 2^exp2` in nanos, rounded up to a whole nano and capped, without building huge
 * numbers for extreme exponents (`1e999999999` is simply the cap, `1e-999999999` one nano).
 */
function toNanos(digits: string, scale: number, exp2: bigint): bigint {
  const significant = digits.replace(/^0+/, '');
  if (significant === '') return 0n;
  const nanoScale = scale + 9;
  // The value lies in [10^lower, 10^(lower+1)) up to float error; a margin of 2 absorbs that error.
  const lower = significant.length - 1 + nanoScale + Number(exp2) * LOG10_2;
  if (lower > 30) return MAX_NANOS; // above 10^30 nanos, far beyond the 9.2e27 cap
  if (lower < -3) return 1n; // below a thousandth of a nano, so it rounds up to exactly one
  let value = BigInt(significant) << exp2;
  if (nanoScale >= 0) value *= pow10(nanoScale);
  else value = ceilDiv(value, pow10(-nanoScale));
  return value > MAX_NANOS ? MAX_NANOS : value;
}

/** Parses a quantity; throws `RequestError` (BadRequest) naming the text and the reason. */
export function parseQuantity(input: string | number): Quantity {
  const r = checkQuantity(input);
  if (!r.ok) throw new RequestError('BadRequest', `invalid quantity ${JSON.stringify(String(input))}: ${r.reason}`);
  return r.quantity;
}

function ceilDiv(n: bigint, d: bigint): bigint {
  const q = n / d;
  return n % d === 0n ? q : q + 1n;
}

/** Division rounding away from zero, as Kubernetes' ScaledValue does. */
function divAwayFromZero(n: bigint, d: bigint): bigint {
  return n < 0n ? -ceilDiv(-n, d) : ceilDiv(n, d);
}

/** Kubernetes' `Value()`: the value in base units (bytes, cores), rounded up away from zero. */
export function quantityValue(q: Quantity): bigint {
  return divAwayFromZero(q.nanos, NANOS_PER_UNIT);
}

/** Kubernetes' `MilliValue()`: the value in thousandths (millicores), rounded up away from zero. */
export function quantityMilliValue(q: Quantity): bigint {
  return divAwayFromZero(q.nanos, NANOS_PER_MILLI);
}

/** Bytes of a memory/storage quantity (`128Mi` → 134217728n), rounded up like Kubernetes. Throws on bad input. */
export function parseBytes(input: string | number): bigint {
  return quantityValue(parseQuantity(input));
}

/** Millicores of a CPU quantity (`500m` → 500n, `2` → 2000n, `0.1m` → 1n). Throws on bad input. */
export function parseMillis(input: string | number): bigint {
  return quantityMilliValue(parseQuantity(input));
}

/** Orders two quantities by value: negative, zero or positive. */
export function compareQuantities(a: Quantity, b: Quantity): number {
  return a.nanos < b.nanos ? -1 : a.nanos > b.nanos ? 1 : 0;
}

/**
 * The canonical text Kubernetes prints for a quantity (its `String()`): `1.5Gi` → `1536Mi`,
 * `0.5` → `500m`, `1000` → `1k`, `1.5e3` → `1500`. Binary values below 1Ki or with a fraction are
 * written in decimal SI, as Kubernetes does.
 */
export function formatQuantity(q: Pick<Quantity, 'nanos' | 'format'>): string {
  return canonical(q.nanos, q.format);
}

/** Canonical binary-SI text for a byte count: 134217728 → `128Mi`, 1536 → `1536`, 1000 → `1k`. */
export function formatBytes(bytes: bigint | number): string {
  return canonical(toBigInt(bytes, 'bytes') * NANOS_PER_UNIT, 'BinarySI');
}

/** Canonical decimal-SI text for millicores: 500 → `500m`, 2000 → `2`, 1500 → `1500m`. */
export function formatMillis(millis: bigint | number): string {
  return canonical(toBigInt(millis, 'millis') * NANOS_PER_MILLI, 'DecimalSI');
}

function toBigInt(n: bigint | number, what: string): bigint {
  if (typeof n === 'bigint') return n;
  if (!Number.isSafeInteger(n)) throw new RequestError('BadRequest', `${what} must be a safe integer, got ${n}`);
  return BigInt(n);
}

function canonical(nanos: bigint, format: QuantityFormat): string {
  if (nanos === 0n) return '0';
  const sign = nanos < 0n ? '-' : '';
  const abs = nanos < 0n ? -nanos : nanos;
  if (format === 'BinarySI' && abs >= 1024n * NANOS_PER_UNIT && abs % NANOS_PER_UNIT === 0n) {
    let units = abs / NANOS_PER_UNIT;
    let power = 0;
    while (power < BINARY_SUFFIX_BY_POWER.length - 1 && units % 1024n === 0n) {
      units /= 1024n;
      power++;
    }
    return `${sign}${units}${BINARY_SUFFIX_BY_POWER[power]}`;
  }
  // Strip every factor of ten, then step down to an exponent that is a multiple of three.
  let mantissa = abs;
  let exponent = -9;
  while (mantissa % 10n === 0n) {
    mantissa /= 10n;
    exponent++;
  }
  const off = ((exponent % 3) + 3) % 3;
  mantissa *= pow10(off);
  exponent -= off;
  if (format === 'DecimalExponent') return `${sign}${mantissa}${exponent === 0 ? '' : `e${exponent}`}`;
  // With the cap at 2^63-1 units and a resolution of 10^-9 the exponent is always within n..E.
  return `${sign}${mantissa}${DECIMAL_SUFFIX_BY_EXPONENT.get(exponent) ?? `e${exponent}`}`;
}

export function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}
