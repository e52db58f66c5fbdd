// RemoteNodeDriver ↔ serveNodeDriver over HTTPS on 127.0.0.1, with SimNodes (virtual time) behind the servers.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { type DomainDefinition, type DomainEvent, DriverError, type NodeDriver, VirtualClock } from '@virtkit/engine';
import { SimFabric, SimNode } from '@virtkit/sim';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type NodeDriverServer,
  RemoteNodeDriver,
  type RemoteNodeDriverOptions,
  serveNodeDriver,
} from '../../src/cluster/index.ts';
import { closeWithStalledHandshakes } from '../api/support.ts';
import { drive as driveClock, until } from './support.ts';

const TOKEN = 'agent-token';
const ID = 'default_web';

function definition(name = 'web', memory = '256Mi'): DomainDefinition {
  return {
    id: `default_${name}`,
    uid: `uid-${name}`,
    name,
    namespace: 'default',
    spec: {
      domain: {
        cpu: { cores: 1 },
        memory: { guest: memory },
        devices: { disks: [{ name: 'root', disk: { bus: 'virtio' } }] },
      },
      volumes: [{ name: 'root', containerDisk: { image: 'virtkit/test-guest' } }],
    },
  };
}

let clock: VirtualClock;
let sims: SimNode[];
let servers: NodeDriverServer[];
let remotes: RemoteNodeDriver[];
/** Events as each SimNode emitted them, and as each RemoteNodeDriver delivered them. */
let direct: DomainEvent[][];
let remote: DomainEvent[][];

beforeEach(async () => {
  clock = new VirtualClock({ start: Date.UTC(2026, 0, 1) });
  const fabric = new SimFabric({ clock, seed: 7 });
  sims = ['n1', 'n2'].map((name) => new SimNode({ name, fabric, timing: { heartbeatMs: 0 } }));
  direct = sims.map((s) => {
    const got: DomainEvent[] = [];
    s.onEvent((e) => got.push(e));
    return got;
  });
  servers = await Promise.all(sims.map((s) => serveNodeDriver(s, { token: TOKEN })));
  remotes = servers.map((srv, i) => connectTo(srv, sims[i]!.nodeName));
  remote = remotes.map((r) => {
    const got: DomainEvent[] = [];
    r.onEvent((e) => got.push(e));
    return got;
  });
  await until(() => remotes.every((r) => r.eventStreamConnected), 'event streams connected');
});

afterEach(async () => {
  for (const r of remotes) await r.close();
  for (const s of servers) await s.close();
});

function connectTo(srv: NodeDriverServer, nodeName: string, extra: Partial<RemoteNodeDriverOptions> = {}) {
  const r = new RemoteNodeDriver({
    nodeName,
    url: srv.url,
    ...(srv.certificate ? { certificate: srv.certificate } : {}),
    token: TOKEN,
    reconnectDelayMs: 10,
    ...extra,
  });
  return r;
}

const drive = <T>(p: Promise<T>) => driveClock(clock, p);

/** Runs virtual time until `cond` holds. */
async function driveUntil(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100_000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 1));
    const next = clock.nextTimerAt();
    if (!cond() && next !== undefined) await clock.advanceTo(next);
  }
  throw new Error(`never happened: ${what}`);
}

const brief = (events: DomainEvent[]) =>
  events.map((e) =>
    e.type === 'lifecycle'
      ? `${e.node} ${e.event}/${e.detail}`
      : e.type === 'migration'
        ? `${e.node} migration ${e.phase}`
        : e.type === 'console'
          ? `${e.node} console`
          : `${e.node} ${e.type}`,
  );

async function caught(p: Promise<unknown>): Promise<DriverError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DriverError);
    return err as DriverError;
  }
  throw new Error('expected a DriverError');
}

async function runningDomain(r: NodeDriver = remotes[0]!): Promise<void> {
  await drive(r.defineDomain(definition()));
  await drive(r.startDomain(ID));
  await driveUntil(() => remote[0]!.some((e) => e.type === 'guest-ready'), 'guest ready');
}

