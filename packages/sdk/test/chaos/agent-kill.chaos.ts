/**
 * Crash safety of the node agent: the real agent (LibvirtNodeDriver behind serveNodeDriver, in its own
 * process, on an extra libvirtd) runs test-guest domains under TCG for an engine in this process; it is
 * killed with SIGKILL at seeded points — idle, while adopting on start-up, or in the middle of a stop, a
 * start, or a delete and re-create the engine is driving — and started again. Every time: the guests it
 * had keep running in QEMU (same libvirt runtime ids, same QEMU processes) while it is dead; after the
 * restart it reports them again under the same uids, ready, with their console heartbeat continuing where
 * it was; nothing is reported twice; and the engine converges, with no domain or domain files left for
 * VMIs that are gone.
 *
 * CHAOS_SEED (default 1) picks kill points and operations; CHAOS_AGENT_KILLS (default 6) the number of kills.
 */
import { seededRandom } from '@virtkit/engine';
import { afterAll, describe, expect, it } from 'vitest';
import { sleep } from './harness/child.ts';
import { envInt } from './harness/env.ts';
import { convergeReal, guestVm, NS, processAlive, type RealNode, startRealNode } from './harness/real-node.ts';

const SEED = envInt('CHAOS_SEED', 1);
const KILLS = envInt('CHAOS_AGENT_KILLS', 6);
const HERE = import.meta.dirname;
/** Two guests that run throughout; a third is stopped, started, deleted and re-created around the kills. */
const STEADY = ['steady-0', 'steady-1'];

let node: RealNode | undefined;
afterAll(async () => {
  await node?.dispose();
}, 120_000);

/** Waits for a console heartbeat of `domain` numbered above `after` (the guest kept counting: no reboot). */
async function heartbeatAfter(n: RealNode, domain: string, after: number, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    const hb = n.heartbeats.get(domain);
    if (hb && hb.n > after) return hb.n;
    await sleep(100);
  }
  throw new Error(
    `seed ${SEED}: no heartbeat of ${domain} after #${after} within ${timeoutMs} ms (last: ${JSON.stringify(n.heartbeats.get(domain))})`,
  );
}

