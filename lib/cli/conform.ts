/**
 * `memseal conform [--json | --junit FILE | --tap | --ktap | --kcidb ORIGIN] [--filter PATTERN] [--list] [--strict] [--verbose]`:
 * runs the conformance catalog against this kernel. Exit statuses: see
 * EXIT in ./exit.js (1 when a case fails or breaks, or, with --strict,
 * deviates; 2 for a usage error, found before anything runs); under
 * --ktap kselftest's (4 when every case was skipped).
 */
import { accessSync, constants as fsConstants, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CATALOG } from '../conformance/index.js';
import { rangeText } from '../conformance/expect.js';
import { KCIDB_ORIGIN, renderKcidb } from '../conformance/kcidb.js';
import { ktapBroken, ktapExitStatus, renderKtap } from '../conformance/ktap.js';
import { renderJson, renderJunit, renderTable, renderTap, sourceText, summaryLine } from '../conformance/report.js';
import { selectCases } from '../conformance/filter.js';
import { reportFailed, runConformance } from '../conformance/run.js';
import type { Case } from '../conformance/types.js';
import { CONFORM_EXIT_HELP, EXIT, UsageError } from './exit.js';
import { painter, table } from '../format.js';
import { useColour } from './format.js';

export const FILTER_HELP = `PATTERN is a comma-separated list; a case runs when its id matches any
entry. An entry without '*' matches ids that contain it ('mseal.munmap');
one with '*' is a glob over the whole id, '*' standing for any run of
characters ('seals.*.busy-*', 'memfd.*'). Spaces around entries are ignored.
Every entry must match at least one case, and PATTERN must have an entry:
otherwise it is a usage error naming the entry. --list shows the ids.`;

export const CONFORM_HELP = `Usage: memseal conform [--json | --junit FILE | --tap | --ktap | --kcidb ORIGIN] [--filter PATTERN] [--list] [--strict] [--verbose]

Runs the conformance catalog against this kernel and prints a table (or a
JSON report, JUnit XML to FILE, TAP, KTAP or KCIDB JSON).

  --json            the report as JSON on stdout (with --list: the cases)
  --junit FILE      JUnit XML to FILE (its directory must exist and be writable)
  --tap             TAP version 13 on stdout
  --ktap            KTAP version 1 on stdout (the kernel's test format), one
                    nested block per family; exit statuses as kselftest's:
                    0 nothing failed, 1 a case failed or broke, 4 every case
                    was skipped
  --kcidb ORIGIN    KernelCI KCIDB I/O JSON (schema v5.3) on stdout: the
                    checkout, the build and one test per case, with ids
                    ORIGIN:...; ORIGIN matches ^[a-z0-9_]+$
  --filter PATTERN  only the matching cases (below)
  --list            list the cases, do not run them
  --strict          a deviation fails the run
  -v, --verbose     also each non-passing case's sources
  -h, --help        this help

${FILTER_HELP}

${CONFORM_EXIT_HELP}`;

/** The cases --filter selects; a filter without entries, or with an entry that matches nothing, is a usage error. */
function selectFromCatalog(filter: string | undefined): Case[] {
  try {
    return selectCases(CATALOG, filter, '--filter');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (filter !== undefined && code === 'ERR_INVALID_ARG_VALUE') throw new UsageError(`--filter '${filter}' names no case pattern; leave --filter out to run every case`);
    if (code === 'ERR_MEMSEAL_FILTER_NO_MATCH') throw new UsageError(`${(err as Error).message.replace(/^The /, '')} (see --list, and --help for the syntax)`);
    throw err;
  }
}

function listCases(cases: readonly Case[], colour: boolean, json: boolean): string {
  if (json) {
    const out = cases.map((c) => ({ id: c.id, family: c.family, title: c.title, expect: c.expect.map(rangeText), source: c.source.map(sourceText) }));
    return `${JSON.stringify(out, null, 2)}\n`;
  }
  const paint = painter(colour);
  const rows = cases.map((c) => [c.id, paint('dim', c.family), c.title, paint('dim', c.expect.map(rangeText).join('; '))]);
  return `${table(rows)}\n${rows.length} cases\n`;
}

