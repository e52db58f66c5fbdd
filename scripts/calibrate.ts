// Measures the real agent on this machine and writes the figures the simulator uses as its default
// timings (packages/sim/src/calibration.json, read by packages/sim/src/defaults.ts).
//
//   node --conditions=@virtkit/source scripts/calibrate.ts [--runs 5] [--migrations 6] [--memory 256Mi]
//        [--out packages/sim/src/calibration.json] [--dry-run]
//
// Needs root, scripts/setup-libvirt.sh and scripts/setup-test-guest.sh. Every figure is the same interval
// the simulator's calibration test measures in virtual time (packages/sim/test/calibration.test.ts):
//   rpc        getDomain call (the agent's cheapest call: getState + getInfo over the RPC client)
//   define     defineDomain call (cloud-init ISO, domain XML, defineXML, Defined event)
//   start      startDomain call (like `virsh start`: until the domain runs)
//   boot       startDomain resolved → guest-ready (the test guest's ready line), TCG; KVM too when usable
//   shutdown   shutdownDomain resolved → Stopped/Shutdown (ACPI power button, busybox acpid, poweroff)
//   destroy    destroyDomain call
//   undefine   undefineDomain call (undefine + removing the domain's files)
//   migration  migrateDomain call wall time and the reported downtime of a ready guest of --memory,
//              between two libvirtd on this machine; bytes moved and the stream rate from job statistics.
// Lifecycle figures come from the system libvirtd (how a node runs); migration needs the two-daemon pair.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LibvirtNodeDriver } from '@virtkit/agent';
import { startLibvirtDaemons, testGuest, testGuestDomain, testGuestTranslations } from '@virtkit/agent/testing';
import { type DomainEvent, parseBytes } from '@virtkit/engine';
import type { CalibratedFigure, Calibration } from '@virtkit/sim';

const root = join(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    migrations: { type: 'string', default: '6' },
    memory: { type: 'string', default: '256Mi' },
    out: { type: 'string', default: join(root, 'packages/sim/src/calibration.json') },
    'dry-run': { type: 'boolean', default: false },
  },
});
const RUNS = Number(args.runs);
const MIGRATIONS = Number(args.migrations);
const MEMORY = args.memory;
const MEMORY_BYTES = Number(parseBytes(MEMORY));
const SOCKET = '/var/run/libvirt/libvirt-sock';
/** Other work on the machine slows every figure down: the load is recorded with them. */
const loadAtStart = loadavg()[0] ?? 0;

if (process.getuid?.() !== 0 || !existsSync(SOCKET)) {
  console.error('calibrate needs root and a libvirtd at /var/run/libvirt/libvirt-sock (scripts/setup-libvirt.sh)');
  process.exit(1);
}

// --- statistics --------------------------------------------------------------------------------------

/** Nearest-rank percentile of sorted samples. */
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
const median = (sorted: number[]) => {
  const m = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[m] ?? 0) : ((sorted[m - 1] ?? 0) + (sorted[m] ?? 0)) / 2;
};
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

function figure(what: string, samples: number[], unit: CalibratedFigure['unit'] = 'ms'): CalibratedFigure {
  if (samples.length === 0) throw new Error(`no samples for ${what}`);
  const s = [...samples].sort((a, b) => a - b);
  const d = unit === 'ms' ? 1 : 0;
  return {
    what,
    unit,
    n: s.length,
    median: round(median(s), d),
    p95: round(pct(s, 95), d),
    min: round(s[0] ?? 0, d),
    max: round(s.at(-1) ?? 0, d),
    samples: samples.map((x) => round(x, d)),
  };
}

const show = (name: string, f: CalibratedFigure) =>
  console.log(
    `${name.padEnd(20)} median ${String(f.median).padStart(10)} ${f.unit}  p95 ${f.p95}  min ${f.min}  max ${f.max}  n=${f.n}`,
  );

// --- the guest ---------------------------------------------------------------------------------------

const guest = await testGuest();
const work = await mkdtemp('/var/tmp/virtkit-calibrate-');
await chmod(work, 0o755);
const translations = testGuestTranslations(guest);

const definition = (name: string, memory: string) =>
  testGuestDomain(guest, { name, uid: `calibrate-${name}-${process.pid}`, namespace: 'vk-calibrate', memory });

/** Arrival times (performance.now) of a driver's events, and a bounded wait for the next matching one. */
function recorder(driver: LibvirtNodeDriver) {
  const seen: { e: DomainEvent; t: number }[] = [];
  driver.onEvent((e) => seen.push({ e, t: performance.now() }));
  return {
    seen,
    async next(after: number, match: (e: DomainEvent) => boolean, what: string, timeoutMs = 120_000) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const hit = seen.find((x) => x.t >= after && match(x.e));
        if (hit) return hit.t;
        if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
  };
}

const timed = async (fn: () => Promise<unknown>) => {
  const t0 = performance.now();
  await fn();
  const t1 = performance.now();
  return { ms: t1 - t0, end: t1 };
};

