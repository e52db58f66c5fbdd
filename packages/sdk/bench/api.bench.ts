// API server benchmark: kubectl and client-node over 10,000 VMs, and watch fan-out to 100 watchers in another
// process (delivered events/s, p99 lag from commit to receipt, server memory).
// Run: npm run bench -- api   (or: node --conditions=@virtkit/source --expose-gc packages/sdk/bench/api.bench.ts)
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { MemoryStore, type VirtualMachine } from '@virtkit/engine';
import { createApiServer } from '../src/api/index.ts';

const VM_COUNT = Number(process.env.BENCH_VMS ?? 10_000);
const WATCHERS = 100;
const BURST = 1_000;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

// ---- child mode: the watchers --------------------------------------------------------------------------

const NL = 0x0a;
const SENT_AT = Buffer.from('"sentAt":"');
const QUOTE = 0x22;

function watchers(): void {
  const [url, token, ca, rv, expectedText] = JSON.parse(process.argv[3]!) as [string, string, string, string, string];
  const expected = Number(expectedText);
  const lags: number[] = [];
  let done = 0;
  let received = 0;
  let open = 0;
  for (let w = 0; w < WATCHERS; w++) {
    const req = httpsRequest(
      new URL(`/apis/kubevirt.io/v1/namespaces/default/virtualmachines?watch=true&resourceVersion=${rv}`, url),
      { headers: { authorization: `Bearer ${token}` }, ca, agent: false },
      (res) => {
        if (++open === WATCHERS) process.stdout.write('READY\n');
        // Kept light, so the figures are the server's: count lines and read each event's sentAt annotation
        // straight from the bytes; everything in one chunk arrived at the same moment.
        let count = 0;
        let rest: Buffer | undefined;
        res.on('data', (chunk: Buffer) => {
          const now = performance.timeOrigin + performance.now();
          const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
          const last = buf.lastIndexOf(NL);
          rest = Buffer.from(buf.subarray(last + 1));
          const lines = buf.subarray(0, last + 1);
          for (let i = lines.indexOf(NL); i >= 0; i = lines.indexOf(NL, i + 1)) count++;
          for (let at = lines.indexOf(SENT_AT); at >= 0; at = lines.indexOf(SENT_AT, at + 1)) {
            const from = at + SENT_AT.length;
            const sent = Number(lines.toString('latin1', from, lines.indexOf(QUOTE, from)));
            lags.push(now - sent);
          }
          received = lags.length;
          if (count >= expected) {
            req.destroy();
            if (++done === WATCHERS) {
              const end = performance.timeOrigin + performance.now();
              lags.sort((a, b) => a - b);
              const q = (p: number) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))]!;
              const summary = { received, end, p50: q(0.5), p99: q(0.99), max: lags.at(-1)! };
              process.stdout.write(`${JSON.stringify(summary)}\n`, () => process.exit(0));
            }
          }
        });
      },
    );
    req.on('error', (e) => {
      console.error(e);
      process.exit(1);
    });
    req.end();
  }
}

// ---- parent mode -----------------------------------------------------------------------------------------

function vm(i: number): VirtualMachine {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name: `vm-${String(i).padStart(5, '0')}`, namespace: 'default', labels: { app: `app-${i % 50}` } },
    spec: {
      runStrategy: 'Always',
      template: {
        metadata: { labels: { 'kubevirt.io/vm': `vm-${i}` } },
        spec: {
          domain: {
            cpu: { cores: 1, sockets: 1, threads: 1 },
            memory: { guest: '512Mi' },
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
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number): string => `${x.toFixed(1)} ms`;
const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MiB`;
const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ stdout: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr}`));
      else resolve({ stdout, ms: performance.now() - t0 });
    });
  });
}

