const SUFFIX: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  Pi: 1024 ** 5,
};

/** Parses a Kubernetes quantity (`64Mi`, `1G`, `500m`, `1.5Gi`) into a number; undefined when malformed. */
export function parseQuantity(q: string | number | undefined): number | undefined {
  if (q === undefined) return undefined;
  if (typeof q === 'number') return Number.isFinite(q) && q >= 0 ? q : undefined;
  const m = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)?$/.exec(q.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? '';
  if (unit === 'm') return n / 1000;
  const mult = SUFFIX[unit];
  return mult === undefined ? undefined : n * mult;
}

/** Byte quantity rounded up to whole bytes. */
export function parseBytes(q: string | number | undefined): number | undefined {
  const n = parseQuantity(q);
  return n === undefined ? undefined : Math.ceil(n);
}
