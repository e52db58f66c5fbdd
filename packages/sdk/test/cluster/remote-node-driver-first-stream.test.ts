// The window before a RemoteNodeDriver's event stream first connects: events of that time reach no one, so
// a caller that already read the node's state must be told to read it again.
import { VirtualClock } from '@virtkit/engine';
import { SimFabric, SimNode } from '@virtkit/sim';
import { afterEach, describe, expect, it } from 'vitest';
import { type NodeDriverServer, RemoteNodeDriver, serveNodeDriver } from '../../src/cluster/index.ts';
import { drive, until } from './support.ts';

let server: NodeDriverServer | undefined;
let clock: VirtualClock;
const drivers: RemoteNodeDriver[] = [];
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
  await server?.close();
  server = undefined;
});

async function node(): Promise<NodeDriverServer> {
  clock = new VirtualClock({ start: Date.UTC(2026, 0, 1) });
  const sim = new SimNode({ name: 'n1', fabric: new SimFabric({ clock, seed: 3 }), timing: { heartbeatMs: 0 } });
  server = await serveNodeDriver(sim, { token: false, tls: false });
  return server;
}

function remote(srv: NodeDriverServer): RemoteNodeDriver {
  const r = new RemoteNodeDriver({ nodeName: 'n1', url: srv.url, token: false, reconnectDelayMs: 10 });
  drivers.push(r);
  return r;
}

describe('RemoteNodeDriver: the event stream first connecting', () => {
  it('is noticed as a possible gap when calls were made before it', async () => {
    const r = remote(await node());
    // A restarted engine's first look at its domains can come before it listens to the node's events.
    await drive(clock, r.listDomains());
    let notices = 0;
    r.onEventsLost(() => notices++);
    r.onEvent(() => {});
    await until(() => r.eventStreamConnected, 'stream connected');
    expect(notices).toBe(1);
    // Not a reconnect gap: the counter of those stays as it was.
    expect(r.lostEventGaps).toBe(0);
  });

  it('is not, when nothing was asked before it', async () => {
    const r = remote(await node());
    let notices = 0;
    r.onEventsLost(() => notices++);
    r.onEvent(() => {});
    await until(() => r.eventStreamConnected, 'stream connected');
    await drive(clock, r.listDomains());
    expect(notices).toBe(0);
  });
});
