/**
 * The report as KTAP version 1 (the kernel's Documentation/dev-tools/ktap.rst),
 * the format kernel test labs parse: the version line, a plan, one nested
 * block per family (indented two spaces, with its own version line, a
 * `# Subtest:` name and plan), one result line per case named by its id,
 * and the family's own result line after its block. No YAML: what a fail or
 * an error has to say goes in `#` diagnostic lines before its result line.
 *
 * Exit statuses follow kselftest (tools/testing/selftests/kselftest.h):
 * KSFT_PASS 0 when nothing failed, KSFT_FAIL 1 on any fail or error (or
 * deviation under --strict), KSFT_SKIP 4 when every case was skipped.
 */
import { expectedText } from './report.js';
import { FAMILIES, type CaseResult, type ConformanceReport } from './types.js';

/** kselftest.h's exit statuses that memseal uses. */
export const KSFT = { pass: 0, fail: 1, skip: 4 } as const;

/** One line of free text: no newline, and no `#` (which would start a directive or end a description). */
export function ktapText(text: string, max = 400): string {
  const flat = text.replace(/\s*\n\s*/g, ' ').replace(/#/g, 'no.').trim();
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}

/** Whether the case counts as failed (`not ok`). */
export function ktapFailed(c: CaseResult, strict: boolean): boolean {
  return c.status === 'fail' || c.status === 'error' || (strict && c.status === 'deviation');
}

/** The diagnostic lines and the result line of one case. */
function caseLines(c: CaseResult, n: number, strict: boolean): string[] {
  const reason = ktapText(c.reason ?? '');
  switch (c.status) {
    case 'pass':
      return [`ok ${n} ${c.id}`];
    case 'skip':
    case 'blocked':
      return [`ok ${n} ${c.id} # SKIP ${c.status}: ${reason}`];
    case 'deviation':
      return strict
        ? [`# deviation (a failure under --strict): ${reason}`, `# observed ${ktapText(c.observed ?? '')}`, `not ok ${n} ${c.id}`]
        : [`ok ${n} ${c.id} # XFAIL ${reason}`];
    case 'fail':
      return [
        `# expected ${ktapText(expectedText(c.expected))}${c.range ? ` (kernel ${ktapText(c.range)})` : ''}`,
        `# observed ${ktapText(c.observed ?? '')}`,
        ...(reason ? [`# ${reason}`] : []),
        `not ok ${n} ${c.id}`,
      ];
    case 'error':
      return [`not ok ${n} ${c.id} # ERROR ${reason || 'the case broke'}`];
  }
}

/** The KTAP document for a report. */
export function renderKtap(r: ConformanceReport): string {
  const families = FAMILIES.filter((f) => r.cases.some((c) => c.family === f));
  const out = ['KTAP version 1', `1..${families.length}`];
  families.forEach((family, i) => {
    const rows = r.cases.filter((c) => c.family === family);
    out.push('  KTAP version 1', `  # Subtest: ${family}`, `  1..${rows.length}`);
    rows.forEach((c, j) => out.push(...caseLines(c, j + 1, r.strict).map((l) => `  ${l}`)));
    const failed = rows.filter((c) => ktapFailed(c, r.strict)).length;
    const skipped = rows.filter((c) => c.status === 'skip' || c.status === 'blocked').length;
    if (failed > 0) out.push(`not ok ${i + 1} ${family}`);
    else if (skipped === rows.length) out.push(`ok ${i + 1} ${family} # SKIP every case skipped`);
    else out.push(`ok ${i + 1} ${family}`);
  });
  const s = r.summary;
  out.push(`# memseal conform: kernel ${ktapText(r.kernel.release)} (${r.kernel.arch}), node ${r.node}, ${(r.durationMs / 1000).toFixed(1)} s`);
  out.push(`# Totals: pass:${s.pass} fail:${s.fail + (r.strict ? s.deviation : 0)} xfail:${r.strict ? 0 : s.deviation} xpass:0 skip:${s.skip + s.blocked} error:${s.error}`);
  return `${out.join('\n')}\n`;
}

/** The kselftest exit status of a report: 1 on a failure, 4 when every case was skipped, else 0. */
export function ktapExitStatus(r: ConformanceReport): number {
  if (r.cases.some((c) => ktapFailed(c, r.strict))) return KSFT.fail;
  if (r.cases.length > 0 && r.cases.every((c) => c.status === 'skip' || c.status === 'blocked')) return KSFT.skip;
  return KSFT.pass;
}

/**
 * A whole KTAP document that says the suite could not run: one `not ok`
 * line with `# ERROR` (the runtime is damaged, the architecture is wrong,
 * the run itself broke).
 */
export function ktapBroken(what: string): string {
  return `KTAP version 1\n1..1\nnot ok 1 memseal # ERROR ${ktapText(what)}\n`;
}
