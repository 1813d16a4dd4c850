/** Terminal rendering of reports: a kernel matrix, and a one-report summary. */
import { buildMatrix, countStatuses, type Report, type ReportEntry } from '../reports.js';
import { painter, table, type Colour } from '../format.js';

const COLOURS: Readonly<Record<string, Colour>> = {
  pass: 'green',
  supported: 'green',
  fail: 'red',
  error: 'red',
  blocked: 'magenta',
  refused: 'magenta',
  deviation: 'cyan',
  skip: 'yellow',
  unsupported: 'yellow',
  disabled: 'yellow',
};

/** A status, coloured. */
export function paintStatus(status: string, colour: boolean): string {
  const c = COLOURS[status];
  return c === undefined ? status : painter(colour)(c, status);
}

function summary(r: Report): string {
  return Object.entries(countStatuses(r))
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
}

/**
 * Cases as rows, reports as columns; `*` marks a row whose status is not the
 * same everywhere, `~` one with the same status but different observations
 * (a case whose expectation depends on the kernel version, met everywhere).
 * Below the table, each column's full title and counts. A column whose
 * kernel gave no report (it did not boot, panicked, hung) shows `error` in
 * every row and the reason below.
 */
export function renderMatrix(reports: readonly Report[], colour: boolean): string {
  const paint = painter(colour);
  const m = buildMatrix(reports);
  const header = ['', paint('bold', reports[0]?.kind === 'probe' ? 'feature' : 'case'), ...m.columns.map((_, i) => paint('bold', `[${i + 1}]`))];
  const cell = (c: ReportEntry | undefined, i: number): string => {
    if (reports[i]!.failure !== null) return paintStatus('error', colour);
    return c === undefined ? paint('dim', '-') : paintStatus(c.status, colour);
  };
  const rows = m.rows.map((r) => [r.varies ? paint('bold', '*') : r.observedVaries ? '~' : '', r.id, ...r.cells.map(cell)]);
  const legend = reports.map((r, i) => {
    if (r.failure !== null) return `[${i + 1}] ${r.label}: ${paint('red', `no report (${r.failure.code})`)}: ${r.failure.message.split('\n')[0]}`;
    const where =
      r.vm !== null
        ? ` (VM, ${r.vm.accel.toUpperCase()}, boot ${r.vm.bootSeconds.toFixed(1)} s + run ${r.vm.runSeconds.toFixed(1)} s)`
        : r.facts.container === 'no'
          ? ' (host)'
          : '';
    return `[${i + 1}] ${r.label}${where}: ${summary(r)}`;
  });
  const varying = m.rows.filter((r) => r.varies).length;
  const observed = m.rows.filter((r) => r.observedVaries).length;
  const note = `* ${varying} of ${m.rows.length} rows differ in status between columns; ~ ${observed} more differ only in what was observed`;
  return `${table([header, ...rows])}\n\n${legend.join('\n')}\n${paint('dim', note)}\n`;
}

function brief(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** One report: its facts, then a row per case. */
export function renderReport(r: Report, colour: boolean): string {
  const paint = painter(colour);
  const f = r.facts;
  const facts = [
    ['kernel', `${f.kernel}${f.arch ? ` (${f.arch})` : ''}`],
    ['node', f.node ?? '?'],
    ['uid', String(f.uid ?? '?')],
    ['container', f.container],
    ['vm.memfd_noexec', f.memfdNoexec],
  ];
  if (r.vm !== null) facts.push(['vm', `${r.vm.kernel}${r.vm.append ? ` ${r.vm.append}` : ''}; ${r.vm.accel.toUpperCase()}, boot ${r.vm.bootSeconds.toFixed(1)} s, run ${r.vm.runSeconds.toFixed(1)} s`]);
  const rows = r.entries.map((e) => [e.id, paintStatus(e.status, colour), brief(e.observed), paint('dim', e.reason ?? '')]);
  return `${table(facts.map(([k, v]) => [paint('cyan', k!), v!]))}\n\n${table(rows)}\n\n${summary(r)}\n`;
}