const isLife = (id: string, event: string) => (e: DomainEvent) =>
  e.domain === id && e.type === 'lifecycle' && `${e.event}/${e.detail}` === event;
const isReady = (id: string) => (e: DomainEvent) => e.domain === id && e.type === 'guest-ready';

// --- 1. lifecycle on the system daemon ---------------------------------------------------------------

interface Lifecycle {
  rpc: number[];
  define: number[];
  start: number[];
  boot: number[];
  shutdown: number[];
  destroy: number[];
  undefine: number[];
}

async function lifecycle(hypervisor: 'qemu' | 'kvm', runs: number): Promise<Lifecycle> {
  const driver = await LibvirtNodeDriver.open({
    nodeName: `calibrate-${hypervisor}`,
    dataDir: join(work, `node-${hypervisor}`),
    imageTranslations: translations,
    hypervisor,
  });
  const rec = recorder(driver);
  const out: Lifecycle = { rpc: [], define: [], start: [], boot: [], shutdown: [], destroy: [], undefine: [] };
  try {
    for (let i = 0; i < runs; i++) {
      const def = definition(`${hypervisor}${i}`, '192Mi');
      const id = def.id;
      out.define.push((await timed(() => driver.defineDomain(def))).ms);
      for (let boot = 0; boot < 2; boot++) {
        const started = await timed(() => driver.startDomain(id));
        out.start.push(started.ms);
        out.boot.push((await rec.next(started.end - 50, isReady(id), `ready of ${id}`)) - started.end);
        for (let k = 0; k < 5; k++) out.rpc.push((await timed(() => driver.getDomain(id))).ms);
        if (boot === 0) {
          const asked = await timed(() => driver.shutdownDomain(id));
          out.shutdown.push(
            (await rec.next(asked.end - 50, isLife(id, 'Stopped/Shutdown'), 'Stopped/Shutdown')) - asked.end,
          );
        } else {
          out.destroy.push((await timed(() => driver.destroyDomain(id))).ms);
        }
      }
      out.undefine.push((await timed(() => driver.undefineDomain(id))).ms);
      process.stdout.write(`  ${hypervisor} run ${i + 1}/${runs} done\n`);
    }
  } finally {
    await driver.close();
  }
  return out;
}

const probe = await LibvirtNodeDriver.open({ nodeName: 'calibrate-probe', dataDir: join(work, 'probe') });
const info = await probe.info();
await probe.close();
console.log(
  `node: ${info.hypervisor}${info.emulationReason ? ` (${info.emulationReason})` : ''}, libvirt ${info.versions.libvirt}, QEMU ${info.versions.qemu}; ${RUNS} runs, ${MIGRATIONS} migrations of ${MEMORY}`,
);

console.log('lifecycle (TCG):');
const tcg = await lifecycle('qemu', RUNS);
let kvm: Lifecycle | undefined;
if (info.hypervisor === 'kvm') {
  console.log('lifecycle (KVM):');
  kvm = await lifecycle('kvm', RUNS);
}

// --- 2. migration between two daemons ----------------------------------------------------------------

const migration = { wall: [] as number[], downtime: [] as number[], bytes: [] as number[], bandwidth: [] as number[] };
const daemons = await startLibvirtDaemons(2, 'calibrate');
try {
  const registry = new Map<string, LibvirtNodeDriver>();
  const nodes: LibvirtNodeDriver[] = [];
  for (const [i, d] of daemons.entries()) {
    const n = await LibvirtNodeDriver.open({
      nodeName: `calibrate-mig-${i}`,
      dataDir: join(work, `mig${i}`),
      libvirt: { socketPath: d.socketPath },
      imageTranslations: translations,
      migrationUri: d.tcpUri,
      peers: (name) => registry.get(name),
      hypervisor: 'qemu',
      migrationPollMs: 100,
    });
    registry.set(n.nodeName, n);
    nodes.push(n);
  }
  const [a, b] = nodes as [LibvirtNodeDriver, LibvirtNodeDriver];
  const progress: { t: number; processed: number; elapsed: number }[] = [];
  for (const n of nodes) {
    n.onEvent((e) => {
      if (e.type === 'migration' && e.phase === 'progress' && e.progress) {
        progress.push({ t: performance.now(), processed: e.progress.dataProcessed, elapsed: e.progress.elapsedMs });
      }
    });
  }
  const rec = recorder(a);
  const def = definition('mig', MEMORY);
  await a.defineDomain(def);
  const t0 = performance.now();
  await a.startDomain(def.id);
  await rec.next(t0, isReady(def.id), 'ready of the migrating guest');
  let here = a;
  let there = b;
  console.log('migration:');
  for (let i = 0; i < MIGRATIONS; i++) {
    progress.length = 0;
    const t1 = performance.now();
    const r = await here.migrateDomain(def.id, there.nodeName);
    migration.wall.push(performance.now() - t1);
    migration.downtime.push(r.downtimeMs);
    migration.bytes.push(r.bytesTransferred);
    // The stream rate while memory moves: between the first and last job-statistics samples.
    const moving = progress.filter((p) => p.processed > 0);
    const first = moving[0];
    const last = moving.at(-1);
    if (first && last && last.elapsed > first.elapsed && last.processed > first.processed) {
      migration.bandwidth.push(((last.processed - first.processed) / (last.elapsed - first.elapsed)) * 1000);
    }
    process.stdout.write(`  migration ${i + 1}/${MIGRATIONS}: ${Math.round(migration.wall.at(-1) ?? 0)} ms\n`);
    [here, there] = [there, here];
  }
  await here.destroyDomain(def.id);
  await here.undefineDomain(def.id);
  for (const n of nodes) await n.close();
} finally {
  await Promise.all(daemons.map((d) => d.stop()));
}
await rm(work, { recursive: true, force: true });

