/**
 * `memseal vm --kselftest FILE` without booting (the boots are in
 * test/vm-matrix.test.ts): the busybox-only guest's init script, how the
 * runner's prefixed KTAP becomes verdicts, and the usage errors found before
 * any boot.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kselftestAnswer } from '../lib/cli/vm-kselftest.js';
import { findBusybox } from '../lib/vm/initramfs.js';
import { KSELFTEST_INIT, KSELFTEST_INSTALL, ktapVerdicts, verdictOf } from '../lib/vm/kselftest-guest.js';
import { itIf } from './helpers/caps.js';
import { root } from './helpers/child.js';
import { hasBusybox } from './helpers/vm.js';

const cli = join(root, 'dist', 'cli', 'main.js');
const work = mkdtempSync(join(tmpdir(), 'memseal-vm-kselftest-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const RUNNER_OUTPUT = `TAP version 13
1..1
# timeout set to 900
# selftests: memseal: conform
# KTAP version 1
# 1..2
#   KTAP version 1
#   # Subtest: memfd
#   1..3
#   ok 1 memfd.name.null
#   # expected EFAULT
#   # observed ok
#   not ok 2 memfd.name.too-long
#   not ok 3 memfd.flags.valid # ERROR the child process died
# not ok 1 memfd
#   KTAP version 1
#   # Subtest: mseal
#   1..2
#   ok 1 mseal.x.skipped # SKIP skip: root: needs euid 0
#   ok 2 mseal.x.deviating # XFAIL a kernel bug [lkml: fix]
# ok 2 mseal
not ok 1 selftests: memseal: conform # exit=1
`;

describe('the busybox-only guest', () => {
  itIf(hasBusybox(), 'busybox')("init is valid busybox sh and runs the kernel's runner from the install, without /usr/bin/timeout", () => {
    expect(spawnSync(findBusybox(), ['sh', '-n', '-c', KSELFTEST_INIT]).status).toBe(0);
    expect(KSELFTEST_INIT).toContain(`cd ${KSELFTEST_INSTALL} && set -o pipefail && ./run_kselftest.sh "$@" | cat`);
    expect(KSELFTEST_INIT).toContain('rm -f /usr/bin/timeout');
    expect(KSELFTEST_INIT).not.toContain('/bin/node');
  });

  it("reads each case's verdict from the runner's prefixed KTAP, and the runner's own result", () => {
    expect(ktapVerdicts(RUNNER_OUTPUT)).toEqual([
      { id: 'memfd.name.null', verdict: 'ok' },
      { id: 'memfd.name.too-long', verdict: 'not ok' },
      { id: 'memfd.flags.valid', verdict: 'not ok ERROR' },
      { id: 'mseal.x.skipped', verdict: 'ok SKIP' },
      { id: 'mseal.x.deviating', verdict: 'ok XFAIL' },
    ]);
    const a = kselftestAnswer(['-c', 'memseal'], { exitCode: 0, stdout: RUNNER_OUTPUT, stderr: '' }, {});
    expect(a.kselftest.results).toEqual(['not ok 1 selftests: memseal: conform # exit=1']);
    expect(a.kselftest.passed).toBe(false);
    expect(a.summary).toEqual({ total: 5, ok: 1, 'not ok': 1, 'not ok ERROR': 1, 'ok SKIP': 1, 'ok XFAIL': 1 });
    expect(['pass', 'fail', 'error', 'skip', 'blocked', 'deviation'].map((s) => verdictOf(s))).toEqual(['ok', 'not ok', 'not ok ERROR', 'ok SKIP', 'ok SKIP', 'ok XFAIL']);
  });
});

describe('memseal vm --kselftest: usage errors before any boot', () => {
  const vm = (...args: string[]): { status: number | null; stderr: string } => {
    const r = spawnSync(process.execPath, [cli, 'vm', ...args], { encoding: 'utf8' });
    return { status: r.status, stderr: r.stderr };
  };

  it('a missing file, a file that is not a collection, --runner alone, --host with it: status 2', () => {
    const missing = vm('--kselftest', join(work, 'none.tar.gz'), '--kernel', 'debian:6.12');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/no such file/);
    const junk = join(work, 'junk.tar.gz');
    writeFileSync(junk, 'not a tarball');
    const notTar = vm('--kselftest', junk, '--kernel', 'debian:6.12');
    expect(notTar.status).toBe(2);
    expect(notTar.stderr).toMatch(/does not unpack as a \.tar\.gz/);
    const alone = vm('--runner', work, '--kernel', 'debian:6.12');
    expect(alone.status).toBe(2);
    expect(alone.stderr).toMatch(/--runner goes with --kselftest/);
    const host = vm('--kselftest', junk, '--host');
    expect(host.status).toBe(2);
    expect(host.stderr).toMatch(/no --host or --report/);
  });

  it('a tarball without the runner and no --runner: status 2, naming --runner', () => {
    const dir = join(work, 'bare');
    spawnSync('mkdir', ['-p', join(dir, 'memseal')]);
    writeFileSync(join(dir, 'kselftest-list.txt'), 'memseal:conform\n');
    writeFileSync(join(dir, 'memseal', 'conform'), '#!/bin/sh\n');
    const tarball = join(work, 'bare.tar.gz');
    expect(spawnSync('tar', ['-czf', tarball, '-C', dir, '.']).status).toBe(0);
    const r = vm('--kselftest', tarball, '--kernel', 'debian:6.12');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/has no run_kselftest\.sh: name .* with --runner DIR/);
  });
});
