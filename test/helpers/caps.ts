/**
 * What this machine can run, probed once per test file, and the rule for
 * skips: a test that needs something the machine lacks is skipped with the
 * reason, except under MEMSEAL_REQUIRE_ALL=1 (CI: root on 6.18), where the
 * same condition fails the test, so a known-good machine cannot pass by
 * skipping.
 */
import { execFileSync } from 'node:child_process';
import { it, test } from 'vitest';
import { probe, type ProbeReport } from '../../lib/probe.js';
import { emulationGap, type Gap, skippedWith } from './emulation.js';

export const report: ProbeReport = probe();
export const requireAll = process.env.MEMSEAL_REQUIRE_ALL === '1';

const supported = (name: keyof ProbeReport['features']): boolean => report.features[name].status === 'supported';

function canUnsharePid(): boolean {
  try {
    execFileSync('unshare', ['--pid', '--fork', 'true'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

export const caps = {
  root: process.getuid?.() === 0,
  execFlags: supported('MFD_EXEC') && supported('MFD_NOEXEC_SEAL'),
  sealExec: supported('F_SEAL_EXEC'),
  secretmem: supported('memfd_secret'),
  mseal: supported('mseal'),
  hugetlb: supported('hugetlb'),
  freeHugePages: (report.hugepages.free ?? 0) > 0,
  pidNamespace: canUnsharePid(),
  memfdNoexec: report.memfdNoexec,
};

/**
 * `it` when `ok`; otherwise a test that is skipped with `reason`, or, under
 * MEMSEAL_REQUIRE_ALL=1, fails with it. Under emulation (test/helpers/emulation.ts)
 * a test that depends on what the emulator lacks (`gaps`) skips naming the
 * gaps, MEMSEAL_REQUIRE_ALL or not: the machine has it, the emulator does not.
 */
export function itIf(ok: boolean, reason: string, ...gaps: Gap[]): typeof it {
  const gap = emulationGap(...gaps);
  if (gap !== undefined) return skippedWith(gap);
  if (ok) return it;
  if (requireAll) {
    const failing = ((name: string) =>
      test(name, () => {
        throw new Error(`required on this machine (MEMSEAL_REQUIRE_ALL=1) but unavailable: ${reason}`);
      })) as unknown as typeof it;
    return failing;
  }
  return it.skip as typeof it;
}
