/**
 * The container runtime of a bench child process (Redis-design worker, limit hop 2): the
 * worker area's own runtimes, so that every target runs the same containers and shim.
 */
import type { ContainerRuntime } from '../../worker/index.ts';

export type RuntimeKind = 'docker' | 'process';

/** Creates the worker area's runtime of `kind` (resolved at call time). */
export async function createBenchRuntime(kind: RuntimeKind): Promise<ContainerRuntime> {
  const worker = (await import('../../worker/index.ts')) as unknown as Record<string, unknown>;
  const ctor = worker[kind === 'docker' ? 'DockerRuntime' : 'ProcessRuntime'] as (new (options: object) => ContainerRuntime) | undefined;
  if (ctor === undefined) throw new Error(`the worker area has no ${kind} runtime yet`);
  return new ctor({});
}
