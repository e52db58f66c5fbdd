// Per-call latency of the TypeScript libvirt RPC client against the raw tool, `virsh`, on the same real
// libvirtd (qemu:///system, set up by scripts/setup-libvirt.sh) in the same run:
//   - ours:            one connection, one call at a time (await each)
//   - virsh (spawn):   `virsh -c qemu:///system <cmd>` per call — what a driver shelling out to virsh pays
//   - virsh (session): one long-lived interactive `virsh` fed commands on stdin — virsh without the
//                      process start and connection set-up, the fairest per-call comparison
// plus pipelined throughput of ours (many calls in flight on one connection).
//   npm run bench -- rpc        (RPC_BENCH_N / RPC_BENCH_VIRSH_N override the iteration counts)
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { LibvirtClient } from '../src/rpc/index.ts';

const run = promisify(execFile);
const SOCKET = '/var/run/libvirt/libvirt-sock';
const N = Number(process.env.RPC_BENCH_N ?? 2000);
const VIRSH_N = Number(process.env.RPC_BENCH_VIRSH_N ?? 40);
const DOMAIN = `vk-bench-${process.pid}`;

if (process.getuid?.() !== 0 || !existsSync(SOCKET)) {
  console.error(`no libvirtd at ${SOCKET}: run as root after scripts/setup-libvirt.sh (./dev test sets it up)`);
  process.exit(1);
}

interface Stats {
  median: number;
  p95: number;
  n: number;
}

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { median: at(0.5), p95: at(0.95), n: s.length };
}

async function measure(n: number, fn: () => Promise<unknown>): Promise<Stats> {
  for (let i = 0; i < Math.min(20, n); i++) await fn(); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  return stats(samples);
}

/** An interactive virsh: one process, one connection; each command's output ends at a marker line. */
class VirshSession {
  readonly #proc = spawn('virsh', ['-q', '-c', 'qemu:///system'], { stdio: ['pipe', 'pipe', 'inherit'] });
  #buf = '';
  #waiter: ((out: string) => void) | undefined;
  #seq = 0;

  constructor() {
    this.#proc.stdout.setEncoding('utf8');
    this.#proc.stdout.on('data', (d: string) => {
      this.#buf += d;
      this.#check();
    });
  }

  #marker = '';
  #check(): void {
    const i = this.#buf.indexOf(this.#marker);
    if (this.#waiter && this.#marker && i >= 0) {
      const out = this.#buf.slice(0, i);
      this.#buf = this.#buf.slice(i + this.#marker.length);
      const w = this.#waiter;
      this.#waiter = undefined;
      w(out);
    }
  }

  /** `args` are virsh words; the names used here are fixed identifiers, nothing needs quoting. */
  cmd(...args: string[]): Promise<string> {
    this.#marker = `__vk_done_${++this.#seq}__\n`;
    return new Promise((resolve) => {
      this.#waiter = resolve;
      this.#proc.stdin.write(`${args.join(' ')}\necho ${this.#marker}`);
      this.#check();
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#proc.once('exit', () => resolve());
      this.#proc.stdin.end('quit\n');
    });
  }
}

const virshSpawn = (...args: string[]) => run('virsh', ['-q', '-c', 'qemu:///system', ...args]);

const c = await LibvirtClient.connect({ socketPath: SOCKET });
const xml = `<domain type='qemu'><name>${DOMAIN}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>`;
const dom = await c.defineXML(xml);
const session = new VirshSession();
await session.cmd('version');

// Sanity: both sides answer the same thing before timing them.
const ours = await c.getState(DOMAIN);
const theirs = (await virshSpawn('domstate', DOMAIN)).stdout.trim();
if (ours.state.replace('shutoff', 'shut off') !== theirs) throw new Error(`disagree: ${ours.state} vs ${theirs}`);

const ops: Array<{ name: string; ours: () => Promise<unknown>; virsh: string[] }> = [
  { name: 'get version', ours: () => c.getVersion(), virsh: ['version'] },
  {
    name: 'lookup + get state',
    ours: async () => c.getState(await c.lookupByName(DOMAIN)),
    virsh: ['domstate', DOMAIN],
  },
  { name: 'list all domains', ours: () => c.listAllDomains(), virsh: ['list', '--all', '--name'] },
  { name: 'get XML (dumpxml)', ours: () => c.getXMLDesc(dom), virsh: ['dumpxml', DOMAIN] },
];

const fmt = (ms: number) => `${ms < 1 ? ms.toFixed(3) : ms.toFixed(2)} ms`.padStart(10);
console.log(`libvirt RPC: ${N} calls each for ours and the virsh session, ${VIRSH_N} for virsh spawns`);
console.log(
  `${'operation'.padEnd(20)} ${'ours p50'.padStart(10)} ${'ours p95'.padStart(10)} | ${'virsh p50'.padStart(10)} ${'virsh p95'.padStart(10)} ${'ratio'.padStart(7)} | ${'session p50'.padStart(11)} ${'sess p95'.padStart(10)} ${'ratio'.padStart(7)}`,
);
try {
  for (const op of ops) {
    const o = await measure(N, op.ours);
    const v = await measure(VIRSH_N, () => virshSpawn(...op.virsh));
    const s = await measure(N, () => session.cmd(...op.virsh));
    console.log(
      `${op.name.padEnd(20)} ${fmt(o.median)} ${fmt(o.p95)} | ${fmt(v.median)} ${fmt(v.p95)} ${`${(v.median / o.median).toFixed(0)}x`.padStart(7)} | ${fmt(s.median).padStart(11)} ${fmt(s.p95)} ${`${(s.median / o.median).toFixed(1)}x`.padStart(7)}`,
    );
  }

  // Pipelined: many getState calls in flight on one connection.
  const total = 20_000;
  const inFlight = 64;
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < total) await c.getState(dom);
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  console.log(`pipelined get state: ${total} calls, ${inFlight} in flight: ${(total / secs).toFixed(0)} calls/s`);
} finally {
  await session.close();
  await c.undefine(dom);
  await c.close();
}
