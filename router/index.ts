/** router/: the public HTTP API and the forwarding on the ring. Other areas import from here only. */
export { createRouterApp, DEFAULT_LIMITS } from './app.ts';
export type { RouterApp, RouterAppDeps, RouterLimits } from './app.ts';
export { RouterErrors } from './errors.ts';
export { loadRouterConfig, isLoopbackHost } from './config.ts';
export type { RouterConfig } from './config.ts';
export { startRouter, createRouterLogger, main as routerMain } from './main.ts';
export type { StartRouterOptions, RunningRouter } from './main.ts';
export { createFunctionsApi, etagOf, randomFunctionId, DEFAULT_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS } from './functions-api.ts';
export type { FunctionsApi } from './functions-api.ts';
export { zipSource, FUNCTION_NAME_PATTERN } from './function-input.ts';
export { checkCodeZip } from './zip-check.ts';
export type { Invoker, FunctionChangeNotifier, WorkersApi, ForwardedResponse, RequestContext } from './invoker.ts';
export { RingInvoker, RouterHeaders } from './forwarder.ts';
export { WorkerChangeNotifier } from './change-notifier.ts';
export { RingWorkersApi } from './workers-api.ts';
export { RingView } from './ring-view.ts';
export { RingMetrics } from './ring-metrics.ts';
