/**
 * A probe, not a test: the worker's own CPU per invocation, without containers or transport.
 * 15 callers call the invocation handler (worker/invocation-handler.ts: the pool, the answer,
 * the metrics) on the fake runtime, whose containers answer at once; prints CPU µs per call
 * for 5 rounds. Used to find the worker's per-request costs (bench/analysis.md, "Object
 * spreads on the hot path"); compare the rounds of one run, before and after a change.
 *
 *   node --import tsx worker/test/invocation-path-probe.ts [calls per round, default 200000] [keep-alive policy, default hazard]
 */
import { Registry } from 'prom-client';
import { ContainerPool } from '../pool/index.ts';
import { createKeepAlivePolicy, type KeepAlivePolicyName } from '../keepalive/index.ts';
import { createWorkerMetrics } from '../metrics.ts';
import { createInvocationHandler } from '../invocation-handler.ts';
import type { FunctionCache } from '../function-cache.ts';
import { FakeRuntime, fakeFn } from './fake-runtime.ts';
import { quietLogger } from './worker-fixtures.ts';

const CALLERS = 15;
const ROUNDS = 5;
const calls = Number(process.argv[2] ?? 200_000);
const policy = (process.argv[3] ?? 'hazard') as KeepAlivePolicyName;

const runtime = new FakeRuntime();
const pool = new ContainerPool({ workerId: 'probe', runtime, capacityMb: 4096, coldPoolSize: 0, keepAlive: createKeepAlivePolicy(policy), logger: quietLogger() });
const fn = fakeFn();
// The cache's hit path (peek) is all an invocation of a cached function reads.
const cache = { peek: () => ({ fn }), get: () => Promise.resolve({ fn }) } as unknown as FunctionCache;
const run = createInvocationHandler({ workerId: 'worker-1', pool, cache, metrics: createWorkerMetrics(new Registry(), () => pool), logger: quietLogger() });
const input = Buffer.from('{"n":1}');

async function caller(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const answer = await run({ functionId: fn.id, input, requestId: `r${i}`, waitMs: 1000, details: false, reportIdle: true, left: new AbortController(), receivedAt: performance.now() });
    if (answer.status !== 200) throw new Error(`answer ${answer.status}: ${answer.body}`);
  }
}

await Promise.all(Array.from({ length: CALLERS }, () => caller(2000)));
for (let round = 1; round <= ROUNDS; round++) {
  const before = process.cpuUsage();
  await Promise.all(Array.from({ length: CALLERS }, () => caller(Math.ceil(calls / CALLERS))));
  const used = process.cpuUsage(before);
  process.stdout.write(`round ${round}: ${((used.user + used.system) / calls).toFixed(2)} µs CPU per call\n`);
}
await pool.close();
process.exit(0);
