/**
 * The invariants the kill loops assert. Each returns the problems it found (empty: the invariant holds), so
 * a failure names every broken rule at once, with the objects involved.
 */
import {
  type DomainInfo,
  KINDS,
  type Kind,
  SqliteStore,
  type VirtualMachine,
  type VirtualMachineInstance,
  type VirtualMachineInstanceMigration,
} from '@virtkit/engine';
import { type Ack, CHAOS_HISTORY_LIMIT } from './engine-workload.ts';

export interface StoreDump {
  vms: VirtualMachine[];
  vmis: VirtualMachineInstance[];
  migrations: VirtualMachineInstanceMigration[];
  errors?: number;
}

export interface DurabilityReport {
  problems: string[];
  /** Acknowledged writes found in the durable history. */
  writesChecked: number;
  /** Objects (kind + key) whose latest acknowledged state was compared with the store. */
  objectsChecked: number;
  resourceVersion: number;
}

interface HistoryEntry {
  kind: Kind;
  key: string;
  uid: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
}

const keyOf = (m: { namespace?: string; name?: string }) => (m.namespace ? `${m.namespace}/${m.name}` : String(m.name));

/** Everything after `afterRv` in a store's history, by resourceVersion, read through the public watch API. */
async function historyAfter(store: SqliteStore, afterRv: number): Promise<Map<number, HistoryEntry>> {
  const out = new Map<number, HistoryEntry>();
  for (const kind of Object.keys(KINDS) as Kind[]) {
    const ac = new AbortController();
    const it = store.watch(kind, { resourceVersion: String(afterRv), signal: ac.signal })[Symbol.asyncIterator]();
    // The replayed history is queued at once; the first next() that does not resolve at once is the live edge.
    for (;;) {
      const r = await Promise.race([it.next(), new Promise<'idle'>((resolve) => setImmediate(() => resolve('idle')))]);
      if (r === 'idle' || r.done) break;
      const m = r.value.object.metadata;
      out.set(Number(m.resourceVersion), {
        kind,
        key: keyOf(m),
        uid: String(m.uid),
        type: r.value.type as HistoryEntry['type'],
      });
    }
    ac.abort();
  }
  return out;
}

/**
 * No acknowledged write lost: the store file (opened as a restarted engine would) has every acknowledged write
 * in its history at its resourceVersion (same kind, key and uid), a counter at or past the newest one, and
 * every object whose latest acknowledged state is known either at an equal or later resourceVersion or
 * deleted by a later change. The history must also agree with the current objects.
 *
 * `markerRv`: the history is complete after this version (the harness wrote the marker before any engine ran).
 */
export async function checkDurability(path: string, acks: readonly Ack[], markerRv: number): Promise<DurabilityReport> {
  const problems: string[] = [];
  const store = new SqliteStore(path, { historyLimit: CHAOS_HISTORY_LIMIT });
  try {
    const rv = Number(store.currentResourceVersion());
    const history = await historyAfter(store, markerRv);
    const newestAck = acks.reduce((m, a) => Math.max(m, a.rv), 0);
    if (rv < newestAck) problems.push(`store counter ${rv} is behind the newest acknowledged write ${newestAck}`);
    for (let v = markerRv + 1; v <= rv; v++) {
      if (!history.has(v)) {
        problems.push(`history has no change at resourceVersion ${v} (counter ${rv})`);
        break;
      }
    }
    let writesChecked = 0;
    const latest = new Map<string, Ack>();
    for (const a of acks) {
      const h = history.get(a.rv);
      if (!h || h.kind !== a.kind || h.key !== a.key || h.uid !== a.uid) {
        problems.push(
          `acknowledged ${a.op} of ${a.kind} ${a.key} (uid ${a.uid}) at resourceVersion ${a.rv} is not in the store: ${h ? `found ${h.type} ${h.kind} ${h.key} (uid ${h.uid})` : 'no such change'}`,
        );
        continue;
      }
      writesChecked++;
      const id = `${a.kind}|${a.key}`;
      if ((latest.get(id)?.rv ?? -1) < a.rv) latest.set(id, a);
    }
    // The last change of each key, from the history, must be what the store holds now.
    const lastChange = new Map<string, { rv: number; h: HistoryEntry }>();
    for (const [v, h] of history) {
      const id = `${h.kind}|${h.key}`;
      if ((lastChange.get(id)?.rv ?? -1) < v) lastChange.set(id, { rv: v, h });
    }
    for (const [id, { rv: v, h }] of lastChange) {
      const [ns, name] = h.key.includes('/') ? h.key.split('/') : [undefined, h.key];
      const obj = await store.tryGet(h.kind, ns, name!);
      if (h.type === 'DELETED' && obj) problems.push(`${id} was deleted at ${v} but the store still holds it`);
      if (h.type !== 'DELETED' && Number(obj?.metadata.resourceVersion) !== v) {
        problems.push(`${id} last changed at ${v} but the store holds ${obj?.metadata.resourceVersion ?? 'nothing'}`);
      }
    }
    let objectsChecked = 0;
    for (const [id, a] of latest) {
      objectsChecked++;
      const [ns, name] = a.key.includes('/') ? a.key.split('/') : [undefined, a.key];
      const obj = await store.tryGet(a.kind, ns, name!);
      const at = Number(obj?.metadata.resourceVersion ?? -1);
      if (obj && at >= a.rv) continue;
      const last = lastChange.get(id);
      // An update that removed the last finalizer acknowledges the deletion itself (same resourceVersion).
      const deletedLater = last !== undefined && last.rv >= a.rv && last.h.type === 'DELETED';
      if (!obj && deletedLater) continue;
      problems.push(
        `${id}: acknowledged at resourceVersion ${a.rv}, but the store holds ${obj ? `resourceVersion ${at}` : 'nothing and no later deletion'}`,
      );
    }
    return { problems, writesChecked, objectsChecked, resourceVersion: rv };
  } finally {
    await store.close();
  }
}

