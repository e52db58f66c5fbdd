import { type DomainDefinition, type DomainEvent, VirtualClock } from '@virtkit/engine';
import { SimFabric, SimNode, type SimNodeOptions } from '../src/index.ts';

export function world(seed: number | string = 1, nodeOptions: Partial<SimNodeOptions> = {}, names = ['n1']) {
  const clock = new VirtualClock({ start: Date.UTC(2026, 0, 1) });
  const fabric = new SimFabric({ clock, seed });
  const nodes = names.map(
    (name) => new SimNode({ name, fabric, ...nodeOptions, timing: { heartbeatMs: 0, ...nodeOptions.timing } }),
  );
  const events: DomainEvent[] = [];
  for (const n of nodes) n.onEvent((e) => events.push(e));
  return { clock, fabric, nodes, node: nodes[0]!, events };
}

export function vmDef(
  name: string,
  opts: {
    memory?: string;
    cores?: number;
    cpu?: string;
    image?: string;
    userData?: string;
    hostname?: string;
    uid?: string;
    annotations?: Record<string, string>;
    agentReadiness?: boolean;
  } = {},
): DomainDefinition {
  const volumes: NonNullable<DomainDefinition['spec']['volumes']> = [
    { name: 'root', containerDisk: { image: opts.image ?? 'virtkit/test-guest' } },
  ];
  if (opts.userData !== undefined) volumes.push({ name: 'cloudinit', cloudInitNoCloud: { userData: opts.userData } });
  const def: DomainDefinition = {
    id: `default_${name}`,
    uid: opts.uid ?? `uid-${name}`,
    name,
    namespace: 'default',
    spec: {
      domain: {
        cpu: { cores: opts.cores ?? 1 },
        memory: { guest: opts.memory ?? '256Mi' },
        devices: { disks: [{ name: 'root', disk: { bus: 'virtio' } }] },
        ...(opts.cpu ? { resources: { requests: { cpu: opts.cpu } } } : {}),
      },
      volumes,
      ...(opts.hostname ? { hostname: opts.hostname } : {}),
      ...(opts.agentReadiness ? { readinessProbe: { guestAgentPing: {} } } : {}),
    },
  };
  if (opts.annotations) def.annotations = opts.annotations;
  return def;
}

/** Event summaries without console lines: `lifecycle Started/Booted`, `guest-ready console`, ... */
export function summary(events: DomainEvent[], opts: { console?: boolean; domain?: string } = {}): string[] {
  const out: string[] = [];
  for (const e of events) {
    if (opts.domain && e.domain !== opts.domain) continue;
    switch (e.type) {
      case 'lifecycle':
        out.push(`${e.node} lifecycle ${e.event}/${e.detail}`);
        break;
      case 'guest-ready':
        out.push(`${e.node} guest-ready ${e.via}`);
        break;
      case 'console':
        if (opts.console) out.push(`${e.node} console ${e.line}`);
        break;
      case 'image':
        out.push(`${e.node} image ${e.phase}`);
        break;
      case 'migration':
        out.push(`${e.node} migration ${e.phase}`);
        break;
    }
  }
  return out;
}

/** Runs the clock until `p` settles (or `limitMs` of virtual time passes). */
export async function run<T>(clock: VirtualClock, p: Promise<T>, limitMs = 600_000): Promise<T> {
  let done = false;
  const tracked = p.finally(() => {
    done = true;
  });
  tracked.catch(() => {});
  const end = clock.now() + limitMs;
  while (!done && clock.now() < end) {
    const next = clock.nextTimerAt();
    if (next === undefined) {
      await new Promise((r) => setImmediate(r));
      if (!done && clock.nextTimerAt() === undefined) break;
      continue;
    }
    await clock.advanceTo(next);
  }
  return tracked;
}

/** Expects `p` to reject with a DriverError of `reason`; returns the error. */
export async function rejection(p: Promise<unknown>): Promise<{ reason: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { reason: string; message: string };
  }
  throw new Error('expected a rejection');
}