// --- 3. figures --------------------------------------------------------------------------------------

const rpc = figure('getDomain call through the agent', tcg.rpc);
const bandwidth = figure('migration stream rate while memory moves (job statistics)', migration.bandwidth, 'bytes/s');
// What a migration call spends besides moving memory and the switch-over: the agent's checks of the target,
// libvirt's connection and the incoming QEMU, and the clean-up after completion (per run, with the median
// stream rate and call cost). The simulator adds exactly these parts back up.
const setup = migration.wall.map(
  (wall, i) => wall - rpc.median - ((migration.bytes[i] ?? 0) / bandwidth.median) * 1000 - (migration.downtime[i] ?? 0),
);
const figures: Calibration['figures'] = {
  rpc,
  define: figure('defineDomain call (cloud-init ISO, XML, defineXML, Defined event)', tcg.define),
  start: figure('startDomain call, like virsh start (TCG)', tcg.start),
  boot: figure('startDomain resolved → guest-ready line of the test guest (TCG)', tcg.boot),
  ...(kvm ? { bootKvm: figure('startDomain resolved → guest-ready line of the test guest (KVM)', kvm.boot) } : {}),
  acpiShutdown: figure('shutdownDomain resolved → Stopped/Shutdown (ACPI, busybox acpid)', tcg.shutdown),
  destroy: figure('destroyDomain call of a running guest', tcg.destroy),
  undefine: figure('undefineDomain call (undefine, remove the domain files)', tcg.undefine),
  migrationWall: figure(`migrateDomain call of a ready ${MEMORY} guest between two libvirtd`, migration.wall),
  migrationDowntime: figure('downtime reported by the completed migration job', migration.downtime),
  migrationSetup: figure('migration wall time minus call cost, transfer at the stream rate, and downtime', setup),
  migrationBytes: figure('bytes moved by a migration (job statistics)', migration.bytes, 'bytes'),
  migrationBandwidth: bandwidth,
};
for (const [k, f] of Object.entries(figures)) show(k, f);

const sh = (cmd: string, a: string[]) => {
  try {
    return execFileSync(cmd, a, { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
};
const cpuModel = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
const calibration: Calibration = {
  about:
    'Measured by scripts/calibrate.ts on the machine below; packages/sim/src/defaults.ts builds the simulator defaults from these figures and packages/sim/test/calibration.test.ts checks the simulator reproduces their medians.',
  machine: {
    cpu: cpuModel,
    cores: cpus().length,
    kernel: release(),
    os: /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(sh('cat', ['/etc/os-release']))?.[1] ?? 'unknown',
    libvirt: info.versions.libvirt ?? 'unknown',
    qemu: info.versions.qemu ?? 'unknown',
    hypervisor: info.hypervisor,
    ...(info.emulationReason ? { emulationReason: info.emulationReason } : {}),
    date: new Date().toISOString().slice(0, 10),
    loadAverage1m: `${round(loadAtStart, 2)} at start, ${round(loadavg()[0] ?? 0, 2)} at end`,
  },
  method: {
    runs: RUNS,
    migrations: MIGRATIONS,
    guest: `test guest (${guest.kernelVersion}, busybox initramfs, NoCloud seed), 1 vCPU, 192Mi; migration guest ${MEMORY}`,
    migrationMemoryBytes: MEMORY_BYTES,
    lifecycleDaemon: 'system libvirtd',
    migrationDaemons:
      'two libvirtd on this machine (@virtkit/agent/testing), cgroup_controllers = [ ], TCP on 127.0.0.1',
  },
  kvm: kvm ? { usable: true } : { usable: false, reason: info.emulationReason ?? 'KVM probe failed' },
  figures,
};
if (args['dry-run']) {
  console.log(JSON.stringify(calibration, null, 2));
} else {
  // One line per list of samples keeps the file short and its diffs readable.
  const text = JSON.stringify(calibration, null, 2).replace(
    /\[\s+([-\d.,\s]+?)\s+\]/g,
    (_, inner: string) => `[${inner.split(/,\s*/).join(', ')}]`,
  );
  writeFileSync(args.out, `${text}\n`);
  console.log(`wrote ${args.out}`);
}
