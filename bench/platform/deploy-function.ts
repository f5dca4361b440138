/** Deploying the benchmark function on a platform that speaks the seed's API. */
import { randomBytes } from 'node:crypto';
import { RfError } from '../../errors/index.ts';
import { BenchErrors } from '../errors.ts';
import { functionSource, zipIndex } from '../functions/code.ts';

/**
 * POST {base}/functions with the instance-id zip (the seed's API), or `source` as index.js;
 * answers the function id.
 */
export async function deployFunction(baseUrl: string, settings: { functionMemoryMb: number; idleTimeoutMs?: number; source?: string }): Promise<string> {
  const zip = zipIndex(settings.source ?? (await functionSource('instance-id')));
  const body: Record<string, unknown> = {
    name: `bench-${settings.source === undefined ? 'instance-id' : 'custom'}-${randomBytes(3).toString('hex')}`,
    memorySize: settings.functionMemoryMb,
    zipFile: zip.toString('base64'),
  };
  if (settings.idleTimeoutMs !== undefined) body.idleTimeoutMs = settings.idleTimeoutMs;
  let res: Response;
  try {
    res = await fetch(`${baseUrl}/functions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  } catch (err: unknown) {
    throw new RfError(BenchErrors.DEPLOY_FAILED, `cannot reach ${baseUrl}`, { cause: err });
  }
  const text = await res.text();
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    record = undefined;
  }
  const id = (record as { id?: unknown } | undefined)?.id;
  if (res.status >= 300 || typeof id !== 'string') {
    throw new RfError(BenchErrors.DEPLOY_FAILED, `deploying to ${baseUrl} answered ${res.status}: ${text.slice(0, 300)}`);
  }
  return id;
}

/** Undeploys a function (best effort: the platform may be gone already). */
export async function undeployFunction(baseUrl: string, functionId: string): Promise<void> {
  await fetch(`${baseUrl}/functions/${encodeURIComponent(functionId)}`, { method: 'DELETE' }).catch(() => undefined);
}
