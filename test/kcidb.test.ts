/**
 * `memseal conform --kcidb ORIGIN`: KernelCI KCIDB I/O JSON, validated with
 * ajv against test/fixtures/kcidb-v5.3.schema.json (memseal's rendition of
 * kernelci/kcidb-io's v5.3 schema for the objects it writes): a checkout and
 * a build from what the kernel says about itself, one test per case with
 * path memseal.<family>.<case> and the status mapping the README gives.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { kcidbStatus, renderKcidb } from '../lib/conformance/kcidb.js';
import type { CaseResult, ConformanceReport, Status } from '../lib/conformance/types.js';
import { fixtures, root } from './helpers/child.js';
import { fakeReport } from './helpers/report-fixture.js';

const cli = join(root, 'dist', 'cli', 'main.js');
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function validator(): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  addFormats(ajv);
  return ajv.compile(JSON.parse(readFileSync(join(fixtures, 'kcidb-v5.3.schema.json'), 'utf8')) as object);
}
const validate = validator();

function valid(doc: unknown): string[] {
  return validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

const STATUSES: Status[] = ['pass', 'fail', 'error', 'skip', 'blocked', 'deviation'];

function report(strict: boolean): ConformanceReport {
  const cases: CaseResult[] = STATUSES.map((status, i) => ({
    id: `${['memfd', 'seals', 'exec', 'secret', 'mseal', 'hugetlb'][i]}.case.${status}`,
    family: (['memfd', 'seals', 'exec', 'secret', 'mseal', 'hugetlb'] as const)[i]!,
    title: `a ${status} case`,
    status,
    expected: ['ok', 'EINVAL'],
    observed: status === 'pass' ? 'ok' : status === 'skip' || status === 'blocked' ? null : 'EPERM',
    reason: status === 'pass' ? null : `why it is ${status}`,
    range: '>= 6.10',
    source: [{ kind: 'selftest', path: 'torvalds/linux tools/testing/selftests/mm/mseal_test.c', test: 'test_seal_mprotect' }],
    durationMs: 12.5,
  }));
  return fakeReport(cases, strict, {
    release: '7.3.4+deb13-cloud-amd64',
    version: '7.3.4',
    build: '#1 SMP PREEMPT_DYNAMIC Debian 7.3.4-1~bpo13+1 (2026-11-20)',
    config: '/boot/config-7.3.4+deb13-cloud-amd64',
  });
}

interface Kcidb {
  version: { major: number; minor: number };
  checkouts: { id: string; origin: string }[];
  builds: { id: string; checkout_id: string; architecture: string; config_name?: string; comment: string }[];
  tests: { id: string; build_id: string; origin: string; path: string; status: string; duration: number; misc: Record<string, unknown> }[];
}

describe('KCIDB rendering', () => {
  it('is valid against the v5.3 schema: a checkout, a build, one test per case with ids ORIGIN:...', () => {
    const doc = JSON.parse(renderKcidb(report(false), 'memseal_lab')) as Kcidb;
    expect(valid(doc)).toEqual([]);
    expect(doc.version).toEqual({ major: 5, minor: 3 });
    expect(doc.builds[0]!.checkout_id).toBe(doc.checkouts[0]!.id);
    expect(doc.builds[0]!.comment).toContain('7.3.4+deb13-cloud-amd64 #1 SMP PREEMPT_DYNAMIC Debian 7.3.4-1~bpo13+1');
    expect(doc.builds[0]!.config_name).toBe('/boot/config-7.3.4+deb13-cloud-amd64');
    expect(doc.tests).toHaveLength(6);
    for (const t of doc.tests) {
      expect(t.id.startsWith('memseal_lab:')).toBe(true);
      expect(t.build_id).toBe(doc.builds[0]!.id);
      expect(t.duration).toBe(0.013);
    }
    expect(doc.tests.map((t) => t.path)).toEqual(['memseal.memfd.case.pass', 'memseal.seals.case.fail', 'memseal.exec.case.error', 'memseal.secret.case.skip', 'memseal.mseal.case.blocked', 'memseal.hugetlb.case.deviation']);
  });

  it('maps pass PASS, fail FAIL, error ERROR, skip SKIP, blocked MISS, deviation PASS with the deviation in misc (FAIL under --strict)', () => {
    const plain = JSON.parse(renderKcidb(report(false), 'lab')) as Kcidb;
    expect(plain.tests.map((t) => t.status)).toEqual(['PASS', 'FAIL', 'ERROR', 'SKIP', 'MISS', 'PASS']);
    expect(plain.tests[5]!.misc.deviation).toBe('why it is deviation');
    const strict = JSON.parse(renderKcidb(report(true), 'lab')) as Kcidb;
    expect(valid(strict)).toEqual([]);
    expect(strict.tests.map((t) => t.status)).toEqual(['PASS', 'FAIL', 'ERROR', 'SKIP', 'MISS', 'FAIL']);
    expect(STATUSES.map((s) => kcidbStatus({ status: s } as CaseResult, false))).toEqual(['PASS', 'FAIL', 'ERROR', 'SKIP', 'MISS', 'PASS']);
  });

  it('the schema is not a rubber stamp: a bad status, a missing build_id, a path with a space, an unknown field are refused', () => {
    const doc = JSON.parse(renderKcidb(report(false), 'lab')) as Kcidb & Record<string, unknown>;
    const broken = (change: (d: Kcidb & Record<string, unknown>) => void): string[] => {
      const copy = structuredClone(doc);
      change(copy);
      return valid(copy);
    };
    expect(broken((d) => (d.tests[0]!.status = 'OK'))).not.toEqual([]);
    expect(broken((d) => delete (d.tests[0] as Partial<Kcidb['tests'][0]>).build_id)).not.toEqual([]);
    expect(broken((d) => (d.tests[0]!.path = 'memseal.a case'))).not.toEqual([]);
    expect(broken((d) => ((d.tests[0] as unknown as Record<string, unknown>).verdict = 'x'))).not.toEqual([]);
    expect(broken((d) => (d.checkouts[0]!.origin = 'Lab-1'))).not.toEqual([]);
    expect(() => renderKcidb(report(false), 'Lab-1')).toThrow(RangeError);
  });
});

describe('memseal conform --kcidb ORIGIN', () => {
  it('an origin KCIDB would refuse, or another output option with it: usage error (2), nothing printed', () => {
    for (const args of [['--kcidb', 'My-Lab'], ['--kcidb', ''], ['--kcidb', 'lab', '--json'], ['--kcidb', 'lab', '--ktap']]) {
      const r = spawnSync(process.execPath, [cli, 'conform', ...args], { encoding: 'utf8' });
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
    }
  });

  it('on this machine: valid v5.3 JSON on stdout, one test per case, the statuses mapped from the run', () => {
    const r = spawnSync(process.execPath, [cli, 'conform', '--kcidb', 'memseal_ci'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    expect([0, 1]).toContain(r.status);
    const doc = JSON.parse(r.stdout) as Kcidb;
    expect(valid(doc)).toEqual([]);
    expect(doc.tests.length).toBeGreaterThanOrEqual(230);
    expect(new Set(doc.tests.map((t) => t.path)).size).toBe(doc.tests.length);
    for (const t of doc.tests) expect(t.status).toBe(kcidbStatus({ status: t.misc.memseal_status } as CaseResult, false));
    expect(doc.builds[0]!.comment).toMatch(/^Linux \S+ #/);
  }, 120_000);
});
