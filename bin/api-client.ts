/**
 * What the `ringfaas` commands that talk to a router share: the HTTP call (RINGFAAS_URL,
 * default http://127.0.0.1:8080, `https://` too; with `Authorization: Bearer $RINGFAAS_API_KEY`
 * when set; RINGFAAS_CA_FILE (or `ringfaas --ca <file>`): PEM certificates trusted for https),
 * its failures as `code: message`, and the action wrapper that prints them and exits non-zero.
 */

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { Agent, fetch } from 'undici';

/** Where a command reads its settings and writes its output (the process's by default). */
export interface CommandIo {
  env: Readonly<Record<string, string | undefined>>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** The process's own environment and output streams (every command's default). */
export function processIo(): CommandIo {
  return {
    env: process.env,
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
  };
}

/** A failure the CLI prints as `code: message`. */
export class CliFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  body: unknown;
}

/**
 * Calls the router's API; `body` is sent as JSON (a string as it is). An error answer becomes
 * a CliFailure with the API's code (and, for a 5xx, the request id to look up in the logs).
 */
export async function callApi(io: Pick<CommandIo, 'env'>, method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<ApiAnswer> {
  const base = (io.env.RINGFAAS_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const headers: Record<string, string> = { ...extraHeaders };
  const key = io.env.RINGFAAS_API_KEY;
  if (key) headers.authorization = `Bearer ${key}`;
  let payload: string | undefined;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const caFile = io.env.RINGFAAS_CA_FILE?.trim();
  let dispatcher: Agent | undefined;
  if (caFile) {
    try {
      dispatcher = new Agent({ connect: { ca: readFileSync(caFile) } });
    } catch (err) {
      throw new CliFailure('ECAFILE', `cannot read the CA file ${caFile}: ${(err as Error).message}`);
    }
  }
  let res: Awaited<ReturnType<typeof fetch>>;
  let text: string;
  try {
    res = await fetch(`${base}${path}`, { method, headers, ...(payload === undefined ? {} : { body: payload }), ...(dispatcher === undefined ? {} : { dispatcher }) });
    text = await res.text();
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new CliFailure(cause?.code ?? 'ECONNECT', `cannot reach ringfaas at ${base}: ${cause?.message ?? (err as Error).message}`);
  } finally {
    void dispatcher?.close();
  }
  let parsed: unknown = text;
  if (text.length > 0) {
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
  }
  if (res.status >= 400) {
    const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const requestId = res.headers.get('x-request-id');
    const suffix = res.status >= 500 && requestId ? ` (request id ${requestId})` : '';
    if (error && typeof error.code === 'string') throw new CliFailure(error.code, `${String(error.message)}${suffix}`);
    throw new CliFailure(`HTTP_${res.status}`, `${typeof parsed === 'string' ? parsed : JSON.stringify(parsed)}${suffix}`);
  }
  return { status: res.status, headers: res.headers, body: parsed === '' ? undefined : parsed };
}

/** Wraps a command action: a failure is printed as `code: message` and sets exit code 1. */
export function cliAction(io: Pick<CommandIo, 'stderr'>) {
  return <A extends unknown[]>(action: (...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      try {
        await action(...args);
      } catch (err) {
        if (err instanceof CliFailure) io.stderr(`${err.code}: ${err.message}\n`);
        else io.stderr(`error: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    };
}

/** `ringfaas <name> …`: the group's command, and the action wrapper its subcommands share. */
export function commandGroup(program: Command, io: Pick<CommandIo, 'stderr'>, name: string, description: string): { group: Command; run: ReturnType<typeof cliAction> } {
  return { group: program.command(name).description(description), run: cliAction(io) };
}
