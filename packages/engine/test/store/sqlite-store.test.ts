import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import {
  GoneError,
  SqliteStore,
  StoreCorruptError,
  StoreLockedError,
  type StoreOptions,
  VirtkitError,
  VirtualClock,
} from '@virtkit/engine';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { describeStoreContract } from './contract.ts';
import { caught, counterUid, seeded, summary, take, vm, vmi } from './fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'virtkit-store-'));
let files = 0;
const freshPath = () => join(dir, `store-${++files}.db`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeStoreContract('SqliteStore', (options) => new SqliteStore(freshPath(), options));

describe('SqliteStore durability', () => {
  const open: SqliteStore[] = [];
  // One uid sequence for the whole file: a reopened store must not be handed uids it already holds.
  const uid = counterUid('u');
  const opts = (extra: StoreOptions = {}): StoreOptions => ({ clock: new VirtualClock(), uid, ...extra });
  const openStore = (path: string, extra: StoreOptions = {}) => {
    const s = new SqliteStore(path, opts(extra));
    open.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });

  it('recovers every object and the resourceVersion counter after reopening, never reusing a version', async () => {
    const path = freshPath();
    const a = openStore(path);
    await a.create('VirtualMachine', vm('one', { labels: { x: '1' } }));
    const two = await a.create('VirtualMachineInstance', vmi('two'));
    await a.updateStatus('VirtualMachineInstance', { ...two, status: { phase: 'Running', nodeName: 'n1' } });
    await a.create('VirtualMachine', vm('gone'));
    await a.delete('VirtualMachine', 'default', 'gone');
    const before = {
      vms: await a.list('VirtualMachine'),
      vmis: await a.list('VirtualMachineInstance'),
      rv: a.currentResourceVersion(),
    };
    await a.close();
    const b = openStore(path);
    expect(b.currentResourceVersion()).toBe(before.rv);
    expect(await b.list('VirtualMachine')).toEqual(before.vms);
    expect(await b.list('VirtualMachineInstance')).toEqual(before.vmis);
    const next = await b.create('VirtualMachine', vm('three'));
    expect(Number(next.metadata.resourceVersion)).toBe(Number(before.rv) + 1);
    // Optimistic concurrency keeps working across the restart.
    const one = await b.get('VirtualMachine', 'default', 'one');
    await b.update('VirtualMachine', { ...one, metadata: { ...one.metadata, labels: { x: '2' } } });
  });

  it('recovers the dependents index: cascading delete works after reopening', async () => {
    const path = freshPath();
    const a = openStore(path);
    const owner = await a.create('VirtualMachine', vm('web'));
    await a.create(
      'VirtualMachineInstance',
      vmi('web', {
        ownerReferences: [
          {
            apiVersion: 'kubevirt.io/v1',
            kind: 'VirtualMachine',
            name: 'web',
            uid: owner.metadata.uid!,
            controller: true,
          },
        ],
      }),
    );
    await a.close();
    const b = openStore(path);
    await b.delete('VirtualMachine', 'default', 'web');
    expect(await b.tryGet('VirtualMachineInstance', 'default', 'web')).toBeUndefined();
  });

  it('resumes a watch from a resourceVersion recorded before the restart, within retention', async () => {
    const path = freshPath();
    const a = openStore(path, { historyLimit: 20 });
    await a.create('VirtualMachine', vm('a', { labels: { app: 'web' } }));
    const mark = a.currentResourceVersion();
    await a.patch('VirtualMachine', 'default', 'a', 'merge', { metadata: { labels: { app: 'db' } } });
    await a.create('VirtualMachine', vm('b', { labels: { app: 'web' } }));
    await a.delete('VirtualMachine', 'default', 'b');
    await a.close();
    const b = openStore(path, { historyLimit: 20 });
    const all = b.watch('VirtualMachine', { resourceVersion: mark })[Symbol.asyncIterator]();
    expect(summary(await take(all, 3))).toEqual([
      ['MODIFIED', 'a', '2'],
      ['ADDED', 'b', '3'],
      ['DELETED', 'b', '4'],
    ]);
    // Filtered replay needs the previous states, which were persisted too.
    const web = b.watch('VirtualMachine', { resourceVersion: mark, labelSelector: 'app=web' })[Symbol.asyncIterator]();
    expect(summary(await take(web, 3))).toEqual([
      ['DELETED', 'a', '2'],
      ['ADDED', 'b', '3'],
      ['DELETED', 'b', '4'],
    ]);
    // A continue token issued before the restart still pages through the same snapshot.
    await b.create('VirtualMachine', vm('c'));
    const page = await b.list('VirtualMachine', { limit: 1 });
    await b.close();
    const c = openStore(path, { historyLimit: 20 });
    await c.delete('VirtualMachine', 'default', 'c');
    const rest = await c.list('VirtualMachine', { limit: 1, continue: page.continue! });
    expect(rest.items.map((v) => v.metadata.name)).toEqual(['c']);
  });

  it('keeps only the retained history across restarts and answers GoneError beyond it', async () => {
    const path = freshPath();
    const a = openStore(path, { historyLimit: 10 });
    await a.create('VirtualMachine', vm('x'));
    for (let i = 0; i < 60; i++)
      await a.patch('VirtualMachine', 'default', 'x', 'merge', { metadata: { labels: { i: String(i) } } });
    await a.close();
    const b = openStore(path, { historyLimit: 10 });
    expect(b.currentResourceVersion()).toBe('61');
    expect(await caught(() => b.watch('VirtualMachine', { resourceVersion: '50' }))).toBeInstanceOf(GoneError);
    // Filtered replay needs previous states; the first retained event's comes from outside the window.
    const w = b.watch('VirtualMachine', { resourceVersion: '51', labelSelector: 'i=55' })[Symbol.asyncIterator]();
    expect(summary(await take(w, 2))).toEqual([
      ['ADDED', 'x', '57'],
      ['DELETED', 'x', '58'],
    ]);
    await b.close();
    const peek = new DatabaseSync(path);
    const rows = peek.prepare('SELECT COUNT(*) AS n FROM history').get() as { n: number };
    peek.close();
    expect(rows.n).toBeLessThanOrEqual(10 + 16);
    // The same file opened with a longer retention serves what the file still holds.
    const c = openStore(path, { historyLimit: 1000 });
    const long = c.watch('VirtualMachine', { resourceVersion: String(61 - rows.n) })[Symbol.asyncIterator]();
    expect((await take(long, rows.n)).at(-1)?.object.metadata.resourceVersion).toBe('61');
  });

  it('refuses a second store on the same file while the first is open', async () => {
    const path = freshPath();
    openStore(path);
    const e = await caught(() => new SqliteStore(path));
    expect(e).toBeInstanceOf(StoreLockedError);
    expect(e).toBeInstanceOf(VirtkitError);
    expect(e.code).toBe('Conflict');
    await open.pop()!.close();
    openStore(path);
  });

  describe('refuses damaged or foreign files with StoreCorruptError, leaving them untouched', () => {
    const expectCorrupt = async (path: string, fragment: string) => {
      const e = await caught(() => new SqliteStore(path));
      expect(e).toBeInstanceOf(StoreCorruptError);
      expect(e.message).toContain(path);
      expect(e.message).toContain(fragment);
    };

    it('random bytes', async () => {
      const path = freshPath();
      writeFileSync(path, Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919) % 251)));
      await expectCorrupt(path, 'not a SQLite database');
      // Still refused the second time: nothing was reset.
      await expectCorrupt(path, 'not a SQLite database');
    });

    it('a SQLite database of another application', async () => {
      const path = freshPath();
      const db = new DatabaseSync(path);
      db.exec("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT); INSERT INTO accounts VALUES (1, 'x')");
      db.close();
      await expectCorrupt(path, 'not a virtkit store');
      const check = new DatabaseSync(path);
      expect(check.prepare('SELECT owner FROM accounts').get()).toEqual({ owner: 'x' });
      check.close();
    });

    it('a store written by a newer schema version', async () => {
      const path = freshPath();
      const s = new SqliteStore(path);
      await s.close();
      const db = new DatabaseSync(path);
      db.exec('PRAGMA user_version = 99');
      db.close();
      await expectCorrupt(path, 'newer virtkit');
    });

    it('a truncated store file', async () => {
      const path = freshPath();
      const s = new SqliteStore(path);
      for (let i = 0; i < 200; i++)
        await s.create('VirtualMachine', vm(`vm-${i}`, { annotations: { pad: 'x'.repeat(500) } }));
      await s.close();
      truncateSync(path, 24 * 1024);
      const e = await caught(() => new SqliteStore(path));
      expect(e).toBeInstanceOf(StoreCorruptError);
    });

    it('rows that do not hold what they claim', async () => {
      for (const [sql, fragment] of [
        ["UPDATE objects SET body = '{not json' WHERE key = 'default/a'", 'not hold valid JSON'],
        ["UPDATE objects SET key = 'default/zz' WHERE key = 'default/a'", 'does not match'],
        ["UPDATE meta SET value = '1' WHERE key = 'resourceVersion'", 'beyond the counter'],
        ['DELETE FROM history WHERE rv = 2', 'not a contiguous run'],
      ] as const) {
        const path = freshPath();
        const s = new SqliteStore(path);
        await s.create('VirtualMachine', vm('a'));
        await s.create('VirtualMachine', vm('b'));
        await s.create('VirtualMachine', vm('c'));
        await s.close();
        const db = new DatabaseSync(path);
        db.exec(sql);
        db.close();
        await expectCorrupt(path, fragment);
      }
    });

    it('a directory', async () => {
      await expectCorrupt(dir, 'not a regular file');
    });
  });

  it('survives kill -9 at seeded points: every acknowledged write is present', async () => {
    const rounds = 4;
    const random = seeded(20260101);
    for (let round = 0; round < rounds; round++) {
      const path = freshPath();
      const killAfter = 5 + Math.floor(random() * 150);
      const acks = await runUntilKilled(path, round + 1, killAfter);
      expect(acks.acked.length).toBeGreaterThanOrEqual(killAfter);
      const s = openStore(path, { historyLimit: 50 });
      const lastAck = Math.max(...acks.acked.map((a) => a.rv));
      const current = Number(s.currentResourceVersion());
      // At most the one operation in flight may have committed after the last acknowledgement.
      expect(current === lastAck || (current === lastAck + 1 && acks.inFlight !== undefined)).toBe(true);
      const expected = new Map<string, { step: number; rv: number } | null>();
      for (const a of acks.acked) expected.set(a.name, a.op === 'delete' ? null : { step: a.step, rv: a.rv });
      if (acks.inFlight && current === lastAck + 1) {
        const f = acks.inFlight;
        expected.set(f.name, f.op === 'delete' ? null : { step: f.step, rv: current });
      }
      const items = (await s.list('VirtualMachine')).items;
      const actual = new Map(
        items.map((v) => [
          v.metadata.name!,
          { step: Number(v.metadata.labels?.step), rv: Number(v.metadata.resourceVersion) },
        ]),
      );
      for (const [name, want] of expected) {
        if (want === null) expect(actual.has(name), `${name} should be deleted`).toBe(false);
        else expect(actual.get(name), name).toEqual(want);
      }
      expect(actual.size).toBe([...expected.values()].filter((v) => v !== null).length);
      // History is intact: the newest events replay in order up to the counter.
      const w = s
        .watch('VirtualMachine', { resourceVersion: String(Math.max(0, current - 5)) })
        [Symbol.asyncIterator]();
      const replay = await take(w, Math.min(5, current));
      expect(replay.map((e) => Number(e.object.metadata.resourceVersion))).toEqual(
        Array.from({ length: Math.min(5, current) }, (_, k) => current - Math.min(5, current) + 1 + k),
      );
      const after = await s.create('VirtualMachine', vm(`after-${round}`));
      expect(Number(after.metadata.resourceVersion)).toBe(current + 1);
      await s.close();
      open.pop();
    }
  }, 60_000);
});

interface Ack {
  op: 'create' | 'update' | 'delete';
  name: string;
  step: number;
  rv: number;
}

/** Runs the writer child until it has acknowledged `killAfter` writes, then SIGKILLs it. */
function runUntilKilled(
  path: string,
  seed: number,
  killAfter: number,
): Promise<{ acked: Ack[]; inFlight: Omit<Ack, 'rv'> | undefined }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@virtkit/source', fileURLToPath(new URL('kill-child.ts', import.meta.url)), path, String(seed)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const acked: Ack[] = [];
    let inFlight: Omit<Ack, 'rv'> | undefined;
    let buffer = '';
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        const [kind, op, name, step, rv] = line.split(' ');
        if (kind === 'intent') inFlight = { op: op as Ack['op'], name: name!, step: Number(step) };
        else if (kind === 'ack') {
          acked.push({ op: op as Ack['op'], name: name!, step: Number(step), rv: Number(rv) });
          inFlight = undefined;
        }
      }
      if (!killed && acked.length >= killAfter) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    // 'close', not 'exit': every line the child wrote has been read by then.
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL')
        reject(new Error(`writer exited with ${code ?? signal} before being killed: ${stderr}`));
      else resolve({ acked, inFlight });
    });
  });
}
