/**
 * Namespaces exist implicitly in virtkit: any valid name can hold objects. The API still answers for them
 * (kubectl and client libraries look namespaces up) with `Active` Namespace objects.
 */
import { createHash } from 'node:crypto';
import { isoTime, KINDS, type Kind, type KubeObject } from '@virtkit/engine';

/** The namespaced kinds whose objects name the namespaces in use. */
export const KINDS_NAMESPACE_SOURCES: readonly Kind[] = (Object.keys(KINDS) as Kind[]).filter(
  (k) => KINDS[k].namespaced,
);

/** A stable uid per name, so clients that key on uid see the same namespace each time. */
function uidOf(name: string): string {
  const h = createHash('sha256').update(`namespace/${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function namespaceObject(name: string, now: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      uid: uidOf(name),
      resourceVersion: '1',
      creationTimestamp: isoTime(now),
      labels: { 'kubernetes.io/metadata.name': name },
    },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}
