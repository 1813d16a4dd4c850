/**
 * runConformance(): selects cases, decides for each which expectation
 * applies and whether its requirements hold, runs it where its isolation
 * says (in this process, in a batch child, or as pid 1 of a fresh pid
 * namespace), and judges what it observed.
 */
import { OPTION_KEYS } from '../options.js';
import { availableParallelism, version as unameVersion } from 'node:os';
import { Context } from './context.js';
import { failedSyscall } from './child.js';
import { accepted, DENIAL_ERRNOS, judge, policyDenies, rangeText, selectExpectation, unmetRequirement } from './expect.js';
import { gatherEnv } from './env.js';
import { selectCases } from './filter.js';
import { CATALOG } from './index.js';
import { pool, runIsolated, type IsolatedOutcome } from './isolate.js';
import { FAMILIES, STATUSES, type Case, type CaseResult, type ConformanceEnv, type ConformanceReport, type Expectation, type Requirement, type Status } from './types.js';
import { invalidArgType, ownOptions, validateBoolean, validateFunction, validateInteger, validateOptions, validateString } from '../validate.js';

/** Options for {@link runConformance}. */
export interface RunOptions {
  /**
   * Which cases: comma-separated patterns matched against the id, each a
   * substring (`mseal.munmap`) or a glob with `*` (`seals.*.busy-*`). Every
   * pattern must match a case (else ERR_MEMSEAL_FILTER_NO_MATCH), and there
   * must be one (an empty filter is ERR_INVALID_ARG_VALUE). Default: every case.
   */
  filter?: string;
  /** Count deviations as failures. */
  strict?: boolean;
  /** Cases to run instead of the catalog (with `modules`, for custom cases). */
  cases?: readonly Case[];
  /** Absolute paths of modules (CommonJS or ES) exporting `cases`, which child processes import to find custom cases. */
  modules?: readonly string[];
  /** A pre-gathered environment. */
  env?: ConformanceEnv;
  /** Child processes in flight at once (default: the CPUs available, at least 2). */
  concurrency?: number;
  /** Called as each case finishes. */
  onResult?: (result: CaseResult) => void;
}

/** A case with its verdict before running: the expectation that applies, or why it will not run. */
export interface PlannedCase {
  case: Case;
  expectation?: Expectation;
  /** Set when the case will not run: skipped or blocked for `requirement`, or (without one) not applicable to this kernel. */
  verdict?: { status: Status; reason: string; requirement?: Requirement };
}

function notApplicable(c: Case, env: ConformanceEnv): string {
  const ranges = c.expect.map(rangeText).join('; ');
  const version = env.kernel.version.join('.');
  const named = env.kernel.release.startsWith(`${version}`) ? env.kernel.release : `${env.kernel.release} (${version})`;
  return `no expectation for this kernel: the case covers ${ranges}; this is ${named}${env.memfdNoexec === null ? '' : ` with vm.memfd_noexec=${env.memfdNoexec}`}`;
}

/** Decides, for each case, the expectation that applies or why it is skipped or blocked. */
export function planCases(cases: readonly Case[], env: ConformanceEnv): PlannedCase[] {
  return cases.map((c) => {
    const expectation = selectExpectation(c, env);
    if (expectation === undefined) return { case: c, verdict: { status: 'skip', reason: notApplicable(c, env) } };
    const unmet = unmetRequirement(c, env);
    if (unmet !== undefined) {
      return { case: c, expectation, verdict: { status: unmet.status ?? 'skip', reason: unmet.reason ?? 'requirement not met', requirement: unmet.requirement } };
    }
    return { case: c, expectation };
  });
}

function baseResult(p: PlannedCase): Omit<CaseResult, 'status' | 'observed' | 'reason' | 'durationMs'> {
  return {
    id: p.case.id,
    family: p.case.family,
    title: p.case.title,
    expected: p.expectation === undefined ? null : accepted(p.expectation).length === 1 ? accepted(p.expectation)[0]! : accepted(p.expectation),
    range: p.expectation === undefined ? null : rangeText(p.expectation),
    source: [...p.case.source],
  };
}

