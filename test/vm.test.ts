/**
 * memseal vm against a real kernel: Debian's 6.1 cloud kernel (fetched by
 * resolveKernel('debian:6.1'), lib/vm/kernels.ts) booted with qemu (TCG here: KVM hangs on these
 * machines), as it is and with secretmem.enable=1; a matrix of the host and
 * both boots; memseal diff between them; and the errors for a panic, a hang,
 * a missing qemu and a missing kernel.
 *
 * Each boot runs two commands in one guest: SUITE (test/helpers/suite.ts),
 * the report under test, and probe, which names each feature's status
 * whatever SUITE is.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { FEATURE_SINCE, type FeatureName } from '../lib/features.js';
import { compareVersions, parseKernelVersion } from '../lib/kernel.js';
import type { ProbeReport } from '../lib/probe.js';
import { canonical, hasFailures, readReport, type Report } from '../lib/reports.js';
import { resolveKernel } from '../lib/vm/kernels.js';
import { VmError } from '../lib/vm/qemu.js';
import { runInVm, runPool, vmMeta, type VmRun } from '../lib/vm/run.js';
import { itIf } from './helpers/caps.js';
import { hasBusybox, vmToolsMissing } from './helpers/vm.js';
import { SUITE } from './helpers/suite.js';

const PROBE: readonly string[] = ['probe', '--json'];

/**
 * What a case may expect of a Linux system, listed by the guest's own tools
 * (busybox, run from a sealed memfd by `memseal exec`).
 */
const USERLAND_PATHS = ['/dev/fd', '/dev/stdin', '/dev/stdout', '/dev/stderr', '/dev/ptmx', '/bin/sh', '/usr/bin/env', '/etc/passwd', '/etc/group', '/boot'];
const USERLAND: readonly (readonly string[])[] = [
  ['exec', '--argv0', 'ls', '/bin/busybox', '--', '-ld', ...USERLAND_PATHS],
  ['exec', '--argv0', 'cat', '/bin/busybox', '--', '/proc/mounts'],
  ['exec', '--argv0', 'cat', '/bin/busybox', '--', '/etc/passwd', '/etc/group'],
  ['exec', '--argv0', 'ls', '/bin/busybox', '--', '/boot'],
];

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist', 'cli', 'main.js');
// A limit, not a measure: a boot takes seconds, but a loaded 2-core machine can slow TCG tenfold.
const BOOT_LIMIT_S = 900;
const CLI_TEST_MS = (BOOT_LIMIT_S + 30) * 1000;

async function fetchKernel(spec: string): Promise<{ path?: string; config?: string; reason: string }> {
  try {
    const k = await resolveKernel(spec, { progress: (line) => console.log(`[kernel] ${line}`) });
    return { path: k.image, config: k.config, reason: '' };
  } catch (err) {
    if (!(err instanceof VmError)) throw err;
    return { reason: `Debian's ${spec.slice('debian:'.length)} cloud kernel could not be fetched: ${err.message}` };
  }
}


const kernel: { path?: string; config?: string; reason: string } = vmToolsMissing() === '' ? await fetchKernel('debian:6.1') : { reason: vmToolsMissing() };
const ready = kernel.path !== undefined;
const why = kernel.reason;
const itVm = itIf(ready, why);

function memseal(args: readonly string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env }, timeout: CLI_TEST_MS - 10_000 });
}

