/**
 * The dashboard's server side without a browser: the traffic window (injected clock), the
 * static files and their headers, /auth/whoami, the event stream's cap and cleanup, and the
 * totals of two routers through the shared `routers` table (memory stores).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { createMemoryStores } from '../../storage/index.ts';
import { Ring } from '../../ring/index.ts';
import { loadRouterConfig } from '../config.ts';
import { startRouter, type RunningRouter } from '../main.ts';
import { LATENCY_BOUNDS_MS, TrafficWindow, mergeBuckets, quantileMs, toSeries } from '../traffic-window.ts';

describe('TrafficWindow', () => {
  test('buckets, rates, quantiles, expiry and spill edges on an injected clock', () => {
    let now = 1_000_000;
    const w = new TrafficWindow({ clock: () => now, bucketMs: 2000, windowMs: 10_000, edgeWindowMs: 5000 });
    for (let i = 0; i < 98; i++) w.record({ status: 200, latencyMs: 40, cold: false, spills: 0 });
    w.record({ status: 200, latencyMs: 900, cold: true, spills: 2, spilledFrom: 'a', servedBy: 'b' });
    w.record({ status: 429, latencyMs: 4, cold: false, spills: 0 });
    assert.equal(w.buckets().length, 0, 'the open bucket is left out');
    now += 2000;
    const [b] = w.buckets();
    assert.equal(b?.n, 100);
    assert.equal(b?.err, 1);
    assert.equal(b?.cold, 1);
    assert.equal(b?.spills, 2);
    assert.equal(quantileMs(b!.lat, 0.5), 50, 'p50 is the bound above 40 ms');
    assert.equal(quantileMs(b!.lat, 0.99), 50);
    assert.equal(quantileMs(b!.lat, 1), 1000);
    const series = toSeries(w.buckets(), w.bucketStart() - 10_000, w.bucketStart(), 2000);
    assert.equal(series.length, 5);
    assert.equal(series[4]?.rate, 50, '100 in 2 s');
    assert.equal(series[0]?.p50Ms, null);
    assert.deepEqual(w.spillEdges(), [{ from: 'a', to: 'b', count: 1 }]);
    now += 6000;
    assert.deepEqual(w.spillEdges(), [], 'edges older than their window are forgotten');
    now += 20_000;
    w.record({ status: 200, latencyMs: 1, cold: false, spills: 0 });
    assert.equal(w.buckets(true).length, 1, 'buckets older than the window are dropped');
    assert.equal(LATENCY_BOUNDS_MS.length + 1, w.buckets(true)[0]?.lat.length);
  });

  test('buckets of several routers add up', () => {
    const lat = (i: number): number[] => LATENCY_BOUNDS_MS.map((_, j) => (j === i ? 1 : 0)).concat([0]);
    const merged = mergeBuckets([
      [{ t: 0, n: 1, err: 0, cold: 1, spills: 0, lat: lat(0) }],
      [{ t: 0, n: 1, err: 1, cold: 0, spills: 3, lat: lat(5) }, { t: 2000, n: 1, err: 0, cold: 0, spills: 0, lat: lat(1) }],
    ]);
    assert.equal(merged.length, 2);
    assert.deepEqual({ n: merged[0]?.n, err: merged[0]?.err, cold: merged[0]?.cold, spills: merged[0]?.spills }, { n: 2, err: 1, cold: 1, spills: 3 });
    assert.equal(quantileMs(merged[0]!.lat, 0.99), LATENCY_BOUNDS_MS[5]);
  });
});

test('Ring.arcs cover the circle and sum to the shares', () => {
  const rows = ['w1', 'w2', 'w3'].map((id) => ({ id, address: `http://${id}`, capacityMb: 1, state: 'active' as const, heartbeatAt: 0, startedAt: 0 }));
  const ring = new Ring(rows);
  const arcs = ring.arcs();
  assert.equal(arcs[0]?.start, 0);
  assert.equal(arcs[arcs.length - 1]?.end, 1);
  for (let i = 1; i < arcs.length; i++) assert.equal(arcs[i]?.start, arcs[i - 1]?.end, 'contiguous');
  const sums = new Map<string, number>();
  for (const a of arcs) sums.set(a.workerId, (sums.get(a.workerId) ?? 0) + a.end - a.start);
  for (const [id, share] of ring.shares()) assert.ok(Math.abs((sums.get(id) ?? 0) - share) < 1e-9, id);
  // A key's home owns the arc holding the key's position.
  for (const key of ['alpha', 'beta', 'gamma', 'delta']) {
    const p = ring.position(key);
    const holding: { workerId: string } | undefined = arcs.find((x) => p > x.start && p <= x.end) ?? arcs[0];
    assert.equal(holding?.workerId, ring.home(key), key);
  }
});

describe('dashboard routes (memory stores, two routers)', () => {
  const KEY = 'dashboard-test-key';
  const auth = { authorization: `Bearer ${KEY}` };

  async function start(stores: ReturnType<typeof createMemoryStores>, id: string): Promise<RunningRouter> {
    const config = loadRouterConfig({ RINGFAAS_STORAGE_CONNECTION_STRING: 'unused', RINGFAAS_PORT: '0', RINGFAAS_API_KEYS: KEY }, [], { routerId: id });
    return startRouter({ config, stores, log: pino({ level: 'silent' }), ring: { pollIntervalMs: 100 }, dashboard: { maxStreams: 3, tickMs: 100, publishMs: 100 } });
  }

  test('static files, whoami, the stream cap and cleanup, totals across routers', async () => {
    const stores = createMemoryStores();
    const a = await start(stores, 'router-a');
    const b = await start(stores, 'router-b');
    try {
      const page = await fetch(`${a.url}/ui`);
      assert.equal(page.status, 200, 'the page loads without a key');
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
      assert.match(await page.text(), /<script type="module" src="\/ui\/app.js">/);
      const js = await fetch(`${a.url}/ui/app.js`);
      assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
      const etag = js.headers.get('etag') ?? '';
      assert.equal((await fetch(`${a.url}/ui/app.js`, { headers: { 'if-none-match': etag } })).status, 304);
      for (const path of ['/ui/nope.js', '/ui/..%2Fapp.ts', '/ui/%2e%2e%2fpackage.json']) assert.equal((await fetch(`${a.url}${path}`)).status, 404, path);

      assert.equal((await fetch(`${a.url}/auth/whoami`)).status, 401);
      assert.deepEqual(await (await fetch(`${a.url}/auth/whoami`, { headers: auth })).json(), { auth: true, scope: 'admin', router: 'router-a' });
      assert.equal((await fetch(`${a.url}/ui/events`)).status, 401, 'the stream needs the key');

      // Traffic: ring errors (no worker) count as failed invocations; b's total includes a's.
      const created = await fetch(`${a.url}/functions`, { method: 'POST', headers: auth, body: JSON.stringify({ memorySize: 128, code: 'module.exports = () => 1' }) });
      const fnId = ((await created.json()) as { id: string }).id;
      for (let i = 0; i < 5; i++) assert.equal((await fetch(`${a.url}/functions/${fnId}/invoke`, { method: 'POST', headers: auth, body: '{}' })).status, 503);
      const deadline = Date.now() + 15_000;
      let seen = 0;
      while (Date.now() < deadline) {
        const t = (await (await fetch(`${b.url}/ui/api/traffic`, { headers: auth })).json()) as { routers: Array<{ id: string; errors: number }>; total: Array<{ errors: number }>; local: Array<{ errors: number }> };
        seen = t.total.reduce((sum, p) => sum + p.errors, 0);
        if (seen === 5) {
          assert.equal(t.local.reduce((sum, p) => sum + p.errors, 0), 0, "b's own traffic is empty");
          assert.equal(t.routers.find((r) => r.id === 'router-a')?.errors, 5);
          break;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(seen, 5, "router b's total holds router a's 5 invocations");
      const cluster = (await (await fetch(`${a.url}/ui/api/cluster`, { headers: auth })).json()) as { functions: Array<{ id: string }>; workers: unknown[] };
      assert.deepEqual(cluster.functions.map((f) => f.id), [fnId]);

      // Streams: 3 allowed, the 4th refused; closing one frees a place; events arrive.
      const controllers = [new AbortController(), new AbortController(), new AbortController()];
      const streams = await Promise.all(controllers.map((c) => fetch(`${a.url}/ui/events`, { headers: auth, signal: c.signal })));
      for (const s of streams) assert.equal(s.status, 200);
      const reader = streams[0]!.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      while (!/event: cluster/.test(text) || !/event: traffic/.test(text)) text += (await reader.read()).value ?? '';
      const refused = await fetch(`${a.url}/ui/events`, { headers: auth });
      assert.equal(refused.status, 503);
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'RF_ROUTER_UI_STREAMS_FULL');
      controllers[1]!.abort();
      let again: Response | undefined;
      for (let i = 0; i < 50 && again?.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 50));
        again = await fetch(`${a.url}/ui/events`, { headers: auth });
        if (again.status !== 200) await again.body?.cancel();
      }
      assert.equal(again?.status, 200, 'a closed stream frees its place');
      await again?.body?.cancel();
      await reader.cancel();
      controllers[0]!.abort();
      controllers[2]!.abort();
    } finally {
      await a.close();
      await b.close();
    }
  });
});
