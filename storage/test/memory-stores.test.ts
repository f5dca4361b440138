/** The storage contract on the in-memory stores. */
import { createMemoryStores } from '../memory-stores.ts';
import { storeContract } from './store-contract.ts';

storeContract('memory', { open: async () => createMemoryStores() });
