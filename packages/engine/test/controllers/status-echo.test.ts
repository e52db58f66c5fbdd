import { describe, expect, it } from 'vitest';
import { onlyStatusChanged } from '../../src/controllers/status-echo.ts';
import type { KubeObject } from '../../src/index.ts';

const obj = (over: Partial<KubeObject> & Record<string, unknown> = {}): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'X',
    metadata: { name: 'a', namespace: 'default', resourceVersion: '1', labels: { a: 'b' } },
    spec: { n: 1 },
    status: { phase: 'One' },
    ...over,
  }) as KubeObject;

describe('onlyStatusChanged', () => {
  it('is true when only status and resourceVersion differ', () => {
    const a = obj();
    const b = obj({ metadata: { ...a.metadata, resourceVersion: '2' }, status: { phase: 'Two' } } as never);
    expect(onlyStatusChanged(a, b)).toBe(true);
  });

  it('is false when metadata, spec or another member changed too', () => {
    const a = obj();
    expect(onlyStatusChanged(a, obj({ metadata: { ...a.metadata, labels: { a: 'c' } } } as never))).toBe(false);
    expect(onlyStatusChanged(a, obj({ metadata: { ...a.metadata, finalizers: ['f'] } } as never))).toBe(false);
    expect(onlyStatusChanged(a, obj({ spec: { n: 2 } } as never))).toBe(false);
    expect(onlyStatusChanged(a, obj({ extra: 1 }))).toBe(false);
    const { spec: _, ...noSpec } = a as KubeObject & { spec: unknown };
    expect(onlyStatusChanged(a, noSpec as KubeObject)).toBe(false);
  });
});
