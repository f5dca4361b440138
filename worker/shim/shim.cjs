// @ts-check
/**
 * The ringfaas runtime shim: the one process inside every function container.
 *
 * Plain CommonJS for a bare `node` binary: no dependencies, no node_modules, no build step.
 * It is copied as is into the runtime image (/opt/ringfaas/shim.cjs) and run directly by the
 * process runtime: one file (over 350 lines) because it is the image's only platform code. It speaks HTTP/1.1 on a Unix socket in a directory the worker bind-mounts
 * (containers have no network), one execution at a time:
 *
 *   GET  /health   → 200 {"ok":true,"loaded":bool}
 *   POST /load     {functionId, version, memoryMb, timeoutMs, env, maxOutputBytes?}
 *                  → 204, or 4xx/5xx {"state":"error","code":"RF_FUNCTION_LOAD_FAILED",...}
 *                  requires <codeDir>/index.js (CommonJS; an ES module when package.json says
 *                  "type":"module"; or index.mjs): `module.exports = fn`, `exports.handler = fn`,
 *                  `export default fn` or `export const handler = fn`
 *   POST /invoke   body: the input as raw JSON; header x-ringfaas-deadline: epoch ms
 *                  → 200 {"state":"ok","output":…,"logs":{"lines":[…],"truncated":bool},"functionMs":n}
 *                  or 200 {"state":"error","code":"RF_FUNCTION_ERROR"|"RF_FUNCTION_BAD_OUTPUT"|…,
 *                          "message":…,"logs":{"lines":[…],"truncated":bool},"functionMs":n}
 *
 * The function is called as fn(input, context); context carries functionId, version, memoryMb,
 * timeoutMs, getRemainingTimeMs() and log(...). Lines written through context.log and
 * console.log/info/warn/error/debug/trace during an invocation come back in `logs` (one entry
 * per call; direct process.stdout/stderr writes go to the container's log), cut at
 * MAX_LOG_LINES lines / MAX_LOG_BYTES bytes (logs.truncated = true when cut). The output must be
 * JSON-serialisable and at most MAX_OUTPUT_BYTES once serialised.
 *
 * An uncaught exception or unhandled rejection during an invocation answers that invocation
 * with RF_FUNCTION_ERROR; the process keeps serving. The worker enforces timeouts by killing
 * the container: the shim never does.
 *
 * Arguments: --socket <path> (default /run/ringfaas/shim.sock), --code <dir> (default /code),
 * --exit-with-stdin (exit when stdin closes: the process runtime ties the shim's life to the
 * worker's). Env RINGFAAS_SHIM_SOCKET / RINGFAAS_CODE_DIR are read when an argument is absent.
 * Once listening it writes "RINGFAAS_SHIM_READY" on a line to stdout.
 */
'use strict';

const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const url = require('node:url');
const { performance } = require('node:perf_hooks');

/** Most log lines returned per invocation. */
const MAX_LOG_LINES = 1000;
/** Most log bytes (UTF-8, summed over lines) returned per invocation. */
const MAX_LOG_BYTES = 256 * 1024;
/** Largest serialised output by default, bytes (as AWS Lambda's synchronous response limit). */
const MAX_OUTPUT_BYTES = 6 * 1024 * 1024;
/** The most a load request may raise the output limit to (RINGFAAS_MAX_OUTPUT_BYTES's maximum). */
const HARD_MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
/** Largest accepted request body (input or load request), bytes. */
const MAX_BODY_BYTES = 6 * 1024 * 1024 + 1024;
const READY_LINE = 'RINGFAAS_SHIM_READY\n';

/**
 * @typedef {{ functionId: string, version: number, memoryMb: number, timeoutMs: number, env: Record<string, string>, maxOutputBytes?: number }} LoadRequest
 * @typedef {(input: unknown, context: Context) => unknown} Handler
 * @typedef {{
 *   functionId: string, version: number, memoryMb: number, timeoutMs: number,
 *   invocationId: string,
 *   getRemainingTimeMs: () => number,
 *   log: (...args: unknown[]) => void,
 * }} Context
 * @typedef {{
 *   res: import('node:http').ServerResponse, logs: string[], logBytes: number,
 *   truncated: boolean, startedAt: number, done: boolean,
 * }} Invocation
 */

