// Agent benchmark against a real libvirtd + QEMU (TCG or KVM, whatever the node probes), same guest,
// same run, interleaved so drift hits both sides alike:
//   1. create→domain-running and create→guest-ready through LibvirtNodeDriver (define with cloud-init
//      ISO + start) vs bare `virsh define` + `virsh start` (+ genisoimage for the same seed, + polling the
//      console file for the ready line);
//   2. live migration wall time and downtime between two libvirtd on this machine: LibvirtNodeDriver
//      vs bare `virsh migrate --live --p2p` of an identical guest.
// Run: npm run bench -- agent   (needs root, scripts/setup-libvirt.sh and scripts/setup-test-guest.sh)
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildDomainXml, LibvirtNodeDriver } from '@virtkit/agent';
import { startLibvirtDaemons, testGuest, testGuestDomain, testGuestTranslations } from '@virtkit/agent/testing';
import type { DomainEvent } from '@virtkit/engine';

const run = promisify(execFile);
const RUNS = Number(process.env.AGENT_BENCH_RUNS ?? 5);
const MIGRATIONS = Number(process.env.AGENT_BENCH_MIGRATIONS ?? 6);
const SOCKET = '/var/run/libvirt/libvirt-sock';

if (!existsSync(SOCKET)) {
  console.error(`no libvirtd at ${SOCKET}: run scripts/setup-libvirt.sh first`);
  process.exit(1);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};
const fmt = (xs: number[]) =>
  `median ${median(xs).toFixed(0).padStart(5)} ms  (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)}, n=${xs.length})`;

const guest = await testGuest();
const root = await mkdtemp('/var/tmp/virtkit-bench-');
await chmod(root, 0o755);
const translations = testGuestTranslations(guest);

const definition = (name: string, uid: string) => testGuestDomain(guest, { name, uid, namespace: 'vk-bench' });

/** The NoCloud seed as a person would make it for virsh: meta-data and user-data in a `cidata` ISO. */
async function bareSeed(dir: string, name: string): Promise<void> {
  const seed = join(dir, 'seed');
  await writeFile(join(seed, 'meta-data'), `instance-id: "${name}"\nlocal-hostname: "${name}"\n`);
  await writeFile(join(seed, 'user-data'), '#cloud-config\n');
  await run('genisoimage', [
    '-quiet',
    '-output',
    join(dir, 'cidata.iso'),
    '-volid',
    'cidata',
    '-joliet',
    '-rock',
    join(seed, 'meta-data'),
    join(seed, 'user-data'),
  ]);
}

/** The XML a person would hand to virsh for the same guest (no agent metadata, same devices). */
function bareXml(name: string, dir: string, hypervisor: 'kvm' | 'qemu'): string {
  return buildDomainXml({
    name,
    hypervisor,
    sockets: 1,
    cores: 1,
    threads: 1,
    memoryBytes: 192 * 1024 * 1024,
    kernelBoot: { kernel: guest.kernel, initrd: guest.initrd, cmdline: guest.cmdline },
    disks: [{ name: 'cloudinit', device: 'disk', bus: 'virtio', path: join(dir, 'cidata.iso'), format: 'raw' }],
    consoleLog: join(dir, 'console.log'),
    metadata: {
      uid: name,
      namespace: 'bare',
      name,
      dir,
      consoleLog: join(dir, 'console.log'),
      cpuMillis: 100,
      memoryBytes: 192 * 1024 * 1024,
      node: 'none',
    },
  });
}

