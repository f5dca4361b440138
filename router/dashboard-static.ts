/**
 * The dashboard's static files (router/ui/), read once into memory when the router starts and
 * served from there: no path from the request ever reaches the file system, so nothing outside
 * the folder can be asked for. Each answer carries its content type, an ETag, `no-cache` (the
 * browser revalidates, and a router upgrade shows at once), and a strict Content-Security-Policy:
 * everything from the router itself, no inline script, no third party.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Where the files are: beside this module, so it works from the sources and from a build that copies `router/ui/`. */
export const DEFAULT_UI_DIR = join(import.meta.dirname, 'ui');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
};

/** The dashboard's Content-Security-Policy: its own origin only, no inline code, no framing. */
export const UI_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

/** Serves the files of one folder (no subfolders), loaded at construction. */
export class StaticFiles {
  readonly #files = new Map<string, StaticFile>();

  /** Reads every file of known type in `dir` (at most `maxBytes` in all; default 2 MB). */
  constructor(dir: string = DEFAULT_UI_DIR, maxBytes = 2 * 1024 * 1024) {
    let total = 0;
    for (const name of readdirSync(dir).sort()) {
      const type = CONTENT_TYPES[extname(name)];
      const path = join(dir, name);
      if (type === undefined || !statSync(path).isFile()) continue;
      const body = readFileSync(path);
      total += body.length;
      if (total > maxBytes) throw new RangeError(`the dashboard files in ${dir} exceed ${maxBytes} bytes`);
      this.#files.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
    }
    if (!this.#files.has('index.html')) throw new Error(`no index.html in ${dir}`);
  }

  /** The file names served. */
  get names(): string[] {
    return [...this.#files.keys()];
  }

  /** Answers GET/HEAD of one file; false when there is no such file (the caller answers 404). */
  serve(name: string, req: IncomingMessage, res: ServerResponse): boolean {
    const file = this.#files.get(name);
    if (file === undefined) return false;
    const headers: Record<string, string | number> = {
      'content-type': file.type,
      'cache-control': 'no-cache',
      etag: file.etag,
      'content-security-policy': UI_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    };
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    headers['content-length'] = file.body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : file.body);
    return true;
  }
}
