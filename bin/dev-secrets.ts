/**
 * The secrets `ringfaas dev` keeps per data folder: the cluster key (routers ↔ workers) and
 * the embedded Azurite's account key. Each is a file of the data folder, created once with
 * mode 0600 (readable by this user only) and reused on every later start, so a restart keeps
 * the same credentials (Azurite's data stays readable).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';

/** Where each secret lives in the data folder. */
export const SECRET_FILES = { clusterKey: 'cluster.key', azuriteKey: 'azurite.key' } as const;

/**
 * Reads the secret in `path`, or creates it (`bytes` random bytes, base64 / base64url) with
 * mode 0600 when the file does not exist. A file other users may read is narrowed to 0600.
 */
export function readOrCreateSecret(path: string, options: { bytes: number; encoding: 'base64' | 'base64url' }): { value: string; created: boolean; narrowed: boolean } {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'EEXIST') throw err;
    const mode = statSync(path).mode & 0o777;
    const narrowed = (mode & 0o077) !== 0;
    if (narrowed) chmodSync(path, 0o600);
    const value = readFileSync(path, 'utf8').trim();
    if (value.length < 32) throw new Error(`${path} holds no usable secret (delete it to make a new one)`);
    return { value, created: false, narrowed };
  }
  const value = randomBytes(options.bytes).toString(options.encoding);
  try {
    writeSync(fd, `${value}\n`);
  } finally {
    closeSync(fd);
  }
  return { value, created: true, narrowed: false };
}
