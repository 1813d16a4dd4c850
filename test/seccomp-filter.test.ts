/**
 * The report under a seccomp filter, without a container: a small launcher
 * (test/fixtures/seccomp-deny.c, compiled here with cc) denies mseal and
 * memfd_secret, once with EPERM (as crun and a profile that lists them
 * answer) and once with ENOSYS (as runc answers syscalls newer than its
 * profile, and as a kernel without them would). Both must come out
 * `blocked`, never `unsupported`, with 0 fail: the kernel has them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect } from 'vitest';
import type { ProbeReport } from '../lib/probe.js';
import { hasFailures, readReport, type Report } from '../lib/reports.js';
import { which } from '../lib/vm/initramfs.js';
import { caps, itIf } from './helpers/caps.js';
import { availableRowsOk, deniedRowsOk, failedRows, isMsealRow, isSecretRow, SUITE } from './helpers/suite.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist', 'cli', 'main.js');
const work = mkdtempSync(join(tmpdir(), 'memseal-seccomp-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// x86-64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl).
const NR = { memfd_secret: 447, cachestat: 451, mseal: 462 } as const;

function compile(): string | undefined {
  if (process.arch !== 'x64' || which('cc') === undefined) return undefined;
  const out = join(work, 'seccomp-deny');
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', out, join(root, 'test', 'fixtures', 'seccomp-deny.c')]);
  return out;
}
const launcher = compile();
const kernelHasThem = caps.mseal && caps.secretmem;
const itFilter = itIf(launcher !== undefined && kernelHasThem, launcher === undefined ? 'needs cc on x86-64' : 'needs a kernel with mseal and memfd_secret (6.10+) and no filter already');

function under(errno: 'EPERM' | 'ENOSYS', nrs: number[], args: readonly string[]): { suite: Report; raw: unknown } {
  const r = spawnSync(launcher!, [errno, nrs.join(','), '--', process.execPath, cli, ...args], { encoding: 'utf8' });
  if (r.status !== 0) expect.fail(`exit status ${r.status}: ${failedRows(r.stdout, r.stderr)}`);
  const raw = JSON.parse(r.stdout) as unknown;
  return { suite: readReport(raw), raw };
}

describe('the report under a seccomp filter', () => {
  const cases = [
    { errno: 'EPERM' as const, nrs: [NR.memfd_secret, NR.mseal], control: 'EBADF', why: 'a profile that denies them (crun, podman)' },
    { errno: 'ENOSYS' as const, nrs: [NR.memfd_secret, NR.cachestat, NR.mseal], control: 'ENOSYS', why: 'a profile that predates them (runc)' },
  ];
  for (const c of cases) {
    itFilter(`${c.errno} from ${c.why}: mseal and memfd_secret are blocked, 0 fail`, () => {
      const { suite } = under(c.errno, c.nrs, SUITE);
      expect(hasFailures(suite)).toBe(false);
      const mseal = deniedRowsOk(suite, isMsealRow);
      expect(mseal.ok, mseal.detail).toBe(true);
      const secret = deniedRowsOk(suite, isSecretRow);
      expect(secret.ok, secret.detail).toBe(true);
      // What probe says about the filter itself.
      const probe = under(c.errno, c.nrs, ['probe', '--json']).raw as ProbeReport;
      expect(probe.seccomp.mode).toBe(2);
      expect(probe.features.mseal).toMatchObject({ status: 'blocked', errno: c.errno });
      expect(probe.features.memfd_secret).toMatchObject({ status: 'blocked', errno: c.errno });
      expect(probe.seccomp.controlErrno).toBe(c.control);
      expect(probe.seccomp.deniesUnknownSyscalls).toBe(c.control !== 'EBADF');
      // Nothing else was denied.
      expect(probe.features.memfd_create.status).toBe('supported');
      expect(probe.features.MFD_EXEC.status).toBe('supported');
    }, 120_000);
  }

  itFilter('without the filter the same rows pass: the filter made the difference', () => {
    const r = spawnSync(process.execPath, [cli, ...SUITE], { encoding: 'utf8' });
    if (r.status !== 0) expect.fail(`exit status ${r.status}: ${failedRows(r.stdout, r.stderr)}`);
    const suite = readReport(JSON.parse(r.stdout));
    expect(hasFailures(suite)).toBe(false);
    const mseal = availableRowsOk(suite, isMsealRow);
    expect(mseal.ok, mseal.detail).toBe(true);
    const secret = availableRowsOk(suite, isSecretRow);
    expect(secret.ok, secret.detail).toBe(true);
  }, 120_000);
});
