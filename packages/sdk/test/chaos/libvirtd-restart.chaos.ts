/**
 * libvirtd restarts under a running workload, on an extra daemon (the system one is left alone): the agent
 * (its own process, never restarted here) loses its connection, reconnects with back-off, and catches up
 * from libvirt's state — what happened while it was disconnected is found by a relist, not lost:
 *
 * 1. SIGKILL of libvirtd while the engine is starting a VM, and one guest's QEMU killed while the daemon
 *    is down (libvirt finds it dead when it comes back; nobody was connected to hear it).
 * 2. SIGTERM of libvirtd while the agent is frozen (SIGSTOP), and one guest destroyed with the RPC client
 *    once the new daemon is up, before the agent is thawed: the Stopped event went to no one.
 *
 * Both times the engine must see that guest stopped (its VMI ends, the VM starts a new one), the other
 * guest must run on untouched (same QEMU, console heartbeat continuing), and everything must converge.
 *
 * CHAOS_KEEP=1 keeps the daemon's directory (libvirtd.log); CHAOS_LIBVIRT_DEBUG=1 turns on libvirt's debug
 * log from the first restart on; VIRTKIT_AGENT_DEBUG=1 makes the agent print every raw libvirt event (its
 * stderr tail is shown when the engine does not see a stop).
 */
import { readFileSync } from 'node:fs';
import { LibvirtClient, LibvirtError, libvirtRpc } from '@virtkit/agent';
import { afterAll, describe, expect, it } from 'vitest';
import { sleep } from './harness/child.ts';
import { convergeReal, guestVm, NS, processAlive, type RealNode, startRealNode } from './harness/real-node.ts';

const HERE = import.meta.dirname;

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-25).join('\n');
  } catch {
    return '';
  }
}
let node: RealNode | undefined;
afterAll(async () => {
  await node?.dispose();
}, 120_000);

async function until(
  pred: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs: number,
  detail?: () => Promise<string>,
): Promise<void> {
  const t0 = performance.now();
  while (!(await pred())) {
    if (performance.now() - t0 > timeoutMs) {
      const more = detail ? `\n${await detail().catch((err: Error) => `(no detail: ${err.message})`)}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${more}`);
    }
    await sleep(100);
  }
}

/** What the engine, the agent and libvirt each say about one VMI and its domain, for a failure message. */
async function situation(n: RealNode, uid: string, domain: string): Promise<string> {
  const vmi = (await n.store.list('VirtualMachineInstance', { namespace: NS })).items.find(
    (v) => v.metadata.uid === uid,
  );
  const reported = (await n.observer.listDomains().catch(() => [])).find((d) => d.uid === uid);
  const st = await n.libvirt.getState(domain).catch((err: Error) => err.message);
  return [
    `VMI ${uid}: phase ${n.phases.get(uid)}, conditions ${JSON.stringify(vmi?.status?.conditions ?? [])}`,
    `agent reports: ${JSON.stringify(reported)}`,
    `libvirt: ${JSON.stringify(st)}`,
    `--- agent stderr ---\n${n.agent?.stderrTail(40)}`,
    `--- libvirtd.log ---\n${logTail(n.daemon.logFile)}`,
  ].join('\n');
}

