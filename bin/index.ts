/** bin/: the command-line entry point. What other areas (the bench's launcher) take from it. */
export { nodeEntryArgs, CODE_ROOT, RUNNING_COMPILED, SOURCE_ROOT } from './node-entry.ts';
export { launchMain, stopChildren, type LaunchedChild, type LaunchOptions } from './process-launcher.ts';
