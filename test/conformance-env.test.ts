/**
 * The facts the catalog reads beyond the kernel version, and what they
 * decide: the patch level Debian hides from its 6.1 release string, the
 * kernel configuration, the requirements read from it (sealed system
 * mappings, forced /proc/PID/mem writes, hibernation, POSIX ACLs on tmpfs),
 * and the conditions that pick an expectation (THP, shmem huge pages).
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { binding } from '../lib/binding.js';
import { ACCESS_ACL, accessAcl } from '../lib/conformance/acl.js';
import { closedToOthers, gatherEnv } from '../lib/conformance/env.js';
import { errno } from '../lib/conformance/helpers.js';
import { CATALOG } from '../lib/conformance/index.js';
import { REQUIREMENTS, selectExpectation } from '../lib/conformance/expect.js';
import type { ConformanceEnv } from '../lib/conformance/types.js';
import { distributionVersion, kernelConfig, parseKernelConfig, parseKernelVersion, parseUnsetOptions } from '../lib/kernel.js';

const env = gatherEnv();
const work = mkdtempSync(join(tmpdir(), 'memseal-env-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function withConfig(options: Record<string, string>, source: string | null = '/boot/config-test'): ConformanceEnv {
  return { ...env, config: { source, options, unset: [] } };
}

describe('kernel version', () => {
  it("takes Debian's patch level from the version string when the release hides it", () => {
    expect(distributionVersion('6.1.0-57-cloud-amd64', '#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)')).toEqual([6, 1, 192]);
    expect(distributionVersion('6.12.117+deb12-cloud-amd64', '#1 SMP PREEMPT_DYNAMIC Debian 6.12.117-1~deb12u1 (2026-11-14)')).toEqual([6, 12, 117]);
    // Another series, or an older patch level than the release says, is not believed.
    expect(distributionVersion('6.12.117+deb12-cloud-amd64', '#1 SMP Debian 6.1.192-3')).toBeUndefined();
    expect(distributionVersion('6.1.50-custom', '#1 SMP Debian 6.1.10-1')).toBeUndefined();
    expect(distributionVersion('6.18.44-fc', '#1 SMP PREEMPT_DYNAMIC @0')).toBeUndefined();
    expect(parseKernelVersion('6.1.0-57-cloud-amd64')).toEqual([6, 1, 0]);
  });
});

describe('kernel configuration', () => {
  const text = '#\n# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C="x y"\nCONFIG_D=m\n';

  it('parses set options and leaves out unset ones, which it lists apart: they exist in that kernel, unlike options in neither list', () => {
    const o = parseKernelConfig(text);
    expect([...o.entries()]).toEqual([
      ['CONFIG_A', 'y'],
      ['CONFIG_C', '"x y"'],
      ['CONFIG_D', 'm'],
    ]);
    expect([...parseUnsetOptions(text)]).toEqual(['CONFIG_B']);
  });

  it('reads the first readable of its paths, gzipped or plain', () => {
    const gz = join(work, 'config.gz');
    writeFileSync(gz, gzipSync(text));
    const plain = join(work, 'config-plain');
    writeFileSync(plain, 'CONFIG_Z=y\n');
    expect(kernelConfig([join(work, 'missing'), gz, plain])).toMatchObject({ source: gz });
    expect(kernelConfig([plain])!.options.get('CONFIG_Z')).toBe('y');
    expect([...kernelConfig([gz])!.unset]).toEqual(['CONFIG_B']);
    expect(kernelConfig([join(work, 'missing')])).toBeUndefined();
  });

  it('the environment keeps only the options the catalog reads, and says where it found them', () => {
    expect(Object.keys(env.config.options).every((k) => k.startsWith('CONFIG_'))).toBe(true);
    if (env.config.source !== null) expect(env.config.options.CONFIG_SECRETMEM ?? 'absent').toMatch(/^(y|absent)$/);
  });
});

describe('requirements read from the configuration', () => {
  const sysmap = REQUIREMENTS.sysmapSealed.check;

  it('sealed system mappings: built with the option, built without it, or no configuration to tell', () => {
    expect(sysmap(withConfig({ CONFIG_MSEAL_SYSTEM_MAPPINGS: 'y' }))).toEqual({ ok: true });
    const without = sysmap(withConfig({ CONFIG_CHECKPOINT_RESTORE: 'y' }));
    expect(without.ok).toBe(false);
    expect(without.reason).toMatch(/built without CONFIG_MSEAL_SYSTEM_MAPPINGS \(\/boot\/config-test; it has CONFIG_CHECKPOINT_RESTORE/);
    const unknown = sysmap({ ...withConfig({}, null), sysmapSealed: false });
    expect(unknown.reason).toMatch(/no kernel configuration is readable .* cannot be told from one that failed to seal/);
    // Without a configuration, a sealed [vdso] proves the option.
    expect(sysmap({ ...withConfig({}, null), sysmapSealed: true }).ok).toBe(true);
  });

  it('POSIX ACLs on memfds: built with CONFIG_TMPFS_POSIX_ACL, built without it (EOPNOTSUPP), or no configuration to tell', () => {
    const acl = REQUIREMENTS.tmpfsPosixAcl.check;
    expect(acl(withConfig({ CONFIG_TMPFS_POSIX_ACL: 'y' }))).toEqual({ ok: true });
    const without = acl(withConfig({ CONFIG_TMPFS: 'y' }));
    expect(without.ok).toBe(false);
    expect(without.reason).toMatch(/built without CONFIG_TMPFS_POSIX_ACL \(\/boot\/config-test\): setting system\.posix_acl_access on a memfd fails with EOPNOTSUPP/);
    expect(acl(withConfig({}, null)).reason).toMatch(/no kernel configuration is readable .*CONFIG_TMPFS_POSIX_ACL\) is unknown/);
  });

  it.skipIf(env.config.source === null)('on this machine a memfd takes an access ACL exactly when the configuration says tmpfs has them', () => {
    const b = binding();
    const fd = b.memfdCreate('env-acl', b.constants.MFD_CLOEXEC!);
    try {
      const mode = b.fstat(fd).mode & 0o777;
      const set = errno(() => b.fsetxattr(fd, ACCESS_ACL, accessAcl(mode), 0));
      expect(set).toBe(env.config.options.CONFIG_TMPFS_POSIX_ACL === 'y' ? 'ok' : 'ENOTSUP');
      expect(b.fstat(fd).mode & 0o777).toBe(mode);
    } finally {
      b.close(fd);
    }
  });

  it('forced /proc/PID/mem writes: what the probe saw, and the policy that explains a refusal', () => {
    const proc = REQUIREMENTS.procMemForce.check;
    expect(proc({ ...env, procMem: { forced: true, policy: 'always', from: 'x' } }).ok).toBe(true);
    const ptrace = proc({ ...env, procMem: { forced: false, policy: 'ptrace', from: 'CONFIG_PROC_MEM_FORCE_PTRACE=y (/boot/config-x)' } });
    expect(ptrace.ok).toBe(false);
    expect(ptrace.reason).toMatch(/policy ptrace: CONFIG_PROC_MEM_FORCE_PTRACE=y .*proc_mem\.force_override=always/);
    // A kernel whose policy is "always" but refuses runs the case, so the refusal shows as a failure.
    expect(proc({ ...env, procMem: { forced: false, policy: 'always', from: 'x' } }).ok).toBe(true);
  });

  it('on this machine the probe agrees with the policy it read', () => {
    if (env.procMem.policy === 'always') expect(env.procMem.forced).toBe(true);
    if (env.procMem.policy === 'never') expect(env.procMem.forced).toBe(false);
  });

  it('a step as another user: the first path closed to others (a checkout in a mode-0700 folder) skips the cases that need one', () => {
    chmodSync(work, 0o755); // mkdtemp made it 0700
    const closed = join(work, 'private');
    mkdirSync(join(closed, 'pkg'), { recursive: true });
    const file = join(closed, 'pkg', 'child.js');
    writeFileSync(file, '');
    chmodSync(file, 0o644);
    chmodSync(closed, 0o700);
    expect(closedToOthers([{ path: file, need: 0o004 }])).toBe(closed);
    chmodSync(closed, 0o755);
    expect(closedToOthers([{ path: file, need: 0o004 }])).toBeNull();
    chmodSync(file, 0o600);
    expect(closedToOthers([{ path: file, need: 0o004 }])).toBe(file);
    const other = REQUIREMENTS.otherUser.check;
    expect(other({ ...env, euid: 0, closedToOthers: closed }).reason).toMatch(/uid 65534 cannot reach .*private \(no permission for other users\)/);
    expect(other({ ...env, euid: 0, closedToOthers: null }).ok).toBe(true);
    expect(other({ ...env, euid: 1000, closedToOthers: closed }).ok).toBe(true); // not root: the cases run as this user
  });

  it('hibernation: "disk" offered, or why not', () => {
    const h = REQUIREMENTS.hibernation.check;
    expect(h({ ...env, powerStates: 'freeze mem disk' }).ok).toBe(true);
    expect(h({ ...withConfig({}), powerStates: 'freeze' }).reason).toMatch(/built without CONFIG_HIBERNATION/);
    expect(h({ ...withConfig({ CONFIG_HIBERNATION: 'y' }), powerStates: 'freeze mem' }).reason).toMatch(/CONFIG_HIBERNATION=y.*offers "freeze mem"/);
  });
});

describe('conditions', () => {
  const shortWrite = CATALOG.find((c) => c.id === 'seals.grow.short-write')!;
  const at = (release: string, thp: ConformanceEnv['thp']): string | undefined => {
    const e = selectExpectation(shortWrite, { ...env, kernel: { ...env.kernel, release, version: parseKernelVersion(release) }, thp });
    return e === undefined ? undefined : String(e.outcome);
  };

  it('the write chunk decides seals.grow.short-write: page by page, or refused whole when memfds hold large folios', () => {
    const short = 'across=2*page at-end=EPERM size=2*page';
    const refused = 'across=EPERM at-end=EPERM size=2*page';
    expect(at('6.1.192', { built: true, shmemEnabled: 'never' })).toBe(short);
    expect(at('6.12.117', { built: true, shmemEnabled: 'never' })).toBe(refused);
    expect(at('6.12.117', { built: false, shmemEnabled: null })).toBe(short);
    expect(at('6.18.44', { built: true, shmemEnabled: 'never' })).toBe(short);
    expect(at('6.18.44', { built: true, shmemEnabled: 'deny' })).toBe(short);
    expect(at('6.18.44', { built: true, shmemEnabled: 'within_size' })).toBe(refused);
    expect(at('7.3.4', { built: true, shmemEnabled: 'never' })).toBe(refused);
    // Kernels no source or measurement covers get no expectation.
    expect(at('6.15.2', { built: true, shmemEnabled: 'never' })).toBeUndefined();
  });

  it('secret memory accounting follows the CVE-2026-93243 fix by patch level', () => {
    const locked = CATALOG.find((c) => c.id === 'secret.mmap.locked')!;
    const lo = (v: string): string | undefined => {
      const e = selectExpectation(locked, { ...env, kernel: { ...env.kernel, release: v, version: parseKernelVersion(v) } });
      return e === undefined ? undefined : String(e.outcome).split(' ')[0];
    };
    expect([lo('6.1.190'), lo('6.1.191'), lo('6.12.112'), lo('6.12.113'), lo('6.18.44'), lo('7.2.12'), lo('7.3.4')]).toEqual([
      'lo=true',
      'lo=false',
      'lo=true',
      'lo=false',
      'lo=true',
      'lo=false',
      'lo=false',
    ]);
    for (const unknown of ['6.6.100', '6.18.60', '7.0.5']) expect(lo(unknown), unknown).toBeUndefined();
  });
});

describe('the machine: what each architecture and page size expects', () => {
  /** This machine's facts, as an arm64 kernel with `pageSize` pages, a configuration and a command line would give them. */
  const arm64 = (pageSize: number, cmdline = '', options: Record<string, string> = {}, unset: string[] = []): ConformanceEnv => ({
    ...env,
    kernel: { ...env.kernel, arch: 'arm64', release: '7.3.4+deb13-cloud-arm64', version: parseKernelVersion('7.3.4') },
    pageSize,
    cmdline,
    memfdNoexec: 0,
    config: { source: '/boot/config-7.3.4', options, unset },
  });
  const outcome = (id: string, e: ConformanceEnv): string | undefined => {
    const x = selectExpectation(CATALOG.find((c) => c.id === id)!, e);
    return x === undefined ? undefined : String(x.outcome);
  };

  it("flag bits, huge page sizes and system mappings are the architecture's own", () => {
    expect(outcome('memfd.fd.status-flags', arm64(4096))).toBe('0x20002');
    expect(outcome('memfd.fd.status-flags', { ...env, memfdNoexec: 0, kernel: { ...env.kernel, arch: 'x64' } })).toBe('0x8002');
    expect(outcome('hugetlb.flags.offered-sizes', arm64(4096))).toBe('64k=ok 2m=ok 32m=ok 1g=ok');
    expect(outcome('hugetlb.flags.offered-sizes', arm64(16384))).toBe('64k=ENODEV 2m=ok 32m=ok 1g=ok');
    expect(outcome('hugetlb.flags.unsupported-size', arm64(4096))).toBe('16k=ENODEV 16g=ENODEV');
    expect(outcome('mseal.sysmap.present', arm64(4096))).toBe('[vdso] [vvar]');
    expect(outcome('mseal.sysmap.vvar-vclock-sealed', arm64(4096))).toBe('absent');
    expect(outcome('mseal.sysmap.vvar-sealed', arm64(4096))).toBe('sealed');
    // No page size the catalog knows of: no expectation, so a skip that says so rather than a guess.
    expect(outcome('hugetlb.flags.offered-sizes', arm64(65536))).toBeUndefined();
  });

  it('memfd_secret is expected off exactly where the kernel cannot change its direct map (arm64, 7.3.4 keywords)', () => {
    const debian73 = { CONFIG_SECRETMEM: 'y', CONFIG_KFENCE: 'y', CONFIG_KFENCE_SAMPLE_INTERVAL: '0' };
    expect(outcome('secret.syscall.available', arm64(4096, '', debian73))).toBe('ok');
    expect(outcome('secret.syscall.available', arm64(4096, 'rodata=noalias kfence.sample_interval=100', debian73))).toBe('ENOSYS');
    expect(outcome('secret.syscall.available', arm64(4096, 'rodata=on kfence.sample_interval=100', debian73))).toBe('ok');
    // 6.12's keywords: the configuration has RODATA_FULL_DEFAULT_ENABLED, and rodata=on clears rodata_full.
    const debian612 = { ...debian73, CONFIG_RODATA_FULL_DEFAULT_ENABLED: 'y' };
    const e612 = { ...arm64(4096, 'rodata=on kfence.sample_interval=100', debian612), kernel: { ...env.kernel, arch: 'arm64', release: '6.12.118', version: parseKernelVersion('6.12.118') } };
    expect(outcome('secret.syscall.available', e612)).toBe('ENOSYS');
  });

  it('protection keys: the skip names the CPU feature an arm64 or x86-64 machine lacks', () => {
    const pku = REQUIREMENTS.pku.check;
    expect(pku({ ...arm64(4096, '', { CONFIG_ARM64_POE: 'y' }), pku: false, cpuFeatures: ['fp', 'asimd', 'sve'] }).reason).toBe('no memory protection keys: pkey_alloc fails: the CPU has no POE (FEAT_S1POE) (no "poe" in /proc/cpuinfo)');
    expect(pku({ ...arm64(4096, '', {}), pku: false, cpuFeatures: ['fp', 'poe'] }).reason).toMatch(/built without CONFIG_ARM64_POE/);
    expect(pku({ ...env, kernel: { ...env.kernel, arch: 'x64' }, pku: false, cpuFeatures: ['fpu', 'sse'] }).reason).toMatch(/the CPU has no PKU \(no "pku" in \/proc\/cpuinfo\)/);
    expect(REQUIREMENTS.machineCode.check({ ...env, kernel: { ...env.kernel, arch: 'riscv64' } }).reason).toMatch(/x86-64 and arm64; this is riscv64/);
  });
});
