/**
 * Reading an Azure Storage connection string: which endpoints are plain HTTP (Azurite, or an
 * emulator elsewhere) and which parts are secrets that must never be echoed.
 */

/** The `Key=Value;` pairs of a connection string, keys lower-cased. */
export function parseConnectionString(connectionString: string): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const part of connectionString.split(';')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    pairs.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  return pairs;
}

/** The values of a connection string that are credentials (account key, SAS and its `sig`). */
export function connectionSecrets(connectionString: string): string[] {
  const pairs = parseConnectionString(connectionString);
  const secrets: string[] = [];
  const key = pairs.get('accountkey');
  if (key !== undefined && key.length > 0) secrets.push(key);
  const sas = pairs.get('sharedaccesssignature');
  if (sas !== undefined && sas.length > 0) {
    secrets.push(sas);
    const sig = new URLSearchParams(sas.startsWith('?') ? sas.slice(1) : sas).get('sig');
    if (sig !== null && sig.length > 0) secrets.push(sig, encodeURIComponent(sig));
  }
  return secrets;
}

/** True when the connection string points a service at a plain-HTTP endpoint. */
export function isInsecureEndpoint(connectionString: string, service: 'blob' | 'table' | 'queue'): boolean {
  const pairs = parseConnectionString(connectionString);
  if (pairs.get('usedevelopmentstorage')?.toLowerCase() === 'true') return true;
  const endpoint = pairs.get(`${service}endpoint`);
  if (endpoint !== undefined) return endpoint.toLowerCase().startsWith('http:');
  return pairs.get('defaultendpointsprotocol')?.toLowerCase() === 'http';
}

