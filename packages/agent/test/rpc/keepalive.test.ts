// Keepalive and connection loss against a real libvirtd whose keepalive is set to 1 s × 1: it pings every
// second and drops a client that stays silent for about two seconds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibvirtClient } from '../../src/rpc/client.ts';
import { LibvirtConnectionError, toDriverError } from '../../src/rpc/errors.ts';
import { type LibvirtDaemon, startLibvirtDaemon } from '../../src/testing/libvirt-daemons.ts';
import { rejectionOf, requireRoot, waitFor } from './helpers.ts';

let d: LibvirtDaemon;

beforeAll(async () => {
  requireRoot();
  d = await startLibvirtDaemon({ name: 'rpc-keepalive', keepaliveIntervalSec: 1, keepaliveCount: 1 });
}, 60_000);

afterAll(async () => {
  await d?.stop();
});

describe('keepalive', () => {
  // These two run side by side (separate connections): each waits on the daemon's 1 s ticks.
  it.concurrent('answers the daemon’s pings, so it keeps the connection', async () => {
    const c = await LibvirtClient.connect({ socketPath: d.socketPath, keepalive: false });
    try {
      // Three pings span longer than the ~2 s after which the daemon drops a client that stays silent.
      await waitFor('three pings from the daemon', () => c.keepaliveStats.pingsReceived >= 3);
      expect(c.closed).toBe(false);
      expect(c.keepaliveStats.pongsSent).toBe(c.keepaliveStats.pingsReceived);
      expect(await c.getVersion()).toBeGreaterThan(0);
    } finally {
      await c.close();
    }
  });

  it.concurrent('a client that does not answer is dropped by the daemon (the check above can fail)', async () => {
    const c = await LibvirtClient.connect({ socketPath: d.socketPath, keepalive: false, answerPings: false });
    let lost: LibvirtConnectionError | undefined;
    c.onClose((e) => {
      lost = e;
    });
    await waitFor('the daemon to drop the silent client', () => c.closed, 10_000);
    expect(c.keepaliveStats.pongsSent).toBe(0);
    expect(lost?.message).toMatch(/connection closed/);
    expect(await rejectionOf(c.getVersion())).toBeInstanceOf(LibvirtConnectionError);
  });

  it('sends its own pings and gets pongs while idle', async () => {
    const c = await LibvirtClient.connect({ socketPath: d.socketPath, keepalive: { intervalMs: 100, count: 5 } });
    try {
      await waitFor('a pong from the daemon', () => c.keepaliveStats.pongsReceived >= 1, 5_000);
      expect(c.keepaliveStats.pingsSent).toBeGreaterThanOrEqual(1);
      expect(c.closed).toBe(false);
    } finally {
      await c.close();
    }
  });

  it('declares a frozen daemon dead and fails the pending call', async () => {
    const c = await LibvirtClient.connect({ socketPath: d.socketPath, keepalive: { intervalMs: 100, count: 3 } });
    const quiet = await LibvirtClient.connect({ socketPath: d.socketPath, keepalive: false });
    process.kill(d.pid, 'SIGSTOP');
    try {
      const pending = rejectionOf(c.getHostname());
      await waitFor('the client to give up on the frozen daemon', () => c.closed, 5_000);
      const err = await pending;
      expect(err).toBeInstanceOf(LibvirtConnectionError);
      expect((err as Error).message).toMatch(/peer considered dead/);
      expect(toDriverError(err, 'n').reason).toBe('NodeUnreachable');
      // Closing a client of a frozen daemon does not hang: the goodbye is not awaited forever.
      await quiet.close(200);
      expect(quiet.closed).toBe(true);
    } finally {
      process.kill(d.pid, 'SIGCONT');
    }
    // The daemon itself is fine again: a new connection works.
    const again = await LibvirtClient.connect({ socketPath: d.socketPath });
    expect(await again.getVersion()).toBeGreaterThan(0);
    await again.close();
  });

  it('reports a daemon that goes away to every pending call and to close listeners', async () => {
    const c = await LibvirtClient.connect({ socketPath: d.socketPath });
    let lost = false;
    c.onClose(() => {
      lost = true;
    });
    await d.stop();
    await waitFor('the close to be noticed', () => lost);
    expect(toDriverError(await rejectionOf(c.getVersion()), 'n').reason).toBe('NodeUnreachable');
    expect(await rejectionOf(LibvirtClient.connect({ socketPath: d.socketPath }))).toBeInstanceOf(
      LibvirtConnectionError,
    );
  });
});
