/**
 * Durable persistence for the store core in one SQLite file (node:sqlite). WAL journal with synchronous=FULL:
 * a commit that returned has reached the disk and survives kill -9 and power loss. The connection runs in
 * EXCLUSIVE locking mode and holds its lock from open to close, so a second process (or a second store in
 * this one) cannot open the same file and diverge from the first's in-memory index.
 *
 * Layout: `meta` (the resourceVersion counter), `objects` (current state, one row per object), `history`
 * (one row per resourceVersion, trimmed to the newest `historyLimit` plus some slack). A history row's
 * previous state is stored by reference (`prev_rv`, the row that produced it) while that row exists, and
 * inlined into `prev` just before that row is trimmed away.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { StoreCorruptError, VirtkitError } from '../errors.ts';
import { KINDS, type Kind, kindInfo } from '../resources/kinds.ts';
import type { KubeObject } from '../resources/meta.ts';
import type { StoreEvent } from './history.ts';
import { deepFreeze, isJsonObject } from './json.ts';
import type { StoreBackend, StoreState } from './store-core.ts';

/** `PRAGMA application_id` of a virtkit store file: "vkst". */
export const STORE_APPLICATION_ID = 0x766b7374;
/** `PRAGMA user_version` this code writes and reads. */
export const STORE_SCHEMA_VERSION = 1;

const SQLITE_HEADER = 'SQLite format 3\u0000';

/** Another connection holds the store file (HTTP 409 semantics: the resource is in use). */
export class StoreLockedError extends VirtkitError {
  static override readonly brandName = 'StoreLockedError';
  readonly path: string;
  constructor(path: string, options?: { cause?: unknown }) {
    super('Conflict', `store file ${path} is in use by another store (open in this or another process)`, 409, options);
    this.path = path;
  }
}
// The base class's brand check would accept any VirtkitError; this one checks its own brand.
Object.defineProperty(StoreLockedError, Symbol.hasInstance, {
  value: (x: unknown) =>
    typeof x === 'object' &&
    x !== null &&
    (x as Record<symbol, unknown>)[Symbol.for('@virtkit/error:StoreLockedError')] === true,
});

interface SqliteError extends Error {
  errcode?: number;
}

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;

function primary(e: unknown): number | undefined {
  const code = (e as SqliteError).errcode;
  return typeof code === 'number' ? code & 0xff : undefined;
}

/** Maps a SQLite failure during open to the typed error a caller can act on. */
function openFailure(path: string, e: unknown): Error {
  const code = primary(e);
  const message = e instanceof Error ? e.message : String(e);
  if (code === SQLITE_BUSY || code === SQLITE_LOCKED) return new StoreLockedError(path, { cause: e });
  if (code === SQLITE_CORRUPT || code === SQLITE_NOTADB) {
    return new StoreCorruptError(path, `the file is damaged or not a database (${message})`, { cause: e });
  }
  return new VirtkitError('Internal', `cannot open store file ${path}: ${message}`, 500, { cause: e });
}

