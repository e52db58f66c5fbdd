/**
 * Crash safety of the engine: an engine process (createEngine + durable SqliteStore + RemoteNodeDrivers) is
 * killed with SIGKILL at seeded points of a scripted workload (creates, starts, stops, restarts, migrations,
 * deletes), and started again on the same store file, while its three simulated nodes live on in another
 * process. After every kill the store file is checked for every write the engine had acknowledged; after
 * every restart the engine must converge: each VM in the state its runStrategy asks for, no domain running
 * twice, no domain without a VMI, no deletion or migration left hanging. Nothing in this workload makes a
 * guest fail, so at the end the store's history must show no VMI that ever failed.
 *
 * CHAOS_SEED (default 1) picks the kill points and the workload; CHAOS_ENGINE_KILLS (default 50) the number
 * of kills. A failure names the seed and the cycle, so it can be replayed, and keeps the store file (CHAOS_KEEP=1
 * keeps it always).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DomainInfo, SqliteStore, seededRandom } from '@virtkit/engine';
import { afterAll, describe, expect, it } from 'vitest';
import { RemoteNodeDriver } from '../../src/cluster/remote-node-driver.ts';
import { checkDurability, convergenceProblems, failedVmisInHistory, type StoreDump } from './harness/checks.ts';
import { Child, sleep } from './harness/child.ts';
import { type Ack, CHAOS_HISTORY_LIMIT } from './harness/engine-workload.ts';
import { envInt } from './harness/env.ts';

const SEED = envInt('CHAOS_SEED', 1);
const KILLS = envInt('CHAOS_ENGINE_KILLS', 50);
const CONVERGE_TIMEOUT_MS = 30_000;
const HERE = import.meta.dirname;

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('engine kill -9 loop (simulated nodes in another process)', () => {
  it(
    `keeps every acknowledged write and converges after ${KILLS} SIGKILLs (seed ${SEED})`,
    async () => {
      const started = performance.now();
      const dir = mkdtempSync(join(tmpdir(), 'virtkit-chaos-engine-'));
      let passed = false;
      // A failed run keeps its store file for a look with sqlite3.
      cleanups.push(() =>
        passed && !process.env.CHAOS_KEEP
          ? rmSync(dir, { recursive: true, force: true })
          : console.log(`[chaos engine] kept ${dir}`),
      );
      const storePath = join(dir, 'store.db');
      // The first change is the harness's own: everything after it is the engines' (and fully in the history).
      const first = new SqliteStore(storePath, { historyLimit: CHAOS_HISTORY_LIMIT });
      const marker = await first.create('Lease', {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: 'chaos-marker', namespace: 'default' },
        spec: {},
      });
      await first.close();
      const markerRv = Number(marker.metadata.resourceVersion);

      const host = new Child({ name: 'node-host', script: join(HERE, 'harness/node-host.ts'), args: [String(SEED)] });
      cleanups.push(() => host.kill9().catch(() => undefined));
      const nodes = JSON.parse((await host.waitLine((l) => l.startsWith('NODES '), 30_000, 'node URLs')).slice(6)) as {
        name: string;
        url: string;
      }[];
      const probes = nodes.map((n) => new RemoteNodeDriver({ nodeName: n.name, url: n.url, token: false }));
      cleanups.push(() => Promise.all(probes.map((p) => p.close())).then(() => undefined));

      const rng = seededRandom(SEED);
      const acks: Ack[] = [];
      const counts = { kills: 0, restarts: 0, early: 0, writesChecked: 0, objectsChecked: 0, convergences: 0 };
      /** Workload operations by `op:outcome`. */
      const ops = new Map<string, number>();
      const failuresSeen = new Set<string>();
      let live: Child | undefined;
      cleanups.push(() => live?.kill9().catch(() => undefined));

      const spawnEngine = (cycle: number) => {
        const child = new Child({
          name: `engine#${cycle}`,
          script: join(HERE, 'harness/engine-proc.ts'),
          args: [storePath, JSON.stringify(nodes), `c${cycle}`],
          onLine: (line) => {
            if (line.startsWith('A ')) acks.push(JSON.parse(line.slice(2)) as Ack);
            else if (line.startsWith('OP ')) {
              const { op, outcome } = JSON.parse(line.slice(3)) as { op: string; outcome: string };
              const k = `${op}:${outcome}`;
              ops.set(k, (ops.get(k) ?? 0) + 1);
            }
          },
        });
        live = child;
        return child;
      };

      const domainsByNode = async () => {
        const lists = await Promise.all(probes.map((p) => p.listDomains()));
        return new Map<string, DomainInfo[]>(probes.map((p, i) => [p.nodeName, lists[i]!]));
      };

      /** Polls the engine's view and the nodes' domains until every invariant holds (bounded). */
      const converge = async (engine: Child, what: string) => {
        const t0 = performance.now();
        let problems: string[] = ['not checked yet'];
        /** What still differed a second in, shown when convergence is slow (a hint of a stuck path). */
        let lagging: string[] | undefined;
        while (performance.now() - t0 < CONVERGE_TIMEOUT_MS) {
          const reply = engine.waitLine((l) => l.startsWith('D '), 10_000, 'a dump');
          engine.send('dump');
          const dump = JSON.parse((await reply).slice(2)) as StoreDump;
          for (const vmi of dump.vmis) {
            if (vmi.status?.phase !== 'Failed' || failuresSeen.has(vmi.metadata.uid ?? '')) continue;
            failuresSeen.add(vmi.metadata.uid ?? '');
            const cond = vmi.status.conditions?.find((c) => c.type === 'Failure');
            console.log(
              `[chaos engine] ${what}: VMI ${vmi.metadata.name} (uid ${vmi.metadata.uid}) failed: ${vmi.status.reason} ${cond?.message ?? ''}`,
            );
          }
          problems = convergenceProblems(dump, await domainsByNode());
          if (problems.length === 0) {
            counts.convergences++;
            const ms = performance.now() - t0;
            if (lagging)
              console.log(
                `[chaos engine] ${what}: slow convergence (${Math.round(ms)} ms); after 1 s: ${lagging.join('; ')}`,
              );
            return ms;
          }
          if (!lagging && performance.now() - t0 > 1000) lagging = problems;
          await sleep(100);
        }
        throw new Error(
          `seed ${SEED}, ${what}: not converged within ${CONVERGE_TIMEOUT_MS} ms:\n  ${problems.join('\n  ')}\n--- engine stderr ---\n${engine.stderrTail()}`,
        );
      };

      const checkStore = async (what: string) => {
        const r = await checkDurability(storePath, acks, markerRv);
        expect(r.problems, `seed ${SEED}, ${what}: acknowledged writes lost`).toEqual([]);
        counts.writesChecked = r.writesChecked;
        counts.objectsChecked = r.objectsChecked;
        return r;
      };

      for (let cycle = 0; cycle < KILLS; cycle++) {
        const what = `cycle ${cycle}`;
        const acksBefore = acks.length;
        const engine = spawnEngine(cycle);
        if (cycle > 0) counts.restarts++;
        let plan: string;
        let convergedMs: number | undefined;
        if (rng() < 0.2) {
          // Killed while it opens the store, loads, fences the nodes and resumes its VMIs.
          const at = 200 + Math.floor(rng() * 1300);
          plan = `early kill ${at} ms after spawn`;
          counts.early++;
          await sleep(at);
        } else {
          await engine.waitLine((l) => l === 'READY', 30_000, 'READY');
          convergedMs = await converge(engine, `${what} (after restart)`);
          const byAcks = rng() < 0.5;
          const n = byAcks ? 1 + Math.floor(rng() * 150) : 50 + Math.floor(rng() * 2500);
          plan = byAcks ? `kill at the ${n}th acknowledged write of the workload` : `kill ${n} ms into the workload`;
          let seen = 0;
          const trigger = byAcks
            ? engine.waitLine((l) => l.startsWith('A ') && ++seen >= n, 20_000, `${n} acknowledged writes`)
            : sleep(n);
          engine.send(`go ${(SEED * 7919 + cycle) >>> 0}`);
          await trigger;
        }
        await engine.kill9();
        counts.kills++;
        const r = await checkStore(what);
        console.log(
          `[chaos engine] seed ${SEED} ${what}: ${plan}; ${acks.length - acksBefore} acks` +
            `${convergedMs !== undefined ? `, converged in ${Math.round(convergedMs)} ms` : ''}; store rv ${r.resourceVersion}`,
        );
      }

      // The last restart: converge, then stop cleanly, and check the store once more.
      const last = spawnEngine(KILLS);
      counts.restarts++;
      await last.waitLine((l) => l === 'READY', 30_000, 'READY');
      await converge(last, 'final restart');
      const stopped = last.waitLine((l) => l === 'STOPPED', 30_000, 'STOPPED');
      last.send('stop');
      await stopped;
      expect((await last.exited).code).toBe(0);
      await checkStore('after the final clean stop');
      // Nothing in this workload makes a guest fail (no faults but the engine's own death): a failed VMI
      // means the engine lost track of a domain across a restart.
      const failed = await failedVmisInHistory(storePath, markerRv);
      expect(failed, `seed ${SEED}: VMIs that failed during the run`).toEqual([]);
      console.log(
        `[chaos engine] seed ${SEED}: ${counts.kills} kills (${counts.early} during recovery), ${counts.restarts} restarts, ` +
          `${counts.convergences} convergences, ${acks.length} acknowledged writes ` +
          `(${counts.writesChecked} found in the store's history), ${counts.objectsChecked} objects checked, ` +
          `${Math.round((performance.now() - started) / 1000)} s`,
      );
      console.log(
        `[chaos engine] workload operations: ${[...ops]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')}`,
      );
      expect(counts.kills).toBe(KILLS);
      if (KILLS >= 20) {
        // The workload did what it is meant to (else the kills hit an idle engine).
        for (const op of ['create', 'start', 'stop', 'restart', 'migrate', 'delete'])
          expect(ops.get(`${op}:ok`) ?? 0, `successful ${op} operations`).toBeGreaterThan(0);
      }
      passed = true;
    },
    120_000 + KILLS * 45_000,
  );
});
