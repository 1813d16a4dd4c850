/**
 * The report as KernelCI KCIDB I/O data (schema v5.3, kernelci/kcidb-io):
 * one checkout and one build describing the running kernel as it reports
 * itself (release, version string, configuration source), and one test per
 * case under the path `memseal.<family>.<case>`. memseal only writes the
 * JSON; submitting it (with a lab's credentials) is the lab's business.
 *
 * Statuses: pass PASS, fail FAIL, error ERROR, skip SKIP, blocked MISS (the
 * harness around the kernel kept the case from running), deviation PASS with
 * the deviation in `misc` (FAIL under --strict).
 */
import { createHash } from 'node:crypto';
import { expectedText, sourceText } from './report.js';
import type { CaseResult, ConformanceReport, Status } from './types.js';

/** A KCIDB origin: the name of the CI system submitting the data. */
export const KCIDB_ORIGIN = /^[a-z0-9_]+$/;

/** The schema version the output follows. */
export const KCIDB_VERSION = { major: 5, minor: 3 } as const;

type KcidbStatus = 'FAIL' | 'ERROR' | 'MISS' | 'PASS' | 'DONE' | 'SKIP';

const STATUS: Readonly<Record<Status, KcidbStatus>> = {
  pass: 'PASS',
  fail: 'FAIL',
  error: 'ERROR',
  skip: 'SKIP',
  blocked: 'MISS',
  deviation: 'PASS',
};

/** The KCIDB status of one case. */
export function kcidbStatus(c: CaseResult, strict: boolean): KcidbStatus {
  return strict && c.status === 'deviation' ? 'FAIL' : STATUS[c.status];
}

/** No NUL: every free-text field of the schema excludes it. */
function text(s: string): string {
  return s.replace(/\0/g, '');
}

function hash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16);
}

function caseTest(c: CaseResult, r: ConformanceReport, origin: string, buildId: string, run: string): Record<string, unknown> {
  const misc: Record<string, unknown> = {
    memseal_status: c.status,
    expected: text(expectedText(c.expected)),
    observed: text(c.observed ?? ''),
    sources: c.source.map((s) => text(sourceText(s))),
  };
  if (c.range !== null) misc.range = text(c.range);
  if (c.reason !== null) misc.reason = text(c.reason);
  if (c.status === 'deviation') misc.deviation = text(c.reason ?? '');
  return {
    id: `${origin}:${run}:${c.id}`,
    build_id: buildId,
    origin,
    path: `memseal.${c.family}.${c.id.slice(c.family.length + 1)}`,
    comment: text(c.title),
    status: kcidbStatus(c, r.strict),
    duration: Math.round(c.durationMs) / 1000,
    environment: {
      comment: text(`${r.container.detected ? `container (${r.container.engine ?? 'pid namespace'})` : 'no container'}, uid ${r.uid}, node ${r.node}`),
      misc: { uid: r.uid, node: r.node, container: r.container, seccomp: r.seccomp, memfd_noexec: r.memfdNoexec },
    },
    misc,
  };
}

/** The KCIDB JSON for a report, with ids `ORIGIN:...`. Throws a RangeError for an origin KCIDB would refuse. */
export function renderKcidb(r: ConformanceReport, origin: string): string {
  if (!KCIDB_ORIGIN.test(origin)) throw new RangeError(`a KCIDB origin matches ${KCIDB_ORIGIN.source} (got ${JSON.stringify(origin)})`);
  const k = r.kernel;
  const uname = k.build ?? '';
  const kernelKey = hash(k.release, uname, k.arch);
  const checkoutId = `${origin}:memseal-${kernelKey}`;
  const buildId = `${origin}:memseal-${kernelKey}-${k.arch}`;
  const run = `memseal-${hash(kernelKey, r.startedAt, r.filter ?? '', String(r.strict))}`;
  const described = text(`Linux ${k.release}${uname ? ` ${uname}` : ''}`);
  const data = {
    version: { ...KCIDB_VERSION },
    checkouts: [
      {
        id: checkoutId,
        origin,
        comment: described,
        start_time: r.startedAt,
        misc: { kernel_release: text(k.release), kernel_version: text(uname), upstream_version: k.version },
      },
    ],
    builds: [
      {
        id: buildId,
        checkout_id: checkoutId,
        origin,
        comment: described,
        architecture: k.arch.toLowerCase().replace(/[^a-z0-9_]/g, '_'),
        ...(k.config !== null ? { config_name: text(k.config) } : {}),
        status: 'PASS',
        misc: { kernel_release: text(k.release), kernel_version: text(uname), config_source: k.config, cmdline: text(k.cmdline) },
      },
    ],
    tests: r.cases.map((c) => caseTest(c, r, origin, buildId, run)),
  };
  return `${JSON.stringify(data, null, 2)}\n`;
}
