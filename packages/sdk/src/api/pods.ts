/**
 * virt-launcher pods, derived from VMIs: on a KubeVirt cluster every VMI placed on a node runs in a pod
 * there, and node tooling works through those pods — `kubectl describe node` lists them with their
 * requests, `kubectl drain` evicts them. virtkit has no pods, so the API serves a read-only view: one
 * `virt-launcher-{vmi}-{suffix}` pod per VMI that is placed and not final, named per VMI and node (a VMI
 * that migrated is a new pod, as in KubeVirt). Evicting one does what KubeVirt's eviction webhook does:
 * for LiveMigrate VMIs a migration is started and the eviction refused with 429 until the pod is gone
 * (kubectl drain retries); otherwise the VMI is stopped as evicted, and its VM restarts it per runStrategy.
 * Deleting the pod kills the VMI the same way. A watch of pods follows the VMIs.
 */
import { createHash } from 'node:crypto';
import {
  ANNOTATION_EVICTED,
  COND_LIVE_MIGRATABLE,
  COND_READY,
  KUBEVIRT_API_VERSION,
  type KubeObject,
  matchesFieldSelector,
  matchesLabelSelector,
  NotFoundError,
  parseLabelSelector,
  type VirtualMachineInstance,
  type VirtualMachineInstanceMigration,
  vmiSpecResources,
  type WatchEvent,
} from '@virtkit/engine';
import { contentTypeOf, eventLine, negotiate, partialObject } from './encode.ts';
import type { HandlerContext, RequestContext } from './handler.ts';
import { jsonResponse, statusResponse } from './handler.ts';
import { decodeRequestObject, dryRun, includeObject, type ResourceRoute, respondObject } from './request.ts';
import { ApiError, methodNotAllowed, notFound, statusOf, successStatus } from './status.ts';
import { toTable } from './table.ts';
import type { ApiResponse } from './types.ts';
import { watchResponse, watchTimeoutParam } from './verbs-watch.ts';
import { WatchStream } from './watch-stream.ts';

const PREFIX = 'virt-launcher-';
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const DEFAULT_GRACE_SECONDS = 30;

const placed = (v: VirtualMachineInstance): boolean =>
  !!v.status?.nodeName && (v.status.phase === 'Scheduled' || v.status.phase === 'Running');

function hashOf(vmi: VirtualMachineInstance, node: string): string {
  return createHash('sha256')
    .update(`${vmi.metadata.uid ?? ''}/${node}`)
    .digest('hex');
}

function podName(vmi: VirtualMachineInstance, hash: string): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += ALPHABET[Number.parseInt(hash.slice(i * 2, i * 2 + 2), 16) % ALPHABET.length];
  return `${PREFIX}${vmi.metadata.name}-${suffix}`;
}

const quantity = (bytes: number): string =>
  bytes % 1024 ** 3 === 0
    ? `${bytes / 1024 ** 3}Gi`
    : bytes % 1024 ** 2 === 0
      ? `${bytes / 1024 ** 2}Mi`
      : String(bytes);

function requests(vmi: VirtualMachineInstance): Record<string, string> {
  try {
    const r = vmiSpecResources(vmi.spec);
    const out: Record<string, string> = { cpu: `${r.cpuMillis}m` };
    if (r.memoryBytes > 0) out.memory = quantity(r.memoryBytes);
    return out;
  } catch {
    return {};
  }
}