const work = mkdtempSync(join(tmpdir(), 'memseal-vm-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Boot {
  run: VmRun;
  /** The USERLAND commands' outputs (the plain boot only). */
  userland: string[];
  suite: Report;
  probe: ProbeReport;
  file: string;
}
const boots: Record<'plain' | 'secretmem', Boot | undefined> = { plain: undefined, secretmem: undefined };

/** Progress lines of the two boots, with the time each arrived: they show whether both were in flight at once. */
const heard: { variant: 'plain' | 'secretmem'; at: number; line: string }[] = [];

async function bootVariant(name: 'plain' | 'secretmem', append: string): Promise<Boot> {
  const extra = name === 'plain' ? USERLAND : [];
  const progress = (line: string): void => void heard.push({ variant: name, at: performance.now(), line });
  const run = await runInVm({ kernel: kernel.path!, append, commands: [SUITE, PROBE, ...extra], timeoutSeconds: BOOT_LIMIT_S, memoryMiB: 1024, progress });
  console.log(
    `[timing] ${run.release}${append ? ` ${append}` : ''}: boot ${run.bootSeconds.toFixed(1)} s + run ${run.runSeconds.toFixed(1)} s = ${run.totalSeconds.toFixed(1)} s under ${run.accel.toUpperCase()} (${run.accelReason}); initramfs ${run.initramfs.cached ? 'cached' : 'built'} in ${run.initramfs.seconds.toFixed(1)} s`,
  );
  const [suite, probe] = run.outputs;
  const raw = { ...(JSON.parse(suite!.stdout) as object), vm: vmMeta(run) };
  console.log(`[matrix] ${run.release}${append ? ` ${append}` : ''}: ${JSON.stringify((raw as { summary?: unknown }).summary)}`);
  const file = join(work, `${name}.json`);
  writeFileSync(file, JSON.stringify(raw));
  const bad = readReport(raw)
    .entries.filter((e) => e.status === 'fail' || e.status === 'error')
    .map((e) => `${e.id}: ${e.status}, expected ${canonical(e.expected)}, observed ${canonical(e.observed)}${e.reason ? ` (${e.reason})` : ''}`);
  expect(suite!.exitCode, `${name}: ${suite!.stderr}${bad.join('\n')}`).toBe(0);
  expect(probe!.exitCode, probe!.stderr).toBe(0);
  const userland = run.outputs.slice(2).map((o) => `${o.stdout}${o.stderr}`);
  const b = { run, suite: readReport(raw), probe: JSON.parse(probe!.stdout) as ProbeReport, file, userland };
  boots[name] = b;
  return b;
}

/** Both variants, booted at once as `memseal vm --jobs 2` would (runPool is what it uses); each test sees its own boot's failure. */
let both: Promise<(Boot | Error)[]> | undefined;
const bootBoth = (): Promise<(Boot | Error)[]> =>
  (both ??= runPool(
    [
      ['plain', ''],
      ['secretmem', 'secretmem.enable=1'],
    ] as const,
    2,
    ([name, append]) => bootVariant(name, append).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))),
  ));
async function booted(i: 0 | 1): Promise<Boot> {
  const b = (await bootBoth())[i]!;
  if (b instanceof Error) throw b;
  return b;
}

const olderThan = (release: string, since: string): boolean => compareVersions(parseKernelVersion(release), parseKernelVersion(since)) < 0;

/** The features 6.3 and 6.10 added, which a 6.1 kernel must lack. */
const NEWER_THAN_61: FeatureName[] = ['MFD_EXEC', 'MFD_NOEXEC_SEAL', 'F_SEAL_EXEC', 'mseal'];

/**
 * The rows a diff between two reports must show, judged independently of
 * the diff: for probe reports, the features whose first version lies
 * between the two kernels, plus memfd_secret where one side has it off (off
 * by default on 5.14 to 6.4); for conform reports, the cases whose expected
 * outcome or status differs (the expectation depends on the version, or a
 * requirement such as secretmem is unmet on one side).
 */
function versionDependent(a: Report, b: Report, secretOn: { a: boolean; b: boolean }): string[] {
  if (a.kind === 'probe') {
    const ids = (Object.keys(FEATURE_SINCE) as FeatureName[]).filter(
      (f) => f !== 'memfd_secret' && olderThan(a.facts.kernel, FEATURE_SINCE[f]) !== olderThan(b.facts.kernel, FEATURE_SINCE[f]),
    );
    if (secretOn.a !== secretOn.b) ids.push('memfd_secret');
    return ids.sort();
  }
  return behaviourDiffers(a, b);
}

/** The cases whose status or observed outcome differ: what `memseal diff` lists. */
function behaviourDiffers(a: Report, b: Report): string[] {
  const inB = new Map(b.entries.map((e) => [e.id, e]));
  return a.entries
    .filter((e) => {
      const o = inB.get(e.id);
      return o === undefined || o.status !== e.status || canonical(o.observed) !== canonical(e.observed);
    })
    .map((e) => e.id)
    .sort();
}

/**
 * Cases whose observation depends on the machine rather than the kernel
 * version: which huge page sizes the (virtual) CPU offers.
 */
const MACHINE_DEPENDENT = new Set(['hugetlb.flags.offered-sizes']);

/**
 * Why a case differs between two conform reports: a different version range
 * applies, one side skipped it for a requirement (a feature the older kernel
 * lacks or has switched off), or it observes the machine.
 */
function explainDifference(id: string, a: Report, b: Report): string | undefined {
  const [ea, eb] = [a.entries.find((e) => e.id === id), b.entries.find((e) => e.id === id)];
  const range = (r: Report): string => String((r.raw.cases as { id: string; range?: unknown }[]).find((c) => c.id === id)?.range ?? '');
  if (ea === undefined || eb === undefined) return 'in one report only';
  if (range(a) !== range(b) || canonical(ea.expected) !== canonical(eb.expected)) return 'a different version range applies';
  if (ea.status === 'skip' || eb.status === 'skip') return 'skipped on one side for a requirement';
  if (MACHINE_DEPENDENT.has(id)) return 'depends on the machine';
  return undefined;
}

