/**
 * Scale of the catalogue: N functions (10,000 by default) written through the Azure store on
 * Azurite (32 writers), then `GET /functions?limit=1000` walked page by page through a router
 * (in this process) and timed; then a worker's function cache (the real one, on the same
 * Azurite) loading M distinct functions (2,000 by default) once each under a byte bound, with
 * the cache's bytes and this process's heap and RSS before and after.
 *
 * Caveat: the cache part loads each function once through the cache, without running it (2,000
 * cold starts would be 2,000 container starts); what the bound limits is the cache itself.
 */
import { randomBytes } from 'node:crypto';
import { zipSync, strToU8 } from 'fflate';
import type { ScenarioOutput } from '../report/result.ts';
import type { Progress } from '../report/progress.ts';

export interface CatalogueOptions {
  functions: number;
  cached: number;
  cacheMb: number;
  progress: Progress;
}

export async function runCatalogue(options: CatalogueOptions): Promise<ScenarioOutput> {
  const { openStores, startAzurite } = await import('../../storage/index.ts');
  const { startRouter } = await import('../../router/index.ts');
  const { loadRouterConfig } = await import('../../router/index.ts');
  const { FunctionCache } = await import('../../worker/index.ts');
  const azurite = await startAzurite({ startTimeoutMs: 60_000 });
  try {
    const stores = await openStores({ connectionString: azurite.connectionString, operationTimeoutMs: 10_000 });
    const run = randomBytes(2).toString('hex');
    const now = new Date().toISOString();
    const zip = Buffer.from(zipSync({ 'index.js': strToU8('module.exports = async (input) => ({ ok: true, input });') }));
    options.progress.note(`writing ${options.functions} functions`);
    const writeStart = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (let i = next++; i < options.functions; i = next++) {
          const id = `cat${run}${String(i).padStart(6, '0')}`;
          if (i < options.cached) await stores.artifacts.put(id, 1, zip);
          await stores.functions.create({ id, name: id, memorySize: 128, timeoutMs: 1000, idleTimeoutMs: 60_000, version: 1, codeSha256: 'x', codeSize: zip.length, createdAt: now, updatedAt: now, env: {} });
        }
      }),
    );
    const writeS = (performance.now() - writeStart) / 1000;

    options.progress.note('paging through GET /functions');
    const config = loadRouterConfig({ RINGFAAS_STORAGE_CONNECTION_STRING: 'x', RINGFAAS_PORT: '0', RINGFAAS_LOG_LEVEL: 'silent', RINGFAAS_STORAGE_TIMEOUT_MS: '10000' }, [], { routerId: `bench-catalogue-${run}` });
    const router = await startRouter({ config, stores });
    const pageMs: number[] = [];
    let listed = 0;
    let token: string | null = null;
    try {
      do {
        const t = performance.now();
        const res = await fetch(`${router.url}/functions?limit=1000${token === null ? '' : `&continuationToken=${encodeURIComponent(token)}`}`);
        const body = (await res.json()) as { functions: unknown[]; nextToken: string | null };
        pageMs.push(performance.now() - t);
        listed += body.functions.length;
        token = body.nextToken;
      } while (token !== null);
    } finally {
      await router.close();
    }

    options.progress.note(`loading ${options.cached} functions through a worker's cache`);
    global.gc?.();
    const before = process.memoryUsage();
    const cache = new FunctionCache({ functions: stores.functions, artifacts: stores.artifacts, maxBytes: options.cacheMb * 1024 * 1024 });
    let maxBytes = 0;
    let k = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = k++; i < options.cached; i = k++) {
          await cache.get(`cat${run}${String(i).padStart(6, '0')}`);
          maxBytes = Math.max(maxBytes, cache.bytes);
        }
      }),
    );
    global.gc?.();
    const after = process.memoryUsage();
    await stores.close();
    const mb = (n: number): number => Math.round((n / 1024 / 1024) * 10) / 10;
    const sorted = [...pageMs].sort((a, b) => a - b);
    return {
      title: 'Catalogue scale: 10,000 functions paged, 2,000 through a worker cache',
      settings: { ...options, progress: undefined },
      summary: [
        `${options.functions} functions written through the Azure Table store on Azurite in ${writeS.toFixed(1)} s (32 writers)`,
        `GET /functions?limit=1000: ${listed} functions in ${pageMs.length} pages, ${Math.round(pageMs.reduce((a, b) => a + b, 0))} ms in all, page p50 ${Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0)} ms, max ${Math.round(sorted[sorted.length - 1] ?? 0)} ms`,
        `worker cache, bound ${options.cacheMb} MB: ${options.cached} distinct functions loaded once each; cache peak ${mb(maxBytes)} MB, ${cache.size} kept at the end; heap ${mb(before.heapUsed)} → ${mb(after.heapUsed)} MB, RSS ${mb(before.rss)} → ${mb(after.rss)} MB`,
      ],
      tables: [{ title: 'Pages', columns: ['page', 'ms'], rows: pageMs.map((ms, i) => [i + 1, Math.round(ms)]) }],
      charts: [],
      raw: { writeS, pageMs, listed, cacheBytesPeak: maxBytes, cacheSize: cache.size, before, after },
    };
  } finally {
    await azurite.stop();
  }
}
