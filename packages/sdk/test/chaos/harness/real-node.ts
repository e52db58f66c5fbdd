/**
 * A real node for the agent chaos tests: an extra libvirtd (its own mount namespace, so the system daemon
 * is undisturbed), the agent in a child process on a fixed port, an engine in the test process driving it
 * through a RemoteNodeDriver, a second RemoteNodeDriver watching the agent's events (console heartbeats),
 * and a direct libvirt RPC client for ground truth.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LibvirtClient, libvirtRpc } from '@virtkit/agent';
import {
  freePort,
  GUEST_HEARTBEAT_PREFIX,
  type LibvirtDaemon,
  startLibvirtDaemon,
  testGuest,
} from '@virtkit/agent/testing';
import {
  createEngine,
  type DomainInfo,
  DriverRegistry,
  type Engine,
  MemoryStore,
  RealClock,
  type VirtualMachine,
} from '@virtkit/engine';
import { RemoteNodeDriver } from '../../../src/cluster/remote-node-driver.ts';
import { Child, sleep } from './child.ts';

export const NS = 'chaos';

export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('the agent chaos tests need root and libvirt: run `./dev test` as root (it sets libvirt up)');
  }
}

/** A VM running the project's test guest under TCG (kernel boot, cloud-init seed). */
export async function guestVm(name: string, runStrategy: 'Always' | 'Halted'): Promise<VirtualMachine> {
  const g = await testGuest();
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name, namespace: NS },
    spec: {
      runStrategy,
      template: {
        metadata: { labels: { app: 'chaos' } },
        spec: {
          terminationGracePeriodSeconds: 10,
          domain: {
            cpu: { cores: 1 },
            memory: { guest: '160Mi' },
            resources: { requests: { cpu: '100m', memory: '160Mi' } },
            firmware: {
              kernelBoot: {
                kernelArgs: g.cmdline,
                container: {
                  image: 'virtkit/test-guest',
                  kernelPath: g.kernel.slice(g.dir.length),
                  initrdPath: g.initrd.slice(g.dir.length),
                },
              },
            },
            devices: { disks: [{ name: 'cloudinit', disk: { bus: 'virtio' } }] },
          },
          volumes: [{ name: 'cloudinit', cloudInitNoCloud: { userData: '#cloud-config\n' } }],
        },
      },
    },
  };
}

export interface RealNode {
  daemon: LibvirtDaemon;
  nodeName: string;
  dataDir: string;
  port: number;
  engine: Engine;
  store: MemoryStore;
  /** Ground truth: the daemon itself. */
  libvirt: LibvirtClient;
  /** A second client of the agent, for its domain list and event stream. */
  observer: RemoteNodeDriver;
  agent: Child | undefined;
  /** VMIs seen in phase Failed, by uid: name, reason and message. */
  failures: Map<string, string>;
  /** The last phase the store showed for each VMI uid (also after the VMI is gone). */
  phases: Map<string, string>;
  /** Highest console heartbeat seen per domain id, and when (performance.now()). */
  heartbeats: Map<string, { n: number; at: number }>;
  /** Starts the agent process and waits until it serves calls; returns its start-up time in ms. */
  startAgent(): Promise<number>;
  /** SIGKILL of the agent process. */
  killAgent(): Promise<void>;
  /** QEMU's pid of a running domain (from the daemon's pid file), or undefined. */
  qemuPid(domain: string): number | undefined;
  /** Running domains as libvirt has them: name → runtime id. */
  activeDomains(): Promise<Map<string, number>>;
  dispose(): Promise<void>;
}

