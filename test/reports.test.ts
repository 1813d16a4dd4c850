/**
 * Reports as `memseal vm` and `memseal diff` read them: conform reports (the
 * fixtures under test/fixtures/reports follow DESIGN.md's fields) and probe
 * reports, the diff between two, and the matrix of several.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { probe } from '../lib/probe.js';
import { buildMatrix, diffReports, hasFailures, readReport, readReportFile } from '../lib/reports.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const fixture = (name: string): string => join(root, 'test', 'fixtures', 'reports', name);
const [HOST, OLD, DOCKER] = ['conform-6.18-host.json', 'conform-6.1-vm.json', 'conform-6.18-docker.json'].map(fixture) as [string, string, string];
const work = mkdtempSync(join(tmpdir(), 'memseal-reports-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function memseal(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [join(root, 'dist', 'cli', 'main.js'), ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
}

describe('readReport', () => {
  it('reads a conform report: facts, cases, the vm object', () => {
    const [r] = readReportFile(OLD);
    expect(r!.kind).toBe('conform');
    expect(r!.facts).toEqual({ kernel: '6.1.0-56-cloud-amd64', arch: 'x64', node: 'v20.20.2', uid: 0, container: 'no', seccomp: null, memfdNoexec: 'absent' });
    expect(r!.entries).toHaveLength(8);
    expect(r!.entries[2]).toEqual({
      id: 'memfd.exec.mode',
      status: 'pass',
      expected: 'EINVAL',
      observed: 'EINVAL',
      reason: 'MFD_EXEC needs Linux 6.3',
      source: 'torvalds/linux tools/testing/selftests/memfd/memfd_test.c test_exec_flag',
    });
    expect(r!.vm?.append).toBe('');
    expect(r!.label).toBe('6.1.0-56-cloud-amd64');
  });

  it('accepts the other spellings of the fields', () => {
    const r = readReport({
      kernel: '6.12.1',
      arch: 'x64',
      'vm.memfd_noexec': 2,
      container: true,
      results: [{ id: 'a', status: 'pass', source: { repo: 'torvalds/linux', path: 'x.c' } }],
    });
    expect(r.facts.kernel).toBe('6.12.1');
    expect(r.facts.memfdNoexec).toBe('2');
    expect(r.facts.container).toBe('yes');
    expect(r.label).toBe('6.12.1 (container)');
    expect(r.entries[0]!.source).toBe('{"repo":"torvalds/linux","path":"x.c"}');
  });

  it("reads this machine's probe report, one entry per feature", () => {
    const p = probe();
    const r = readReport(JSON.parse(JSON.stringify(p)));
    expect(r.kind).toBe('probe');
    expect(r.entries.map((e) => e.id)).toEqual(Object.keys(p.features));
    expect(r.entries.find((e) => e.id === 'memfd_create')).toMatchObject({ status: 'supported', observed: 'ok' });
    expect(r.facts.kernel).toBe(p.kernel.release);
  });

  it('refuses what is not a report', () => {
    expect(() => readReport([])).toThrow('a report is a JSON object');
    expect(() => readReport({ kernel: { release: '6.1' } })).toThrow(/neither cases .* nor features/);
    expect(() => readReport({ cases: [] })).toThrow(/no kernel release/);
    expect(() => readReport({ kernel: '6.1', cases: [{ id: 'x' }] })).toThrow('case 0 has no id and status');
  });
});

describe('diffReports', () => {
  const [host, old, docker] = [HOST, OLD, DOCKER].map((f) => readReportFile(f)[0]!);

  it('finds the cases whose status or observation differ, and the facts', () => {
    const d = diffReports(host!, old!);
    expect(d.entries.map((e) => [e.id, e.change])).toEqual([
      ['memfd.exec.mode', 'observed'],
      ['memfd.noexec-seal.mode', 'observed'],
      ['secret.create', 'status'],
      ['mseal.munmap.eperm', 'observed'],
      ['mseal.mprotect.eperm', 'observed'],
    ]);
    expect(d.same).toBe(3);
    expect(d.facts).toEqual([
      { name: 'kernel', a: '6.18.44-fc-v669', b: '6.1.0-56-cloud-amd64' },
      { name: 'memfdNoexec', a: '0', b: 'absent' },
    ]);
    expect(diffReports(host!, host!).entries).toEqual([]);
  });

  it('compares a host with a container: the blocked cases', () => {
    const d = diffReports(host!, docker!);
    expect(d.entries.map((e) => `${e.id}: ${e.a?.status} -> ${e.b?.status}`)).toEqual(['mseal.munmap.eperm: pass -> blocked', 'mseal.mprotect.eperm: pass -> blocked']);
    expect(d.facts).toEqual([{ name: 'container', a: 'no', b: 'docker' }]);
    expect(hasFailures(docker!)).toBe(false);
  });

  it('lists cases found in one report only, and refuses mixed kinds', () => {
    const fewer = readReport({ ...host!.raw, cases: (host!.raw.cases as unknown[]).slice(1) });
    const extra = readReport({ ...host!.raw, cases: [...(host!.raw.cases as unknown[]), { id: 'new.case', status: 'pass' }] });
    expect(diffReports(host!, fewer).entries.map((e) => [e.id, e.change])).toEqual([['memfd.name.too-long', 'only-a']]);
    expect(diffReports(host!, extra).entries.map((e) => [e.id, e.change])).toEqual([['new.case', 'only-b']]);
    expect(() => diffReports(host!, readReport(JSON.parse(JSON.stringify(probe()))))).toThrow('cannot compare a conform report with a probe report');
  });

  it('builds a matrix: rows in first-seen order, varying rows marked', () => {
    const m = buildMatrix([host!, old!, docker!]);
    expect(m.columns).toEqual(['6.18.44-fc-v669', '6.1.0-56-cloud-amd64', '6.18.44-fc-v669 (docker)']);
    expect(m.rows.filter((r) => r.varies).map((r) => r.id)).toEqual(['secret.create', 'mseal.munmap.eperm', 'mseal.mprotect.eperm']);
    expect(m.rows.filter((r) => r.observedVaries).map((r) => r.id)).toEqual(['memfd.exec.mode', 'memfd.noexec-seal.mode']);
    expect(m.rows.find((r) => r.id === 'mseal.munmap.eperm')!.cells.map((c) => c?.status)).toEqual(['pass', 'pass', 'blocked']);
  });
});

describe('memseal diff', () => {
  it('exits 1 and lists the differing cases, 0 when nothing differs, 2 on bad input', () => {
    const d = memseal(['diff', HOST, OLD]);
    expect(d.status).toBe(1);
    expect(d.stdout).toMatch(/^mseal\.munmap\.eperm\s+pass \(EPERM\)\s+pass \(ENOSYS\)$/m);
    expect(d.stdout).toMatch(/^secret\.create\s+pass\s+skip$/m);
    expect(d.stdout).toMatch(/^vm\.memfd_noexec\s+0\s+absent$/m);
    expect(d.stdout).toContain('5 cases differ, 3 the same');
    const same = memseal(['diff', HOST, HOST]);
    expect(same.status).toBe(0);
    expect(same.stdout).toContain('no cases differ (8 the same)');
    const bad = join(work, 'bad.json');
    writeFileSync(bad, '{"kernel": "6.1"');
    const broken = memseal(['diff', HOST, bad]);
    expect(broken.status).toBe(2);
    expect(broken.stderr).toContain(`memseal diff: ${bad}: `);
    expect(memseal(['diff', HOST]).status).toBe(2);
  });

  it('--json gives the same rows', () => {
    const d = memseal(['diff', '--json', HOST, DOCKER]);
    const out = JSON.parse(d.stdout) as { differ: { id: string; change: string }[]; same: number };
    expect(out.differ.map((e) => e.id)).toEqual(['mseal.munmap.eperm', 'mseal.mprotect.eperm']);
    expect(out.same).toBe(6);
  });

  it('refuses a file with several reports', () => {
    const both = join(work, 'both.json');
    writeFileSync(both, JSON.stringify([JSON.parse(readFileSync(HOST, 'utf8')), JSON.parse(readFileSync(OLD, 'utf8'))]));
    const r = memseal(['diff', both, HOST]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('holds 2 reports');
  });
});

describe('memseal vm --report (a matrix from saved reports, no boot)', () => {
  it('renders cases as rows and reports as columns', () => {
    const r = memseal(['vm', '--report', HOST, '--report', OLD, '--report', DOCKER]);
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^\s+case\s+\[1\]\s+\[2\]\s+\[3\]$/);
    expect(lines).toContain('*  mseal.munmap.eperm        pass  pass  blocked');
    expect(lines).toContain('~  memfd.exec.mode           pass  pass  pass');
    expect(lines).toContain('   hugetlb.create            skip  skip  skip');
    expect(lines).toContain('[2] 6.1.0-56-cloud-amd64 (VM, TCG, boot 2.4 s + run 2.7 s): 6 pass, 2 skip');
    expect(lines).toContain('[3] 6.18.44-fc-v669 (docker): 5 pass, 2 blocked, 1 skip');
  });

  it('a saved report that cannot be read is a usage error', () => {
    const bad = join(work, 'not-a-report.json');
    writeFileSync(bad, '{"hello": 1}');
    const r = memseal(['vm', '--report', bad]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`memseal vm: ${bad}: not a memseal report`);
  });

  it('exits 1 when a column holds a failed case', () => {
    const failing = join(work, 'failing.json');
    const raw = JSON.parse(readFileSync(HOST, 'utf8')) as { cases: { status: string }[] };
    raw.cases[0]!.status = 'fail';
    writeFileSync(failing, JSON.stringify(raw));
    const r = memseal(['vm', '--report', failing, '--report', HOST]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^\*\s+memfd\.name\.too-long\s+fail\s+pass$/m);
  });
});
