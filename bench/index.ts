/** bench/: the load generator, scenarios, reports and the Redis-design baseline. Other areas import from here only. */
export { registerBenchCommands } from './cli.ts';
