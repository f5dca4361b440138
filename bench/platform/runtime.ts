/**
 * The container runtime of a bench process (Redis-design worker, limit hop 2, the worker
 * benchmark): the worker area's own runtimes, so that every target runs the same containers
 * and shim.
 */
import type { ContainerRuntime } from '../../worker/index.ts';
import { ProcessRuntime } from '../../worker/process-runtime.ts';

export type RuntimeKind = 'docker' | 'process';

/** Creates the worker area's runtime of `kind`. */
export async function createBenchRuntime(kind: RuntimeKind): Promise<ContainerRuntime> {
  if (kind === 'process') return new ProcessRuntime();
  const worker = (await import('../../worker/index.ts')) as unknown as Record<string, unknown>;
  const ctor = worker.DockerRuntime as (new (options: object) => ContainerRuntime) | undefined;
  if (ctor === undefined) throw new Error('the worker area exports no DockerRuntime yet');
  return new ctor({});
}
