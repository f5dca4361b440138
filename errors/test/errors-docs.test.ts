/**
 * docs/errors.md and the source agree: every error code string in the source (outside tests)
 * is documented, every documented code exists in the source, and where the source declares a
 * code with its status (`{ code: 'RF_…', status: N }`), the docs state the same status.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceFiles } from '../../testing/source-files.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCE_ROOTS = ['clock', 'errors', 'contract', 'config', 'archive', 'storage', 'ring', 'worker', 'router', 'bench', 'bin', 'testing'];
/** A quoted code; a trailing underscore would be a prefix (`'RF_RING_'`), not a code. */
const CODE_LITERAL = /['"`](RF_[A-Z0-9_]*[A-Z0-9])['"`]/g;
const SPEC = /code:\s*['"`](RF_[A-Z0-9_]*[A-Z0-9])['"`]\s*,\s*status:\s*(\d{3})/g;

function sourceCodes(): { codes: Map<string, string>; statuses: Map<string, number> } {
  const codes = new Map<string, string>();
  const statuses = new Map<string, number>();
  for (const file of SOURCE_ROOTS.flatMap((r) => sourceFiles(join(root, r)))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(CODE_LITERAL)) if (!codes.has(m[1]!)) codes.set(m[1]!, file.slice(root.length + 1));
    for (const m of text.matchAll(SPEC)) statuses.set(m[1]!, Number(m[2]));
  }
  return { codes, statuses };
}

function documented(): Map<string, string> {
  const text = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
  const sections = new Map<string, string>();
  const parts = text.split(/^### /m).slice(1);
  for (const part of parts) {
    const heading = part.slice(0, part.indexOf('\n')).trim();
    if (/^RF_[A-Z0-9_]+$/.test(heading)) sections.set(heading, part);
  }
  return sections;
}

test('every error code in the source is documented in docs/errors.md', () => {
  const docs = documented();
  const missing = [...sourceCodes().codes].filter(([code]) => !docs.has(code)).map(([code, file]) => `${code} (${file})`);
  assert.deepEqual(missing, [], `undocumented codes: ${missing.join(', ')}`);
});

test('every code documented in docs/errors.md exists in the source', () => {
  const { codes } = sourceCodes();
  const stale = [...documented().keys()].filter((code) => !codes.has(code));
  assert.deepEqual(stale, [], `documented but not in the source: ${stale.join(', ')}`);
});

test('every documented code states its status, cause and fix, and the status matches the registry', () => {
  const { statuses } = sourceCodes();
  const problems: string[] = [];
  for (const [code, section] of documented()) {
    const status = /\*\*Status:\*\*\s*(\d{3})/.exec(section);
    if (status === null) problems.push(`${code}: no **Status:**`);
    if (!section.includes('**Cause:**')) problems.push(`${code}: no **Cause:**`);
    if (!section.includes('**Fix:**')) problems.push(`${code}: no **Fix:**`);
    const declared = statuses.get(code);
    if (status !== null && declared !== undefined && Number(status[1]) !== declared) {
      problems.push(`${code}: docs say ${status[1]}, the registry says ${declared}`);
    }
  }
  assert.deepEqual(problems, []);
});