describe('RemoteNodeDriver over serveNodeDriver', () => {
  it('drives a domain through its lifecycle; events arrive complete and in order, as the node emitted them', async () => {
    const [r] = remotes as [RemoteNodeDriver];
    const info = await drive(r.info());
    expect(info).toEqual(await drive(sims[0]!.info()));
    await drive(r.ping());
    const defined = await drive(r.defineDomain(definition()));
    expect(defined).toMatchObject({ id: ID, uid: 'uid-web', state: 'shutoff' });
    await drive(r.startDomain(ID));
    await driveUntil(() => remote[0]!.some((e) => e.type === 'guest-ready'), 'guest ready');
    await drive(r.pauseDomain(ID));
    await drive(r.resumeDomain(ID));
    expect(await drive(r.getDomain(ID))).toMatchObject({ state: 'running', guestReady: true });
    expect((await drive(r.listDomains())).map((d) => d.id)).toEqual([ID]);
    expect(await drive(r.getDomain('default_nope'))).toBeUndefined();
    await drive(r.destroyDomain(ID));
    await drive(r.undefineDomain(ID));
    await until(() => remote[0]!.length === direct[0]!.length, 'all events relayed');
    expect(remote[0]).toEqual(direct[0]);
    expect(brief(remote[0]!).filter((s) => !s.endsWith('console'))).toEqual([
      'n1 image',
      'n1 image',
      'n1 Defined/Added',
      'n1 Started/Booted',
      'n1 guest-ready',
      'n1 Suspended/Paused',
      'n1 Resumed/Unpaused',
      'n1 Stopped/Destroyed',
      'n1 Undefined/Removed',
    ]);
  });

  it('passes DriverErrors through with reason, node and message intact', async () => {
    const [r] = remotes as [RemoteNodeDriver];
    await runningDomain();
    const sim = sims[0]!;
    const cases: ((d: NodeDriver) => Promise<unknown>)[] = [
      (d) => d.startDomain(ID),
      (d) => d.pauseDomain('default_nope'),
      (d) => d.defineDomain(definition('huge', '512Gi')),
      (d) => d.migrateDomain(ID, 'n9'),
    ];
    for (const op of cases) {
      const a = await caught(drive(op(r)));
      const b = await caught(drive(op(sim)));
      expect({ reason: a.reason, node: a.node, message: a.message }).toEqual({
        reason: b.reason,
        node: b.node,
        message: b.message,
      });
    }
    expect((await caught(drive(r.startDomain(ID)))).reason).toBe('InvalidState');
  });

  it('streams the serial console: the backlog, then live lines until aborted; a missing domain is DomainNotFound', async () => {
    const [r] = remotes as [RemoteNodeDriver];
    await runningDomain();
    const ac = new AbortController();
    const lines: string[] = [];
    const reading = (async () => {
      for await (const line of r.console(ID, { signal: ac.signal, fromStart: true })) lines.push(line);
    })();
    const expected: string[] = [];
    const direct$ = (async () => {
      const dac = new AbortController();
      for await (const line of sims[0]!.console(ID, { signal: dac.signal, fromStart: true })) {
        expected.push(line);
        if (expected.length >= 3) dac.abort();
      }
    })();
    await driveUntil(() => expected.length >= 3 && lines.length >= 3, 'console lines');
    await direct$;
    expect(lines.slice(0, 3)).toEqual(expected.slice(0, 3));
    // A reboot writes new lines: they arrive live.
    const before = lines.length;
    await drive(r.rebootDomain(ID));
    await driveUntil(() => lines.length > before, 'live console lines');
    ac.abort();
    await reading;
    const missing = await caught(
      drive(
        (async () => {
          for await (const _ of r.console('default_nope')) break;
        })(),
      ),
    );
    expect(missing.reason).toBe('DomainNotFound');
    // The domain stopping ends the stream without an error.
    const tail = (async () => {
      const got: string[] = [];
      for await (const line of r.console(ID)) got.push(line);
      return got;
    })();
    await new Promise((res) => setTimeout(res, 20));
    await drive(r.destroyDomain(ID));
    expect((await drive(tail)).length).toBeGreaterThan(0);
  });

  it('live-migrates between two remote nodes: source and target events on their own streams', async () => {
    const [r1, r2] = remotes as [RemoteNodeDriver, RemoteNodeDriver];
    await runningDomain();
    remote[0]!.length = 0;
    remote[1]!.length = 0;
    direct[0]!.length = 0;
    direct[1]!.length = 0;
    const result = await drive(r1.migrateDomain(ID, 'n2', { maxDowntimeMs: 300 }));
    expect(result).toMatchObject({ targetNode: 'n2' });
    expect(result.downtimeMs).toBeGreaterThan(0);
    await until(() => remote[0]!.length === direct[0]!.length && remote[1]!.length === direct[1]!.length, 'relayed');
    expect(remote).toEqual(direct);
    expect(brief(remote[0]!).filter((s) => !s.includes('progress'))).toEqual([
      'n1 migration started',
      'n1 migration completed',
      'n1 Stopped/Migrated',
    ]);
    expect(brief(remote[1]!)).toEqual(['n2 Started/Migrated']);
    expect(await drive(r2.getDomain(ID))).toMatchObject({ state: 'running', reason: 'migrated' });
    expect(await drive(r1.getDomain(ID))).toBeUndefined();
  });

  it('an abort on the source node fails the migration with MigrationAborted; the domain keeps running there', async () => {
    const [r1] = remotes as [RemoteNodeDriver];
    await drive(r1.defineDomain({ ...definition(), annotations: { 'sim.virtkit.io/dirty-rate': '900Mi' } }));
    await drive(r1.startDomain(ID));
    await driveUntil(() => remote[0]!.some((e) => e.type === 'guest-ready'), 'guest ready');
    const migrating = r1.migrateDomain(ID, 'n2');
    migrating.catch(() => {});
    await driveUntil(() => remote[0]!.some((e) => e.type === 'migration' && e.phase === 'progress'), 'migrating');
    await drive(r1.abortMigration(ID));
    const err = await caught(drive(migrating));
    expect(err.reason).toBe('MigrationAborted');
    expect(await drive(r1.getDomain(ID))).toMatchObject({ state: 'running' });
  });

  it('resumes its event stream after a network blip without losing or repeating events', async () => {
    // A TCP proxy between driver and agent stands in for the network.
    const target = new URL(servers[0]!.url);
    const conns = new Set<Socket>();
    const proxy: Server = createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      conns.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const drop = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as { port: number }).port;
    const viaProxy = connectTo({ ...servers[0]!, url: `https://127.0.0.1:${port}` } as NodeDriverServer, 'n1');
    const got: DomainEvent[] = [];
    viaProxy.onEvent((e) => got.push(e));
    let lostNotices = 0;
    viaProxy.onEventsLost(() => lostNotices++);
    try {
      await until(() => viaProxy.eventStreamConnected, 'connected through the proxy');
      await drive(viaProxy.defineDomain(definition()));
      // The network drops; the node keeps emitting meanwhile.
      proxy.close();
      for (const c of conns) c.destroy();
      await until(() => !viaProxy.eventStreamConnected, 'stream cut');
      await drive(remotes[0]!.startDomain(ID));
      await driveUntil(() => direct[0]!.some((e) => e.type === 'guest-ready'), 'guest ready');
      const unreachable = await caught(viaProxy.ping());
      expect(unreachable.reason).toBe('NodeUnreachable');
      // The network is back (the proxy listens again on the same port).
      await new Promise<void>((r) => proxy.listen(port, '127.0.0.1', r));
      await until(() => got.length === direct[0]!.length, 'missed events replayed', 15_000);
      expect(got).toEqual(direct[0]);
      expect(viaProxy.lostEventGaps).toBe(0);
      expect(lostNotices).toBe(0);
    } finally {
      await viaProxy.close();
      proxy.close();
      for (const c of conns) c.destroy();
    }
  });

  it('follows the node to a new endpoint; an agent restart (new epoch) is counted as a gap and noticed', async () => {
    const [r] = remotes as [RemoteNodeDriver];
    let lostNotices = 0;
    r.onEventsLost(() => lostNotices++);
    await drive(r.defineDomain(definition()));
    // The agent's pod is replaced: a new server (new epoch, new certificate) for the same node.
    await servers[0]!.close();
    expect((await caught(r.ping())).reason).toBe('NodeUnreachable');
    const replacement = await serveNodeDriver(sims[0]!, { token: TOKEN });
    servers[0] = replacement;
    r.setEndpoint({ url: replacement.url, certificate: replacement.certificate! });
    await until(() => r.eventStreamConnected, 'stream moved');
    await drive(r.ping());
    expect(r.lostEventGaps).toBe(1);
    // The engine re-reads the node's domains on this notice (events of the restart's gap are gone).
    expect(lostNotices).toBe(1);
    await drive(r.startDomain(ID));
    await driveUntil(() => remote[0]!.some((e) => e.type === 'guest-ready'), 'events from the new endpoint');
  });

  it('refuses an agent whose certificate is not the published one, and a wrong token', async () => {
    const other = await serveNodeDriver(sims[1]!, { token: TOKEN });
    try {
      const impostor = connectTo(servers[0]!, 'n1', { certificate: other.certificate! });
      const err = await caught(impostor.ping());
      expect(err.reason).toBe('NodeUnreachable');
      await impostor.close();
      const badToken = connectTo(servers[0]!, 'n1', { token: 'wrong' });
      const denied = await caught(badToken.ping());
      expect(denied.message).toContain('unauthorized');
      await badToken.close();
    } finally {
      await other.close();
    }
  });

  it('reports NodeUnreachable when the agent is gone, and after close', async () => {
    const [r] = remotes as [RemoteNodeDriver];
    await servers[0]!.close();
    const err = await caught(r.info());
    expect(err.reason).toBe('NodeUnreachable');
    expect(err.node).toBe('n1');
    await r.close();
    expect((await caught(r.ping())).reason).toBe('NodeUnreachable');
  });

  it('closes promptly while connections never finished (or never started) their TLS handshake', async () => {
    const other = await serveNodeDriver(sims[1]!, { token: TOKEN });
    expect(await closeWithStalledHandshakes(other.url, () => other.close())).toBeLessThan(5_000);
  });
});
