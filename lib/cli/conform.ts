/**
 * `memseal conform [--json | --junit FILE | --tap] [--filter PATTERN] [--list] [--strict] [--verbose]`:
 * runs the conformance catalog against this kernel. Exits 1 when a case
 * fails or breaks (or, with --strict, deviates), 0 otherwise.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CATALOG } from '../conformance/index.js';
import { rangeText } from '../conformance/expect.js';
import { renderJson, renderJunit, renderTable, renderTap, sourceText, summaryLine } from '../conformance/report.js';
import { matchesFilter, reportFailed, runConformance } from '../conformance/run.js';
import { painter, table, useColour } from './format.js';

function list(filter: string | undefined, colour: boolean): string {
  const paint = painter(colour);
  const rows = CATALOG.filter((c) => matchesFilter(c.id, filter)).map((c) => [
    c.id,
    paint('dim', c.family),
    c.title,
    paint('dim', c.expect.map(rangeText).join('; ')),
  ]);
  return `${table(rows)}\n${rows.length} cases\n`;
}

export async function runConform(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      junit: { type: 'string' },
      tap: { type: 'boolean', default: false },
      filter: { type: 'string' },
      list: { type: 'boolean', default: false },
      strict: { type: 'boolean', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
    },
    strict: true,
  });
  if ([values.json, values.tap, values.junit !== undefined].filter(Boolean).length > 1) {
    process.stderr.write('memseal conform: choose one of --json, --junit FILE, --tap\n');
    return 2;
  }
  const colour = useColour();
  if (values.list) {
    process.stdout.write(list(values.filter, colour));
    return 0;
  }
  const report = await runConformance({ filter: values.filter, strict: values.strict });
  if (values.json) process.stdout.write(renderJson(report));
  else if (values.tap) process.stdout.write(renderTap(report));
  else if (values.junit !== undefined) {
    writeFileSync(values.junit, renderJunit(report));
    process.stdout.write(`${summaryLine(report)}\nJUnit report written to ${values.junit}\n`);
  } else process.stdout.write(renderTable(report, colour, values.verbose));
  if (values.verbose && !values.json && !values.tap) {
    for (const c of report.cases.filter((x) => x.status !== 'pass')) process.stdout.write(`${c.id}: ${c.source.map(sourceText).join('; ')}\n`);
  }
  return reportFailed(report) ? 1 : 0;
}