/** The result of a planned case from what it observed (or how it broke). */
export function finish(p: PlannedCase, outcome: IsolatedOutcome, env: ConformanceEnv): CaseResult {
  const base = baseResult(p);
  if (p.verdict !== undefined) return { ...base, status: p.verdict.status, observed: null, reason: p.verdict.reason, durationMs: 0 };
  if (outcome.observed === undefined) {
    const f = outcome.failedSyscall;
    if (f !== undefined && DENIAL_ERRNOS.has(f.code) && policyDenies(env, f.syscall)) {
      const reason = `a seccomp filter or LSM denies ${f.syscall} here (the kernel has it): the case stopped on its ${f.code}`;
      return { ...base, status: 'blocked', observed: null, reason, durationMs: outcome.durationMs };
    }
    if (f !== undefined) {
      // The kernel answered a call with an errno the case did not expect:
      // that is what it observed, not a broken case.
      const observed = `${f.syscall}=${f.code}`;
      const reason = `the case stopped on an unexpected ${f.code} from ${f.syscall} (${outcome.error ?? 'no message'})`;
      return { ...base, status: 'fail', observed, reason, durationMs: outcome.durationMs };
    }
    return { ...base, status: 'error', observed: null, reason: outcome.error ?? 'no outcome', durationMs: outcome.durationMs };
  }
  const { status, reason } = judge(p.case, p.expectation!, outcome.observed, env);
  return { ...base, status, observed: outcome.observed, reason, durationMs: outcome.durationMs };
}

/** Runs one planned inline case in this process. */
export async function runInline(p: PlannedCase, env: ConformanceEnv): Promise<IsolatedOutcome> {
  const started = performance.now();
  const ctx = new Context(env);
  try {
    const observed = await p.case.run(ctx);
    return { observed: String(observed), durationMs: performance.now() - started };
  } catch (err) {
    return { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err), failedSyscall: failedSyscall(err), durationMs: performance.now() - started };
  } finally {
    ctx.release();
  }
}

/** The batches of child cases in `planned` still to run, and the pid namespace cases. */
function childTasks(planned: readonly PlannedCase[]): { batches: Case[][]; alone: Case[][]; pidns: Case[] } {
  const runnable = planned.filter((p) => p.verdict === undefined).map((p) => p.case);
  const batches = new Map<string, Case[]>();
  const pidns: Case[] = [];
  for (const c of runnable) {
    if (c.isolation === 'pidns') pidns.push(c);
    else if (c.isolation === 'child') batches.set(c.batch ?? c.family, [...(batches.get(c.batch ?? c.family) ?? []), c]);
  }
  const all = [...batches.values()];
  return { batches: all.filter((b) => !b.some((c) => c.alone !== undefined)), alone: all.filter((b) => b.some((c) => c.alone !== undefined)), pidns };
}

/**
 * Starts the isolated cases of `planned` (children run in parallel) and
 * resolves with their outcomes; the batches that must run alone are left to
 * runAloneChildren.
 */
export async function runChildren(
  planned: readonly PlannedCase[],
  env: ConformanceEnv,
  options: { modules?: readonly string[]; concurrency?: number } = {},
): Promise<Map<string, IsolatedOutcome>> {
  const { modules, concurrency } = ownOptions(options) as typeof options;
  const { batches, pidns } = childTasks(planned);
  // The biggest batches first (they set the wall time), then one process per pid namespace case.
  const tasks = [
    ...batches.sort((x, y) => y.length - x.length).map((batch) => () => runIsolated(batch, 'run', env, modules)),
    ...pidns.map((c) => () => runIsolated([c], 'pidns', env, modules)),
  ];
  const maps = await pool(tasks, concurrency ?? Math.max(2, availableParallelism()));
  return new Map(maps.flatMap((m) => [...m]));
}

/** Runs the batches of `planned` whose cases must run alone, one after another, and resolves with their outcomes. */
export async function runAloneChildren(
  planned: readonly PlannedCase[],
  env: ConformanceEnv,
  options: { modules?: readonly string[] } = {},
): Promise<Map<string, IsolatedOutcome>> {
  const { modules } = ownOptions(options) as typeof options;
  const outcomes = new Map<string, IsolatedOutcome>();
  for (const batch of childTasks(planned).alone) {
    for (const [id, outcome] of await runIsolated(batch, 'run', env, modules)) outcomes.set(id, outcome);
  }
  return outcomes;
}

function summarize(results: readonly CaseResult[]): ConformanceReport['summary'] {
  const summary = { total: results.length } as ConformanceReport['summary'];
  for (const s of STATUSES) summary[s] = 0;
  for (const r of results) summary[r.status]++;
  return summary;
}