async function waitForLine(path: string, needle: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const text = await readFile(path, 'utf8').catch(() => '');
    if (text.includes(needle)) return;
    if (performance.now() > deadline) throw new Error(`no "${needle}" in ${path} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function virsh(args: string[], socket = SOCKET): Promise<string> {
  const { stdout } = await run('virsh', ['-q', '-c', `qemu+unix:///system?socket=${socket}`, ...args]);
  return stdout;
}

// --- 1. boot ------------------------------------------------------------------------------------------
const driver = await LibvirtNodeDriver.open({
  nodeName: 'bench-node',
  dataDir: join(root, 'agent'),
  imageTranslations: translations,
});
const info = await driver.info();
console.log(
  `node: ${info.hypervisor}${info.emulationReason ? ` (${info.emulationReason})` : ''}, libvirt ${info.versions.libvirt}, QEMU ${info.versions.qemu}`,
);
const readyAt = new Map<string, number>();
driver.onEvent((e) => {
  if (e.type === 'guest-ready') readyAt.set(e.domain, performance.now());
});

const agentRunning: number[] = [];
const agentReady: number[] = [];
const bareRunning: number[] = [];
const bareReady: number[] = [];
const agentDefine: number[] = [];
const bareDefine: number[] = [];

for (let i = 0; i < RUNS; i++) {
  // Agent: define (cloud-init ISO, XML, defineXML) + start; ready from its guest-ready event.
  const def = definition(`run${i}`, `bench-uid-${i}-${process.pid}`);
  const t0 = performance.now();
  await driver.defineDomain(def);
  agentDefine.push(performance.now() - t0);
  await driver.startDomain(def.id);
  const tRunning = performance.now();
  while (!readyAt.has(def.id)) {
    if (performance.now() - t0 > 120_000) throw new Error('agent guest not ready in 120 s');
    await new Promise((r) => setTimeout(r, 5));
  }
  agentRunning.push(tRunning - t0);
  agentReady.push((readyAt.get(def.id) ?? 0) - t0);
  await driver.destroyDomain(def.id);
  await driver.undefineDomain(def.id);

  // Bare virsh: genisoimage for the same seed, virsh define, virsh start, poll the console file.
  const name = `vk-bench-bare${i}-${process.pid}`;
  const dir = join(root, 'bare', name);
  await mkdir(join(dir, 'seed'), { recursive: true, mode: 0o755 });
  await chmod(join(root, 'bare'), 0o755);
  const b0 = performance.now();
  await bareSeed(dir, name);
  await writeFile(join(dir, 'domain.xml'), bareXml(name, dir, info.hypervisor));
  await virsh(['define', join(dir, 'domain.xml')]);
  bareDefine.push(performance.now() - b0);
  await virsh(['start', name]);
  const bRunning = performance.now();
  await waitForLine(join(dir, 'console.log'), 'virtkit-guest ready', 120_000);
  const bReady = performance.now();
  bareRunning.push(bRunning - b0);
  bareReady.push(bReady - b0);
  await virsh(['destroy', name]);
  await virsh(['undefine', name]);
}
console.log('\ncreate → defined (agent: seed ISO + XML + define; virsh: seed ISO + XML + virsh define)');
console.log(`  LibvirtNodeDriver  ${fmt(agentDefine)}`);
console.log(`  bare virsh         ${fmt(bareDefine)}`);
console.log('create → domain running');
console.log(`  LibvirtNodeDriver  ${fmt(agentRunning)}`);
console.log(`  bare virsh         ${fmt(bareRunning)}`);
console.log(`  ratio agent/virsh  ${(median(agentRunning) / median(bareRunning)).toFixed(2)}`);
console.log('create → guest ready (ready line on the serial console)');
console.log(`  LibvirtNodeDriver  ${fmt(agentReady)}`);
console.log(`  bare virsh         ${fmt(bareReady)}`);
console.log(`  ratio agent/virsh  ${(median(agentReady) / median(bareReady)).toFixed(2)}`);
await driver.close();

// --- 2. migration -------------------------------------------------------------------------------------
const daemons = await startLibvirtDaemons(2, 'bench');
try {
  const registry = new Map<string, LibvirtNodeDriver>();
  const nodes: LibvirtNodeDriver[] = [];
  for (const [i, d] of daemons.entries()) {
    const n = await LibvirtNodeDriver.open({
      nodeName: `bench-mig-${i}`,
      dataDir: join(root, `mig${i}`),
      libvirt: { socketPath: d.socketPath },
      imageTranslations: translations,
      migrationUri: d.tcpUri,
      peers: (name) => registry.get(name),
    });
    registry.set(n.nodeName, n);
    nodes.push(n);
  }
  const [a, b] = nodes as [LibvirtNodeDriver, LibvirtNodeDriver];
  const migEvents: DomainEvent[] = [];
  a.onEvent((e) => migEvents.push(e));
  const def = definition('mig', `bench-mig-${process.pid}`);
  await a.defineDomain(def);
  await a.startDomain(def.id);
  while (!migEvents.some((e) => e.type === 'guest-ready')) await new Promise((r) => setTimeout(r, 20));
  const agentWall: number[] = [];
  const agentDown: number[] = [];
  let here = a;
  let there = b;
  for (let i = 0; i < MIGRATIONS; i++) {
    const t0 = performance.now();
    const r = await here.migrateDomain(def.id, there.nodeName);
    agentWall.push(performance.now() - t0);
    agentDown.push(r.downtimeMs);
    [here, there] = [there, here];
  }
  await here.destroyDomain(def.id);
  await here.undefineDomain(def.id);

  // The same guest migrated with bare virsh between the same daemons.
  const name = `vk-bench-baremig-${process.pid}`;
  const dir = join(root, 'baremig');
  await mkdir(join(dir, 'seed'), { recursive: true, mode: 0o755 });
  await bareSeed(dir, name);
  await writeFile(join(dir, 'domain.xml'), bareXml(name, dir, (await a.info()).hypervisor));
  const [da, db] = daemons as [(typeof daemons)[0], (typeof daemons)[0]];
  await virsh(['define', join(dir, 'domain.xml')], da.socketPath);
  await virsh(['start', name], da.socketPath);
  await waitForLine(join(dir, 'console.log'), 'virtkit-guest ready', 120_000);
  const bareWall: number[] = [];
  const bareDown: number[] = [];
  let src = da;
  let dst = db;
  for (let i = 0; i < MIGRATIONS; i++) {
    const t0 = performance.now();
    await virsh(
      [
        'migrate',
        '--live',
        '--p2p',
        '--persistent',
        '--unsafe',
        '--migrateuri',
        'tcp://127.0.0.1',
        '--listen-address',
        '127.0.0.1',
        name,
        dst.tcpUri,
      ],
      src.socketPath,
    );
    bareWall.push(performance.now() - t0);
    const job = await virsh(['domjobinfo', '--completed', name], src.socketPath);
    bareDown.push(Number(/Total downtime:\s+(\d+)/.exec(job)?.[1] ?? Number.NaN));
    await virsh(['undefine', name], src.socketPath);
    [src, dst] = [dst, src];
  }
  await virsh(['destroy', name], src.socketPath);
  await virsh(['undefine', name], src.socketPath);

  console.log(`\nlive migration between two libvirtd on this machine (192 MiB guest, ${MIGRATIONS} hops)`);
  console.log(`  wall      LibvirtNodeDriver  ${fmt(agentWall)}`);
  console.log(`            bare virsh         ${fmt(bareWall)}`);
  console.log(`            ratio agent/virsh  ${(median(agentWall) / median(bareWall)).toFixed(2)}`);
  console.log(`  downtime  LibvirtNodeDriver  ${fmt(agentDown)}`);
  console.log(`            bare virsh         ${fmt(bareDown)}`);
  for (const n of nodes) await n.close();
} finally {
  await Promise.all(daemons.map((d) => d.stop()));
  await rm(root, { recursive: true, force: true });
}
