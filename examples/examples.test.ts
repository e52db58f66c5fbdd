/** Every example script runs in CI: each must finish and print what it promises. */
import { describe, expect, it } from 'vitest';
import { main as drainAndUpgrade } from './drain-and-upgrade.ts';
import { main as mainJob } from './main-job.ts';
import { main as replicaScale } from './replica-scale.ts';
import { main as rollingRestart } from './rolling-restart.ts';

const collect = () => {
  const lines: string[] = [];
  return { lines, log: (l: string) => lines.push(l) };
};

describe('examples', () => {
  it('main job: fleet, migration, drain', async () => {
    const { lines, log } = collect();
    await mainJob(log);
    const text = lines.join('\n');
    expect(text).toMatch(/all 6 VMs Running/);
    expect(text).toMatch(/console: virtkit-guest ready .*hostname=web-1/);
    expect(text).toMatch(/live-migrated db node-\d -> node-\d: Succeeded, downtime \d+ ms/);
    expect(text).toMatch(/drained: \d+ VMs moved/);
  });

  it('rolling restart keeps at most one VM down', async () => {
    const { lines, log } = collect();
    await rollingRestart(log);
    expect(lines.filter((l) => l.startsWith('restarted'))).toHaveLength(4);
    for (const l of lines.filter((x) => x.startsWith('restarted'))) expect(l).toMatch(/not ready now: 0$/);
  });

  it('drain and upgrade empties the node and reuses it', async () => {
    const { lines, log } = collect();
    const r = await drainAndUpgrade(log);
    expect(r.moved).toBeGreaterThan(0);
    expect(lines.at(-1)).toMatch(/web-7 scheduled on node-1/);
  });

  it('replica set scales up and down', async () => {
    const { lines, log } = collect();
    await replicaScale(log);
    expect(lines[0]).toMatch(/scaled to 30 ready replicas/);
    expect(lines[1]).toMatch(/scaled to 10 ready replicas/);
    expect(lines[2]).toMatch(/^spread: /);
  });
});
