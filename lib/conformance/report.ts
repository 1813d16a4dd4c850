/**
 * The report in four shapes: a terminal table grouped by family, JSON (the
 * DESIGN.md schema, see ConformanceReport), JUnit XML and TAP 13.
 */
import { painter, table, type Colour } from '../format.js';
import { FAMILIES, type CaseResult, type ConformanceReport, type Source, type Status } from './types.js';

const STATUS_COLOUR: Readonly<Record<Status, Colour>> = {
  pass: 'green',
  fail: 'red',
  deviation: 'magenta',
  blocked: 'yellow',
  skip: 'gray',
  error: 'red',
};

/** `a` or `a | b` for one or several accepted outcomes. */
export function expectedText(expected: CaseResult['expected']): string {
  if (expected === null) return '';
  return typeof expected === 'string' ? expected : expected.join(' | ');
}

export function sourceText(s: Source): string {
  return `${s.kind}: ${s.path}${s.test ? ` (${s.test})` : ''}`;
}

/** The summary line: "142 cases: 130 pass, 0 fail, 2 deviation, 0 blocked, 10 skip, 0 error in 6.2 s". */
export function summaryLine(r: ConformanceReport): string {
  const parts = (['pass', 'fail', 'deviation', 'blocked', 'skip', 'error'] as const).map((s) => `${r.summary[s]} ${s}`);
  return `${r.summary.total} cases: ${parts.join(', ')} in ${(r.durationMs / 1000).toFixed(1)} s`;
}

function headerLines(r: ConformanceReport): string[] {
  const seccomp = r.seccomp.mode === 2 ? `filter (${r.seccomp.filters ?? '?'})` : r.seccomp.mode === null ? 'unknown' : r.seccomp.mode === 0 ? 'none' : String(r.seccomp.mode);
  return [
    `kernel ${r.kernel.release}${r.kernel.release.startsWith(r.kernel.version) ? '' : ` (${r.kernel.version})`} (${r.kernel.arch}), node ${r.node}, uid ${r.uid}`,
    `kernel configuration ${r.kernel.config ?? 'not readable'}, THP ${r.facts.thp.built ? `shmem ${r.facts.thp.shmemEnabled ?? '?'}` : 'not built'}, /proc/PID/mem writes ${r.facts.procMem.forced ? 'forced' : 'not forced'}${r.facts.procMem.policy === null ? '' : ` (${r.facts.procMem.policy})`}`,
    `vm.memfd_noexec ${r.memfdNoexec ?? 'absent (before 6.3)'}, ${r.container.detected ? `container (${r.container.engine ?? 'pid namespace'})` : 'no container'}, seccomp ${seccomp}`,
  ];
}

/** The terminal report: one table per family; detail lines under anything not passing. */
export function renderTable(r: ConformanceReport, colour: boolean, verbose = false): string {
  const paint = painter(colour);
  const out: string[] = [paint('bold', 'memseal conform'), ...headerLines(r).map((l) => paint('dim', l)), ''];
  for (const family of FAMILIES) {
    const rows = r.cases.filter((c) => c.family === family);
    if (rows.length === 0) continue;
    const counts = (['pass', 'fail', 'deviation', 'blocked', 'skip', 'error'] as const)
      .filter((s) => rows.some((c) => c.status === s))
      .map((s) => paint(STATUS_COLOUR[s], `${rows.filter((c) => c.status === s).length} ${s}`));
    out.push(`${paint('bold', family)} ${paint('dim', '(')}${counts.join(paint('dim', ', '))}${paint('dim', ')')}`);
    const lines: string[][] = [];
    for (const c of rows) {
      lines.push([`  ${paint(STATUS_COLOUR[c.status], c.status.toUpperCase().padEnd(9))}`, c.id, paint('dim', c.title)]);
      const detail: string[] = [];
      if (c.status === 'fail' || c.status === 'deviation' || verbose) {
        if (c.expected !== null) detail.push(`expected ${expectedText(c.expected)} (${c.range})`);
        if (c.observed !== null) detail.push(`observed ${c.observed}`);
      }
      if (c.reason !== null && (c.status !== 'pass' || verbose)) detail.push(c.reason);
      for (const d of detail) lines.push(['', '', paint(c.status === 'pass' || c.status === 'skip' ? 'dim' : STATUS_COLOUR[c.status], `  ${d}`)]);
    }
    out.push(table(lines), '');
  }
  const bad = r.summary.fail + r.summary.error > 0;
  out.push(paint(bad ? 'red' : r.summary.deviation > 0 ? 'magenta' : 'green', summaryLine(r)));
  return `${out.join('\n')}\n`;
}

