/**
 * `memseal conform --ktap`: KTAP version 1 as Documentation/dev-tools/ktap.rst
 * describes it, read back by the kernel's own parser (tools/testing/kunit/
 * kunit.py parse, from Debian's linux-source-6.12), which must find every
 * case with the status memseal gave it; and kselftest's exit statuses.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ktapExitStatus, renderKtap } from '../lib/conformance/ktap.js';
import { CATALOG } from '../lib/conformance/index.js';
import { FAMILIES, type CaseResult, type ConformanceReport, type Status } from '../lib/conformance/types.js';
import { itIf } from './helpers/caps.js';
import { root } from './helpers/child.js';
import { kernelToolsMissing, kunitCounts, kunitParse, kunitStatusOf } from './helpers/kernel-tools.js';
import { fakeReport } from './helpers/report-fixture.js';

const cli = join(root, 'dist', 'cli', 'main.js');
const toolsWhy = kernelToolsMissing();
const itKunit = itIf(toolsWhy === '', toolsWhy);

function result(id: string, status: Status, extra: Partial<CaseResult> = {}): CaseResult {
  return {
    id,
    family: id.split('.')[0] as CaseResult['family'],
    title: `title of ${id}`,
    status,
    expected: status === 'fail' ? 'EINVAL' : 'ok',
    observed: status === 'fail' ? 'ok' : status === 'deviation' ? 'EPERM' : status === 'pass' ? 'ok' : null,
    reason: status === 'pass' ? null : `why ${id} is ${status} # with a hash\nand a second line`,
    range: '>= 6.3',
    source: [{ kind: 'man', path: 'man2/memfd_create.2' }],
    durationMs: 3,
    ...extra,
  };
}

const report = (cases: CaseResult[], strict = false): ConformanceReport => fakeReport(cases, strict);

const mixed = [
  result('memfd.a.pass', 'pass'),
  result('memfd.b.fail', 'fail'),
  result('memfd.c.error', 'error'),
  result('seals.d.deviation', 'deviation'),
  result('seals.e.skip', 'skip'),
  result('seals.f.blocked', 'blocked'),
  result('mseal.g.skip', 'skip'),
];

describe('KTAP rendering', () => {
  it('a version line, a plan of families, one nested block per family with its own version line and plan, one result line per case', () => {
    const lines = renderKtap(report(mixed)).trimEnd().split('\n');
    expect(lines.slice(0, 2)).toEqual(['KTAP version 1', '1..3']);
    expect(lines.slice(2, 5)).toEqual(['  KTAP version 1', '  # Subtest: memfd', '  1..3']);
    expect(lines).toContain('  ok 1 memfd.a.pass');
    expect(lines).toContain('  not ok 2 memfd.b.fail');
    expect(lines).toContain('not ok 1 memfd');
    expect(lines).toContain('ok 2 seals');
    expect(lines).toContain('ok 3 mseal # SKIP every case skipped');
    // Every line is KTAP: a version line, a plan, a result line or a diagnostic.
    for (const l of lines) expect(l).toMatch(/^( {2})?(KTAP version 1|1\.\.\d+|(not )?ok \d+ [a-z0-9.-]+( # .*)?|# .*)$/);
    // Descriptions are the ids, and no free text brings in a second '#' or a line break.
    for (const l of lines.filter((x) => /^ *(not )?ok /.test(x))) expect(l.split('#').length).toBeLessThanOrEqual(2);
    expect(renderKtap(report(mixed))).not.toMatch(/^\s*(---|\.\.\.)\s*$/m); // no YAML
  });

  it('skip and blocked are # SKIP naming which, a deviation # XFAIL with its reason, a fail has expected/observed diagnostics, an error # ERROR', () => {
    const text = renderKtap(report(mixed));
    expect(text).toMatch(/^ {2}ok 2 seals\.e\.skip # SKIP skip: why seals\.e\.skip is skip no\. with a hash and a second line$/m);
    expect(text).toMatch(/^ {2}ok 3 seals\.f\.blocked # SKIP blocked: why/m);
    expect(text).toMatch(/^ {2}ok 1 seals\.d\.deviation # XFAIL why seals\.d\.deviation/m);
    expect(text).toMatch(/^ {2}# expected EINVAL \(kernel >= 6\.3\)\n {2}# observed ok\n {2}# why memfd\.b\.fail[^\n]*\n {2}not ok 2 memfd\.b\.fail$/m);
    expect(text).toMatch(/^ {2}not ok 3 memfd\.c\.error # ERROR why memfd\.c\.error is error/m);
    expect(text).toMatch(/^# Totals: pass:1 fail:1 xfail:1 xpass:0 skip:3 error:1$/m);
  });

  it('under --strict a deviation is not ok, and fails its family', () => {
    const text = renderKtap(report([result('seals.d.deviation', 'deviation'), result('seals.x.pass', 'pass')], true));
    expect(text).toMatch(/^ {2}not ok 1 seals\.d\.deviation$/m);
    expect(text).toMatch(/^not ok 1 seals$/m);
    expect(text).not.toMatch(/XFAIL/);
  });

  it("exits as kselftest: 0 when nothing failed, 1 on a fail or error (or a deviation under --strict), 4 when every case was skipped", () => {
    expect(ktapExitStatus(report([result('memfd.a', 'pass'), result('memfd.b', 'skip'), result('memfd.c', 'deviation')]))).toBe(0);
    expect(ktapExitStatus(report([result('memfd.a', 'pass'), result('memfd.b', 'fail')]))).toBe(1);
    expect(ktapExitStatus(report([result('memfd.a', 'pass'), result('memfd.b', 'error')]))).toBe(1);
    expect(ktapExitStatus(report([result('memfd.c', 'deviation')], true))).toBe(1);
    expect(ktapExitStatus(report([result('memfd.a', 'skip'), result('memfd.b', 'blocked')]))).toBe(4);
  });

  itKunit("the kernel's kunit.py parse finds every case with its status, and the counts", () => {
    for (const strict of [false, true]) {
      const r = report(mixed, strict);
      const parsed = kunitParse(renderKtap(r));
      expect([...parsed.cases.keys()].sort(), parsed.output).toEqual(mixed.map((c) => c.id).sort());
      for (const c of mixed) expect(parsed.cases.get(c.id), c.id).toBe(kunitStatusOf(c.status, strict));
      expect(kunitCounts(parsed.summary)).toEqual({ ran: 7, passed: strict ? 1 : 2, failed: strict ? 3 : 2, skipped: 3 });
    }
  });
});

describe('names as labs read them', () => {
  it("every case id and family stays unique as LKFT's [A-Za-z0-9_-] slug", () => {
    const names = [...CATALOG.map((c) => c.id), ...FAMILIES];
    const slugs = names.map((n) => `memseal_${n.replace(/[^A-Za-z0-9_-]/g, '_')}`);
    expect(new Set(slugs).size).toBe(names.length);
  });
});

describe('memseal conform --ktap', () => {
  it('with --json, --tap or --junit is a usage error (2) and runs nothing', () => {
    for (const other of [['--json'], ['--tap'], ['--junit', '/tmp/x.xml'], ['--kcidb', 'lab']]) {
      const r = spawnSync(process.execPath, [cli, 'conform', '--ktap', ...other], { encoding: 'utf8' });
      expect(r.status, other.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/choose one of/);
    }
  });

  itKunit('on this machine: kunit.py finds every case with the status and counts `conform --json` gives, and the exit status follows kselftest', () => {
    const json = spawnSync(process.execPath, [cli, 'conform', '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const ktap = spawnSync(process.execPath, [cli, 'conform', '--ktap'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const j = JSON.parse(json.stdout) as ConformanceReport;
    const parsed = kunitParse(ktap.stdout);
    expect(parsed.cases.size, parsed.output.slice(-2000)).toBe(j.summary.total);
    const differ = j.cases.filter((c) => parsed.cases.get(c.id) !== kunitStatusOf(c.status)).map((c) => `${c.id}: ${c.status} -> ${parsed.cases.get(c.id)}`);
    expect(differ).toEqual([]);
    const s = j.summary;
    expect(kunitCounts(parsed.summary)).toEqual({ ran: s.total, passed: s.pass + s.deviation, failed: s.fail + s.error, skipped: s.skip + s.blocked });
    expect(ktap.status).toBe(s.fail + s.error > 0 ? 1 : s.skip + s.blocked === s.total ? 4 : 0);
    console.log(`[ktap] kunit.py: ${parsed.summary}; memseal --json: ${JSON.stringify(s)}`);
  }, 120_000);
});
