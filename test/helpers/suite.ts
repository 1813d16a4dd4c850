/**
 * The report the VM, container and seccomp tests run and judge, and how they
 * recognise its mseal and memfd_secret rows.
 *
 * The report is `memseal conform --json`; the tests judge its cases by their
 * statuses (pass/fail/skip/blocked/deviation/error). The same helpers read
 * `memseal probe --json` reports (one row per feature), which some tests
 * check alongside.
 */
import { CATALOG } from '../../lib/conformance/index.js';
import { readReport, type Report, type ReportEntry } from '../../lib/reports.js';

/**
 * Whether a row needs the feature a filter denies: a probe feature always;
 * a conform case when the catalog lists the feature among its requirements
 * (mseal.sysmap.stack-unsealed, for one, only reads smaps).
 */
function needs(id: string, requirement: 'mseal' | 'secretmem'): boolean {
  const c = CATALOG.find((k) => k.id === id);
  return c === undefined || (c.requires ?? []).includes(requirement);
}

export const SUITE: readonly string[] = ['conform', '--json'];

/** A probe feature named mseal, or a conform case under mseal.* */
export const isMsealRow = (id: string): boolean => id === 'mseal' || id.startsWith('mseal.');

/** The probe feature memfd_secret, or a conform case under secret.*, secretmem.* or memfd_secret.* */
export const isSecretRow = (id: string): boolean => /^(memfd_secret|secretmem|secret)(\.|$)/.test(id);

/** Rows of `r` that `pick` selects. */
export function rows(r: Report, pick: (id: string) => boolean): ReportEntry[] {
  return r.entries.filter((e) => pick(e.id));
}

/**
 * The statuses rows may take when a filter denies a syscall: a row that
 * needs it `blocked` (or `skip`), one that does not call it anything but
 * fail or error; at least one row must be `blocked`.
 */
export function deniedRowsOk(r: Report, pick: (id: string) => boolean): { ok: boolean; detail: string } {
  const picked = rows(r, pick);
  const requirement = pick === isSecretRow ? 'secretmem' : 'mseal';
  const blocked = picked.filter((e) => e.status === 'blocked');
  const bad = picked.filter((e) => (needs(e.id, requirement) ? !['blocked', 'skip'].includes(e.status) : ['fail', 'error'].includes(e.status)));
  return { ok: blocked.length > 0 && bad.length === 0, detail: picked.map((e) => `${e.id}=${e.status}`).join(', ') };
}

/** The rows that failed or erred, with what they expected and saw: the message of an assertion on a run's exit status. */
export function failedRows(stdout: string, stderr = ''): string {
  let report: Report;
  try {
    report = readReport(JSON.parse(stdout));
  } catch {
    return `no report on stdout; stderr:\n${stderr}`;
  }
  const bad = report.entries.filter((e) => e.status === 'fail' || e.status === 'error');
  const rowsText = bad.map((e) => `${e.id}=${e.status}: expected ${JSON.stringify(e.expected)}, observed ${JSON.stringify(e.observed)}${e.reason ? ` (${e.reason})` : ''}`);
  return [...rowsText, stderr].filter((l) => l !== '').join('\n');
}

/** The statuses an available feature's rows take: supported (probe) or pass/skip (conform), never blocked. */
export function availableRowsOk(r: Report, pick: (id: string) => boolean): { ok: boolean; detail: string } {
  const picked = rows(r, pick);
  const good = r.kind === 'probe' ? ['supported'] : ['pass', 'skip', 'deviation'];
  const passed = picked.filter((e) => e.status === (r.kind === 'probe' ? 'supported' : 'pass'));
  return { ok: passed.length > 0 && picked.every((e) => good.includes(e.status)), detail: picked.map((e) => `${e.id}=${e.status}`).join(', ') };
}