/** The virt-launcher pod of a placed VMI. */
export function podOf(vmi: VirtualMachineInstance): KubeObject {
  const node = vmi.status!.nodeName!;
  const hash = hashOf(vmi, node);
  const ready = vmi.status?.conditions?.find((c) => c.type === COND_READY)?.status === 'True' ? 'True' : 'False';
  const migration = vmi.status?.migrationState;
  const started =
    (migration?.targetNode === node ? migration.endTimestamp : undefined) ??
    vmi.status?.phaseTransitionTimestamps?.find((p) => p.phase === 'Scheduled')?.phaseTransitionTimestamp ??
    vmi.metadata.creationTimestamp;
  const ip = vmi.status?.interfaces?.[0]?.ipAddress;
  const status: Record<string, unknown> = {
    phase: 'Running',
    conditions: [
      { type: 'PodScheduled', status: 'True' },
      { type: 'Initialized', status: 'True' },
      { type: 'ContainersReady', status: ready },
      { type: 'Ready', status: ready },
    ],
    containerStatuses: [
      {
        name: 'compute',
        image: 'quay.io/kubevirt/virt-launcher',
        imageID: '',
        ready: ready === 'True',
        started: true,
        restartCount: 0,
        state: { running: started ? { startedAt: started } : {} },
      },
    ],
  };
  if (started) status.startTime = started;
  if (ip) {
    status.podIP = ip;
    status.podIPs = [{ ip }];
  }
  const labels: Record<string, string> = {
    ...vmi.metadata.labels,
    'kubevirt.io': 'virt-launcher',
    'kubevirt.io/created-by': vmi.metadata.uid ?? '',
    'kubevirt.io/nodeName': node,
    'vm.kubevirt.io/name': vmi.metadata.name ?? '',
  };
  const metadata: KubeObject['metadata'] = {
    name: podName(vmi, hash),
    generateName: `${PREFIX}${vmi.metadata.name}-`,
    namespace: vmi.metadata.namespace ?? 'default',
    uid: `${hash.slice(0, 8)}-${hash.slice(8, 12)}-${hash.slice(12, 16)}-${hash.slice(16, 20)}-${hash.slice(20, 32)}`,
    labels,
    annotations: { 'kubevirt.io/domain': vmi.metadata.name ?? '' },
    ownerReferences: [
      {
        apiVersion: KUBEVIRT_API_VERSION,
        kind: 'VirtualMachineInstance',
        name: vmi.metadata.name ?? '',
        uid: vmi.metadata.uid ?? '',
        controller: true,
        blockOwnerDeletion: true,
      },
    ],
  };
  if (vmi.metadata.resourceVersion !== undefined) metadata.resourceVersion = vmi.metadata.resourceVersion;
  if (started) metadata.creationTimestamp = started;
  if (vmi.metadata.deletionTimestamp) metadata.deletionTimestamp = vmi.metadata.deletionTimestamp;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata,
    spec: {
      nodeName: node,
      containers: [
        { name: 'compute', image: 'quay.io/kubevirt/virt-launcher', resources: { requests: requests(vmi) } },
      ],
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: vmi.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS,
    },
    status,
  } as KubeObject;
}

async function podsIn(ctx: HandlerContext, namespace: string | undefined): Promise<KubeObject[]> {
  const { items } = await ctx.options.store.list(
    'VirtualMachineInstance',
    namespace === undefined ? {} : { namespace },
  );
  return (items as VirtualMachineInstance[]).filter(placed).map(podOf);
}

async function findPod(
  ctx: HandlerContext,
  namespace: string,
  name: string,
): Promise<{ pod: KubeObject; vmi: VirtualMachineInstance }> {
  // The VMI name is inside the pod name, but may itself contain dashes: look among the candidates.
  if (name.startsWith(PREFIX)) {
    const vmiName = name.slice(PREFIX.length, name.lastIndexOf('-'));
    const vmi = (await ctx.options.store.tryGet('VirtualMachineInstance', namespace, vmiName)) as
      | VirtualMachineInstance
      | undefined;
    if (vmi && placed(vmi)) {
      const pod = podOf(vmi);
      if (pod.metadata.name === name) return { pod, vmi };
    }
  }
  throw notFound(`pods "${name}" not found`);
}

