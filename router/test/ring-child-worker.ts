/**
 * A fixture worker in its own process, for tests that kill a worker with SIGKILL:
 * `node --import tsx router/test/ring-child-worker.ts <id> <slots>` prints one JSON line
 * `{"address": "..."}` once it listens, then serves until killed.
 */
import { startFixtureWorker } from './ring-worker-fixture.ts';

const id = process.argv[2] ?? 'child';
const slots = Number(process.argv[3] ?? 8);
const worker = await startFixtureWorker({ id, slots });
process.stdout.write(`${JSON.stringify({ address: worker.address })}\n`);
