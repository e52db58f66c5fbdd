/**
 * Node host for the engine kill loop: three SimNodes sharing one SimFabric (so they migrate to each other),
 * on the real clock with a fast timing profile, each served with serveNodeDriver on 127.0.0.1. It outlives
 * every engine the harness kills. Prints one line `NODES <json>` with the nodes' names and URLs.
 *
 * Usage: node --conditions=@virtkit/source node-host.ts <seed>
 */
import { RealClock } from '@virtkit/engine';
import { SimFabric, SimNode, type TimingProfile } from '@virtkit/sim';
import { serveNodeDriver } from '../../../src/cluster/node-driver-server.ts';

/**
 * About a twentieth of the calibrated agent timings: a VM boots in ~0.15 s and migrates in ~0.1 s, so a
 * kill lands inside every kind of operation within a short workload, while calls still take real time
 * (in flight when the engine dies).
 */
export const FAST_TIMING: Partial<TimingProfile> = {
  rpc: { min: 1, max: 5 },
  define: { median: 25, p95: 60, min: 10, max: 120 },
  start: { median: 30, p95: 70, min: 10, max: 150 },
  boot: { median: 150, p95: 300, min: 60, max: 600 },
  acpiShutdown: { median: 80, p95: 160, min: 30, max: 400 },
  destroy: { median: 30, p95: 60, min: 10, max: 120 },
  undefine: { median: 15, p95: 40, min: 5, max: 80 },
  migrationSetup: { median: 40, p95: 90, min: 15, max: 200 },
  migrationSwitchover: { median: 20, p95: 50, min: 5, max: 100 },
  migrationBandwidth: 2 * 2 ** 30,
  imageFetchOverhead: 10,
  imageBandwidth: 2 ** 30,
  heartbeatMs: 0,
  agentStart: 50,
};

export const NODE_NAMES = ['node-a', 'node-b', 'node-c'];

const seed = Number(process.argv[2] ?? 1);
const clock = new RealClock();
const fabric = new SimFabric({ clock, seed });
const nodes = NODE_NAMES.map(
  (name) =>
    new SimNode({
      name,
      fabric,
      timing: FAST_TIMING,
      console: 'minimal',
      preloadedImages: ['virtkit/test-guest'],
    }),
);
const servers = await Promise.all(
  nodes.map((n) => serveNodeDriver(n, { token: false, tls: false, heartbeatMs: 1000 })),
);
process.stdout.write(`NODES ${JSON.stringify(nodes.map((n, i) => ({ name: n.nodeName, url: servers[i]!.url })))}\n`);

const shutdown = async () => {
  await Promise.all(servers.map((s) => s.close()));
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown());
// The harness ending (its end of stdin closing) ends the host too, so no node host outlives a crashed test.
process.stdin.on('end', () => void shutdown());
process.stdin.resume();
