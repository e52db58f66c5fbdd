// ResourceStore throughput, MemoryStore vs SqliteStore (WAL, synchronous=FULL: every write is fsynced).
// Run: npm run bench -- store
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore, type ResourceStore, SqliteStore, type VirtualMachine } from '@virtkit/engine';
import { cloneJson, deepFreeze } from '../src/store/json.ts';

const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 10_000);
const dir = mkdtempSync(join(tmpdir(), 'virtkit-store-bench-'));
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

/** A realistic VirtualMachine (~1 KiB of JSON). */
function vm(i: number): VirtualMachine {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: {
      name: `vm-${String(i).padStart(5, '0')}`,
      namespace: `team-${i % 10}`,
      labels: { app: `app-${i % 50}`, tier: i % 2 ? 'front' : 'back', 'kubevirt.io/domain': `vm-${i}` },
      annotations: { 'example.com/owner': 'bench', 'example.com/note': 'x'.repeat(120) },
    },
    spec: {
      runStrategy: 'Always',
      template: {
        metadata: { labels: { 'kubevirt.io/domain': `vm-${i}` } },
        spec: {
          domain: {
            cpu: { cores: 2 },
            memory: { guest: '2Gi' },
            devices: {
              disks: [
                { name: 'root', disk: { bus: 'virtio' } },
                { name: 'cloudinit', disk: { bus: 'virtio' } },
              ],
              interfaces: [{ name: 'default', masquerade: {} }],
            },
          },
          networks: [{ name: 'default', pod: {} }],
          volumes: [
            { name: 'root', containerDisk: { image: 'quay.io/containerdisks/fedora:40' } },
            {
              name: 'cloudinit',
              cloudInitNoCloud: { userData: '#cloud-config\npassword: fedora\nchpasswd: { expire: False }\n' },
            },
          ],
        },
      },
    },
  } as VirtualMachine;
}

interface Row {
  what: string;
  unit: string;
  memory?: number;
  sqlite?: number;
}
const rows: Row[] = [];
let recording = true;
const record = (what: string, unit: string, which: 'memory' | 'sqlite', value: number) => {
  if (!recording) return;
  let row = rows.find((r) => r.what === what);
  if (!row) {
    row = { what, unit };
    rows.push(row);
  }
  row[which] = value;
};

const rate = (n: number, ms: number) => (n * 1000) / ms;