describe('agent kill -9 loop (real libvirt, TCG guests)', () => {
  it(
    `keeps the guests running and adopts them again after ${KILLS} SIGKILLs (seed ${SEED})`,
    async () => {
      const started = performance.now();
      node = await startRealNode('chaos-agent', HERE);
      const n = node;
      const rng = seededRandom(SEED);
      await n.startAgent();
      await n.engine.start();
      for (const name of STEADY) await n.store.create('VirtualMachine', await guestVm(name, 'Always'));
      let toggle = 'toggle-0';
      let toggles = 0;
      await n.store.create('VirtualMachine', await guestVm(toggle, 'Always'));
      await convergeReal(n, `seed ${SEED}, first boot`);
      const ids = new Map<string, { uid: string; libvirtId: number; pid: number }>();
      const active = await n.activeDomains();
      for (const name of STEADY) {
        const vmi = await n.store.get('VirtualMachineInstance', NS, name);
        const domain = `${NS}_${name}`;
        ids.set(domain, { uid: vmi.metadata.uid!, libvirtId: active.get(domain)!, pid: n.qemuPid(domain)! });
      }
      for (const [domain, v] of ids) {
        expect(v.libvirtId, `${domain} runs`).toBeGreaterThan(0);
        expect(processAlive(v.pid), `${domain}'s QEMU runs`).toBe(true);
      }
      const crashedUids = new Set<string>();
      const counts = { kills: 0, duringOps: 0, heartbeatsChecked: 0, adoptions: 0, crashes: 0 };

      for (let cycle = 0; cycle < KILLS; cycle++) {
        const what = `cycle ${cycle}`;
        // What the engine is doing when the agent dies.
        const r = rng();
        let op = 'idle';
        if (r < 0.7) {
          const vm = await n.store.get('VirtualMachine', NS, toggle);
          if (r < 0.25) {
            op = `delete ${toggle}, create toggle-${toggles + 1}`;
            await n.store.delete('VirtualMachine', NS, toggle);
            toggle = `toggle-${++toggles}`;
            await n.store.create('VirtualMachine', await guestVm(toggle, 'Always'));
          } else if (vm.spec.runStrategy === 'Always') {
            op = `stop ${toggle}`;
            await n.engine.actions.stop(NS, toggle);
          } else {
            op = `start ${toggle}`;
            await n.engine.actions.start(NS, toggle);
          }
          counts.duringOps++;
        }
        const delay = Math.floor(rng() * (op === 'idle' ? 3000 : 2500));
        await sleep(delay);
        const before = new Map([...ids.keys()].map((d) => [d, n.heartbeats.get(d)?.n ?? 0]));
        await n.killAgent();
        counts.kills++;
        // While the agent is dead its guests run on: libvirt still has them, same runtime ids, same QEMU.
        const whileDead = await n.activeDomains();
        for (const [domain, v] of ids) {
          expect(whileDead.get(domain), `seed ${SEED}, ${what}: ${domain} in libvirt while the agent is dead`).toBe(
            v.libvirtId,
          );
          expect(n.qemuPid(domain), `seed ${SEED}, ${what}: ${domain}'s QEMU pid`).toBe(v.pid);
          expect(processAlive(v.pid), `seed ${SEED}, ${what}: ${domain}'s QEMU alive`).toBe(true);
        }
        // Sometimes the toggled guest dies while no agent watches: the new agent must report it, and the
        // engine restart the VM (a VMI left Running over a dead domain would never converge).
        let crashed: { uid: string } | undefined;
        const togglePid = n.qemuPid(`${NS}_${toggle}`);
        if (rng() < 0.4 && togglePid !== undefined && processAlive(togglePid)) {
          const vmi = await n.store.tryGet('VirtualMachineInstance', NS, toggle);
          if (vmi?.status?.phase === 'Running') {
            process.kill(togglePid, 'SIGKILL');
            crashed = { uid: vmi.metadata.uid! };
            op += `, ${toggle}'s QEMU killed while the agent is dead`;
          }
        }
        await sleep(Math.floor(rng() * 1500));
        const startMs = await n.startAgent();
        // Adopted: the same uids, running, ready, reported once.
        const listed = await n.observer.listDomains();
        for (const [domain, v] of ids) {
          const mine = listed.filter((d) => d.id === domain);
          expect(
            mine.map((d) => [d.uid, d.state, d.guestReady]),
            `seed ${SEED}, ${what}: ${domain} adopted`,
          ).toEqual([[v.uid, 'running', true]]);
        }
        expect(new Set(listed.map((d) => d.uid)).size, `seed ${SEED}, ${what}: a uid listed twice`).toBe(listed.length);
        counts.adoptions++;
        // The console goes on from where it was (a restarted guest would count from 1 again).
        for (const [domain, last] of before) {
          await heartbeatAfter(n, domain, last, 20_000);
          counts.heartbeatsChecked++;
        }
        const ms = await convergeReal(n, `seed ${SEED}, ${what}`);
        if (crashed) {
          // The engine saw the guest die (its VMI failed) and the VM runs a new VMI (checked by converge).
          expect(n.failures.get(crashed.uid), `seed ${SEED}, ${what}: the crashed guest's VMI failed`).toMatch(
            /^toggle-\d+: /,
          );
          counts.crashes++;
          crashedUids.add(crashed.uid);
        }
        // Converged without ever restarting the steady guests.
        const now = await n.activeDomains();
        for (const [domain, v] of ids) {
          expect(now.get(domain), `seed ${SEED}, ${what}: ${domain} runtime id`).toBe(v.libvirtId);
          expect(n.qemuPid(domain), `seed ${SEED}, ${what}: ${domain} QEMU pid`).toBe(v.pid);
          const vmi = await n.store.get('VirtualMachineInstance', NS, domain.slice(NS.length + 1));
          expect(vmi.metadata.uid, `seed ${SEED}, ${what}: ${domain}'s VMI`).toBe(v.uid);
        }
        console.log(
          `[chaos agent] seed ${SEED} ${what}: ${op}, killed ${delay} ms later; agent back in ${Math.round(startMs)} ms; converged in ${Math.round(ms)} ms`,
        );
      }

      // Delete everything through the engine: no domain and no file may be left behind.
      for (const vm of (await n.store.list('VirtualMachine', { namespace: NS })).items)
        await n.store.delete('VirtualMachine', NS, vm.metadata.name!);
      await convergeReal(n, `seed ${SEED}, after deleting every VM`);
      expect((await n.libvirt.listAllDomains()).map((d) => d.name)).toEqual([]);
      // Only the guests killed on purpose failed: an agent restart alone never fails a VMI.
      const unexpected = [...n.failures].filter(([uid]) => !crashedUids.has(uid)).map(([, why]) => why);
      expect(unexpected, `seed ${SEED}: VMIs that failed`).toEqual([]);
      console.log(
        `[chaos agent] seed ${SEED}: ${counts.kills} kills (${counts.duringOps} during an operation), ${counts.adoptions} adoptions ` +
          `checked, ${counts.heartbeatsChecked} heartbeat continuations, ${counts.crashes} guests killed while the agent was dead, ${Math.round((performance.now() - started) / 1000)} s`,
      );
    },
    300_000 + KILLS * 240_000,
  );
});
