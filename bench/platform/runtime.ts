/**
 * The container runtime of a bench process (Redis-design worker, limit hop 2, the worker
 * benchmark): the worker area's own runtimes, so that every target runs the same containers,
 * image and shim.
 */
import Docker from 'dockerode';
import { type ContainerRuntime, ProcessRuntime, DockerRuntime } from '../../worker/index.ts';

export type RuntimeKind = 'docker' | 'process';

/** Creates the worker area's runtime of `kind` (docker: the default image, built when missing). */
export function createBenchRuntime(kind: RuntimeKind): Promise<ContainerRuntime> {
  if (kind === 'process') return Promise.resolve(new ProcessRuntime());
  return Promise.resolve(new DockerRuntime({ docker: new Docker() }));
}
