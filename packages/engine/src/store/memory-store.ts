/** The in-memory ResourceStore: full Kubernetes semantics, nothing survives the process. */
import { StoreCore, type StoreOptions } from './store-core.ts';

export class MemoryStore extends StoreCore {
  constructor(options: StoreOptions = {}) {
    super(options);
  }
}