/** Checks RunOptions before anything runs, naming the bad argument. */
function validateRunOptions(value: unknown): RunOptions {
  const o = validateOptions<RunOptions>(value, 'options', OPTION_KEYS.runConformance);
  if (o.filter !== undefined) validateString(o.filter, 'options.filter');
  if (o.strict !== undefined) validateBoolean(o.strict, 'options.strict');
  if (o.concurrency !== undefined) validateInteger(o.concurrency, 'options.concurrency', 1, 256);
  if (o.onResult !== undefined) validateFunction(o.onResult, 'options.onResult');
  if (o.env !== undefined && (o.env === null || typeof o.env !== 'object')) throw invalidArgType('options.env', 'of type object', o.env);
  if (o.cases !== undefined) {
    if (!Array.isArray(o.cases)) throw invalidArgType('options.cases', 'an array of cases', o.cases);
    o.cases.forEach((c: unknown, i) => {
      const k = c as Partial<Case> | null;
      if (k === null || typeof k !== 'object' || typeof k.id !== 'string' || typeof k.run !== 'function') {
        throw invalidArgType(`options.cases[${i}]`, 'a case ({ id, run, ... })', c);
      }
    });
  }
  if (o.modules !== undefined) {
    if (!Array.isArray(o.modules)) throw invalidArgType('options.modules', 'an array of absolute paths', o.modules);
    o.modules.forEach((m: unknown, i) => {
      if (typeof m !== 'string' || !m.startsWith('/')) throw invalidArgType(`options.modules[${i}]`, 'an absolute path', m);
    });
  }
  return o;
}

/**
 * Runs the conformance catalog (or `options.cases`) against the running
 * kernel and returns the report. Never throws for a case: a case that breaks
 * is an `error`, one whose child crashes or hangs too.
 * @throws TypeError ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE for bad
 *   options (an empty `filter` among them), before anything runs.
 * @throws MemsealError ERR_MEMSEAL_FILTER_NO_MATCH when a `filter` entry
 *   matches no case, before anything runs.
 */
export async function runConformance(options?: RunOptions): Promise<ConformanceReport> {
  options = validateRunOptions(options);
  const selected = selectCases(options.cases ?? CATALOG, options.filter);
  const startedAt = new Date();
  const t0 = performance.now();
  const env = options.env ?? gatherEnv();
  const planned = planCases(selected, env);
  const isolated = runChildren(planned, env, options);
  const results = new Map<string, CaseResult>();
  const emit = (r: CaseResult): void => {
    results.set(r.id, r);
    options.onResult?.(r);
  };
  for (const p of planned) {
    if (p.verdict !== undefined) emit(finish(p, { durationMs: 0 }, env));
    else if ((p.case.isolation ?? 'inline') === 'inline') emit(finish(p, await runInline(p, env), env));
  }
  const outcomes = await isolated;
  // Only now, with nothing else running: the cases that measure what the whole uid shares.
  for (const [id, outcome] of await runAloneChildren(planned, env, options)) outcomes.set(id, outcome);
  for (const p of planned) {
    if (!results.has(p.case.id)) emit(finish(p, outcomes.get(p.case.id) ?? { error: 'no outcome from the child', durationMs: 0 }, env));
  }
  const familyOrder = (c: CaseResult): number => FAMILIES.indexOf(c.family);
  const ordered = planned.map((p) => results.get(p.case.id)!).sort((a, b) => familyOrder(a) - familyOrder(b));
  return {
    schema: 'memseal-conformance/1',
    kernel: { release: env.kernel.release, version: env.kernel.version.join('.'), build: unameVersion(), arch: env.kernel.arch, cmdline: env.cmdline, config: env.config.source },
    node: env.node,
    uid: env.uid,
    facts: { thp: env.thp, procMem: env.procMem, powerStates: env.powerStates },
    container: env.container,
    seccomp: env.seccomp,
    memfdNoexec: env.memfdNoexec,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    strict: options.strict === true,
    filter: options.filter ?? null,
    summary: summarize(ordered),
    cases: ordered,
  };
}

/** True when the report should make `memseal conform` exit non-zero. */
export function reportFailed(report: ConformanceReport): boolean {
  return report.summary.fail > 0 || report.summary.error > 0 || (report.strict && report.summary.deviation > 0);
}
