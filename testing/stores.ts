/**
 * Storage for tests of every area: a real in-memory Azurite on free ports, and the stores of
 * either kind behind one call. Azurite is an npm dependency of ringfaas, so it is always
 * available: a test skips (locally, with the reason) only when the package is not installed,
 * and fails when RINGFAAS_REQUIRE_SERVICES=1; once installed, a failure to start it fails the
 * test, it never skips.
 */
import { createRequire } from 'node:module';
import { skipUnless } from './services.ts';
import { startAzurite, createMemoryStores, openStores, type AzuriteHandle, type Stores } from '../storage/index.ts';

/**
 * `{ skip }` value for a test that needs Azurite: false when the package is installed, a
 * reason locally when it is not; throws when RINGFAAS_REQUIRE_SERVICES=1 and it is missing.
 */
export function azuriteSkip(): string | false {
  let installed = true;
  try {
    createRequire(import.meta.url).resolve('azurite/package.json');
  } catch {
    installed = false;
  }
  return skipUnless(installed, 'Azurite', "the 'azurite' package is not installed (npm install)");
}

/**
 * Starts Azurite in memory on free loopback ports; `stop()` when done. Its Queue service only
 * when asked (asynchronous invocations): one process fewer for every other test.
 */
export function startTestAzurite(options: { queue?: boolean; startTimeoutMs?: number } = {}): Promise<AzuriteHandle> {
  return startAzurite({ queue: options.queue ?? false, ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }) });
}

export type TestStoresKind = 'memory' | 'azure';

/** Stores for a test, plus what backs them. `close()` closes the stores and stops Azurite. */
export interface TestStores {
  kind: TestStoresKind;
  stores: Stores;
  /** The Azurite behind the `azure` kind. */
  azurite?: AzuriteHandle;
  /** Its connection string (for child processes of the test). */
  connectionString?: string;
  close(): Promise<void>;
}

/**
 * Opens stores of the given kind: `memory` (in-process) or `azure` (the Azure implementations
 * on a fresh in-memory Azurite of their own).
 */
export async function openTestStores(kind: TestStoresKind, options: { operationTimeoutMs?: number } = {}): Promise<TestStores> {
  if (kind === 'memory') {
    const stores = createMemoryStores();
    return { kind, stores, close: () => stores.close() };
  }
  const azurite = await startTestAzurite();
  try {
    const stores = await openStores({ connectionString: azurite.connectionString, ...options });
    return {
      kind,
      stores,
      azurite,
      connectionString: azurite.connectionString,
      close: async () => {
        await stores.close();
        await azurite.stop();
      },
    };
  } catch (err) {
    await azurite.stop();
    throw err;
  }
}
