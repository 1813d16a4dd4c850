/**
 * The kernel matrix CI runs beyond 6.1 (test/vm.test.ts boots 6.1, plain
 * and with secretmem.enable=1): the newest Debian cloud kernels of 6.12 and
 * of the 7.x series, fetched with `memseal vm --kernel debian:SERIES`, booted
 * at once with four huge pages reserved (so the huge page cases run there
 * too), each required to give 0 fail and 0 error, as the host does. The
 * matrix of the host and both is printed, and every skip must name what the
 * machine lacks and every deviation a kernel source.
 *
 * The same kernels then boot the kselftest collection (`memseal kselftest`)
 * on a guest of busybox alone (`memseal vm --kselftest`), where the kernel's
 * run_kselftest.sh must report it as one passing test and every case must
 * get the verdict the matrix run gave it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { ConformanceReport } from '../lib/conformance/types.js';
import { resolveKernel } from '../lib/vm/kernels.js';
import { verdictOf } from '../lib/vm/kselftest-guest.js';
import type { KselftestAnswer } from '../lib/cli/vm-kselftest.js';
import { kernelTools, kernelToolsMissing } from './helpers/kernel-tools.js';
import { VmError } from '../lib/vm/qemu.js';
import { itIf } from './helpers/caps.js';
import { expectMatrixPrinted, expectNamedSkipsAndDeviations, vmToolsMissing } from './helpers/vm.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist', 'cli', 'main.js');
const SERIES = ['debian:6.12', 'debian:7'] as const;
// Limits, not measures: a full run under TCG on a loaded 2-core machine takes minutes.
const BOOT_LIMIT_S = 1200;
const TEST_MS = (BOOT_LIMIT_S + 120) * 1000;


async function fetchable(): Promise<string> {
  if (vmToolsMissing() !== '') return vmToolsMissing();
  for (const spec of SERIES) {
    try {
      await resolveKernel(spec, { progress: (line) => console.log(`[kernel] ${line}`) });
    } catch (err) {
      if (!(err instanceof VmError)) throw err;
      return `${spec} could not be fetched: ${err.message}`;
    }
  }
  return '';
}

const why = await fetchable();
const itVm = itIf(why === '', why);
const ksWhy = why || kernelToolsMissing();
const itKs = itIf(ksWhy === '', ksWhy);

const work = mkdtempSync(join(tmpdir(), 'memseal-vm-matrix-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

type VmReport = ConformanceReport & { vm: { kernel: string; bootSeconds: number; runSeconds: number; accel: string } };
let reports: VmReport[] = [];
let stderr = '';
let kselftest: KselftestAnswer[] = [];
let ksStderr = '';

describe('the kernel matrix: Debian 6.12 and 7.x', () => {
  beforeAll(() => {
    if (why !== '') return;
    const args = [cli, 'vm', '--jobs', '2', '--append', 'hugepages=4', '--timeout', String(BOOT_LIMIT_S), '--json'];
    for (const spec of SERIES) args.push('--kernel', spec);
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: TEST_MS - 30_000, maxBuffer: 64 << 20 });
    stderr = r.stderr;
    const parsed = JSON.parse(r.stdout) as VmReport | VmReport[];
    reports = Array.isArray(parsed) ? parsed : [parsed];
    reports.forEach((rep, i) => writeFileSync(join(work, `${i}.json`), JSON.stringify(rep)));
    for (const rep of reports) {
      console.log(`[timing] ${rep.kernel?.release ?? rep.vm?.kernel}: boot ${rep.vm?.bootSeconds} s + run ${rep.vm?.runSeconds} s under ${rep.vm?.accel}`);
      if (rep.summary) console.log(`[matrix] ${rep.kernel.release}: ${JSON.stringify(rep.summary)}`);
    }
    if (ksWhy !== '') return;
    // After the matrix, not beside it: four TCG guests on two cores would each take twice as long.
    const tarball = join(work, 'memseal-kselftest.tar.gz');
    const pack = spawnSync(process.execPath, [cli, 'kselftest', '--quiet', '--output', tarball], { encoding: 'utf8' });
    if (pack.status !== 0) throw new Error(`memseal kselftest failed: ${pack.stderr}`);
    const ks = [cli, 'vm', '--kselftest', tarball, '--runner', join(kernelTools!, 'tools', 'testing', 'selftests'), '--jobs', '2', '--append', 'hugepages=4', '--timeout', String(BOOT_LIMIT_S), '--json'];
    for (const spec of SERIES) ks.push('--kernel', spec);
    const k = spawnSync(process.execPath, ks, { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: TEST_MS - 30_000, maxBuffer: 64 << 20 });
    ksStderr = k.stderr;
    const answers = JSON.parse(k.stdout) as KselftestAnswer | KselftestAnswer[];
    kselftest = Array.isArray(answers) ? answers : [answers];
    for (const a of kselftest) console.log(`[timing] kselftest guest ${String(a.vm?.kernel)}: boot ${String(a.vm?.bootSeconds)} s + run ${String(a.vm?.runSeconds)} s; ${JSON.stringify(a.summary)}`);
  }, 2 * TEST_MS);

  itVm('each kernel gives a report: 0 fail and 0 error', () => {
    expect(reports.map((r) => r.kernel?.release ?? `no report: ${JSON.stringify((r as { error?: unknown }).error)}`)).toHaveLength(SERIES.length);
    const bad = reports.flatMap((r) =>
      (r.cases ?? []).filter((c) => c.status === 'fail' || c.status === 'error').map((c) => `${r.kernel.release} ${c.id}: ${c.status}, expected ${JSON.stringify(c.expected)}, observed ${c.observed} (${c.reason})`),
    );
    expect(bad, stderr.slice(-2000)).toEqual([]);
    for (const r of reports) expect(r.summary.total).toBeGreaterThanOrEqual(230);
    expect(reports.map((r) => r.kernel.version.split('.').slice(0, 2).join('.'))).toEqual(['6.12', expect.stringMatching(/^7\.\d+$/)]);
  });

  itVm('every skip names what the machine lacks, every deviation a kernel source', () => {
    expectNamedSkipsAndDeviations(reports);
  });

  itVm('the guest reads the kernel configuration and huge pages are reserved: those cases run instead of skipping', () => {
    for (const r of reports) {
      expect(r.kernel.config, r.kernel.release).toMatch(/^\/boot\/config-/);
      const ran = r.cases.filter((c) => c.id.startsWith('hugetlb.') && c.status === 'pass').length;
      expect(ran, r.kernel.release).toBeGreaterThan(10);
      // Sealed system mappings arrived in 6.15, and Debian builds 7.x without
      // CONFIG_MSEAL_SYSTEM_MAPPINGS (it has CHECKPOINT_RESTORE): the skip says which.
      const vdso = r.cases.find((c) => c.id === 'mseal.sysmap.vdso-sealed')!;
      expect(vdso.reason ?? '', r.kernel.release).toMatch(r.kernel.version.startsWith('6.12.') ? /no expectation for this kernel: the case covers >= 6\.15/ : /built without CONFIG_MSEAL_SYSTEM_MAPPINGS/);
    }
  });

  itVm('prints the matrix of the host and both kernels', () => {
    expectMatrixPrinted(
      cli,
      reports.map((_, i) => join(work, `${i}.json`)),
      reports,
    );
  }, 300_000);
});

describe('the kselftest collection on the same kernels, in a guest of busybox alone', () => {
  itKs("run_kselftest.sh -c memseal reports it as one passing test: 0 fail, 0 error", () => {
    expect(kselftest.map((a) => a.kselftest?.results), ksStderr.slice(-2000)).toEqual(SERIES.map(() => ['ok 1 selftests: memseal: conform']));
    for (const a of kselftest) {
      expect(a.kselftest.passed).toBe(true);
      expect(a.cases.filter((c) => c.verdict.startsWith('not ok'))).toEqual([]);
      // The busybox userland and the collection only: no node or glibc outside it.
      expect(a.kselftest.output).toMatch(/^# +# memseal conform: kernel \S+ \(x64\), node v/m);
    }
  });

  itKs('every case has the verdict the matrix run gave it on the same kernel', () => {
    expect(kselftest).toHaveLength(reports.length);
    reports.forEach((r, i) => {
      const got = new Map(kselftest[i]!.cases.map((c) => [c.id, c.verdict]));
      const differ = r.cases.filter((c) => got.get(c.id) !== verdictOf(c.status)).map((c) => `${c.id}: ${c.status} in the matrix, ${got.get(c.id) ?? 'missing'} in the collection`);
      expect(differ, r.kernel.release).toEqual([]);
      expect(got.size).toBe(r.cases.length);
    });
  });
});