/** Throws a UsageError unless FILE can be created or overwritten: its directory exists and is writable. */
export function checkOutputFile(file: string, option: string): void {
  if (file === '') throw new UsageError(`${option} needs a file name`);
  const path = resolve(file);
  let st;
  try {
    st = statSync(path);
  } catch {
    st = undefined;
  }
  if (st !== undefined) {
    if (st.isDirectory()) throw new UsageError(`${option} ${file}: is a directory`);
    try {
      accessSync(path, fsConstants.W_OK);
    } catch {
      throw new UsageError(`${option} ${file}: the file is not writable`);
    }
    return;
  }
  const dir = dirname(path);
  let dirStat;
  try {
    dirStat = statSync(dir);
  } catch {
    throw new UsageError(`${option} ${file}: the directory ${dir} does not exist`);
  }
  if (!dirStat.isDirectory()) throw new UsageError(`${option} ${file}: ${dir} is not a directory`);
  try {
    accessSync(dir, fsConstants.W_OK | fsConstants.X_OK);
  } catch {
    throw new UsageError(`${option} ${file}: the directory ${dir} is not writable`);
  }
}

export async function runConform(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      junit: { type: 'string' },
      tap: { type: 'boolean', default: false },
      ktap: { type: 'boolean', default: false },
      kcidb: { type: 'string' },
      filter: { type: 'string' },
      list: { type: 'boolean', default: false },
      strict: { type: 'boolean', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(CONFORM_HELP);
    return EXIT.ok;
  }
  if ([values.json, values.tap, values.junit !== undefined, values.ktap, values.kcidb !== undefined].filter(Boolean).length > 1) {
    throw new UsageError('choose one of --json, --junit FILE, --tap, --ktap, --kcidb ORIGIN');
  }
  if (values.kcidb !== undefined && !KCIDB_ORIGIN.test(values.kcidb)) {
    throw new UsageError(`--kcidb ${JSON.stringify(values.kcidb)}: a KCIDB origin is lower-case letters, digits and _ (${KCIDB_ORIGIN.source})`);
  }
  if (values.list && (values.tap || values.junit !== undefined || values.ktap || values.kcidb !== undefined)) {
    throw new UsageError('--list prints a table, or JSON with --json; not TAP, KTAP, KCIDB or JUnit');
  }
  const selected = selectFromCatalog(values.filter);
  if (values.junit !== undefined) checkOutputFile(values.junit, '--junit');
  const colour = useColour();
  if (values.list) {
    process.stdout.write(listCases(selected, colour, values.json));
    return EXIT.ok;
  }
  if (values.ktap) return runKtap(values.filter, values.strict);
  const report = await runConformance({ filter: values.filter, strict: values.strict });
  if (values.kcidb !== undefined) process.stdout.write(renderKcidb(report, values.kcidb));
  else if (values.json) process.stdout.write(renderJson(report));
  else if (values.tap) process.stdout.write(renderTap(report));
  else if (values.junit !== undefined) {
    try {
      writeFileSync(values.junit, renderJunit(report));
    } catch (err) {
      process.stderr.write(`memseal conform: writing ${values.junit} failed: ${(err as Error).message}\n`);
      return EXIT.broken;
    }
    process.stdout.write(`${summaryLine(report)}\nJUnit report written to ${values.junit}\n`);
  } else process.stdout.write(renderTable(report, colour, values.verbose));
  if (values.verbose && !values.json && !values.tap && values.kcidb === undefined) {
    for (const c of report.cases.filter((x) => x.status !== 'pass')) process.stdout.write(`${c.id}: ${c.source.map(sourceText).join('; ')}\n`);
  }
  return reportFailed(report) ? EXIT.failed : EXIT.ok;
}

/**
 * --ktap: the report as KTAP with kselftest's exit status. A run that breaks
 * (which `memseal conform` reports with status 3) is one `not ok` line with
 * `# ERROR` and status 1, as a lab's parser expects.
 */
async function runKtap(filter: string | undefined, strict: boolean): Promise<number> {
  let report;
  try {
    report = await runConformance({ filter, strict });
  } catch (err) {
    process.stdout.write(ktapBroken(`the run broke: ${(err as Error).message ?? String(err)}`));
    return 1;
  }
  process.stdout.write(renderKtap(report));
  return ktapExitStatus(report);
}
