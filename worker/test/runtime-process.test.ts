/** The ContainerRuntime contract against ProcessRuntime (a child process per container). */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessRuntime } from '../process-runtime.ts';
import { runtimeContract } from './runtime-contract.ts';

runtimeContract('ProcessRuntime', {
  skip: false,
  makeRuntime: () => new ProcessRuntime({ baseDir: join(tmpdir(), `ringfaas-process-test-${process.pid}`) }),
});
