/**
 * The conformance runner and its reporters: statuses (a case that throws, a
 * child that crashes or hangs, a mismatch, a deviation), the JSON schema,
 * JUnit, TAP, --filter, the CLI and its exit codes, and whole runs inside a
 * pid namespace with vm.memfd_noexec 1 and 2, as an unprivileged user, and
 * under a seccomp filter that denies mseal the way container engines do.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemsealError, SyscallError } from '../lib/errors.js';
import { gatherEnv } from '../lib/conformance/env.js';
import { renderJson, renderJunit, renderTable, renderTap } from '../lib/conformance/report.js';
import { matchesFilter } from '../lib/conformance/filter.js';
import { reportFailed, runConformance } from '../lib/conformance/run.js';
import { FAMILIES, STATUSES, type Case, type ConformanceReport } from '../lib/conformance/types.js';
import { caps, itIf } from './helpers/caps.js';
import { stagedPackage } from './helpers/child.js';

const root = resolve(__dirname, '..');
const cli = join(root, 'dist', 'cli', 'main.js');
const fixturePath = join(__dirname, 'fixtures', 'conformance-cases.mjs');
const fixtureCases = ((await import(fixturePath)) as { cases: Case[] }).cases;
const env = gatherEnv();

function byId(report: ConformanceReport, id: string): ConformanceReport['cases'][number] {
  const r = report.cases.find((c) => c.id === id);
  if (r === undefined) throw new Error(`no result for ${id}`);
  return r;
}

/** The CLI; as another user, the world-readable staged copy (the checkout may sit in a private folder). */
function runCli(args: string[], options: { uid?: number; input?: string } = {}): { status: number | null; stdout: string; stderr: string } {
  const ids = options.uid === undefined ? {} : { uid: options.uid, gid: options.uid, cwd: '/' };
  const staged = options.uid === undefined ? undefined : stagedPackage();
  const env = { ...process.env, NO_COLOR: '1', ...(staged === undefined ? {} : { MEMSEAL_ADDON_PATH: staged.addon }) };
  const r = spawnSync(process.execPath, [staged?.cli ?? cli, ...args], { encoding: 'utf8', env, timeout: 60_000, ...ids });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('children load only the modules of their cases', () => {
  it('the modules FAMILY_MODULES names for each family hold exactly that family\'s cases of the catalog', () => {
    const script = `
      const { casesFor, FAMILY_MODULES } = require('./dist/conformance/catalog-modules.js');
      const { CATALOG } = require('./dist/conformance/index.js');
      const out = {};
      for (const family of Object.keys(FAMILY_MODULES)) {
        out[family] = { loaded: casesFor([family + '.x']).map((c) => c.id).sort(), catalog: CATALOG.filter((c) => c.family === family).map((c) => c.id).sort() };
      }
      process.stdout.write(JSON.stringify(out));`;
    const r = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' });
    const families = JSON.parse(r.stdout) as Record<string, { loaded: string[]; catalog: string[] }>;
    expect(Object.keys(families).sort()).toEqual([...FAMILIES].sort());
    for (const [family, { loaded, catalog }] of Object.entries(families)) {
      expect(loaded, family).toEqual(catalog);
      expect(loaded.length, family).toBeGreaterThan(0);
    }
  });
});

describe('statuses', () => {
  let report: ConformanceReport;
  beforeAll(async () => {
    report = await runConformance({ cases: fixtureCases, modules: [fixturePath], env });
  });

  it('runs every case and survives a child that dies of SIGSEGV: that case is an error, the rest of its batch still runs', () => {
    expect(report.summary.total).toBe(fixtureCases.length);
    const crash = byId(report, 'memfd.fixture.crash');
    expect(crash.status).toBe('error');
    expect(crash.reason).toMatch(/died during this case.*SIGSEGV/);
    expect(byId(report, 'memfd.fixture.first').status).toBe('pass');
    expect(byId(report, 'memfd.fixture.after-crash').status).toBe('pass');
    expect(byId(report, 'memfd.fixture.last').status).toBe('pass');
  });

  it('a case that throws in a child is an error carrying its message', () => {
    const r = byId(report, 'memfd.fixture.throws');
    expect(r.status).toBe('error');
    expect(r.reason).toContain('this case is broken');
  });

  it('a case past its time limit is killed and reported as an error', () => {
    const r = byId(report, 'memfd.fixture.hang');
    expect(r.status).toBe('error');
    expect(r.reason).toMatch(/timed out after 1 s/);
  });

  it('an unexpected outcome fails with expected and observed; a cited one is a deviation', () => {
    const m = byId(report, 'memfd.fixture.mismatch');
    expect(m).toMatchObject({ status: 'fail', expected: 'ok', observed: '<not & ok>' });
    const d = byId(report, 'memfd.fixture.deviates');
    expect(d.status).toBe('deviation');
    expect(d.reason).toContain('a cited gap');
    expect(reportFailed(report)).toBe(true);
  });

  it('a case that throws in the runner process is an error, and the run goes on', async () => {
    const throwing: Case = {
      ...fixtureCases[0]!,
      id: 'memfd.fixture.inline-throws',
      isolation: 'inline',
      run: () => {
        throw new TypeError('inline breakage');
      },
    };
    const fine: Case = { ...fixtureCases[0]!, id: 'memfd.fixture.inline-fine', isolation: 'inline' };
    const r = await runConformance({ cases: [throwing, fine], env });
    expect(byId(r, 'memfd.fixture.inline-throws')).toMatchObject({ status: 'error', observed: null });
    expect(byId(r, 'memfd.fixture.inline-throws').reason).toContain('inline breakage');
    expect(byId(r, 'memfd.fixture.inline-fine').status).toBe('pass');
  });

  it('a kernel outside every range skips the case as not applicable; an unmet requirement skips with its name', async () => {
    const old: Case = { ...fixtureCases[0]!, id: 'memfd.fixture.old-kernel', isolation: 'inline', expect: [{ before: '3.0', outcome: 'ok' }] };
    const needs: Case = { ...fixtureCases[0]!, id: 'memfd.fixture.needs', isolation: 'inline', requires: ['sysmapSealed'] };
    const r = await runConformance({ cases: [old, needs], env: { ...env, sysmapSealed: false } });
    expect(byId(r, 'memfd.fixture.old-kernel')).toMatchObject({ status: 'skip', observed: null });
    expect(byId(r, 'memfd.fixture.old-kernel').reason).toMatch(/no expectation for this kernel: the case covers < 3\.0/);
    expect(byId(r, 'memfd.fixture.needs').reason).toMatch(/^sysmapSealed: /);
    // Older than every range: the features that came where the ranges start, and this kernel lacks, are named.
    const exec: Case = { ...fixtureCases[0]!, id: 'memfd.fixture.sealed', isolation: 'inline', expect: [{ since: '6.3', outcome: 'ok' }, { since: '6.12.118', before: '6.13', outcome: 'ok' }] };
    const unsupported = { status: 'unsupported', errno: 'EINVAL', since: '6.3', why: 'test' } as const;
    const old61 = {
      ...env,
      kernel: { ...env.kernel, release: '6.1.0-57-cloud-amd64', version: [6, 1, 192] as [number, number, number] },
      features: { ...env.features, MFD_EXEC: unsupported, MFD_NOEXEC_SEAL: unsupported, F_SEAL_EXEC: unsupported },
    };
    const on61 = byId(await runConformance({ cases: [exec], env: old61 }), 'memfd.fixture.sealed');
    expect(on61.reason).toMatch(/; this is 6\.1\.0-57-cloud-amd64 \(6\.1\.192\) \(before 6\.3: no MFD_EXEC, MFD_NOEXEC_SEAL, F_SEAL_EXEC\)/);
    // A kernel inside the ranges' span but in none of them names no features.
    const between = byId(await runConformance({ cases: [{ ...exec, expect: [{ since: '6.3', before: '6.4', outcome: 'ok' }] }], env }), 'memfd.fixture.sealed');
    expect(between.reason).not.toMatch(/before 6\.3/);
  });

  it('an EPERM from a syscall that a filter denies is blocked, not a failure', async () => {
    const denied: Case = { ...fixtureCases[0]!, id: 'memfd.fixture.denied', isolation: 'inline', syscalls: ['ptrace'], run: () => 'EPERM' };
    const filtered = { ...env, policy: { ...env.policy, ptrace: 'EPERM' } };
    const r = await runConformance({ cases: [denied], env: filtered });
    expect(byId(r, 'memfd.fixture.denied').status).toBe('blocked');
    const unfiltered = await runConformance({ cases: [denied], env });
    expect(byId(unfiltered, 'memfd.fixture.denied').status).toBe(env.policy.ptrace === 'ESRCH' ? 'fail' : 'blocked');
    // A case that stops on the denied syscall (it throws) is blocked too, not an error.
    const stops: Case = { ...denied, id: 'memfd.fixture.stops', run: () => { throw new SyscallError('ptrace', -1); } };
    expect(byId(await runConformance({ cases: [stops], env: filtered }), 'memfd.fixture.stops').status).toBe('blocked');
    // With no filter in the way, the errno is what the kernel answered: an observed outcome that fails.
    const unfilteredStop = byId(await runConformance({ cases: [stops], env: { ...env, policy: { ...env.policy, ptrace: 'ESRCH' } } }), 'memfd.fixture.stops');
    expect(unfilteredStop).toMatchObject({ status: 'fail', observed: 'ptrace=EPERM' });
    expect(unfilteredStop.reason).toMatch(/unexpected EPERM from ptrace/);
  });

  it('an unexpected errno that escapes a case (in a child too) is what the case observed: a fail, not an error', async () => {
    const escapes: Case = { ...fixtureCases[0]!, id: 'memfd.fixture.escapes', isolation: 'inline', run: () => { throw new SyscallError('pwrite', -5); } };
    const r = byId(await runConformance({ cases: [escapes], env }), 'memfd.fixture.escapes');
    expect(r).toMatchObject({ status: 'fail', observed: 'pwrite=EIO', expected: 'ok' });
  });

  describe('reporters', () => {
    it('JSON follows the schema: run facts, a summary that adds up, and per case id, status, expected, observed, reason, source', () => {
      const j = JSON.parse(renderJson(report)) as ConformanceReport;
      expect(j.schema).toBe('memseal-conformance/1');
      expect(j.kernel).toEqual({
        release: expect.any(String),
        version: expect.stringMatching(/^\d+\.\d+\.\d+$/),
        build: expect.stringMatching(/^#/),
        arch: expect.any(String),
        cmdline: expect.any(String),
        config: j.kernel.config === null ? null : expect.stringMatching(/^\/(proc|boot|usr|lib)\//),
      });
      expect(j.facts.thp).toEqual({ built: expect.any(Boolean), shmemEnabled: j.facts.thp.built ? expect.any(String) : null });
      expect(typeof j.facts.procMem.forced).toBe('boolean');
      expect(typeof j.node).toBe('string');
      expect(typeof j.uid).toBe('number');
      expect(typeof j.container.detected).toBe('boolean');
      expect(j.memfdNoexec === null || [0, 1, 2].includes(j.memfdNoexec)).toBe(true);
      expect(STATUSES.reduce((n, s) => n + j.summary[s], 0)).toBe(j.summary.total);
      for (const c of j.cases) {
        expect(Object.keys(c).sort()).toEqual(['durationMs', 'expected', 'family', 'id', 'observed', 'range', 'reason', 'source', 'status', 'title']);
        expect(STATUSES).toContain(c.status);
        expect(c.source.length).toBeGreaterThan(0);
      }
    });

    it('JUnit XML: one testcase per case, failures and errors counted, text escaped', () => {
      const xml = renderJunit(report);
      expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
      expect(xml.match(/<testcase /g)).toHaveLength(report.summary.total);
      expect(xml).toContain(`failures="${report.summary.fail}"`);
      expect(xml).toContain(`errors="${report.summary.error}"`);
      expect(xml).toContain('observed &#60;not &#38; ok&#62;');
      expect(xml).not.toContain('<not & ok>');
      expect(xml.match(/<failure /g)).toHaveLength(report.summary.fail);
      expect(xml.match(/<error /g)).toHaveLength(report.summary.error);
    });

    it('TAP 13: a plan, one line per case, not ok for fail and error; --strict makes deviations not ok', () => {
      const lines = renderTap(report).split('\n');
      expect(lines[0]).toBe('TAP version 13');
      expect(lines[1]).toBe(`1..${report.summary.total}`);
      expect(lines.filter((l) => /^not ok \d+ /.test(l))).toHaveLength(report.summary.fail + report.summary.error);
      expect(lines.filter((l) => /^(not )?ok \d+ /.test(l))).toHaveLength(report.summary.total);
      const strict = renderTap({ ...report, strict: true }).split('\n');
      expect(strict.filter((l) => /^not ok \d+ /.test(l))).toHaveLength(report.summary.fail + report.summary.error + report.summary.deviation);
    });

    it('the table groups by family, shows expected and observed for failures, and ends with the summary line', () => {
      const text = renderTable(report, false);
      expect(text).toMatch(/^memfd \(/m);
      expect(text).toContain('expected ok (>= 3.0)');
      expect(text).toContain('observed <not & ok>');
      expect(text.trimEnd().split('\n').at(-1)).toMatch(/^\d+ cases: \d+ pass, 1 fail, 1 deviation, 0 blocked, 0 skip, 3 error in [\d.]+ s$/);
      expect(renderTable(report, true)).toContain('\u001b[31m');
    });
  });
});

describe('filter', () => {
  it('matches substrings, globs and comma-separated lists', () => {
    expect(matchesFilter('seals.write.blocks-write', 'seals.write')).toBe(true);
    expect(matchesFilter('seals.write.blocks-write', 'seals.*.blocks-*')).toBe(true);
    expect(matchesFilter('seals.write.blocks-write', 'seals.*.busy')).toBe(false);
    expect(matchesFilter('mseal.munmap.eperm', 'memfd.name,mseal.munmap')).toBe(true);
    expect(matchesFilter('memfd.name.null', undefined)).toBe(true);
  });

  it('runConformance refuses, before anything runs, a filter entry that matches no case and a filter without entries', async () => {
    const ran: string[] = [];
    const onResult = (r: { id: string }): void => void ran.push(r.id);
    const noMatch = await runConformance({ filter: 'memfd.name,seal.write', env, onResult }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(noMatch).toBeInstanceOf(MemsealError);
    expect(noMatch).toMatchObject({ code: 'ERR_MEMSEAL_FILTER_NO_MATCH', message: expect.stringMatching(/entry 'seal\.write' matches no case/) });
    for (const filter of ['', ' , ']) {
      await expect(runConformance({ filter, env, onResult })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', name: 'TypeError' });
    }
    expect(ran).toEqual([]);
    // The same entries, all matching: the union of what each selects.
    const r = await runConformance({ filter: 'memfd.name.null, seals.write.blocks-writev', env });
    expect(r.cases.map((c) => c.id).sort()).toEqual(['memfd.name.null', 'seals.write.blocks-writev']);
  });

  it('runConformance runs only the cases the filter selects', async () => {
    const r = await runConformance({ filter: 'seals.write.blocks-*', env });
    expect(r.cases.length).toBeGreaterThan(3);
    expect(r.cases.every((c) => c.id.startsWith('seals.write.blocks-'))).toBe(true);
    expect(r.filter).toBe('seals.write.blocks-*');
  });
});

describe('memseal conform', () => {
  it('--json prints the report and exits 0 when nothing fails', () => {
    const r = runCli(['conform', '--json', '--filter', 'memfd.name']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as ConformanceReport;
    expect(j.cases.length).toBe(7);
    expect(j.summary.fail + j.summary.error).toBe(0);
  });

  it('--list lists the cases without running them', () => {
    const r = runCli(['conform', '--list', '--filter', 'mseal.munmap']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('mseal.munmap.eperm');
    expect(r.stdout).toMatch(/\n3 cases\n$/);
  });

  it('--tap and --junit FILE', () => {
    const tap = runCli(['conform', '--tap', '--filter', 'memfd.flags']);
    expect(tap.status).toBe(0);
    expect(tap.stdout).toMatch(/^TAP version 13\n1\.\.\d+\n/);
    const dir = mkdtempSync(join(tmpdir(), 'memseal-junit-'));
    try {
      const file = join(dir, 'report.xml');
      const junit = runCli(['conform', '--junit', file, '--filter', 'memfd.flags']);
      expect(junit.status).toBe(0);
      expect(readFileSync(file, 'utf8')).toContain('<testsuite name="memfd"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects unknown options and conflicting formats with exit code 2', () => {
    expect(runCli(['conform', '--bogus']).status).toBe(2);
    expect(runCli(['conform', '--json', '--tap']).status).toBe(2);
  });

  itIf(caps.hugetlb, 'hugetlbfs memfds')('a deviation passes, and fails the run under --strict', () => {
    const plain = runCli(['conform', '--json', '--filter', 'hugetlb.exec.chmod-ignores-seal']);
    const status = (JSON.parse(plain.stdout) as ConformanceReport).cases[0]!.status;
    if (status !== 'deviation') return; // a kernel with the gap fixed passes outright
    expect(plain.status).toBe(0);
    expect(runCli(['conform', '--strict', '--filter', 'hugetlb.exec.chmod-ignores-seal']).status).toBe(1);
  });
});

function buildSeccompFixture(): string | null {
  if (spawnSync('sh', ['-c', 'command -v cc'], { stdio: 'ignore' }).status !== 0 || process.arch !== 'x64') return null;
  const dir = mkdtempSync(join(tmpdir(), 'memseal-seccomp-'));
  const out = join(dir, 'seccomp-deny');
  const r = spawnSync('cc', ['-O2', '-Wall', '-o', out, join(__dirname, 'fixtures', 'seccomp-deny.c')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot build the seccomp fixture: ${r.stderr}`);
  return out;
}

describe('whole runs in other environments', () => {
  const seccompDeny = buildSeccompFixture();
  afterAll(() => {
    if (seccompDeny !== null) rmSync(dirname(seccompDeny), { recursive: true, force: true });
  });

  for (const [errno, engine] of [
    ['ENOSYS', 'ENOSYS, as runc does for syscalls newer than Docker\'s profile'],
    ['EPERM', 'EPERM, as crun does'],
  ] as const) {
    itIf(seccompDeny !== null && caps.mseal, 'a C compiler for the seccomp fixture, and mseal')(
      `under a seccomp filter answering mseal with ${engine}: the mseal cases are blocked, none fails`,
      () => {
        const r = spawnSync(seccompDeny!, [errno, '462', '--', process.execPath, cli, 'conform', '--json', '--filter', 'mseal'], { encoding: 'utf8', timeout: 60_000 });
        expect(r.status, r.stderr).toBe(0);
        const j = JSON.parse(r.stdout) as ConformanceReport;
        expect(j.seccomp.mode).toBe(2);
        expect(j.summary.fail + j.summary.error).toBe(0);
        // The two system-mapping cases that only read /proc/self/smaps need no mseal.
        const needMseal = j.cases.filter((c) => c.id !== 'mseal.sysmap.stack-unsealed' && c.id !== 'mseal.sysmap.present');
        expect(needMseal.length).toBeGreaterThan(30);
        for (const c of needMseal) expect(`${c.id}: ${c.status}`).toBe(`${c.id}: blocked`);
        expect(byId(j, 'mseal.syscall.available').reason).toMatch(/seccomp filter or LSM denies mseal/);
      },
    );
  }

  const canNest = caps.root && caps.pidNamespace && caps.memfdNoexec !== null;

  for (const value of [1, 2]) {
    itIf(canNest, 'root, pid namespaces and vm.memfd_noexec (6.3+)')(
      `inside a new pid namespace with vm.memfd_noexec=${value}: nothing fails and the report shows the value`,
      () => {
        const script = `echo ${value} > /proc/sys/vm/memfd_noexec && exec "$0" "$1" conform --json`;
        const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-c', script, process.execPath, cli], { encoding: 'utf8', timeout: 60_000 });
        expect(r.status, r.stderr).toBe(0);
        const j = JSON.parse(r.stdout) as ConformanceReport;
        expect(j.memfdNoexec).toBe(value);
        expect(renderTable(j, false)).toContain(`vm.memfd_noexec ${value}`);
        expect(j.cases.filter((c) => c.status === 'fail' || c.status === 'error').map((c) => `${c.id}: ${c.observed} (${c.reason})`)).toEqual([]);
        expect(j.summary.pass).toBeGreaterThan(100);
        expect(byId(j, 'memfd.flags.exec').observed).toBe(value === 2 ? 'EACCES' : 'ok');
      },
    );
  }

  itIf(caps.root, 'root (to start a process as another user)')('as an unprivileged user: root-only cases skip with the reason, nothing fails', () => {
    const r = runCli(['conform', '--json'], { uid: 65534 });
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as ConformanceReport;
    expect(j.uid).toBe(65534);
    expect(j.cases.filter((c) => c.status === 'fail' || c.status === 'error').map((c) => `${c.id}: ${c.observed} (${c.reason})`)).toEqual([]);
    const pidnsCases = j.cases.filter((c) => c.id.startsWith('exec.sysctl.') && c.id !== 'exec.sysctl.present');
    expect(pidnsCases.length).toBeGreaterThan(5);
    for (const c of pidnsCases) {
      expect(c.status).toBe('skip');
      expect(c.reason).toMatch(/^pidns: needs root/);
    }
    // Unprivileged, the memlock case meets the limit for real.
    expect(byId(j, 'secret.memlock.limit').status).toBe(caps.secretmem ? 'pass' : 'skip');
  });
});
