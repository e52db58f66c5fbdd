/**
 * Kubernetes resource quantities (`500m`, `2`, `1.5Gi`, `256M`) as plain numbers for VM sizing, read with the
 * engine's exact parser. Unlike the engine's `parseQuantity`, a malformed quantity is `undefined` here, not an
 * error: the simulator falls back to its defaults.
 */
import { checkQuantity, type Quantity, quantityMilliValue, quantityValue } from '@virtkit/engine';

export { formatBytes } from '@virtkit/engine';

const NANOS_PER_UNIT = 1e9;

function quantityOf(q: string | number): Quantity | undefined {
  const r = checkQuantity(q);
  return r.ok ? r.quantity : undefined;
}

/** The quantity's value in base units (bytes, cores); undefined when it is not a quantity. */
export function parseQuantity(q: string | number): number | undefined {
  const quantity = quantityOf(q);
  return quantity === undefined ? undefined : Number(quantity.nanos) / NANOS_PER_UNIT;
}

/** CPU quantity (or a number of cores) to millicores, rounded up like the kubelet. */
export function cpuToMillis(q: string | number): number | undefined {
  const quantity = quantityOf(q);
  return quantity === undefined ? undefined : Number(quantityMilliValue(quantity));
}

/** Memory quantity (or a number of bytes) to whole bytes, rounded up like Kubernetes. */
export function memoryToBytes(q: string | number): number | undefined {
  const quantity = quantityOf(q);
  return quantity === undefined ? undefined : Number(quantityValue(quantity));
}