/** Rejects a non-empty file that does not start with the SQLite header before SQLite gets to guess. */
function checkHeader(path: string): void {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new StoreCorruptError(path, 'is not a regular file');
    size = st.size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (size === 0) return;
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(16);
    const n = readSync(fd, buf, 0, 16, 0);
    if (n < 16 || buf.toString('latin1') !== SQLITE_HEADER) {
      throw new StoreCorruptError(path, 'is not a SQLite database (bad file header); refusing to open or overwrite it');
    }
  } finally {
    closeSync(fd);
  }
}

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE objects (
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  rv INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE TABLE history (
  rv INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('ADDED', 'MODIFIED', 'DELETED')),
  body TEXT NOT NULL,
  prev_rv INTEGER,
  prev TEXT
);
INSERT INTO meta (key, value) VALUES ('resourceVersion', '0');
`;

export interface OpenedSqlite {
  backend: StoreBackend;
  state: StoreState;
}

/** Opens (creating when absent or empty) a store file and recovers its state. Throws typed errors only. */
export function openSqliteStore(path: string, historyLimit: number): OpenedSqlite {
  checkHeader(path);
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { timeout: 0 });
  } catch (e) {
    throw openFailure(path, e);
  }
  try {
    const pragma = (sql: string): unknown => {
      const row = db.prepare(sql).get() as Record<string, unknown> | undefined;
      return row === undefined ? undefined : Object.values(row)[0];
    };
    // Exclusive before WAL: no shared-memory index, and the lock is ours until close.
    pragma('PRAGMA locking_mode = EXCLUSIVE');
    const appId = Number(pragma('PRAGMA application_id'));
    const version = Number(pragma('PRAGMA user_version'));
    const tables = (
      db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").all() as { name: string }[]
    ).map((r) => r.name);
    if (appId === 0 && tables.length === 0) {
      if (pragma('PRAGMA journal_mode = WAL') !== 'wal')
        throw new StoreCorruptError(path, 'cannot switch to WAL journal mode');
      db.exec('PRAGMA synchronous = FULL');
      db.exec(
        `BEGIN IMMEDIATE; ${SCHEMA} PRAGMA application_id = ${STORE_APPLICATION_ID}; PRAGMA user_version = ${STORE_SCHEMA_VERSION}; COMMIT;`,
      );
    } else {
      if (appId !== STORE_APPLICATION_ID) {
        throw new StoreCorruptError(
          path,
          `is a SQLite database but not a virtkit store (application_id 0x${appId.toString(16)}, tables: ${tables.join(', ') || 'none'}); refusing to use it`,
        );
      }
      if (version > STORE_SCHEMA_VERSION) {
        throw new StoreCorruptError(
          path,
          `was written by a newer virtkit (schema version ${version}; this one reads ${STORE_SCHEMA_VERSION})`,
        );
      }
      if (version !== STORE_SCHEMA_VERSION) throw new StoreCorruptError(path, `has unknown schema version ${version}`);
      if (pragma('PRAGMA journal_mode = WAL') !== 'wal')
        throw new StoreCorruptError(path, 'cannot switch to WAL journal mode');
      db.exec('PRAGMA synchronous = FULL');
      // Take the write lock now (and keep it), rather than at the first write.
      db.exec('BEGIN IMMEDIATE; COMMIT;');
      const check = db.prepare('PRAGMA quick_check(5)').all() as { quick_check: string }[];
      const problems = check.map((r) => r.quick_check).filter((m) => m !== 'ok');
      if (problems.length > 0) throw new StoreCorruptError(path, `integrity check failed: ${problems.join('; ')}`);
    }
    const state = loadState(db, path, historyLimit);
    return { backend: new SqliteBackend(db, path, historyLimit, state.resourceVersion - state.historyInDb), state };
  } catch (e) {
    try {
      db.close();
    } catch {
      // Already failing; the original error is the one to report.
    }
    if (e instanceof VirtkitError) throw e;
    throw openFailure(path, e);
  }
}

function parseRow(path: string, where: string, text: unknown): KubeObject {
  let value: unknown;
  try {
    value = JSON.parse(String(text));
  } catch (e) {
    throw new StoreCorruptError(path, `${where} does not hold valid JSON`, { cause: e });
  }
  if (!isJsonObject(value) || !isJsonObject(value.metadata) || typeof value.metadata.name !== 'string') {
    throw new StoreCorruptError(path, `${where} does not hold an object with metadata.name`);
  }
  return deepFreeze(value as KubeObject);
}

function keyOf(obj: KubeObject): string | undefined {
  const info = kindInfo(String(obj.kind));
  if (!info) return undefined;
  return info.namespaced ? `${obj.metadata.namespace ?? ''}/${obj.metadata.name}` : String(obj.metadata.name);
}

function loadState(db: DatabaseSync, path: string, historyLimit: number): StoreState & { historyInDb: number } {
  const metaRow = db.prepare("SELECT value FROM meta WHERE key = 'resourceVersion'").get() as
    | { value: string }
    | undefined;
  const rv = Number(metaRow?.value);
  if (!metaRow || !Number.isSafeInteger(rv) || rv < 0) {
    throw new StoreCorruptError(path, `has no valid resourceVersion counter (found ${JSON.stringify(metaRow?.value)})`);
  }
  const objects: KubeObject[] = [];
  const current = new Map<string, KubeObject>();
  for (const row of db.prepare('SELECT kind, key, rv, body FROM objects').iterate() as Iterable<{
    kind: string;
    key: string;
    rv: number;
    body: string;
  }>) {
    const where = `object row (${row.kind}, ${row.key})`;
    if (!Object.hasOwn(KINDS, row.kind)) throw new StoreCorruptError(path, `${where} has unknown kind`);
    const obj = parseRow(path, where, row.body);
    if (obj.kind !== row.kind || keyOf(obj) !== row.key || obj.metadata.resourceVersion !== String(row.rv)) {
      throw new StoreCorruptError(path, `${where} does not match the object it holds`);
    }
    if (typeof obj.metadata.uid !== 'string' || obj.metadata.uid === '') {
      throw new StoreCorruptError(path, `${where} has no metadata.uid`);
    }
    if (row.rv > rv)
      throw new StoreCorruptError(path, `${where} has resourceVersion ${row.rv}, beyond the counter ${rv}`);
    objects.push(obj);
    current.set(`${row.kind}|${row.key}`, obj);
  }
  const stats = db.prepare('SELECT COUNT(*) AS n, MIN(rv) AS lo, MAX(rv) AS hi FROM history').get() as {
    n: number;
    lo: number | null;
    hi: number | null;
  };
  if (stats.n > 0 && (stats.hi !== rv || stats.lo === null || stats.hi - stats.lo + 1 !== stats.n)) {
    throw new StoreCorruptError(
      path,
      `history rows ${stats.lo}..${stats.hi} (${stats.n}) are not a contiguous run ending at the counter ${rv}`,
    );
  }
  // Rows older than the retained window are still read: newer rows may name them as their previous state.
  const from = Math.max(rv - historyLimit, stats.n > 0 ? stats.lo! - 1 : rv);
  const history: StoreEvent[] = [];
  const byRv = new Map<number, KubeObject>();
  for (const row of db
    .prepare('SELECT rv, kind, key, type, body, prev_rv, prev FROM history ORDER BY rv')
    .iterate() as Iterable<{
    rv: number;
    kind: string;
    key: string;
    type: StoreEvent['type'];
    body: string;
    prev_rv: number | null;
    prev: string | null;
  }>) {
    const where = `history row ${row.rv}`;
    if (!Object.hasOwn(KINDS, row.kind)) throw new StoreCorruptError(path, `${where} has unknown kind`);
    const live = current.get(`${row.kind}|${row.key}`);
    // Share the parsed object with the current state when it is the same version.
    const object =
      live && live.metadata.resourceVersion === String(row.rv) && row.type !== 'DELETED'
        ? live
        : parseRow(path, where, row.body);
    let prev: KubeObject | undefined;
    if (row.prev_rv !== null) {
      prev =
        byRv.get(row.prev_rv) ??
        (row.prev === null ? undefined : parseRow(path, `${where} (previous state)`, row.prev));
      if (!prev) throw new StoreCorruptError(path, `${where} lost its previous state (version ${row.prev_rv})`);
    }
    if ((row.type === 'ADDED') !== (prev === undefined)) {
      throw new StoreCorruptError(path, `${where} is ${row.type} but ${prev ? 'has' : 'lacks'} a previous state`);
    }
    byRv.set(row.rv, object);
    if (row.rv > from) history.push({ rv: row.rv, kind: row.kind as Kind, key: row.key, type: row.type, object, prev });
  }
  return { resourceVersion: rv, objects, history, historyInDb: stats.n };
}

class SqliteBackend implements StoreBackend {
  readonly #db: DatabaseSync;
  readonly #path: string;
  readonly #limit: number;
  readonly #slack: number;
  /** Every history row in the file has rv greater than this. */
  #floor: number;
  readonly #upsert: StatementSync;
  readonly #remove: StatementSync;
  readonly #append: StatementSync;
  readonly #counter: StatementSync;
  readonly #inline: StatementSync;
  readonly #trim: StatementSync;
  #closed = false;

  constructor(db: DatabaseSync, path: string, historyLimit: number, floor: number) {
    this.#db = db;
    this.#path = path;
    this.#limit = historyLimit;
    this.#slack = Math.max(16, Math.ceil(historyLimit / 8));
    this.#floor = floor;
    this.#upsert = db.prepare(
      'INSERT INTO objects (kind, key, rv, body) VALUES (?, ?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET rv = excluded.rv, body = excluded.body',
    );
    this.#remove = db.prepare('DELETE FROM objects WHERE kind = ? AND key = ?');
    this.#append = db.prepare(
      'INSERT INTO history (rv, kind, key, type, body, prev_rv, prev) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.#counter = db.prepare("UPDATE meta SET value = ? WHERE key = 'resourceVersion'");
    this.#inline = db.prepare(
      'UPDATE history SET prev = (SELECT h.body FROM history AS h WHERE h.rv = history.prev_rv) WHERE rv > ? AND prev IS NULL AND prev_rv IS NOT NULL AND prev_rv <= ?',
    );
    this.#trim = db.prepare('DELETE FROM history WHERE rv <= ?');
  }

  commit(events: readonly StoreEvent[], resourceVersion: number): void {
    if (this.#closed) throw new VirtkitError('Internal', 'the store is closed', 503);
    try {
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        for (const ev of events) {
          const body = JSON.stringify(ev.object);
          if (ev.type === 'DELETED') this.#remove.run(ev.kind, ev.key);
          else this.#upsert.run(ev.kind, ev.key, ev.rv, body);
          const prevRv = ev.prev === undefined ? null : Number(ev.prev.metadata.resourceVersion);
          // The previous state is its own history row unless that row is already trimmed.
          const prev = prevRv !== null && prevRv <= this.#floor ? JSON.stringify(ev.prev) : null;
          this.#append.run(ev.rv, ev.kind, ev.key, ev.type, body, prevRv, prev);
        }
        this.#counter.run(String(resourceVersion));
        let floor = this.#floor;
        if (resourceVersion - floor > this.#limit + this.#slack) {
          floor = resourceVersion - this.#limit;
          this.#inline.run(floor, floor);
          this.#trim.run(floor);
        }
        this.#db.exec('COMMIT');
        this.#floor = floor;
      } catch (e) {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
        throw e;
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      throw new VirtkitError(
        'Internal',
        `store file ${this.#path}: write failed, nothing was changed: ${message}`,
        500,
        {
          cause: e,
        },
      );
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}
