/**
 * `node dist/deploy/drain.js [--url http://127.0.0.1:8090] [--timeout-s 170]`: a worker pod's
 * preStop hook. Asks the worker to drain (POST /drain, with the cluster key of
 * RINGFAAS_CLUSTER_KEY in `x-ringfaas-cluster-key`), then waits until it stops answering
 * /healthz (drained and exited), at most the timeout. Exit 0 when it is gone, 1 otherwise (the
 * kubelet's SIGTERM follows either way, and the worker drains on SIGTERM too).
 */
import { pathToFileURL } from 'node:url';

const PROBE_TIMEOUT_MS = 2000;

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await res.body?.cancel();
    return true;
  } catch {
    return false; // refused or timed out: the worker is gone
  }
}

/** Drains the worker at `url`; resolves true once it no longer answers. */
export async function drainWorker(options: { url: string; timeoutMs: number; clusterKey?: string }): Promise<boolean> {
  const deadline = Date.now() + options.timeoutMs;
  const headers: Record<string, string> = options.clusterKey === undefined ? {} : { 'x-ringfaas-cluster-key': options.clusterKey };
  try {
    const res = await fetch(`${options.url}/drain`, { method: 'POST', headers, signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await res.body?.cancel();
  } catch {
    // The drain call may not answer before the worker exits: the wait below decides.
  }
  while (Date.now() < deadline) {
    if (!(await answers(options.url))) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  const args = process.argv.slice(2);
  const value = (name: string, fallback: string): string => {
    const i = args.indexOf(name);
    return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
  };
  const key = process.env.RINGFAAS_CLUSTER_KEY?.trim();
  const gone = await drainWorker({
    url: value('--url', 'http://127.0.0.1:8090'),
    timeoutMs: Number(value('--timeout-s', '170')) * 1000,
    ...(key ? { clusterKey: key } : {}),
  });
  process.exit(gone ? 0 : 1);
}