const ACTIVE = new Set(['running', 'paused', 'blocked']);

/**
 * Converged: every VM in the state its runStrategy asks for, no deletion or migration left hanging, no domain
 * twice, and every domain on a node accounted for by a live VMI placed there.
 */
export function convergenceProblems(dump: StoreDump, domains: ReadonlyMap<string, DomainInfo[]>): string[] {
  const problems: string[] = [];
  const vmByUid = new Map(dump.vms.map((v) => [v.metadata.uid, v]));
  const vmiByUid = new Map(dump.vmis.map((v) => [v.metadata.uid, v]));
  const where = new Map<string, string[]>();
  for (const [node, list] of domains) {
    for (const d of list) {
      if (ACTIVE.has(d.state)) where.set(d.uid, [...(where.get(d.uid) ?? []), node]);
      const vmi = vmiByUid.get(d.uid);
      if (!vmi) problems.push(`leak: domain ${d.id} (uid ${d.uid}, ${d.state}) on ${node} has no VMI`);
      else if (vmi.status?.nodeName !== node)
        problems.push(
          `stray: domain ${d.id} on ${node}, but its VMI is placed on ${vmi.status?.nodeName ?? 'no node'}`,
        );
      else if (!ACTIVE.has(d.state)) problems.push(`domain ${d.id} on ${node} is ${d.state}, not running`);
    }
  }
  for (const [uid, nodes] of where) {
    if (nodes.length > 1) problems.push(`domain of uid ${uid} runs ${nodes.length} times: on ${nodes.join(', ')}`);
  }
  for (const vm of dump.vms) {
    const name = keyOf(vm.metadata);
    if (vm.metadata.deletionTimestamp) {
      problems.push(`VM ${name} is still being deleted`);
      continue;
    }
    const strategy = vm.spec.runStrategy ?? (vm.spec.running ? 'Always' : 'Halted');
    const requests = vm.status?.stateChangeRequests ?? [];
    if (requests.length > 0) problems.push(`VM ${name} has pending state change requests ${JSON.stringify(requests)}`);
    const vmi = dump.vmis.find((i) => keyOf(i.metadata) === name);
    if (strategy === 'Always') {
      const ok = vmi && vmi.status?.phase === 'Running' && !vmi.metadata.deletionTimestamp;
      if (!ok) problems.push(`VM ${name} (Always) has ${vmi ? `a VMI in phase ${vmi.status?.phase}` : 'no VMI'}`);
      else {
        const node = vmi.status?.nodeName ?? '';
        const on = where.get(vmi.metadata.uid ?? '') ?? [];
        if (on.length !== 1 || on[0] !== node)
          problems.push(`VM ${name}: VMI placed on ${node} but its domain runs on [${on.join(', ')}]`);
      }
      if (vm.status?.printableStatus !== 'Running' || vm.status.ready !== true)
        problems.push(`VM ${name} (Always) shows ${vm.status?.printableStatus}, ready=${vm.status?.ready}`);
    } else if (strategy === 'Halted') {
      if (vmi) problems.push(`VM ${name} (Halted) still has a VMI in phase ${vmi.status?.phase}`);
      if (vm.status?.printableStatus !== 'Stopped')
        problems.push(`VM ${name} (Halted) shows ${vm.status?.printableStatus}`);
    } else {
      problems.push(`VM ${name} has runStrategy ${strategy}, which the workload never sets`);
    }
  }
  for (const vmi of dump.vmis) {
    const owner = vmi.metadata.ownerReferences?.find((r) => r.controller)?.uid;
    if (!owner || !vmByUid.has(owner)) problems.push(`VMI ${keyOf(vmi.metadata)} has no VM`);
  }
  for (const m of dump.migrations) {
    const phase = m.status?.phase;
    if (phase !== 'Succeeded' && phase !== 'Failed')
      problems.push(`migration ${keyOf(m.metadata)} of ${m.spec.vmiName} is ${phase ?? 'without a phase'}`);
  }
  return problems;
}

/** Every VMI state in the store's history (after `afterRv`) with phase Failed: name, uid, reason, message. */
export async function failedVmisInHistory(path: string, afterRv: number): Promise<string[]> {
  const store = new SqliteStore(path, { historyLimit: CHAOS_HISTORY_LIMIT });
  try {
    const ac = new AbortController();
    const it = store
      .watch('VirtualMachineInstance', { resourceVersion: String(afterRv), signal: ac.signal })
      [Symbol.asyncIterator]();
    const seen = new Map<string, string>();
    for (;;) {
      const r = await Promise.race([it.next(), new Promise<'idle'>((resolve) => setImmediate(() => resolve('idle')))]);
      if (r === 'idle' || r.done) break;
      const vmi = r.value.object;
      if (vmi.status?.phase !== 'Failed' || seen.has(vmi.metadata.uid ?? '')) continue;
      const cond = vmi.status.conditions?.find((c) => c.type === 'Failure');
      seen.set(
        vmi.metadata.uid ?? '',
        `${vmi.metadata.name} (uid ${vmi.metadata.uid}, rv ${vmi.metadata.resourceVersion}): ${vmi.status.reason ?? ''} ${cond?.message ?? ''}`,
      );
    }
    ac.abort();
    return [...seen.values()];
  } finally {
    await store.close();
  }
}
