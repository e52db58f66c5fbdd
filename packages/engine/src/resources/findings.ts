/** The accumulator validation rules write into, and small readers for untyped JSON. */
import type { FieldCause } from '../errors.ts';
import { checkQuantity, type Quantity } from './quantity.ts';
import { isRecord, type SchemaFindings } from './schema.ts';

/** Kubernetes `StatusCause` types used by validation. */
export type CauseReason =
  | 'FieldValueInvalid'
  | 'FieldValueRequired'
  | 'FieldValueNotSupported'
  | 'FieldValueDuplicate'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong';

export class Findings implements SchemaFindings {
  readonly causes: FieldCause[] = [];
  readonly warnings: string[] = [];

  add(field: string, reason: CauseReason, message: string): void {
    this.causes.push({ field, reason, message });
  }
  invalid(field: string, message: string): void {
    this.add(field, 'FieldValueInvalid', message);
  }
  required(field: string, message: string): void {
    this.add(field, 'FieldValueRequired', message);
  }
  duplicate(field: string, message: string): void {
    this.add(field, 'FieldValueDuplicate', message);
  }
  forbidden(field: string, message: string): void {
    this.add(field, 'FieldValueForbidden', message);
  }
  notSupported(field: string, message: string): void {
    this.add(field, 'FieldValueNotSupported', message);
  }
  addAll(causes: readonly FieldCause[]): void {
    this.causes.push(...causes);
  }
}

/** The object at `v`, or undefined when it is not one (a wrong type is reported by the schema walk). */
export const rec = (v: unknown): Record<string, unknown> | undefined => (isRecord(v) ? v : undefined);
export const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** Present in the Kubernetes sense: set and not null. */
export const present = (v: unknown): boolean => v !== undefined && v !== null;
/** The quantity at `v` when it parses; malformed ones were reported by the schema walk. */
export const quantityOf = (v: unknown): Quantity | undefined => {
  if (!present(v)) return undefined;
  const r = checkQuantity(v);
  return r.ok ? r.quantity : undefined;
};
export const quote = (v: unknown): string => JSON.stringify(v) ?? String(v);
