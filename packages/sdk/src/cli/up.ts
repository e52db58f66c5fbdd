/**
 * `virtkit up`: the engine plus the Kubernetes-compatible API server, in the foreground. Simulated
 * nodes run on a virtual clock paced to wall time (×speed), so kubectl sees believable ages and timings.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createEngine, DriverRegistry, MemoryStore, RealClock, type ResourceStore, SqliteStore } from '@virtkit/engine';
import { SimEnv } from '@virtkit/sim';
import { createApiServer } from '../api/index.ts';

export interface UpOptions {
  nodes: number;
  libvirt: boolean;
  /** With `libvirt`: the node agent's config file (image translations, direct URL policy, hostDisk roots...). */
  agentConfig?: string;
  port: number;
  kubeconfig: string;
  dataDir?: string;
  seed: number;
  /** Virtual seconds per wall second for simulated nodes (default 1). */
  speed?: number;
  log: (line: string) => void;
  signal: AbortSignal;
}

export async function runUp(o: UpOptions): Promise<void> {
  const cleanup: (() => Promise<void> | void)[] = [];
  // Checked before anything starts: a bad file is the operator's to fix, named field by field.
  const agentConfig = o.agentConfig
    ? await (await import('../cluster/agent-config.ts')).readAgentConfig(o.agentConfig)
    : {};
  try {
    const realClock = new RealClock();
    let store: ResourceStore;
    if (o.dataDir) {
      mkdirSync(o.dataDir, { recursive: true });
      store = new SqliteStore(join(o.dataDir, 'store.db'), { clock: realClock });
      cleanup.push(() => store.close());
    } else store = new MemoryStore({ clock: realClock });

    let actions: import('@virtkit/engine').VmActions;
    let drivers: import('@virtkit/engine').NodeDriverRegistry;
    let clock: import('@virtkit/engine').Clock = realClock;
    if (o.libvirt) {
      const { LibvirtNodeDriver } = await import('@virtkit/agent');
      const driver = await LibvirtNodeDriver.open({
        ...agentConfig,
        nodeName: 'local',
        dataDir: join(o.dataDir ?? join(dirname(o.kubeconfig), 'data'), 'agent'),
        clock: realClock,
      });
      cleanup.push(() => driver.close());
      const engine = createEngine({ store, clock: realClock, drivers: new DriverRegistry([driver]) });
      await engine.start();
      cleanup.push(() => engine.stop());
      actions = engine.actions;
      drivers = engine.drivers;
      o.log(`engine up with libvirt node "local" (${(await driver.info()).hypervisor})`);
    } else {
      const env = await SimEnv.create({ nodes: o.nodes, seed: o.seed, store, autoAdvance: false, start: Date.now() });
      cleanup.push(() => env[Symbol.asyncDispose]());
      if (!env.engine) throw new Error('SimEnv started no engine');
      actions = env.engine.actions;
      drivers = env.engine.drivers;
      clock = env.clock;
      // Pace virtual time to the wall clock so timings look real to kubectl users.
      const speed = o.speed ?? 1;
      let wall = Date.now();
      let ticking = false;
      const tick = setInterval(() => {
        if (ticking) return;
        ticking = true;
        const now = Date.now();
        const step = (now - wall) * speed;
        wall = now;
        void env.advance(step).finally(() => {
          ticking = false;
        });
      }, 50);
      cleanup.push(() => clearInterval(tick));
      o.log(`engine up with ${o.nodes} simulated nodes (seed ${o.seed})`);
    }

    const server = await createApiServer({ store, actions, drivers, clock, port: o.port });
    cleanup.push(() => server.close());
    mkdirSync(dirname(o.kubeconfig), { recursive: true });
    await server.kubeconfig(o.kubeconfig);
    o.log(`API server listening on ${server.url}`);
    o.log(`kubeconfig written to ${o.kubeconfig}`);
    o.log(`try: kubectl --kubeconfig ${o.kubeconfig} get vms,vmis,nodes`);
    await new Promise<void>((resolve) => {
      if (o.signal.aborted) resolve();
      o.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    o.log('shutting down');
  } finally {
    for (const c of cleanup.reverse()) await c();
  }
}
