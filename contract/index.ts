/**
 * contract/: what routers and workers agree on, and nothing else: the worker protocol (routes,
 * headers, answer bodies, bounds), the never-started refusal codes, the cluster credential, and
 * the loopback rule both sides apply to their listen address, the process metrics every
 * component serves. Depends only on errors/, node:crypto / node:net and prom-client, so a router
 * imports it without loading the worker's pool or dockerode. Other areas import from here only.
 */
export * from './protocol.ts';
export { NeverStartedErrors, RETRYABLE_WORKER_CODES, REFUSAL_OF_CODE, CODE_UNAVAILABLE_CODE } from './never-started.ts';
export {
  CLUSTER_KEY_HEADER,
  MIN_CLUSTER_KEY_LENGTH,
  clusterKeyChecker,
  clusterHeaders,
  newChallenge,
  isChallenge,
  membershipProof,
  verifyMembershipProof,
  type ProveRequest,
  type ProveAnswer,
} from './cluster-auth.ts';
export { isLoopbackHost, urlHost, LOG_LEVELS, type LogLevel } from './loopback.ts';
export { collectProcessMetrics, EVENT_LOOP_SAMPLE_MS } from './process-metrics.ts';
export { readRequestBody, bodyLeftUnread, DEFAULT_BODY_TIMEOUT_MS, type RequestBodyErrors, type ReadRequestBodyOptions } from './request-body.ts';
export {
  INVOKE_CHANNEL_PROTOCOL,
  INVOKE_CHANNEL_PATH,
  FrameType,
  FRAME_HEADER_BYTES,
  REQUEST_FIELDS_MAX_BYTES,
  ChannelProtocolError,
  FrameReader,
  FrameWriter,
  encodeRequest,
  encodeCancel,
  encodeAnswer,
  encodeGoaway,
  decodeRequest,
  decodeAnswer,
  decodeGoaway,
  type ChannelRequest,
  type ChannelAnswer,
} from './invoke-channel.ts';