/** Stops the VMI as evicted (its VM restarts it elsewhere per runStrategy), like a deleted launcher pod. */
async function killVmi(ctx: HandlerContext, vmi: VirtualMachineInstance, gracePeriodSeconds?: number): Promise<void> {
  const store = ctx.options.store;
  try {
    const marked = await store.update('VirtualMachineInstance', {
      ...vmi,
      metadata: {
        ...vmi.metadata,
        annotations: { ...vmi.metadata.annotations, [ANNOTATION_EVICTED]: vmi.status?.nodeName ?? '' },
      },
    });
    await store.delete('VirtualMachineInstance', marked.metadata.namespace, marked.metadata.name ?? '', {
      preconditions: { uid: marked.metadata.uid ?? '' },
      gracePeriodSeconds: gracePeriodSeconds ?? vmi.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS,
    });
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
}

const tooManyRequests = (message: string): ApiError =>
  new ApiError(429, 'TooManyRequests', message, { causes: [{ reason: 'DisruptionBudget', message }] });

async function evict(ctx: HandlerContext, rc: RequestContext, namespace: string, name: string): Promise<ApiResponse> {
  const { vmi } = await findPod(ctx, namespace, name);
  const store = ctx.options.store;
  const vmiName = vmi.metadata.name ?? '';
  const strategy = vmi.spec.evictionStrategy ?? 'None';
  const migratable = vmi.status?.conditions?.find((c) => c.type === COND_LIVE_MIGRATABLE)?.status === 'True';
  if (strategy === 'LiveMigrate' || (strategy === 'LiveMigrateIfPossible' && migratable)) {
    if (!migratable) {
      throw tooManyRequests(
        `Cannot evict pod as it would violate the pod's disruption budget: VMI ${namespace}/${vmiName} has evictionStrategy LiveMigrate but is not live-migratable`,
      );
    }
    const { items } = await store.list('VirtualMachineInstanceMigration', { namespace });
    const active = (items as VirtualMachineInstanceMigration[]).some(
      (m) => m.spec.vmiName === vmiName && m.status?.phase !== 'Succeeded' && m.status?.phase !== 'Failed',
    );
    if (!active && !dryRun(rc.query)) {
      await store.create('VirtualMachineInstanceMigration', {
        apiVersion: KUBEVIRT_API_VERSION,
        kind: 'VirtualMachineInstanceMigration',
        metadata: {
          generateName: `${vmiName}-evacuation-`,
          namespace,
          labels: { 'kubevirt.io/vmi-name': vmiName },
          annotations: { 'kubevirt.io/evacuationMigration': vmi.status?.nodeName ?? '' },
        },
        spec: { vmiName },
      });
    }
    throw tooManyRequests(`Eviction triggered evacuation of VMI "${namespace}/${vmiName}"`);
  }
  if (!dryRun(rc.query)) await killVmi(ctx, vmi);
  return jsonResponse(201, successStatus());
}

async function list(ctx: HandlerContext, rc: RequestContext, route: ResourceRoute): Promise<ApiResponse> {
  const rep = negotiate(rc.headers.get('accept'));
  const items = (await podsIn(ctx, route.namespace)).filter(podFilter(rc));
  const resourceVersion = ctx.options.store.currentResourceVersion();
  if (rep.as === 'table') {
    const table = toTable(items, {
      kind: 'Pod',
      now: ctx.clock.now(),
      include: includeObject(rc),
      apiVersion: rep.apiVersion,
      resourceVersion,
    });
    return jsonResponse(200, table, contentTypeOf(rep));
  }
  if (rep.as === 'partial') {
    return jsonResponse(200, {
      kind: 'PartialObjectMetadataList',
      apiVersion: rep.apiVersion,
      metadata: { resourceVersion },
      items: items.map((o) => partialObject(rep.apiVersion, o)),
    });
  }
  return jsonResponse(200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion }, items });
}

export async function servePods(
  ctx: HandlerContext,
  rc: RequestContext,
  route: ResourceRoute,
  wantsWatch: boolean,
): Promise<ApiResponse> {
  const { method } = rc;
  if (wantsWatch) {
    if (method !== 'GET') throw methodNotAllowed(method, 'watch');
    return watchPods(ctx, rc, route);
  }
  if (route.name === undefined) {
    if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(method, 'pods');
    return list(ctx, rc, route);
  }
  const namespace = route.namespace!;
  if (route.subresource === 'eviction') {
    if (method !== 'POST') throw methodNotAllowed(method, 'pods/eviction');
    try {
      return await evict(ctx, rc, namespace, route.name);
    } catch (err) {
      if (err instanceof ApiError) return statusResponse(statusOf(err.code, err.reason, err.message, err.details));
      throw err;
    }
  }
  if (route.subresource !== undefined) throw notFound('the server could not find the requested resource');
  const { pod, vmi } = await findPod(ctx, namespace, route.name);
  const rep = negotiate(rc.headers.get('accept'));
  if (method === 'GET' || method === 'HEAD') return respondObject(route.resource, rep, ctx, rc, pod);
  if (method === 'DELETE') {
    if (!dryRun(rc.query)) await killVmi(ctx, vmi, gracePeriodOf(rc));
    return respondObject(route.resource, rep, ctx, rc, pod);
  }
  throw methodNotAllowed(method, `pods "${route.name}": virt-launcher pods are a read-only view of VMIs`);
}

/** DeleteOptions' gracePeriodSeconds, from the query or the body (kubectl sends it in the body). */
function gracePeriodOf(rc: RequestContext): number | undefined {
  const q = rc.query.get('gracePeriodSeconds');
  if (q !== null && /^\d+$/.test(q)) return Number(q);
  try {
    const body = rc.body === undefined ? undefined : (decodeRequestObject(rc) as { gracePeriodSeconds?: unknown });
    return typeof body?.gracePeriodSeconds === 'number' ? body.gracePeriodSeconds : undefined;
  } catch {
    return undefined;
  }
}