async function measure(name: 'memory' | 'sqlite', store: ResourceStore, objects: number): Promise<void> {
  gc();
  let t = performance.now();
  const created: VirtualMachine[] = [];
  for (let i = 0; i < objects; i++) created.push(await store.create('VirtualMachine', vm(i)));
  record(`create (${objects} objects)`, 'ops/s', name, rate(objects, performance.now() - t));

  gc();
  const gets = 50_000;
  t = performance.now();
  for (let i = 0; i < gets; i++) {
    const k = (i * 7919) % objects;
    await store.get('VirtualMachine', `team-${k % 10}`, `vm-${String(k).padStart(5, '0')}`);
  }
  record('get', 'ops/s', name, rate(gets, performance.now() - t));

  gc();
  const updates = name === 'memory' ? 20_000 : 2_000;
  t = performance.now();
  for (let i = 0; i < updates; i++) {
    const k = (i * 104729) % objects;
    const cur = created[k]!;
    created[k] = await store.update('VirtualMachine', {
      ...cur,
      metadata: { ...cur.metadata, labels: { ...cur.metadata.labels, rev: String(i) } },
    });
  }
  record('update (read-modify-write)', 'ops/s', name, rate(updates, performance.now() - t));

  gc();
  const lists = 10;
  t = performance.now();
  for (let i = 0; i < lists; i++) {
    const r = await store.list('VirtualMachine');
    if (r.items.length !== objects) throw new Error(`listed ${r.items.length}`);
  }
  record(`list all ${objects}`, 'ms/list', name, (performance.now() - t) / lists);

  t = performance.now();
  for (let i = 0; i < lists; i++) await store.list('VirtualMachine', { labelSelector: 'app=app-7,tier=front' });
  record(`list ${objects} with label selector`, 'ms/list', name, (performance.now() - t) / lists);

  t = performance.now();
  let token: string | undefined;
  let pages = 0;
  do {
    const r = await store.list('VirtualMachine', { limit: 500, ...(token ? { continue: token } : {}) });
    token = r.continue;
    pages++;
  } while (token);
  if (pages !== Math.ceil(objects / 500)) throw new Error(`paged through ${pages} pages`);
  record(`list ${objects} in pages of 500`, 'ms total', name, performance.now() - t);

  for (const watchers of [1, 100]) {
    gc();
    const writes = name === 'memory' ? (watchers === 1 ? 20_000 : 5_000) : 1_000;
    const ac = new AbortController();
    const from = store.currentResourceVersion();
    let delivered = 0;
    const consumers = Array.from({ length: watchers }, async () => {
      let seen = 0;
      for await (const _ of store.watch('VirtualMachine', { resourceVersion: from, signal: ac.signal })) {
        delivered++;
        if (++seen === writes) return;
      }
    });
    t = performance.now();
    for (let i = 0; i < writes; i++) {
      const k = (i * 31) % objects;
      const cur = created[k]!;
      created[k] = await store.update('VirtualMachine', {
        ...cur,
        // Distinct per phase: an update that changes nothing is a no-op and emits no event.
        metadata: { ...cur.metadata, labels: { ...cur.metadata.labels, w: `${watchers}-${i}` } },
      });
    }
    await Promise.all(consumers);
    const ms = performance.now() - t;
    ac.abort();
    if (delivered !== writes * watchers) throw new Error(`delivered ${delivered}`);
    record(
      `watch: events delivered to ${watchers} watcher${watchers > 1 ? 's' : ''}`,
      'events/s',
      name,
      rate(delivered, ms),
    );
  }
  for (const policy of ['Background', 'Foreground'] as const) {
    const dependents = name === 'memory' ? 5_000 : 500;
    const owner = await store.create('VirtualMachineInstanceReplicaSet', {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstanceReplicaSet',
      metadata: { name: `pool-${policy.toLowerCase()}` },
      spec: { selector: { matchLabels: { pool: policy } }, template: { spec: { domain: { devices: {} } } } },
    });
    const ref = {
      apiVersion: owner.apiVersion,
      kind: owner.kind,
      name: owner.metadata.name!,
      uid: owner.metadata.uid!,
      controller: true,
      blockOwnerDeletion: true,
    };
    for (let i = 0; i < dependents; i++) {
      await store.create('VirtualMachineInstance', {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstance',
        metadata: { name: `${owner.metadata.name}-${i}`, ownerReferences: [ref] },
        spec: { domain: { devices: {} } },
      });
    }
    t = performance.now();
    await store.delete('VirtualMachineInstanceReplicaSet', 'default', owner.metadata.name!, {
      propagationPolicy: policy,
    });
    const ms = performance.now() - t;
    if ((await store.list('VirtualMachineInstance')).items.length !== 0) throw new Error('cascade left dependents');
    record(`cascade delete (${policy}), 1 owner`, 'dependents/s', name, rate(dependents, ms));
  }
  await store.close();
}

/** What returning copies costs per object, against handing out shared frozen objects. */
function copyCost(): void {
  const obj = deepFreeze(structuredClone(vm(1)));
  const n = 200_000;
  const time = (fn: () => unknown) => {
    const t = performance.now();
    for (let i = 0; i < n; i++) fn();
    return ((performance.now() - t) * 1e6) / n;
  };
  time(() => cloneJson(obj));
  console.log('\nCost of handing out a ~1 KiB object (ns per object):');
  console.log(`  shared frozen reference : ${time(() => obj).toFixed(0)}`);
  console.log(`  cloneJson (what the store does) : ${time(() => cloneJson(obj)).toFixed(0)}`);
  console.log(`  structuredClone         : ${time(() => structuredClone(obj)).toFixed(0)}`);
  console.log(`  JSON.parse(JSON.stringify): ${time(() => JSON.parse(JSON.stringify(obj))).toFixed(0)}`);
}

try {
  // Warm-up so neither store pays for JIT compilation of the shared core.
  recording = false;
  await measure('memory', new MemoryStore(), 1_000);
  recording = true;
  await measure('memory', new MemoryStore(), OBJECTS);
  await measure('sqlite', new SqliteStore(join(dir, 'bench.db')), OBJECTS);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const fmt = (v: number | undefined) =>
  v === undefined ? '-' : v >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(2);
const table = rows.map((r) => {
  const higherIsBetter = r.unit.endsWith('/s');
  const ratio = r.memory && r.sqlite ? (higherIsBetter ? r.memory / r.sqlite : r.sqlite / r.memory) : undefined;
  return [r.what, r.unit, fmt(r.memory), fmt(r.sqlite), ratio === undefined ? '-' : `${ratio.toFixed(1)}x`];
});
const head = ['operation', 'unit', 'MemoryStore', 'SqliteStore', 'memory advantage'];
const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
const line = (cells: string[]) =>
  cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
console.log(
  `\nResourceStore, ${OBJECTS} VirtualMachines of ~1 KiB; SqliteStore fsyncs every write (synchronous=FULL)\n`,
);
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of table) console.log(line(r));
console.log(
  '\nBoth stores answer get/list from the same in-memory index (SqliteStore only adds the write-through), so their\n' +
    'read rows measure the same code: differences there are run-to-run noise, not a property of either store.',
);
copyCost();