export async function startRealNode(label: string, scriptDir: string): Promise<RealNode> {
  requireRoot();
  await testGuest();
  // CHAOS_KEEP=1 keeps the daemon's directory (its libvirtd.log) for a look after the run.
  const daemon = await startLibvirtDaemon({ name: label, keepFiles: Boolean(process.env.CHAOS_KEEP) });
  if (process.env.CHAOS_KEEP) console.log(`[chaos] libvirtd ${label} in ${daemon.baseDir}`);
  if (process.env.CHAOS_LIBVIRT_DEBUG) {
    // Verbose QEMU-driver logging from the first restart on (the relaunched daemon reads its config again).
    const conf = join(daemon.baseDir, 'etc', 'libvirtd.conf');
    writeFileSync(
      conf,
      `${readFileSync(conf, 'utf8').replace(/^log_outputs.*$/m, 'log_outputs = "1:file:/var/log/libvirt/libvirtd.log"')}` +
        'log_filters = "1:qemu 1:libvirt 4:object 4:json 4:event 4:util 4:rpc 4:security 4:cgroup 4:conf"\n',
    );
  }
  const dataDir = await mkdtemp(join('/var/tmp', `virtkit-chaos-${label}-`));
  // QEMU runs as an unprivileged user and must enter the domain directories.
  await chmod(dataDir, 0o755);
  const port = await freePort();
  const nodeName = `${label}-${process.pid.toString(36)}`;
  const url = `http://127.0.0.1:${port}`;
  const clock = new RealClock();
  const store = new MemoryStore({ clock });
  const remote = new RemoteNodeDriver({ nodeName, url, token: false, reconnectDelayMs: 100 });
  const engine = createEngine({
    store,
    clock,
    drivers: new DriverRegistry([remote]),
    // Agent restarts take a second or two: never long enough to declare the node lost.
    config: {
      heartbeatIntervalMs: 1000,
      nodeNotReadyAfterMs: 120_000,
      retry: { baseMs: 100, maxMs: 2000 },
      crashLoopBackoff: { initialMs: 1000, maxMs: 5000 },
    },
  });
  const observer = new RemoteNodeDriver({ nodeName, url, token: false, reconnectDelayMs: 100 });
  const heartbeats = new Map<string, { n: number; at: number }>();
  observer.onEvent((e) => {
    if (e.type !== 'console' || !e.line.startsWith(GUEST_HEARTBEAT_PREFIX)) return;
    const n = Number(e.line.slice(GUEST_HEARTBEAT_PREFIX.length).trim());
    const prev = heartbeats.get(e.domain);
    if (Number.isFinite(n) && (!prev || n > prev.n)) heartbeats.set(e.domain, { n, at: performance.now() });
  });
  const libvirt = await LibvirtClient.connect({ socketPath: daemon.socketPath });
  const failures = new Map<string, string>();
  const phases = new Map<string, string>();
  const watching = new AbortController();
  void (async () => {
    for await (const ev of store.watch('VirtualMachineInstance', { signal: watching.signal })) {
      const vmi = ev.object;
      if (vmi.status?.phase) phases.set(vmi.metadata.uid ?? '', vmi.status.phase);
      if (vmi.status?.phase !== 'Failed' || failures.has(vmi.metadata.uid ?? '')) continue;
      const cond = vmi.status.conditions?.find((c) => c.type === 'Failure');
      failures.set(vmi.metadata.uid ?? '', `${vmi.metadata.name}: ${vmi.status.reason} ${cond?.message ?? ''}`);
    }
  })();

  const node: RealNode = {
    daemon,
    nodeName,
    dataDir,
    port,
    engine,
    store,
    libvirt,
    observer,
    agent: undefined,
    failures,
    phases,
    heartbeats,
    async startAgent() {
      const t0 = performance.now();
      const agent = new Child({
        name: 'agent',
        script: join(scriptDir, 'harness/agent-proc.ts'),
        args: [nodeName, dataDir, daemon.socketPath, String(port)],
      });
      node.agent = agent;
      await agent.waitLine((l) => l.startsWith('SERVING '), 60_000, 'SERVING');
      return performance.now() - t0;
    },
    async killAgent() {
      await node.agent?.kill9();
    },
    qemuPid(domain) {
      const file = join(daemon.baseDir, 'run', 'qemu', `${domain}.pid`);
      if (!existsSync(file)) return undefined;
      const pid = Number(readFileSync(file, 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    },
    async activeDomains() {
      const doms = await node.libvirt.listAllDomains(libvirtRpc.ListFlags.Active);
      return new Map(doms.map((d) => [d.name, d.id]));
    },
    async dispose() {
      watching.abort();
      await engine.stop().catch(() => undefined);
      await remote.close();
      await observer.close();
      await node.agent?.kill9().catch(() => undefined);
      await libvirt.close().catch(() => undefined);
      await daemon.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return node;
}

/** Whether a process is alive (a zombie counts as dead). */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Converged on the real node: every VM as its runStrategy asks (Always: its VMI Running with the domain
 * running and the guest ready; Halted: no VMI), the agent's domains exactly the live VMIs' (no duplicates),
 * libvirt holding no domain the agent does not report, and no domain directory (overlays, cloud-init ISO,
 * console log) left for a VMI that is gone.
 */
export async function realConvergenceProblems(node: RealNode): Promise<string[]> {
  const problems: string[] = [];
  const { store } = node;
  const vms = (await store.list('VirtualMachine', { namespace: NS })).items;
  const vmis = (await store.list('VirtualMachineInstance', { namespace: NS })).items;
  let domains: DomainInfo[];
  try {
    domains = await node.observer.listDomains();
  } catch (err) {
    return [`the agent does not answer: ${(err as Error).message}`];
  }
  const byUid = new Map<string, DomainInfo[]>();
  for (const d of domains) byUid.set(d.uid, [...(byUid.get(d.uid) ?? []), d]);
  for (const [uid, ds] of byUid) if (ds.length > 1) problems.push(`uid ${uid} has ${ds.length} domains`);
  const liveUids = new Set(vmis.map((v) => v.metadata.uid));
  for (const d of domains) {
    if (!liveUids.has(d.uid)) problems.push(`leak: domain ${d.id} (uid ${d.uid}, ${d.state}) has no VMI`);
  }
  for (const vm of vms) {
    const name = vm.metadata.name ?? '';
    if (vm.metadata.deletionTimestamp) {
      problems.push(`VM ${name} is still being deleted`);
      continue;
    }
    const vmi = vmis.find((v) => v.metadata.name === name);
    if (vm.spec.runStrategy === 'Always') {
      const d = vmi && byUid.get(vmi.metadata.uid ?? '')?.[0];
      if (vmi?.status?.phase !== 'Running') problems.push(`VM ${name}: VMI is ${vmi?.status?.phase ?? 'missing'}`);
      else if (d?.state !== 'running' || !d.guestReady)
        problems.push(`VM ${name}: domain is ${d ? `${d.state}, ready=${d.guestReady}` : 'missing'}`);
      if (vm.status?.printableStatus !== 'Running') problems.push(`VM ${name} shows ${vm.status?.printableStatus}`);
    } else {
      if (vmi) problems.push(`VM ${name} (Halted) still has a VMI (${vmi.status?.phase})`);
      if (vm.status?.printableStatus !== 'Stopped') problems.push(`VM ${name} shows ${vm.status?.printableStatus}`);
    }
  }
  const agentIds = new Set(domains.map((d) => d.id));
  for (const dom of await node.libvirt.listAllDomains()) {
    if (!agentIds.has(dom.name)) problems.push(`libvirt holds domain ${dom.name}, which the agent does not report`);
  }
  const dirs = existsSync(join(node.dataDir, 'domains')) ? readdirSync(join(node.dataDir, 'domains')) : [];
  for (const uid of dirs) {
    if (!liveUids.has(uid))
      problems.push(`files left for VMI uid ${uid}: ${readdirSync(join(node.dataDir, 'domains', uid)).join(', ')}`);
  }
  return problems;
}

/**
 * Polls realConvergenceProblems until there are none (resolves with the time it took) or `timeoutMs` runs
 * out (throws naming every problem and the agent's last stderr). `tolerateErrors`: a check that throws
 * (libvirtd or the agent still coming back) counts as one more problem instead of failing at once.
 */
export async function convergeReal(
  n: RealNode,
  what: string,
  options: { timeoutMs?: number; tolerateErrors?: boolean } = {},
): Promise<number> {
  const timeoutMs = options.timeoutMs ?? 180_000;
  const t0 = performance.now();
  let problems: string[] = [];
  while (performance.now() - t0 < timeoutMs) {
    problems = await (options.tolerateErrors
      ? realConvergenceProblems(n).catch((err: Error) => [`not answering: ${err.message}`])
      : realConvergenceProblems(n));
    if (problems.length === 0) return performance.now() - t0;
    await sleep(250);
  }
  throw new Error(
    `${what}: not converged within ${timeoutMs} ms:\n  ${problems.join('\n  ')}\n--- agent stderr ---\n${n.agent?.stderrTail()}`,
  );
}