type PodFilter = (pod: KubeObject) => boolean;

function podFilter(rc: RequestContext): PodFilter {
  const ls = rc.query.get('labelSelector');
  const fs = rc.query.get('fieldSelector');
  const labelSelector = ls ? parseLabelSelector(ls) : undefined;
  return (p) =>
    (!labelSelector || matchesLabelSelector(labelSelector, p.metadata.labels)) && (!fs || matchesFieldSelector(fs, p));
}

/**
 * A watch of pods is a watch of VMIs, each change turned into what happened to the VMI's pod: it appears
 * when the VMI is placed, changes with it, and is deleted when the VMI ends, goes or moves (a migrated VMI
 * is a new pod on the target node, like KubeVirt's target virt-launcher pod).
 */
async function watchPods(ctx: HandlerContext, rc: RequestContext, route: ResourceRoute): Promise<ApiResponse> {
  const rep = negotiate(rc.headers.get('accept'));
  const timeout = watchTimeoutParam(rc.query);
  const matches = podFilter(rc);
  const store = ctx.options.store;
  const encode = (type: WatchEvent['type'], pod: KubeObject): string => {
    if (rep.as === 'table') {
      const table = toTable([pod], {
        kind: 'Pod',
        now: ctx.clock.now(),
        include: includeObject(rc),
        apiVersion: rep.apiVersion,
        ...(pod.metadata.resourceVersion === undefined ? {} : { resourceVersion: pod.metadata.resourceVersion }),
      });
      return eventLine(type, JSON.stringify(table));
    }
    if (rep.as === 'partial') return eventLine(type, JSON.stringify(partialObject(rep.apiVersion, pod)));
    return eventLine(type, JSON.stringify(pod));
  };
  const stream = new WatchStream(ctx.watchLimits);
  const last = new Map<string, KubeObject>();
  const keyOf = (v: VirtualMachineInstance): string => `${v.metadata.namespace}/${v.metadata.name}`;
  let rv = rc.query.get('resourceVersion') ?? '';
  if (rv === '' || rv === '0') {
    const { items, resourceVersion } = await store.list(
      'VirtualMachineInstance',
      route.namespace === undefined ? {} : { namespace: route.namespace },
    );
    for (const vmi of (items as VirtualMachineInstance[]).filter(placed)) {
      const pod = podOf(vmi);
      if (!matches(pod)) continue;
      last.set(keyOf(vmi), pod);
      stream.push(encode('ADDED', pod));
    }
    rv = resourceVersion;
  } else {
    // Resuming: what each VMI's pod was then is not kept, so start from the pods there are now.
    for (const pod of await podsIn(ctx, route.namespace)) {
      const vmiName = pod.metadata.ownerReferences?.[0]?.name ?? '';
      if (matches(pod)) last.set(`${pod.metadata.namespace}/${vmiName}`, pod);
    }
  }
  const source = store.watch('VirtualMachineInstance', {
    ...(route.namespace === undefined ? {} : { namespace: route.namespace }),
    resourceVersion: rv,
    signal: stream.signal,
  }) as AsyncIterable<WatchEvent>;
  const pump = async (): Promise<void> => {
    try {
      for await (const ev of source) {
        if (stream.signal.aborted) break;
        if (ev.type === 'BOOKMARK') continue;
        const vmi = ev.object as VirtualMachineInstance;
        const key = keyOf(vmi);
        const before = last.get(key);
        const after = ev.type !== 'DELETED' && placed(vmi) ? podOf(vmi) : undefined;
        const now = after && matches(after) ? after : undefined;
        if (before && (!now || before.metadata.name !== now.metadata.name)) {
          const gone = { ...before, metadata: { ...before.metadata, resourceVersion: vmi.metadata.resourceVersion } };
          stream.push(encode('DELETED', gone as KubeObject));
          last.delete(key);
        }
        if (now) {
          stream.push(encode(last.has(key) ? 'MODIFIED' : 'ADDED', now));
          last.set(key, now);
        }
      }
    } catch (err) {
      stream.fail(err);
    } finally {
      stream.finish();
    }
  };
  void pump();
  return watchResponse(ctx, stream, timeout, rep);
}