async function main(): Promise<void> {
  // Figures on a shared machine depend on its load; print it with them.
  console.log(
    `machine: ${os.cpus().length} CPUs, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const store = new MemoryStore({ historyLimit: 50_000, watchBufferLimit: 50_000 });
  const server = await createApiServer({ store });
  const dir = await mkdtemp(join(tmpdir(), 'virtkit-api-bench-'));
  const kubeconfig = join(dir, 'kubeconfig');
  await server.kubeconfig(kubeconfig);
  try {
    const t0 = performance.now();
    for (let i = 0; i < VM_COUNT; i++) {
      const created = await store.create('VirtualMachine', vm(i));
      await store.updateStatus('VirtualMachine', {
        ...created,
        status: { printableStatus: 'Running', ready: true, conditions: [{ type: 'Ready', status: 'True' }] },
      });
    }
    console.log(`setup: ${VM_COUNT} VMs in the store in ${ms(performance.now() - t0)}`);

    // kubectl get vms: the real binary, discovery cache warm (one run first), default chunking (500 per page).
    const env = { ...process.env, HOME: dir };
    const kubectl = (extra: string[]) =>
      run('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), 'get', 'vms', ...extra], env);
    const warm = await kubectl([]);
    const rows = warm.stdout.trim().split('\n').length - 1;
    if (rows !== VM_COUNT) throw new Error(`kubectl listed ${rows} rows`);
    for (const [label, extra] of [
      // kubectl's own client-side limit (5 requests/s after a burst of 10) paces pages 11-20 at 200 ms each.
      ['kubectl get vms (10k, pages of 500; kubectl self-throttles after 10 pages)', []],
      ['kubectl get vms --chunk-size=0 (10k, one response)', ['--chunk-size=0']],
      ['kubectl get vms -o name (10k)', ['-o', 'name']],
    ] as const) {
      const times: number[] = [];
      const cpu0 = process.cpuUsage();
      for (let r = 0; r < RUNS; r++) times.push((await kubectl([...extra])).ms);
      const serverMs = cpuMs(process.cpuUsage(cpu0)) / RUNS;
      console.log(
        `${label}: median ${ms(median(times))}, min ${ms(Math.min(...times))} over ${RUNS} runs; server CPU ${ms(serverMs)} per run (the rest is kubectl)`,
      );
    }

    // client-node: list all 10k in one response.
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const listTimes: number[] = [];
    const listCpu0 = process.cpuUsage();
    for (let r = 0; r < RUNS; r++) {
      const t = performance.now();
      const list = (await custom.listNamespacedCustomObject({
        group: 'kubevirt.io',
        version: 'v1',
        namespace: 'default',
        plural: 'virtualmachines',
      })) as { items: unknown[] };
      listTimes.push(performance.now() - t);
      if (list.items.length !== VM_COUNT) throw new Error('short list');
    }
    console.log(
      `client-node list 10k VMs: median ${ms(median(listTimes))}, min ${ms(Math.min(...listTimes))} over ${RUNS} runs; ` +
        `server + client CPU (one process) ${ms(cpuMs(process.cpuUsage(listCpu0)) / RUNS)} per list`,
    );

    // Watch fan-out: 100 watchers in a child process, a burst of BURST updates.
    gc();
    const memBefore = process.memoryUsage();
    const rv = store.currentResourceVersion();
    const child = spawn(
      process.execPath,
      [
        '--conditions=@virtkit/source',
        ...(process.env.BENCH_CHILD_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CHILD_PROF}`] : []),
        import.meta.filename,
        'watchers',
        JSON.stringify([server.url, server.token, server.caCertificate, rv, String(BURST)]),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    const ready = new Promise<void>((resolve) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('READY\n')) resolve();
      });
    });
    const finished = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    await ready;
    while (server.handler.openWatches < WATCHERS) await new Promise((r) => setTimeout(r, 5));
    const cpuStart = process.cpuUsage();
    const burstStart = performance.timeOrigin + performance.now();
    let peakRss = 0;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
    }, 50);
    // Each write in its own turn of the event loop, as writes arriving over the network would be: a tight
    // loop of in-process writes would starve the server's own socket I/O and measure only queueing.
    for (let i = 0; i < BURST; i++) {
      await new Promise((r) => setImmediate(r));
      const cur = await store.get('VirtualMachine', 'default', `vm-${String(i % VM_COUNT).padStart(5, '0')}`);
      await store.update('VirtualMachine', {
        ...cur,
        metadata: { ...cur.metadata, annotations: { sentAt: String(performance.timeOrigin + performance.now()) } },
      });
    }
    const burstWritten = performance.timeOrigin + performance.now();
    await finished;
    const cpu = process.cpuUsage(cpuStart);
    clearInterval(sampler);
    const result = JSON.parse(out.slice(out.indexOf('READY\n') + 6).trim()) as {
      received: number;
      end: number;
      p50: number;
      p99: number;
      max: number;
    };
    const elapsed = result.end - burstStart;
    console.log(
      `watch fan-out: ${WATCHERS} watchers x ${BURST} writes = ${result.received} events in ${ms(elapsed)} ` +
        `(writes took ${ms(burstWritten - burstStart)}): ${Math.round(result.received / (elapsed / 1000))} events/s delivered`,
    );
    console.log(`watch lag commit→client: p50 ${ms(result.p50)}, p99 ${ms(result.p99)}, max ${ms(result.max)}`);
    const burstCpu = cpuMs(cpu);
    console.log(
      `server CPU for the burst (writes + fan-out + TLS): ${ms(burstCpu)} = ${((burstCpu * 1000) / result.received).toFixed(1)} µs per delivered event`,
    );
    while (server.handler.openWatches > 0) await new Promise((r) => setTimeout(r, 5));
    gc();
    const memAfter = process.memoryUsage();
    console.log(
      `server memory: heap ${mib(memBefore.heapUsed)} → ${mib(memAfter.heapUsed)} after the watchers left; ` +
        `rss ${mib(memBefore.rss)} → peak ${mib(peakRss)} during the burst → ${mib(memAfter.rss)}`,
    );
  } finally {
    await server.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'watchers') watchers();
else await main();
