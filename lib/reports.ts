/**
 * Reading, comparing and tabulating memseal reports: the JSON that
 * `memseal conform --json` and `memseal probe --json` print, on a host, in a
 * container or in a VM (`memseal vm --json` adds a `vm` object). Both kinds
 * become one shape, a list of entries with an id and a status, so a kernel
 * matrix and a diff work on either.
 *
 * The conform report is read by the fields DESIGN.md lists: kernel release,
 * architecture, Node version, container, uid, vm.memfd_noexec, and per case
 * id, status, expected, observed, reason, source. Where the report's key
 * names may vary (`kernel.release` or `kernel`, `cases` or `results`), each
 * accepted spelling is listed below.
 */
import { ownData } from './validate.js';
import { readFileSync } from 'node:fs';

export type ReportKind = 'conform' | 'probe';

/** Case statuses a conform report uses. */
export const CASE_STATUSES = ['pass', 'fail', 'skip', 'blocked', 'deviation', 'error'] as const;

/** One row: a conform case, or a probed feature. */
export interface ReportEntry {
  id: string;
  /** A case status (pass, fail, ...) or a feature status (supported, unsupported, ...). */
  status: string;
  expected?: unknown;
  /** What happened: the outcome a case observed, or the errno a feature probe saw ("ok" when it worked). */
  observed?: unknown;
  reason?: string;
  source?: string;
}

/** How `memseal vm` booted the kernel that produced a report. */
export interface VmMeta {
  kernel: string;
  append: string;
  accel: string;
  memoryMiB: number;
  bootSeconds: number;
  runSeconds: number;
}

/** The facts a report states about where it ran. */
export interface ReportFacts {
  kernel: string;
  arch: string | null;
  node: string | null;
  uid: number | null;
  /** "no", or the engine / "yes". */
  container: string;
  /** The seccomp mode, when the report says. */
  seccomp: string | null;
  /** vm.memfd_noexec, or "absent". */
  memfdNoexec: string;
}

