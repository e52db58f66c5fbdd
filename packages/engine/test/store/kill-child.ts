/**
 * Child process for the kill -9 test: writes to a SqliteStore in a seeded loop and reports on stdout, one line
 * each, what it is about to do (`intent`) and what the store acknowledged (`ack`). stdout to a pipe is
 * synchronous on Linux, so a line the parent reads was written before the next operation began.
 * Usage: node --conditions=@virtkit/source kill-child.ts <store file> <seed>
 */
import { SqliteStore } from '@virtkit/engine';
import { seeded, vm } from './fixtures.ts';

const [path, seedArg] = process.argv.slice(2);
if (!path || !seedArg) throw new Error('usage: kill-child.ts <store file> <seed>');
const rng = seeded(Number(seedArg));
const store = new SqliteStore(path, { historyLimit: 50 });
const live: string[] = (await store.list('VirtualMachine')).items.map((v) => v.metadata.name!);
const say = (line: string) => process.stdout.write(`${line}\n`);

for (let i = 0; ; i++) {
  const r = rng();
  if (live.length === 0 || r < 0.5) {
    const name = `vm-${seedArg}-${i}`;
    say(`intent create ${name} ${i}`);
    const created = await store.create('VirtualMachine', vm(name, { labels: { step: String(i) } }));
    live.push(name);
    say(`ack create ${name} ${i} ${created.metadata.resourceVersion}`);
  } else if (r < 0.85) {
    const name = live[Math.floor(rng() * live.length)]!;
    say(`intent update ${name} ${i}`);
    const updated = await store.patch('VirtualMachine', 'default', name, 'merge', {
      metadata: { labels: { step: String(i) } },
    });
    say(`ack update ${name} ${i} ${updated.metadata.resourceVersion}`);
  } else {
    const idx = Math.floor(rng() * live.length);
    const name = live[idx]!;
    say(`intent delete ${name} ${i}`);
    const gone = await store.delete('VirtualMachine', 'default', name);
    live.splice(idx, 1);
    say(`ack delete ${name} ${i} ${gone.metadata.resourceVersion}`);
  }
}
