/** Loop sizes and seeds from the environment, so a failure can be replayed and a soak run made larger. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`${name} must be a non-negative integer, not ${JSON.stringify(raw)}`);
  return n;
}