/** The JSON report. */
export function renderJson(r: ConformanceReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

function xml(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '').replace(/[<>&'"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function detail(c: CaseResult): string {
  const lines = [`expected: ${expectedText(c.expected)}${c.range ? ` (${c.range})` : ''}`, `observed: ${c.observed ?? ''}`];
  if (c.reason) lines.push(`reason: ${c.reason}`);
  for (const s of c.source) lines.push(`source: ${sourceText(s)}`);
  return lines.join('\n');
}

/** JUnit XML: one testsuite per family; fail and error map to failure and error, skip and blocked to skipped. */
export function renderJunit(r: ConformanceReport): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(
    `<testsuites name="memseal conform" tests="${r.summary.total}" failures="${r.summary.fail}" errors="${r.summary.error}" skipped="${r.summary.skip + r.summary.blocked}" time="${(r.durationMs / 1000).toFixed(3)}">`,
  );
  for (const family of FAMILIES) {
    const rows = r.cases.filter((c) => c.family === family);
    if (rows.length === 0) continue;
    const count = (s: Status): number => rows.filter((c) => c.status === s).length;
    const time = rows.reduce((t, c) => t + c.durationMs, 0) / 1000;
    out.push(
      `  <testsuite name="${family}" tests="${rows.length}" failures="${count('fail')}" errors="${count('error')}" skipped="${count('skip') + count('blocked')}" time="${time.toFixed(3)}">`,
    );
    out.push('    <properties>');
    out.push(`      <property name="kernel" value="${xml(r.kernel.release)}"/>`);
    out.push(`      <property name="vm.memfd_noexec" value="${r.memfdNoexec ?? ''}"/>`);
    out.push('    </properties>');
    for (const c of rows) {
      const open = `    <testcase classname="memseal.conform.${family}" name="${xml(c.id)}" time="${(c.durationMs / 1000).toFixed(3)}"`;
      if (c.status === 'pass') {
        out.push(`${open}/>`);
        continue;
      }
      out.push(`${open}>`);
      if (c.status === 'fail') out.push(`      <failure message="${xml(`expected ${expectedText(c.expected)}, observed ${c.observed ?? ''}`)}">${xml(detail(c))}</failure>`);
      else if (c.status === 'error') out.push(`      <error message="${xml(c.reason ?? 'error')}">${xml(detail(c))}</error>`);
      else if (c.status === 'skip' || c.status === 'blocked') out.push(`      <skipped message="${xml(`${c.status}: ${c.reason ?? ''}`)}"/>`);
      else out.push(`      <system-out>${xml(`DEVIATION: ${c.reason ?? ''}\n${detail(c)}`)}</system-out>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}

function yamlString(s: string): string {
  return JSON.stringify(s);
}

/** TAP version 13: skip and blocked are `# SKIP`; a deviation is `ok` (`not ok` under --strict) with a YAML block saying why. */
export function renderTap(r: ConformanceReport): string {
  const out = ['TAP version 13', `1..${r.cases.length}`];
  r.cases.forEach((c, i) => {
    const okay = c.status !== 'fail' && c.status !== 'error' && !(r.strict && c.status === 'deviation');
    let line = `${okay ? 'ok' : 'not ok'} ${i + 1} - ${c.id}: ${c.title.replace(/#/g, 'no.')}`;
    if (c.status === 'skip' || c.status === 'blocked') line += ` # SKIP ${c.status}: ${(c.reason ?? '').replace(/\n/g, ' ')}`;
    out.push(line);
    if (c.status !== 'pass' && c.status !== 'skip' && c.status !== 'blocked') {
      out.push('  ---');
      out.push(`  status: ${c.status}`);
      out.push(`  expected: ${yamlString(expectedText(c.expected))}`);
      out.push(`  observed: ${yamlString(c.observed ?? '')}`);
      if (c.range) out.push(`  range: ${yamlString(c.range)}`);
      if (c.reason) out.push(`  reason: ${yamlString(c.reason)}`);
      out.push('  ...');
    }
  });
  out.push(`# ${summaryLine(r)}`);
  out.push(`# kernel ${r.kernel.release}, vm.memfd_noexec ${r.memfdNoexec ?? 'absent'}`);
  return `${out.join('\n')}\n`;
}