/** @param {string[]} argv */
function parseArgs(argv) {
  /** @type {{ socket: string, code: string, exitWithStdin: boolean }} */
  const opts = {
    socket: process.env.RINGFAAS_SHIM_SOCKET || '/run/ringfaas/shim.sock',
    code: process.env.RINGFAAS_CODE_DIR || '/code',
    exitWithStdin: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--socket') opts.socket = String(argv[++i]);
    else if (arg === '--code') opts.code = String(argv[++i]);
    else if (arg === '--exit-with-stdin') opts.exitWithStdin = true;
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

/** @type {Handler | undefined} */
let handler;
/** @type {LoadRequest | undefined} */
let loaded;
/** The output limit in force: the worker's (load request), never above HARD_MAX_OUTPUT_BYTES. */
let maxOutputBytes = MAX_OUTPUT_BYTES;
/** @type {Invocation | undefined} */
let current;
let invocationSeq = 0;
/**
 * The worker's id of the call (the router's request id; an asynchronous invocation's id, the
 * same on every retry of it), else a number of our own.
 * @param {string | string[] | undefined} header
 */
function invocationIdOf(header) {
  return typeof header === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(header) ? header : String(++invocationSeq);
}

// Logging: console output of the function goes to the current invocation; outside one (load
// time, stray timers) it goes to the process's stderr, i.e. the container's log.
const stderrWrite = process.stderr.write.bind(process.stderr);

/** @param {string} line */
function capture(line) {
  const inv = current;
  if (inv === undefined || inv.done) {
    stderrWrite(line + '\n');
    return;
  }
  captureInto(inv, line);
}

/**
 * @param {Invocation} inv
 * @param {string} line
 */
function captureInto(inv, line) {
  if (inv.truncated) return;
  if (inv.logs.length >= MAX_LOG_LINES) {
    inv.truncated = true;
    return;
  }
  const bytes = Buffer.byteLength(line);
  const room = MAX_LOG_BYTES - inv.logBytes;
  if (bytes > room) {
    inv.truncated = true;
    if (room > 0) {
      inv.logs.push(Buffer.from(line).subarray(0, room).toString().replace(/\uFFFD$/, ''));
      inv.logBytes = MAX_LOG_BYTES;
    }
    return;
  }
  inv.logs.push(line);
  inv.logBytes += bytes;
}

/** @param {unknown[]} args */
function logArgs(args) {
  capture(util.format(...args));
}

for (const level of /** @type {const} */ (['log', 'info', 'warn', 'error', 'debug', 'trace'])) {
  console[level] = (...args) => logArgs(args);
}

// Direct writes to process.stdout/stderr are not captured: they go to the container's log.
const stdoutWrite = process.stdout.write.bind(process.stdout);

/**
 * @param {import('node:http').ServerResponse} res
 * @param {number} status
 * @param {string} body
 */
function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * @param {Invocation} inv
 * @param {string} code
 * @param {string} message
 * @param {Record<string, unknown>} [extra]
 */
function finishError(inv, code, message, extra) {
  if (inv.done) return;
  inv.done = true;
  current = undefined;
  const body = JSON.stringify({
    state: 'error',
    code,
    message,
    ...extra,
    logs: { lines: inv.logs, truncated: inv.truncated },
    functionMs: performance.now() - inv.startedAt,
  });
  send(inv.res, 200, body);
}

/**
 * @param {Invocation} inv
 * @param {unknown} output
 */
function finishOk(inv, output) {
  if (inv.done) return;
  const functionMs = performance.now() - inv.startedAt;
  /** @type {string | undefined} */
  let json;
  try {
    json = JSON.stringify(output === undefined ? null : output);
  } catch (err) {
    finishError(inv, 'RF_FUNCTION_BAD_OUTPUT', `the function's output is not JSON-serialisable: ${errorMessage(err)}`);
    return;
  }
  if (json === undefined) {
    // A function or a symbol: JSON.stringify drops it.
    finishError(inv, 'RF_FUNCTION_BAD_OUTPUT', "the function's output is not JSON-serialisable");
    return;
  }
  if (json.length > maxOutputBytes || Buffer.byteLength(json) > maxOutputBytes) {
    finishError(inv, 'RF_FUNCTION_BAD_OUTPUT', `the function's output is larger than ${maxOutputBytes} bytes`, {
      limitBytes: maxOutputBytes,
    });
    return;
  }
  inv.done = true;
  current = undefined;
  const body =
    '{"state":"ok","output":' +
    json +
    ',"logs":{"lines":' +
    JSON.stringify(inv.logs) +
    ',"truncated":' +
    (inv.truncated ? 'true' : 'false') +
    '}' +
    ',"functionMs":' +
    functionMs +
    '}';
  send(inv.res, 200, body);
}

/** @param {unknown} err */
function errorMessage(err) {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return util.inspect(err, { depth: 2, breakLength: Infinity });
  } catch {
    return String(err);
  }
}

/** @param {unknown} err */
function errorType(err) {
  return err instanceof Error ? err.name : typeof err;
}

/**
 * @param {import('node:http').IncomingMessage} req
 * @param {(body: Buffer | undefined) => void} done  undefined when the body is too large
 */
function readBody(req, done) {
  /** @type {Buffer[]} */
  const chunks = [];
  let size = 0;
  let tooLarge = false;
  req.on('data', (/** @type {Buffer} */ chunk) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) tooLarge = true;
    else chunks.push(chunk);
  });
  req.on('end', () => done(tooLarge ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
}

/** @param {unknown} mod */
function pickHandler(mod) {
  if (typeof mod === 'function') return /** @type {Handler} */ (mod);
  if (mod !== null && typeof mod === 'object') {
    const m = /** @type {Record<string, unknown>} */ (mod);
    if (typeof m.handler === 'function') return /** @type {Handler} */ (m.handler);
    if (typeof m.default === 'function') return /** @type {Handler} */ (m.default);
    const d = m.default;
    if (d !== null && typeof d === 'object' && typeof (/** @type {Record<string, unknown>} */ (d)).handler === 'function') {
      return /** @type {Handler} */ (/** @type {Record<string, unknown>} */ (d).handler);
    }
  }
  return undefined;
}

/** @returns {Promise<unknown>} */
async function requireCode() {
  const js = path.join(opts.code, 'index.js');
  const mjs = path.join(opts.code, 'index.mjs');
  if (!fs.existsSync(js) && fs.existsSync(mjs)) return import(url.pathToFileURL(mjs).href);
  try {
    return require(js);
  } catch (err) {
    // index.js is an ES module (package.json "type": "module").
    if (err && /** @type {{ code?: unknown }} */ (err).code === 'ERR_REQUIRE_ESM') return import(url.pathToFileURL(js).href);
    throw err;
  }
}

/**
 * @param {unknown} value
 * @returns {LoadRequest | string}  the request, or what is wrong with it
 */
function validateLoad(value) {
  if (value === null || typeof value !== 'object') return 'the load request is not an object';
  const v = /** @type {Record<string, unknown>} */ (value);
  if (typeof v.functionId !== 'string') return 'functionId must be a string';
  if (typeof v.version !== 'number') return 'version must be a number';
  if (typeof v.memoryMb !== 'number') return 'memoryMb must be a number';
  if (typeof v.timeoutMs !== 'number') return 'timeoutMs must be a number';
  const env = v.env === undefined ? {} : v.env;
  if (env === null || typeof env !== 'object') return 'env must be an object';
  for (const [k, val] of Object.entries(env)) if (typeof val !== 'string') return `env.${k} must be a string`;
  if (v.maxOutputBytes !== undefined && (typeof v.maxOutputBytes !== 'number' || !(v.maxOutputBytes > 0))) return 'maxOutputBytes must be a positive number';
  return {
    functionId: v.functionId,
    version: v.version,
    memoryMb: v.memoryMb,
    timeoutMs: v.timeoutMs,
    env: /** @type {Record<string, string>} */ (env),
    maxOutputBytes: typeof v.maxOutputBytes === 'number' ? Math.min(v.maxOutputBytes, HARD_MAX_OUTPUT_BYTES) : MAX_OUTPUT_BYTES,
  };
}

/**
 * @param {import('node:http').ServerResponse} res
 * @param {number} status
 * @param {string} message
 */
function loadFailed(res, status, message) {
  send(res, status, JSON.stringify({ state: 'error', code: 'RF_FUNCTION_LOAD_FAILED', message, logs: { lines: [], truncated: false }, functionMs: 0 }));
}

/**
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 */
function handleLoad(req, res) {
  readBody(req, async (body) => {
    if (loaded !== undefined) return loadFailed(res, 409, 'a function is already loaded in this container');
    if (body === undefined) return loadFailed(res, 413, 'the load request is too large');
    /** @type {unknown} */
    let parsed;
    try {
      parsed = JSON.parse(body.toString());
    } catch {
      return loadFailed(res, 400, 'the load request is not valid JSON');
    }
    const request = validateLoad(parsed);
    if (typeof request === 'string') return loadFailed(res, 400, request);
    for (const [k, v] of Object.entries(request.env)) process.env[k] = v;
    maxOutputBytes = request.maxOutputBytes ?? MAX_OUTPUT_BYTES;
    let mod;
    try {
      mod = await requireCode();
    } catch (err) {
      return loadFailed(res, 422, `index.js could not be loaded: ${errorType(err)}: ${errorMessage(err)}`);
    }
    const fn = pickHandler(mod);
    if (fn === undefined) return loadFailed(res, 422, 'index.js exports no function (module.exports = fn or exports.handler = fn)');
    handler = fn;
    loaded = request;
    res.writeHead(204);
    res.end();
  });
}

/**
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 */
function handleInvoke(req, res) {
  const deadlineHeader = req.headers['x-ringfaas-deadline'];
  readBody(req, (body) => {
    const fn = handler;
    const meta = loaded;
    if (fn === undefined || meta === undefined) {
      return send(res, 409, JSON.stringify({ state: 'error', code: 'RF_FUNCTION_LOAD_FAILED', message: 'no function is loaded', logs: { lines: [], truncated: false }, functionMs: 0 }));
    }
    if (current !== undefined) {
      return send(res, 409, JSON.stringify({ state: 'error', code: 'RF_WORKER_INTERNAL', message: 'the container is busy', logs: { lines: [], truncated: false }, functionMs: 0 }));
    }
    /** @type {Invocation} */
    const inv = { res, logs: [], logBytes: 0, truncated: false, startedAt: performance.now(), done: false };
    if (body === undefined) return finishError(inv, 'RF_FUNCTION_BAD_INPUT', 'the input is too large');
    /** @type {unknown} */
    let input = null;
    if (body.length > 0) {
      try {
        input = JSON.parse(body.toString());
      } catch {
        return finishError(inv, 'RF_FUNCTION_BAD_INPUT', 'the input is not valid JSON');
      }
    }
    const deadline = Number(deadlineHeader) || Date.now() + meta.timeoutMs;
    /** @type {Context} */
    const context = {
      functionId: meta.functionId,
      version: meta.version,
      memoryMb: meta.memoryMb,
      timeoutMs: meta.timeoutMs,
      invocationId: invocationIdOf(req.headers['x-ringfaas-invocation-id']),
      getRemainingTimeMs: () => Math.max(0, deadline - Date.now()),
      log: (...args) => logArgs(args),
    };
    current = inv;
    inv.startedAt = performance.now();
    /** @type {unknown} */
    let result;
    try {
      result = fn(input, context);
    } catch (err) {
      return finishError(inv, 'RF_FUNCTION_ERROR', errorMessage(err), { errorType: errorType(err) });
    }
    if (result !== null && typeof result === 'object' && typeof (/** @type {{ then?: unknown }} */ (result)).then === 'function') {
      /** @type {PromiseLike<unknown>} */ (result).then(
        (output) => finishOk(inv, output),
        (err) => finishError(inv, 'RF_FUNCTION_ERROR', errorMessage(err), { errorType: errorType(err) }),
      );
    } else {
      finishOk(inv, result);
    }
  });
}

/** @param {unknown} err */
function onStrayError(err) {
  const inv = current;
  if (inv !== undefined && !inv.done) {
    finishError(inv, 'RF_FUNCTION_ERROR', `uncaught: ${errorMessage(err)}`, { errorType: errorType(err) });
  } else {
    stderrWrite(`ringfaas shim: uncaught error outside an invocation: ${errorMessage(err)}\n`);
  }
}
process.on('uncaughtException', onStrayError);
process.on('unhandledRejection', onStrayError);

const server = http.createServer({ keepAlive: true }, (req, res) => {
  const route = req.url;
  if (req.method === 'POST' && route === '/invoke') return handleInvoke(req, res);
  if (req.method === 'POST' && route === '/load') return handleLoad(req, res);
  if (req.method === 'GET' && route === '/health') {
    return send(res, 200, JSON.stringify({ ok: true, loaded: loaded !== undefined }));
  }
  req.resume();
  send(res, 404, JSON.stringify({ state: 'error', code: 'RF_WORKER_ROUTE_NOT_FOUND', message: 'no such shim route' }));
});
server.keepAliveTimeout = 0; // the worker holds one connection for the container's life
server.headersTimeout = 0;
server.requestTimeout = 0;

/**
 * Longest Unix socket path, bytes: sun_path holds 108 bytes on Linux and 104 on macOS, NUL
 * included. Linux silently truncates a longer path when binding, so it is refused here.
 */
const MAX_SOCKET_PATH_BYTES = 103;

/** @param {string} message */
function startFailed(message) {
  stderrWrite(`ringfaas shim: ${message}\n`);
  process.exit(70);
}

if (Buffer.byteLength(opts.socket) > MAX_SOCKET_PATH_BYTES) {
  startFailed(`the socket path is longer than ${MAX_SOCKET_PATH_BYTES} bytes: ${opts.socket}`);
}
try {
  fs.unlinkSync(opts.socket);
} catch {
  // no stale socket: nothing to remove
}
server.listen(opts.socket, () => {
  try {
    // The worker may run as another user than the container (docker: root vs uid 1000).
    fs.chmodSync(opts.socket, 0o666);
  } catch (err) {
    startFailed(`cannot make ${opts.socket} usable by others: ${errorMessage(err)}`);
  }
  stdoutWrite(READY_LINE);
});
server.on('error', (err) => startFailed(`cannot listen on ${opts.socket}: ${err.message}`));

if (opts.exitWithStdin) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
for (const signal of /** @type {const} */ (['SIGTERM', 'SIGINT'])) process.on(signal, () => process.exit(0));
