/**
 * docs/configuration.md and the configuration table agree, as docs/errors.md and the error
 * registries do (errors/test/errors-docs.test.ts): the Router, Worker and Launcher sections
 * each document, in one table, exactly the variables the table marks for that component, once
 * each, with the table's default, the start of its accepted values and its doc line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALL_VARIABLES, documentedDefault, viewOf, type Component } from '../index.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const page = readFileSync(join(root, 'docs', 'configuration.md'), 'utf8');

/** The page's sections documenting a component, by the start of their heading. */
const SECTIONS: Record<Exclude<Component, 'dispatcher'>, string> = {
  router: '## Router (',
  worker: '## Worker (',
  launcher: '## Launcher:',
};

interface Row {
  line: number;
  names: string[];
  defaultCell: string;
  accepts: string;
  meaning: string;
}

/** The variable rows of a section, and the problems of its layout (a row outside its table). */
function sectionRows(heading: string): { rows: Row[]; problems: string[] } {
  const lines = page.split('\n');
  const start = lines.findIndex((l) => l.startsWith(heading));
  assert.notEqual(start, -1, `docs/configuration.md has no section "${heading}"`);
  const end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  const rows: Row[] = [];
  const problems: string[] = [];
  const header = lines.findIndex((l, i) => i > start && l.startsWith('| variable |'));
  let tableEnd = header;
  while (tableEnd + 1 < lines.length && lines[tableEnd + 1]!.startsWith('|')) tableEnd++;
  for (let i = start; i < (end === -1 ? lines.length : end); i++) {
    const line = lines[i]!;
    if (!line.startsWith('| `')) continue;
    if (i <= header || i > tableEnd) problems.push(`line ${i + 1} is outside the section's table (a blank line ends a Markdown table): ${line.slice(0, 60)}`);
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    const names = [...cells[0]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!);
    rows.push({ line: i + 1, names, defaultCell: cells[1] ?? '', accepts: cells[2] ?? '', meaning: cells[3] ?? '' });
  }
  return { rows, problems };
}

for (const [component, heading] of Object.entries(SECTIONS) as Array<[Component, string]>) {
  test(`docs/configuration.md "${heading.replace(/[:(]$/, '').trim()}" documents the table's ${component} variables`, () => {
    const { rows, problems } = sectionRows(heading);
    const expected = ALL_VARIABLES.filter((v) => v.readBy.includes(component));
    const documented = rows.flatMap((r) => r.names.map((name) => ({ name, row: r })));
    for (const v of expected) if (!documented.some((d) => d.name === v.name)) problems.push(`${v.name}: in the table, not documented`);
    for (const { name, row } of documented) {
      const v = expected.find((e) => e.name === name);
      if (v === undefined) {
        problems.push(`${name} (line ${row.line}): documented, but the table does not mark it as read by the ${component}`);
        continue;
      }
      const first = documented.find((d) => d.name === name)!.row;
      if (first !== row) problems.push(`${name} (line ${row.line}): documented twice (first on line ${first.line})`);
      const view = viewOf(v, component);
      const defaultText = documentedDefault(v, component);
      if (!row.defaultCell.startsWith(defaultText)) problems.push(`${name} (line ${row.line}): the docs' default "${row.defaultCell}", the table's ${defaultText}`);
      if (!row.accepts.startsWith(view.accepts)) problems.push(`${name} (line ${row.line}): the docs accept "${row.accepts}", the table ${view.accepts}`);
      if (!row.meaning.startsWith(view.doc)) problems.push(`${name} (line ${row.line}): the docs' meaning does not start with the table's doc line "${view.doc}"`);
    }
    assert.deepEqual(problems, []);
  });
}
