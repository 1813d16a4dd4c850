/**
 * The conformance catalog under vitest: one test per case, the same cases
 * and judgement `memseal conform` uses. Inline cases run inside the test;
 * isolated ones (child processes, pid namespaces) start together before the
 * tests and each test awaits its own result.
 *
 * A skip says why. Under MEMSEAL_REQUIRE_ALL=1 (CI: root on 6.18), a skip
 * for a requirement such a machine has, or a `blocked` result (CI runs under
 * no seccomp filter), fails instead. A skip for something the machine
 * visibly has (by the independent probe in helpers/caps.ts) always fails.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gatherEnv } from '../lib/conformance/env.js';
import { CATALOG } from '../lib/conformance/index.js';
import { expectedText } from '../lib/conformance/report.js';
import { finish, planCases, runAloneChildren, runChildren, runInline, type PlannedCase } from '../lib/conformance/run.js';
import { FAMILIES, type Requirement } from '../lib/conformance/types.js';
import type { IsolatedOutcome } from '../lib/conformance/isolate.js';
import { caps, requireAll } from './helpers/caps.js';

/** What CI (root, Linux 6.18, no container) has; a skip for one of these fails under MEMSEAL_REQUIRE_ALL=1. */
const CI_HAS: ReadonlySet<Requirement> = new Set<Requirement>(['root', 'pidns', 'secretmem', 'mseal', 'hugetlb', 'secondProcess', 'ptrace', 'machineCode', 'sh', 'devShm', 'procMemForce', 'ipcLock']);

/** Requirements the independent probe can confirm on this machine. */
function machineVisiblyHas(r: Requirement): boolean {
  switch (r) {
    case 'root':
      return caps.root;
    case 'secretmem':
      return caps.secretmem;
    case 'mseal':
      return caps.mseal;
    case 'hugetlb':
      return caps.hugetlb;
    case 'hugepages':
      return caps.freeHugePages;
    case 'pidns':
      return caps.root && caps.pidNamespace && caps.memfdNoexec !== null;
    default:
      return false;
  }
}

const env = gatherEnv();
const planned = planCases(CATALOG, env);
let isolated: Promise<Map<string, IsolatedOutcome>>;
// The cases that must run alone, once every other child has ended (tests run one at a time).
let alone: Promise<Map<string, IsolatedOutcome>> | undefined;

beforeAll(() => {
  isolated = runChildren(planned, env);
  isolated.catch(() => undefined); // surfaced by each test
});

async function outcomeOf(p: PlannedCase): Promise<IsolatedOutcome> {
  if (p.verdict !== undefined) return { durationMs: 0 };
  if ((p.case.isolation ?? 'inline') === 'inline') return runInline(p, env);
  if (p.case.alone !== undefined) {
    alone ??= isolated.then(() => runAloneChildren(planned, env));
    return (await alone).get(p.case.id) ?? { error: 'no outcome from the child process', durationMs: 0 };
  }
  return (await isolated).get(p.case.id) ?? { error: 'no outcome from the child process', durationMs: 0 };
}

it('the catalog has at least 230 cases, every one with a source and a version range', () => {
  expect(CATALOG.length).toBeGreaterThanOrEqual(230);
  for (const c of CATALOG) {
    expect(c.source.length, c.id).toBeGreaterThan(0);
    expect(c.expect.length, c.id).toBeGreaterThan(0);
    expect(c.expect.every((e) => e.since !== undefined || e.before !== undefined), `${c.id} states its kernel range`).toBe(true);
  }
});

for (const family of FAMILIES) {
  describe(family, () => {
    for (const p of planned.filter((x) => x.case.family === family)) {
      it(p.case.id, async (ctx) => {
        const r = finish(p, await outcomeOf(p), env);
        const requirement = p.verdict?.requirement;
        if (r.status === 'skip' && requirement !== undefined) {
          if (machineVisiblyHas(requirement)) throw new Error(`skipped for ${requirement}, which this machine has: ${r.reason}`);
          if (requireAll && CI_HAS.has(requirement)) throw new Error(`required on this machine (MEMSEAL_REQUIRE_ALL=1) but unavailable: ${r.reason}`);
        }
        if (r.status === 'blocked' && requireAll) throw new Error(`blocked under MEMSEAL_REQUIRE_ALL=1: ${r.reason}`);
        if (r.status === 'skip' || r.status === 'blocked') {
          ctx.skip(`${r.status}: ${r.reason ?? ''}`);
          return;
        }
        const detail = `${p.case.id}: expected ${expectedText(r.expected)} (${r.range ?? ''}), observed ${r.observed ?? ''}; ${r.reason ?? ''}`;
        if (r.status === 'deviation') ctx.annotate(`deviation: ${r.reason ?? ''}`);
        expect(['pass', 'deviation'], detail).toContain(r.status);
      });
    }
  });
}
