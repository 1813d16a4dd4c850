/**
 * `memseal diff A.json B.json [--json]`: the cases (or features) whose status
 * or observed outcome differ between two reports: one kernel against
 * another, a host against a container. Exits 0 when nothing differs, 1 when
 * something does, 2 when a report cannot be read (as diff(1) does).
 */
import { parseArgs } from 'node:util';
import { diffReports, readReportFile, type Report, type ReportDiff, type ReportEntry, type ReportFacts } from '../reports.js';
import { DIFF_EXIT_HELP, EXIT, UsageError } from './exit.js';
import { painter, table } from '../format.js';
import { useColour } from './format.js';

export const DIFF_HELP = `Usage: memseal diff A.json B.json [--json]

The cases (or features) whose status or observed outcome differ between two
reports saved with --json (conform, probe or vm): one kernel against
another, a host against a container. A report that cannot be read is a
usage error (status 2, as diff(1) gives for trouble).

  --json      the differences as JSON
  -h, --help  this help

${DIFF_EXIT_HELP}`;
import { paintStatus } from './matrix.js';

const FACT_NAMES: Readonly<Record<keyof ReportFacts, string>> = {
  kernel: 'kernel',
  arch: 'arch',
  node: 'node',
  uid: 'uid',
  container: 'container',
  seccomp: 'seccomp mode',
  memfdNoexec: 'vm.memfd_noexec',
};

function cell(e: ReportEntry | undefined, colour: boolean): string {
  if (e === undefined) return painter(colour)('dim', '(absent)');
  const o = e.observed;
  const observed = o === undefined || o === null || o === 'ok' ? '' : ` (${typeof o === 'string' ? o : JSON.stringify(o)})`;
  return `${paintStatus(e.status, colour)}${observed}`;
}

/** The human-readable diff. */
export function renderDiff(a: Report, b: Report, d: ReportDiff, names: [string, string], colour: boolean): string {
  const paint = painter(colour);
  const lines = [`${paint('bold', 'A')} ${names[0]}: ${a.label}`, `${paint('bold', 'B')} ${names[1]}: ${b.label}`, ''];
  if (d.facts.length > 0) {
    lines.push(table([[paint('bold', 'fact'), paint('bold', 'A'), paint('bold', 'B')], ...d.facts.map((f) => [FACT_NAMES[f.name], f.a, f.b])]), '');
  }
  const what = a.kind === 'probe' ? 'features' : 'cases';
  if (d.entries.length === 0) {
    lines.push(`no ${what} differ (${d.same} the same)`);
  } else {
    lines.push(table([[paint('bold', a.kind === 'probe' ? 'feature' : 'case'), paint('bold', 'A'), paint('bold', 'B')], ...d.entries.map((e) => [e.id, cell(e.a, colour), cell(e.b, colour)])]));
    lines.push('', `${d.entries.length} ${what} differ, ${d.same} the same`);
  }
  return `${lines.join('\n')}\n`;
}

function one(path: string): Report {
  const list = readReportFile(path);
  if (list.length !== 1) throw new Error(`${path} holds ${list.length} reports; diff compares two single reports`);
  return list[0]!;
}

export function runDiff(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(DIFF_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 2) throw new UsageError(`diff compares two reports: memseal diff A.json B.json [--json] (got ${positionals.length} file names)`);
  let a: Report, b: Report, d: ReportDiff;
  try {
    [a, b] = [one(positionals[0]!), one(positionals[1]!)];
    d = diffReports(a, b);
  } catch (err) {
    process.stderr.write(`memseal diff: ${(err as Error).message}\n`);
    return EXIT.usage;
  }
  if (values.json) {
    const out = { a: { file: positionals[0], label: a.label }, b: { file: positionals[1], label: b.label }, facts: d.facts, same: d.same, differ: d.entries };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    process.stdout.write(renderDiff(a, b, d, [positionals[0]!, positionals[1]!], useColour()));
  }
  return d.entries.length === 0 ? EXIT.ok : EXIT.failed;
}