describe("memseal vm on Debian's 6.1 cloud kernel", () => {
  itVm(
    'boots it as it is: 0 fail; MFD_EXEC, MFD_NOEXEC_SEAL, F_SEAL_EXEC and mseal unsupported; memfd_secret off',
    async () => {
      const { run, suite, probe } = await booted(0);
      expect(run.release).toMatch(/^6\.1\./);
      expect(suite.facts.kernel).toBe(run.release);
      expect(hasFailures(suite)).toBe(false);
      for (const f of NEWER_THAN_61) expect(probe.features[f].status, f).toBe('unsupported');
      // The kernel has secretmem but 5.14-6.4 leave it off without the boot flag.
      expect(probe.features.memfd_secret.status).toBe('disabled');
      expect(probe.features.memfd_secret.errno).toBe('ENOSYS');
      expect(probe.features.memfd_create.status).toBe('supported');
      expect(probe.memfdNoexec).toBeNull();
    },
    BOOT_LIMIT_S * 2_000,
  );

  itVm("the guest is a Linux userland: /dev/fd and /dev/std*, the usual mounts, root and nobody, /bin/sh, the kernel's config", () => {
    const plain = boots.plain;
    expect(plain, 'the plain boot ran').toBeTruthy();
    const [ls, mounts, etc, bootDir] = plain!.userland as [string, string, string, string];
    const link = (p: string, target: string): void => void expect(ls, p).toMatch(new RegExp(`^l\\S+ .* ${p} -> ${target.replace(/[./]/g, '\\$&')}$`, 'm'));
    link('/dev/fd', '/proc/self/fd');
    link('/dev/stdin', '/proc/self/fd/0');
    link('/dev/stdout', '/proc/self/fd/1');
    link('/dev/stderr', '/proc/self/fd/2');
    expect(ls).toMatch(/^l\S+ .* \/bin\/sh -> \/bin\/busybox$/m);
    expect(ls).toMatch(/^l\S+ .* \/usr\/bin\/env -> /m);
    expect(ls).toMatch(/^c\S+ .* \/dev\/ptmx$/m);
    expect(ls).not.toMatch(/No such file/);
    const mounted = new Map(mounts.trim().split('\n').map((l) => [l.split(' ')[1]!, l.split(' ')[2]!]));
    for (const [where, type] of [
      ['/proc', 'proc'],
      ['/sys', 'sysfs'],
      ['/dev', 'devtmpfs'],
      ['/dev/pts', 'devpts'],
      ['/dev/shm', 'tmpfs'],
      ['/tmp', 'tmpfs'],
      ['/run', 'tmpfs'],
      ['/dev/hugepages', 'hugetlbfs'],
    ]) {
      expect(mounted.get(where!), where).toBe(type);
    }
    expect(etc).toMatch(/^root:x:0:0:/m);
    expect(etc).toMatch(/^nobody:x:65534:65534:/m);
    expect(etc).toMatch(/^nogroup:x:65534:/m);
    // The package's config, at /boot/config-$(uname -r), where conformance cases look.
    expect(kernel.config).toBeDefined();
    expect(bootDir.split(/\s+/)).toContain(`config-${plain!.run.release}`);
  });

  itVm(
    'boots it with secretmem.enable=1: memfd_secret works, the rest as before, 0 fail',
    async () => {
      const { run, suite, probe } = await booted(1);
      expect(run.release).toMatch(/^6\.1\./);
      expect(hasFailures(suite)).toBe(false);
      expect(probe.features.memfd_secret.status).toBe('supported');
      for (const f of NEWER_THAN_61) expect(probe.features[f].status, f).toBe('unsupported');
    },
    BOOT_LIMIT_S * 2_000,
  );

  itVm('booted both at once: each was booting before the other finished', async () => {
    await bootBoth();
    const when = (variant: string, what: RegExp): number => heard.find((h) => h.variant === variant && what.test(h.line))?.at ?? NaN;
    const started = ['plain', 'secretmem'].map((v) => when(v, /^booting /));
    const finished = ['plain', 'secretmem'].map((v) => when(v, /: boot [\d.]+ s, run [\d.]+ s, total/));
    for (const t of [...started, ...finished]) expect(Number.isNaN(t), heard.map((h) => `${h.variant}: ${h.line}`).join('\n')).toBe(false);
    expect(Math.max(...started)).toBeLessThan(Math.min(...finished));
  }, BOOT_LIMIT_S * 2_000);

  itVm('renders a matrix of the host report and both 6.1 reports', () => {
    const [plain, secret] = [boots.plain, boots.secretmem];
    expect(plain && secret, 'both boots ran').toBeTruthy();
    const r = memseal(['vm', '--host', '--report', plain!.file, '--report', secret!.file, '--', ...SUITE]);
    expect(r.stderr).not.toMatch(/memseal vm: .*(error|failed)/i);
    expect(r.status).toBe(0);
    const host = readReport(JSON.parse(memseal(SUITE).stdout));
    const lines = r.stdout.split('\n');
    expect(lines.find((l) => l.startsWith('[1] '))).toContain(`${host.facts.kernel} (host)`);
    expect(lines.find((l) => l.startsWith('[2] '))).toContain(`${plain!.run.release} (VM, ${plain!.run.accel.toUpperCase()}`);
    expect(lines.find((l) => l.startsWith('[3] '))).toContain(`${secret!.run.release} secretmem.enable=1 (VM,`);
    // One row per case, three status columns; `*` where the status differs.
    const starred: string[] = [];
    for (const e of host.entries) {
      const row = lines.find((l) => l.slice(3).startsWith(`${e.id} `));
      expect(row, e.id).toBeDefined();
      const cells = row!.slice(3).trim().split(/\s+/);
      expect(cells).toEqual([e.id, e.status, plain!.suite.entries.find((x) => x.id === e.id)!.status, secret!.suite.entries.find((x) => x.id === e.id)!.status]);
      if (row!.startsWith('*')) starred.push(e.id);
    }
    const differing = new Set([...versionDependent(host, plain!.suite, { a: true, b: false }), ...versionDependent(plain!.suite, secret!.suite, { a: false, b: true })]);
    for (const id of starred) expect(differing, `${id} is starred`).toContain(id);
    if (host.kind === 'probe') expect(starred.sort()).toEqual([...differing].sort());
  }, CLI_TEST_MS);

  itVm('memseal diff shows exactly the version-dependent cases', () => {
    const [plain, secret] = [boots.plain, boots.secretmem];
    expect(plain && secret, 'both boots ran').toBeTruthy();
    const hostFile = join(work, 'host.json');
    const hostRun = memseal(SUITE);
    expect(hostRun.status).toBe(0);
    writeFileSync(hostFile, hostRun.stdout);
    const host = readReport(JSON.parse(hostRun.stdout));

    const d1 = memseal(['diff', '--json', hostFile, plain!.file]);
    expect(d1.status).toBe(1); // they differ
    const ids1 = (JSON.parse(d1.stdout) as { differ: { id: string }[] }).differ.map((e) => e.id).sort();
    expect(ids1).toEqual(versionDependent(host, plain!.suite, { a: true, b: false }));
    expect(ids1.length).toBeGreaterThan(0);
    if (host.kind !== 'probe') {
      // Every difference has a reason, and a case the two kernels answer alike
      // is not listed even where its expectation names a version range
      // (Debian's 6.1 carries the 6.7 F_SEAL_WRITE change as a backport).
      for (const id of ids1) expect(explainDifference(id, host, plain!.suite), id).toBeDefined();
      expect(ids1).not.toContain('seals.write.read-only-shared-mmap');
      for (const id of ['mseal.syscall.available', 'memfd.flags.noexec-seal', 'secret.flags.cloexec']) expect(ids1).toContain(id);
    }
    console.log(`[diff] host ${host.facts.kernel} vs ${plain!.run.release}: ${ids1.join(', ')}`);

    const d2 = memseal(['diff', '--json', plain!.file, secret!.file]);
    expect(d2.status).toBe(1);
    const ids2 = (JSON.parse(d2.stdout) as { differ: { id: string }[] }).differ.map((e) => e.id).sort();
    expect(ids2).toEqual(versionDependent(plain!.suite, secret!.suite, { a: false, b: true }));
    if (host.kind === 'probe') expect(ids2).toEqual(['memfd_secret']);
    else for (const id of ids2) expect(id).toMatch(/secret/);

    // Human-readable: the same rows, and a kernel fact that differs.
    const text = memseal(['diff', hostFile, plain!.file]);
    expect(text.stdout).toMatch(new RegExp(`kernel\\s+${host.facts.kernel.replace(/[.+]/g, '\\$&')}\\s+${plain!.run.release.replace(/[.+]/g, '\\$&')}`));
    for (const id of ids1) expect(text.stdout).toMatch(new RegExp(`^${id}\\s`, 'm'));
    expect(text.stdout).toContain(`${ids1.length} ${host.kind === 'probe' ? 'features' : 'cases'} differ`);
  }, CLI_TEST_MS);

  itVm('--fetch prints the image of a debian: spec and boots nothing', () => {
    const r = memseal(['vm', '--fetch', '--kernel', 'debian:6.1']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(kernel.path);
    expect(r.stderr).toMatch(/linux-image-6\.1\.0-\d+-cloud-amd64-unsigned .* is cached/);
  }, CLI_TEST_MS);

  itVm('a kernel panic is an error that quotes the panic and the console', () => {
    // With an initramfs the kernel runs rdinit; a missing one leaves it
    // looking for a root device it does not have, and it panics.
    const r = memseal(['vm', '--quiet', '--kernel', kernel.path!, '--append', 'rdinit=/nonexistent', '--timeout', String(BOOT_LIMIT_S)]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/the guest kernel panicked: Kernel panic - not syncing: /);
    expect(r.stderr).toMatch(/--- the console's last \d+ lines ---/);
    expect(r.stderr).toMatch(/rdinit=\/nonexistent|Unable to mount root fs|No working init/);
  }, CLI_TEST_MS);

  itVm('too little memory for the initramfs is named as such, not only as a panic', () => {
    const r = memseal(['vm', '--quiet', '--kernel', kernel.path!, '--memory', '256', '--timeout', String(BOOT_LIMIT_S)]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the guest kernel panicked after it could not unpack the initramfs \(Initramfs unpacking failed: write error: it does not fit in 256 MiB; raise --memory\): Kernel panic/);
  }, CLI_TEST_MS);

  itVm('a guest that does not finish in time is killed, and the error says so', () => {
    const r = memseal(['vm', '--quiet', '--kernel', kernel.path!, '--timeout', '2']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/did not finish within 2 s \(init never started; (TCG|KVM)\); qemu was killed/);
    expect(r.stderr).toMatch(/raise --timeout/);
  }, CLI_TEST_MS);
});

describe('memseal vm errors that need no boot', () => {
  it('a missing kernel image is named', () => {
    const r = memseal(['vm', '--quiet', '--kernel', join(work, 'no-such-vmlinuz')], { MEMSEAL_VM_ACCEL: 'tcg' });
    expect(r.status).toBe(2); // a usage error, found before any boot
    expect(r.stderr).toMatch(/kernel image .*no-such-vmlinuz does not exist \(memseal vm --kernel debian:6\.1 fetches/);
  });

  itIf(hasBusybox(), 'busybox is missing (apt-get install busybox-static)')('a missing qemu names the package to install', () => {
    // Any existing file will do as the kernel: qemu is looked for first.
    const r = memseal(['vm', '--quiet', '--kernel', process.execPath], { MEMSEAL_VM_ACCEL: 'tcg', MEMSEAL_QEMU: join(work, 'no-such-qemu') });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/qemu-system-x86_64 not found: install it \(Debian\/Ubuntu: apt-get install qemu-system-x86/);
  });

  it('usage errors exit 2', () => {
    expect(memseal(['vm']).status).toBe(2);
    expect(memseal(['vm', '--kernel', 'a', '--kernel', 'b', '--append', 'x', '--append', 'y', '--append', 'z']).stderr).toMatch(/once per --kernel/);
    expect(memseal(['vm', '--kernel', 'a', '--memory', 'lots']).stderr).toMatch(/--memory must be a number/);
    expect(memseal(['vm', '--kernel', 'a', '--accel', 'hvf']).stderr).toMatch(/--accel is auto, kvm or tcg/);
    expect(memseal(['vm', '--kernel', 'a', '--append', 'x -- y']).stderr).toMatch(/must not contain '--'/);
    expect(memseal(['vm', '--kernel', 'debian:6.1', '--flavour', 'rt']).stderr).toMatch(/--flavour is cloud, generic, 16k/);
    expect(memseal(['vm', '--kernel', 'debian:latest']).stderr).toMatch(/is not a kernel spec: write debian:SERIES/);
    expect(memseal(['vm', '--kernel', 'a', '--kernel', 'b', '--config', 'x', '--config', 'y', '--config', 'z']).stderr).toMatch(/give --config once/);
    expect(memseal(['vm', '--fetch', '--host']).stderr).toMatch(/--fetch needs a --kernel/);
    for (const flag of ['--flavour', '--config', '--fetch', '--jobs', 'debian:SERIES']) expect(memseal(['vm', '--help']).stdout, flag).toContain(flag);
  });
});