describe('libvirtd restart under a running workload (extra daemon)', () => {
  it('the agent reconnects, relists what it missed, and the engine converges', async () => {
    node = await startRealNode('chaos-libvirtd', HERE);
    const n = node;
    await n.startAgent();
    const agentPid = n.agent!.pid;
    await n.engine.start();
    await n.store.create('VirtualMachine', await guestVm('keep', 'Always'));
    await n.store.create('VirtualMachine', await guestVm('victim', 'Always'));
    await n.store.create('VirtualMachine', await guestVm('late', 'Halted'));
    await convergeReal(n, 'first boot', { tolerateErrors: true });
    const keep = `${NS}_keep`;
    const keepPid = n.qemuPid(keep)!;
    const keepId = (await n.activeDomains()).get(keep)!;
    const victimUid = async () => (await n.store.get('VirtualMachineInstance', NS, 'victim')).metadata.uid!;

    const rounds: { what: string; signal: 'SIGKILL' | 'SIGTERM'; freeze: boolean }[] = [
      { what: 'SIGKILL while a VM starts; a guest dies while the daemon is down', signal: 'SIGKILL', freeze: false },
      { what: 'SIGTERM with the agent frozen; a guest destroyed before it thaws', signal: 'SIGTERM', freeze: true },
    ];
    for (const [i, round] of rounds.entries()) {
      const t0 = performance.now();
      const uid = await victimUid();
      const victim = `${NS}_victim`;
      const victimPid = n.qemuPid(victim)!;
      const beat = n.heartbeats.get(keep)?.n ?? 0;
      expect(processAlive(victimPid)).toBe(true);
      if (round.freeze) {
        process.kill(agentPid, 'SIGSTOP');
        await n.daemon.restart({ signal: round.signal });
        // The new daemon is up; the agent, frozen, is not connected to it: this stop reaches no one.
        await n.libvirt.close().catch(() => undefined);
        n.libvirt = await LibvirtClient.connect({ socketPath: n.daemon.socketPath });
        // libvirt 9.0 answers before it has finished reconnecting to the running QEMUs (a thread per domain,
        // holding the domain's job). A destroy meanwhile kills the QEMU and waits for that job; the reconnect,
        // having lost its QEMU, stops the domain itself (reason daemon or crashed, and no event), and the
        // destroy then fails with "domain is not running". The guest is stopped unheard all the same, which
        // is what this round is about: accept that, and only that.
        await n.libvirt.destroy(victim).catch(async (err: Error) => {
          const st = await n.libvirt.getState(victim).catch((e: Error) => e.message);
          const racedReconnect =
            err instanceof LibvirtError &&
            err.code === libvirtRpc.ErrorCode.OperationInvalid &&
            typeof st === 'object' &&
            st.state === 'shutoff' &&
            !processAlive(victimPid);
          if (racedReconnect) {
            console.log(`[chaos libvirtd] the destroy raced libvirt's reconnect: ${err.message}; now ${st.reason}`);
            return;
          }
          throw new Error(
            `destroying ${victim} after the restart: ${err.message}; its state: ${JSON.stringify(st)}; ` +
              `QEMU ${victimPid} alive: ${processAlive(victimPid)}\n${logTail(n.daemon.logFile)}`,
          );
        });
        process.kill(agentPid, 'SIGCONT');
      } else {
        // The engine is in the middle of starting a VM when the daemon dies.
        if ((await n.store.get('VirtualMachine', NS, 'late')).spec.runStrategy === 'Halted')
          await n.engine.actions.start(NS, 'late');
        else await n.engine.actions.stop(NS, 'late');
        await sleep(300);
        await n.daemon.restart({
          signal: round.signal,
          // A guest dies with nobody watching: libvirt finds its QEMU gone when it comes back.
          whileDown: async () => {
            process.kill(victimPid, 'SIGKILL');
            await until(() => !processAlive(victimPid), 'the QEMU to die', 10_000);
          },
        });
        await n.libvirt.close().catch(() => undefined);
        n.libvirt = await LibvirtClient.connect({ socketPath: n.daemon.socketPath });
      }
      // The engine hears of the stop (from the agent's relist): the VMI ends, and the VM starts a new one.
      await until(
        () => ['Failed', 'Succeeded'].includes(n.phases.get(uid) ?? ''),
        `round ${i}: the engine to see ${victim} stopped`,
        60_000,
        () => situation(n, uid, victim),
      );
      const seenMs = performance.now() - t0;
      const ms = await convergeReal(n, `round ${i}`, { tolerateErrors: true });
      expect(await victimUid(), `round ${i}: the victim runs as a new VMI`).not.toBe(uid);
      // The agent reconnected by itself (same process), the other guest never noticed.
      expect(n.agent!.pid).toBe(agentPid);
      expect(n.agent!.alive).toBe(true);
      expect(n.qemuPid(keep)).toBe(keepPid);
      expect((await n.activeDomains()).get(keep)).toBe(keepId);
      await until(() => (n.heartbeats.get(keep)?.n ?? 0) > beat + 1, `round ${i}: keep's heartbeat to go on`, 20_000);
      console.log(
        `[chaos libvirtd] round ${i} (${round.what}): engine saw the stop after ${Math.round(seenMs)} ms, converged ${Math.round(ms)} ms later; ${n.phases.get(uid)} (${n.failures.get(uid) ?? 'no failure'})`,
      );
    }
    // Only the victims failed: the VM being started while libvirtd died was not given up.
    expect([...n.failures.values()].filter((why) => !why.startsWith('victim:'))).toEqual([]);
  }, 600_000);
});
