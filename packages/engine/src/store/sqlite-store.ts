/**
 * The durable ResourceStore: the same core as MemoryStore, writing every committed batch through to a SQLite
 * file before memory and watchers see it. Reopening the file recovers every object, the resourceVersion counter
 * and the retained history (so watches resume across restarts).
 */
import { openSqliteStore } from './sqlite-backend.ts';
import { DEFAULT_HISTORY_LIMIT, StoreCore, type StoreOptions } from './store-core.ts';

export class SqliteStore extends StoreCore {
  /** The store file. */
  readonly path: string;

  /**
   * Opens `path`, creating it when it does not exist or is empty. Throws `StoreCorruptError` for a damaged
   * file or one that is not a virtkit store, and `StoreLockedError` when another store holds it.
   */
  constructor(path: string, options: StoreOptions = {}) {
    const { backend, state } = openSqliteStore(path, options.historyLimit ?? DEFAULT_HISTORY_LIMIT);
    try {
      super(options, backend, state);
    } catch (e) {
      backend.close();
      throw e;
    }
    this.path = path;
  }
}
