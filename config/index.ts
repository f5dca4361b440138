/**
 * config/: the configuration table (every environment variable the router, the dispatcher, the
 * worker and the launcher read: schema, default, readers, doc line) and the reader the loaders
 * share. Only the loaders (router/config.ts, worker/config.ts, bin/dev.ts) and the docs test use it.
 */
export { VARIABLES, ALL_VARIABLES, KEEPALIVE_POLICIES, RUNTIME_CHOICES } from './variables.ts';
export { readVariables, settle, configError, type VariableSet, type ValuesOf, type ReadResult, type Environment } from './read.ts';
export { viewOf, documentedDefault, optionalVariable, type Variable, type VariableView, type Component } from './variable.ts';
export { parseDurationMs } from './duration.ts';