export interface Report {
  kind: ReportKind;
  facts: ReportFacts;
  entries: ReportEntry[];
  vm: VmMeta | null;
  /** A short column title: release, boot arguments, container. */
  label: string;
  /**
   * Set when there is no report because the kernel did not boot or answer
   * (`memseal vm --json` writes `{ error: { code, message }, vm }` for it):
   * the matrix shows such a column as an error, never skips it.
   */
  failure: { code: string; message: string } | null;
  /** The parsed JSON as read. */
  raw: Record<string, unknown>;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function pick(r: Json, ...paths: string[]): unknown {
  for (const p of paths) {
    let v: unknown = r;
    for (const k of p.split('/')) v = isObject(v) ? v[k] : undefined;
    if (v !== undefined) return v;
  }
  return undefined;
}

function readFacts(r: Json): ReportFacts {
  const kernel = str(pick(r, 'kernel/release', 'kernel', 'release', 'kernelRelease'));
  if (kernel === undefined) throw new Error('the report names no kernel release (kernel.release)');
  const container = pick(r, 'container');
  const noexec = pick(r, 'memfdNoexec', 'vm.memfd_noexec', 'memfd_noexec', 'sysctl/vm.memfd_noexec', 'sysctls/vm.memfd_noexec');
  const seccomp = pick(r, 'seccomp/mode', 'seccomp');
  const uid = pick(r, 'uid');
  return {
    kernel,
    arch: str(pick(r, 'kernel/arch', 'arch')) ?? null,
    node: str(pick(r, 'node', 'nodeVersion', 'node/version')) ?? null,
    uid: typeof uid === 'number' ? uid : null,
    container: isObject(container)
      ? container.detected
        ? (str(container.engine) ?? 'yes')
        : 'no'
      : typeof container === 'boolean'
        ? container
          ? 'yes'
          : 'no'
        : (str(container) ?? 'unknown'),
    seccomp: typeof seccomp === 'number' || typeof seccomp === 'string' ? String(seccomp) : null,
    memfdNoexec: noexec === null || noexec === undefined ? 'absent' : String(noexec),
  };
}

function readVm(r: Json): VmMeta | null {
  const vm = r.vm;
  if (!isObject(vm)) return null;
  return {
    kernel: str(vm.kernel) ?? '?',
    append: str(vm.append) ?? '',
    accel: str(vm.accel) ?? '?',
    memoryMiB: Number(vm.memoryMiB ?? 0),
    bootSeconds: Number(vm.bootSeconds ?? 0),
    runSeconds: Number(vm.runSeconds ?? 0),
  };
}

function conformEntries(list: unknown[]): ReportEntry[] {
  return list.map((c, i) => {
    if (!isObject(c) || typeof c.id !== 'string' || typeof c.status !== 'string') {
      throw new Error(`case ${i} has no id and status`);
    }
    const e: ReportEntry = { id: c.id, status: c.status };
    if ('expected' in c) e.expected = c.expected;
    if ('observed' in c) e.observed = c.observed;
    if (typeof c.reason === 'string') e.reason = c.reason;
    if (c.source !== undefined) e.source = typeof c.source === 'string' ? c.source : JSON.stringify(c.source);
    return e;
  });
}

function probeEntries(features: Json): ReportEntry[] {
  return Object.entries(features).map(([id, f]) => {
    if (!isObject(f) || typeof f.status !== 'string') throw new Error(`feature ${id} has no status`);
    return { id, status: f.status, observed: f.errno ?? 'ok', reason: str(f.why) };
  });
}

/** A column title for a report. */
export function labelOf(facts: ReportFacts, vm: VmMeta | null): string {
  let label = facts.kernel;
  if (vm !== null && vm.append !== '') label += ` ${vm.append}`;
  if (facts.container !== 'no' && facts.container !== 'unknown') label += ` (${facts.container === 'yes' ? 'container' : facts.container})`;
  return label;
}

/** The JSON `memseal vm --json` writes for a kernel that gave no report. */
export function failureJson(f: { code: string; message: string }, vm: { kernel: string; append: string }, command: readonly string[]): Json {
  return { error: { code: f.code, message: f.message }, command: [...command], vm };
}

function readFailure(json: Json): Report | null {
  const error = json.error;
  if (!isObject(error) || typeof error.message !== 'string' || 'cases' in json || 'features' in json) return null;
  const vm = readVm(json);
  const kernel = vm?.kernel ?? '?';
  const facts: ReportFacts = { kernel, arch: null, node: null, uid: null, container: 'no', seccomp: null, memfdNoexec: 'absent' };
  const kind: ReportKind = Array.isArray(json.command) && json.command[0] === 'probe' ? 'probe' : 'conform';
  return { kind, facts, entries: [], vm, label: labelOf(facts, vm), raw: json, failure: { code: str(error.code) ?? 'error', message: error.message } };
}

/** Reads one parsed report; throws when it is neither a conform nor a probe report. */
export function readReport(input: unknown): Report {
  // Own fields only: a field the report lacks never reads as something inherited.
  const json = ownData(input);
  if (!isObject(json)) throw new Error('a report is a JSON object');
  const failed = readFailure(json);
  if (failed !== null) return failed;
  const cases = pick(json, 'cases', 'results');
  let kind: ReportKind;
  let entries: ReportEntry[];
  if (Array.isArray(cases)) [kind, entries] = ['conform', conformEntries(cases)];
  else if (isObject(json.features)) [kind, entries] = ['probe', probeEntries(json.features)];
  else throw new Error('not a memseal report: it has neither cases (memseal conform --json) nor features (memseal probe --json)');
  const facts = readFacts(json);
  const vm = readVm(json);
  return { kind, facts, entries, vm, label: labelOf(facts, vm), raw: json, failure: null };
}

/** Reads a file holding one report, or an array of them (`memseal vm --json` with several kernels). */
export function readReportFile(path: string): Report[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
  const list = Array.isArray(json) ? json : [json];
  return list.map((r, i) => {
    try {
      return readReport(r);
    } catch (err) {
      throw new Error(`${path}${Array.isArray(json) ? ` [${i}]` : ''}: ${(err as Error).message}`);
    }
  });
}

/** JSON with sorted keys, for comparing observed outcomes. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  }
  return v === undefined ? 'null' : JSON.stringify(v);
}

export interface EntryDiff {
  id: string;
  a: ReportEntry | undefined;
  b: ReportEntry | undefined;
  /** What differs: the status, only the observed outcome, or the case is in one report only. */
  change: 'status' | 'observed' | 'only-a' | 'only-b';
}

