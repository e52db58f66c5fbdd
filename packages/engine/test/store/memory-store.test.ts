import { MemoryStore } from '@virtkit/engine';
import { describeStoreContract } from './contract.ts';

describeStoreContract('MemoryStore', (options) => new MemoryStore(options));
