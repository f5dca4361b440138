/** The ContainerRuntime contract against DockerRuntime, on a real Docker engine. */
import Docker from 'dockerode';
import { dockerAvailable, dockerSocketPath, skipUnless } from '../../testing/services.ts';
import { DockerRuntime } from '../docker-runtime.ts';
import { runtimeContract } from './runtime-contract.ts';

runtimeContract('DockerRuntime', {
  skip: skipUnless(dockerAvailable(), 'docker', 'the DockerRuntime contract needs a Docker engine'),
  makeRuntime: () => new DockerRuntime({ docker: new Docker({ socketPath: dockerSocketPath() }) }),
});