export interface ReportDiff {
  facts: { name: keyof ReportFacts; a: string; b: string }[];
  entries: EntryDiff[];
  /** Entries present in both with the same status and observation. */
  same: number;
}

/** The cases (or features) whose status or observed outcome differ, and the facts that differ. */
export function diffReports(a: Report, b: Report): ReportDiff {
  for (const r of [a, b]) if (r.failure !== null) throw new Error(`${r.label} gave no report (${r.failure.code}): ${r.failure.message.split('\n')[0]}`);
  if (a.kind !== b.kind) throw new Error(`cannot compare a ${a.kind} report with a ${b.kind} report`);
  const facts: ReportDiff['facts'] = [];
  for (const name of Object.keys(a.facts) as (keyof ReportFacts)[]) {
    const [x, y] = [String(a.facts[name]), String(b.facts[name])];
    if (x !== y) facts.push({ name, a: x, b: y });
  }
  const inB = new Map(b.entries.map((e) => [e.id, e]));
  const entries: EntryDiff[] = [];
  let same = 0;
  for (const ea of a.entries) {
    const eb = inB.get(ea.id);
    inB.delete(ea.id);
    if (eb === undefined) entries.push({ id: ea.id, a: ea, b: undefined, change: 'only-a' });
    else if (ea.status !== eb.status) entries.push({ id: ea.id, a: ea, b: eb, change: 'status' });
    else if (canonical(ea.observed) !== canonical(eb.observed)) entries.push({ id: ea.id, a: ea, b: eb, change: 'observed' });
    else same++;
  }
  for (const eb of inB.values()) entries.push({ id: eb.id, a: undefined, b: eb, change: 'only-b' });
  return { facts, entries, same };
}

export interface Matrix {
  columns: string[];
  /** `varies`: the status is not the same in every column; `observedVaries`: it is, but what was observed is not. */
  rows: { id: string; cells: (ReportEntry | undefined)[]; varies: boolean; observedVaries: boolean }[];
}

/** One row per case (in first-seen order), one column per report. */
export function buildMatrix(reports: readonly Report[]): Matrix {
  const kinds = new Set(reports.filter((r) => r.failure === null).map((r) => r.kind));
  if (kinds.size > 1) throw new Error('a matrix needs reports of one kind (all conform or all probe)');
  const ids: string[] = [];
  const seen = new Set<string>();
  for (const r of reports) {
    for (const e of r.entries) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      ids.push(e.id);
    }
  }
  const byId = reports.map((r) => new Map(r.entries.map((e) => [e.id, e])));
  const rows = ids.map((id) => {
    const cells = byId.map((m) => m.get(id));
    // A column without a report (a kernel that did not boot) says nothing about a row.
    const answered = cells.filter((_, i) => reports[i]!.failure === null);
    const statuses = new Set(answered.map((c) => c?.status ?? '-'));
    const observed = new Set(answered.map((c) => (c === undefined ? '-' : canonical(c.observed))));
    return { id, cells, varies: statuses.size > 1, observedVaries: statuses.size === 1 && observed.size > 1 };
  });
  return { columns: reports.map((r) => r.label), rows };
}

/** How many entries have each status. */
export function countStatuses(r: Report): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of r.entries) counts[e.status] = (counts[e.status] ?? 0) + 1;
  return counts;
}

/** True when the report holds a failed or broken case, or there is no report (the kernel did not boot). */
export function hasFailures(r: Report): boolean {
  return r.failure !== null || r.entries.some((e) => e.status === 'fail' || e.status === 'error');
}
