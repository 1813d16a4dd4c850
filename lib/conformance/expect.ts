/**
 * Which expectation applies to the running system, what a case's
 * requirements need, and how an observed outcome becomes a status.
 */
import { directMap } from '../direct-map.js';
import { compareVersions, parseKernelVersion, type KernelVersion } from '../kernel.js';
import { lowAddressCheck } from './low-address.js';
import type {
  Case,
  Condition,
  ConformanceEnv,
  Deviation,
  Expectation,
  Requirement,
  RequirementCheck,
  Source,
  Status,
} from './types.js';

/** The answer a kernel gives each policy probe when nothing stands in front of it. */
export const POLICY_KERNEL_ANSWER: Readonly<Record<string, string | null>> = {
  execveat: 'EBADF',
  ptrace: 'ESRCH',
  process_vm_readv: null,
  process_vm_writev: null,
  vmsplice: 'EBADF',
  unshare: null,
  pkey_mprotect: null,
};

/** The errnos a seccomp filter or LSM answers for a denied syscall. */
export const DENIAL_ERRNOS: ReadonlySet<string> = new Set(['EPERM', 'ENOSYS', 'EACCES']);

/** True when a filter or LSM answered the probe of `syscall` in the kernel's place. */
export function policyDenies(env: ConformanceEnv, syscall: string): boolean {
  if (syscall === 'mseal' || syscall === 'memfd_secret') return env.features[syscall].status === 'blocked';
  if (!(syscall in env.policy)) return false;
  const got = env.policy[syscall] ?? null;
  return got !== POLICY_KERNEL_ANSWER[syscall] && got !== null && DENIAL_ERRNOS.has(got);
}

function inVersionRange(e: Expectation, v: KernelVersion): boolean {
  if (e.since !== undefined && compareVersions(v, parseKernelVersion(e.since)) < 0) return false;
  if (e.before !== undefined && compareVersions(v, parseKernelVersion(e.before)) >= 0) return false;
  return true;
}

function conditionHolds(condition: Condition, env: ConformanceEnv): boolean {
  const words = env.cmdline.split(/\s+/);
  switch (condition) {
    case 'secretmem-boot-enabled':
      return words.includes('secretmem.enable=1') || words.includes('secretmem.enable=y');
    case 'secretmem-boot-disabled':
      return words.includes('secretmem.enable=0') || words.includes('secretmem.enable=n');
    case 'thp':
      return env.thp.built;
    case 'no-thp':
      return !env.thp.built;
    case 'shmem-huge':
      return shmemHuge(env);
    case 'no-shmem-huge':
      return !shmemHuge(env);
    case 'x86_64':
      return env.kernel.arch === 'x64';
    case 'arm64':
      return env.kernel.arch === 'arm64';
    case 'arm64-4k':
      return env.kernel.arch === 'arm64' && env.pageSize === 4096;
    case 'arm64-16k':
      return env.kernel.arch === 'arm64' && env.pageSize === 16384;
    case 'direct-map-fixed':
      return directMapOf(env).changeable === false;
  }
}

/** Whether the running kernel can change its direct map (memfd_secret needs it), from the boot options and configuration. */
export function directMapOf(env: ConformanceEnv): ReturnType<typeof directMap> {
  return directMap({ arch: env.kernel.arch, cmdline: env.cmdline, config: env.config.source === null ? null : env.config });
}

/** The internal shmem mount may use huge pages: THP built in and shmem_enabled neither "never" nor "deny". */
function shmemHuge(env: ConformanceEnv): boolean {
  return env.thp.built && env.thp.shmemEnabled !== null && env.thp.shmemEnabled !== 'never' && env.thp.shmemEnabled !== 'deny';
}

/** The first expectation of `c` that covers the running system, or undefined. */
export function selectExpectation(c: Case, env: ConformanceEnv): Expectation | undefined {
  const noexec = env.memfdNoexec ?? 0;
  return c.expect.find(
    (e) =>
      inVersionRange(e, env.kernel.version) &&
      (e.noexec === undefined || e.noexec.includes(noexec)) &&
      (e.condition === undefined || conditionHolds(e.condition, env)),
  );
}

/** A range as text: ">= 6.7", "< 6.3", "6.3 - <6.6", "all". */
export function rangeText(e: Expectation): string {
  let text = 'all';
  if (e.since !== undefined && e.before !== undefined) text = `${e.since} - <${e.before}`;
  else if (e.since !== undefined) text = `>= ${e.since}`;
  else if (e.before !== undefined) text = `< ${e.before}`;
  if (e.noexec !== undefined) text += `, vm.memfd_noexec ${e.noexec.join('/')}`;
  if (e.condition !== undefined) text += `, ${e.condition}`;
  return text;
}

export function accepted(e: Expectation): string[] {
  return typeof e.outcome === 'string' ? [e.outcome] : [...e.outcome];
}

function matchesDeviation(d: Deviation, observed: string): boolean {
  return typeof d.observed === 'string' ? d.observed === observed : d.observed.includes(observed);
}

function cite(s: Source): string {
  return `${s.path}${s.test ? ` (${s.test})` : ''}`;
}

/** The errno names inside an outcome string ("write=EPERM mmap=ok" -> EPERM). */
function errnosIn(observed: string): string[] {
  return observed.match(/\bE[A-Z0-9]+\b/g) ?? [];
}

/** The status for an observed outcome under expectation `e`. */
export function judge(c: Case, e: Expectation, observed: string, env: ConformanceEnv): { status: Status; reason: string | null } {
  if (accepted(e).includes(observed)) return { status: 'pass', reason: e.note ?? null };
  const deviation = e.deviations?.find((d) => matchesDeviation(d, observed));
  if (deviation !== undefined) return { status: 'deviation', reason: `${deviation.reason} [${cite(deviation.source)}]` };
  const denied = (c.syscalls ?? []).filter((s) => policyDenies(env, s));
  const unexpected = errnosIn(observed).filter((x) => DENIAL_ERRNOS.has(x) && !accepted(e).some((a) => a.includes(x)));
  if (denied.length > 0 && unexpected.length > 0) {
    return {
      status: 'blocked',
      reason: `a seccomp filter or LSM denies ${denied.join(', ')} here (the kernel has it): ${unexpected.join(', ')} came from the policy, not the kernel`,
    };
  }
  return { status: 'fail', reason: e.note ?? null };
}

function ok(): RequirementCheck {
  return { ok: true };
}

function skip(reason: string): RequirementCheck {
  return { ok: false, status: 'skip', reason };
}

function blocked(reason: string): RequirementCheck {
  return { ok: false, status: 'blocked', reason };
}

function featureCheck(env: ConformanceEnv, name: 'mseal' | 'memfd_secret' | 'hugetlb'): RequirementCheck {
  const f = env.features[name];
  if (f.status === 'supported') return ok();
  const why = `${name} ${f.status}${f.errno ? ` (${f.errno})` : ''}: ${f.why}`;
  return f.status === 'blocked' ? blocked(why) : skip(why);
}

/** Each requirement: what it means, and whether the running system meets it. */
export const REQUIREMENTS: Readonly<Record<Requirement, { describe: string; check(env: ConformanceEnv): RequirementCheck }>> = {
  root: {
    describe: 'effective uid 0',
    check: (env) => (env.euid === 0 ? ok() : skip(`needs root; running as uid ${env.euid}`)),
  },
  pidns: {
    describe: 'creating pid namespaces and writing vm.memfd_noexec in them (real root with CAP_SYS_ADMIN, Linux 6.3+)',
    check: (env) => {
      if (env.memfdNoexec === null) return skip('no vm.memfd_noexec (kernel before 6.3)');
      if (env.euid !== 0 || !env.caps.sysAdmin) return skip('needs root with CAP_SYS_ADMIN to create pid namespaces and write vm.memfd_noexec');
      if (policyDenies(env, 'unshare')) return blocked(`unshare is denied by a seccomp filter or LSM (${env.policy.unshare})`);
      if (!env.memfdNoexecWritable) return skip('/proc/sys is read-only here (a container without systempaths=unconfined)');
      return ok();
    },
  },
  secretmem: { describe: 'memfd_secret enabled', check: (env) => featureCheck(env, 'memfd_secret') },
  mseal: { describe: 'mseal present and allowed', check: (env) => featureCheck(env, 'mseal') },
  hugetlb: { describe: 'hugetlbfs memfds', check: (env) => featureCheck(env, 'hugetlb') },
  otherUser: {
    describe: "a step as uid 65534 (root only): this node and memseal's files open to every user",
    check: (env) =>
      env.euid !== 0 || env.closedToOthers === null
        ? ok()
        : skip(`a process of uid 65534 cannot reach ${env.closedToOthers} (no permission for other users), so it cannot run this node or memseal's code: put memseal where every user can read it`),
  },
  ipcLock: {
    describe: 'CAP_IPC_LOCK in the effective set',
    check: (env) => (env.caps.ipcLock ? ok() : skip(`needs CAP_IPC_LOCK, which this process lacks (uid ${env.euid}${env.container.detected ? ', in a container that drops it' : ''})`)),
  },
  hugepages: {
    describe: 'at least one free huge page of the default size',
    check: (env) =>
      (env.hugepages.free ?? 0) > 0 ? ok() : skip(`no free huge pages (HugePages_Free=${env.hugepages.free ?? 'unknown'}); reserve some with vm.nr_hugepages`),
  },
  noFreeHugepages: {
    describe: 'no free huge page of the default size',
    check: (env) => ((env.hugepages.free ?? 0) === 0 ? ok() : skip(`${env.hugepages.free} huge pages are free: the reservation would succeed`)),
  },
  secondProcess: { describe: 'a forked child process', check: () => ok() },
  ptrace: {
    describe: 'ptrace and process_vm_readv between a process and its child',
    check: (env) => {
      if (env.yamaPtraceScope === 3) return skip('ptrace is disabled (kernel.yama.ptrace_scope=3)');
      if (env.yamaPtraceScope === 2 && !env.caps.sysPtrace) return skip('kernel.yama.ptrace_scope=2 needs CAP_SYS_PTRACE');
      for (const s of ['ptrace', 'process_vm_readv']) {
        if (policyDenies(env, s)) return blocked(`${s} is denied by a seccomp filter or LSM (${env.policy[s]})`);
      }
      return ok();
    },
  },
  lowAddress: {
    describe: 'a mapping at address 0 (CAP_SYS_RAWIO below vm.mmap_min_addr, no LSM refusal)',
    check: () => {
      const r = lowAddressCheck();
      return r.ok ? ok() : skip(r.reason ?? 'cannot map address 0');
    },
  },
  pku: { describe: 'memory protection keys (x86 PKU, arm64 POE)', check: (env) => (env.pku ? ok() : skip(`no memory protection keys: ${whyNoPkeys(env)}`)) },
  machineCode: {
    describe: 'an architecture the catalog has machine code for (x86-64, arm64)',
    check: (env) => (env.kernel.arch === 'x64' || env.kernel.arch === 'arm64' ? ok() : skip(`the catalog carries machine code for x86-64 and arm64; this is ${env.kernel.arch}`)),
  },
  sh: { describe: '/bin/sh', check: (env) => (env.sh ? ok() : skip('no /bin/sh to interpret a script')) },
  devShm: { describe: 'a tmpfs at /dev/shm', check: (env) => (env.devShmTmpfs ? ok() : skip('no tmpfs mounted at /dev/shm')) },
  sysmapSealed: {
    describe: 'a kernel built to seal system mappings (CONFIG_MSEAL_SYSTEM_MAPPINGS=y in its configuration, 6.15+)',
    check: (env) => {
      const { source, options } = env.config;
      if (source !== null) {
        return options.CONFIG_MSEAL_SYSTEM_MAPPINGS === 'y'
          ? ok()
          : skip(`the kernel is built without CONFIG_MSEAL_SYSTEM_MAPPINGS (${source}${options.CONFIG_CHECKPOINT_RESTORE === 'y' ? '; it has CONFIG_CHECKPOINT_RESTORE, which excludes it' : ''})`);
      }
      // No configuration to read: a sealed [vdso] still proves the option.
      if (env.sysmapSealed) return ok();
      return skip(
        'no kernel configuration is readable (/proc/config.gz, /boot/config-RELEASE, /usr/lib/modules/RELEASE/config) and [vdso] is not sealed: a kernel built without CONFIG_MSEAL_SYSTEM_MAPPINGS cannot be told from one that failed to seal',
      );
    },
  },
  tmpfsPosixAcl: {
    describe: 'POSIX ACLs on tmpfs and memfds (CONFIG_TMPFS_POSIX_ACL=y in the kernel configuration)',
    check: (env) => {
      const { source, options } = env.config;
      if (source === null) {
        return skip('no kernel configuration is readable (/proc/config.gz, /boot/config-RELEASE, /usr/lib/modules/RELEASE/config): whether tmpfs takes POSIX ACLs (CONFIG_TMPFS_POSIX_ACL) is unknown');
      }
      return options.CONFIG_TMPFS_POSIX_ACL === 'y'
        ? ok()
        : skip(`the kernel is built without CONFIG_TMPFS_POSIX_ACL (${source}): setting system.posix_acl_access on a memfd fails with EOPNOTSUPP, so no ACL can change its mode`);
    },
  },
  hibernation: {
    describe: 'hibernation available (/sys/power/state offers "disk")',
    check: (env) => {
      if (env.powerStates?.split(/\s+/).includes('disk')) return ok();
      const built = env.config.source === null ? '' : env.config.options.CONFIG_HIBERNATION === 'y' ? ' (CONFIG_HIBERNATION=y)' : ' (the kernel is built without CONFIG_HIBERNATION)';
      return skip(
        `hibernation is not available here${built}: /sys/power/state offers ${env.powerStates === null ? 'nothing (unreadable)' : `"${env.powerStates}"`}; nohibernate, lockdown, or secret memory held by another process also take "disk" away`,
      );
    },
  },
  procMemForce: {
    describe: 'writes through /proc/PID/mem override page protections (proc_mem.force_override=always, or CONFIG_PROC_MEM_ALWAYS_FORCE)',
    check: (env) => {
      // Forced, or forced by the policy in force: run it (and let a refusal show as a fail).
      if (env.procMem.forced || env.procMem.policy === 'always') return ok();
      const why = env.procMem.from ?? 'the policy is unknown (no proc_mem.force_override option, no readable kernel configuration)';
      return skip(
        `this kernel does not force writes through /proc/self/mem to read-only pages (policy ${env.procMem.policy ?? 'unknown'}: ${why}); boot with proc_mem.force_override=always to run it`,
      );
    },
  },
};

/**
 * Why pkey_alloc fails: the CPU lacks the feature (x86 PKU: "pku" in
 * /proc/cpuinfo's flags; arm64 POE, FEAT_S1POE: "poe" in its Features), or
 * the kernel was built without it (X86_INTEL_MEMORY_PROTECTION_KEYS,
 * ARM64_POE) or switched it off.
 */
function whyNoPkeys(env: ConformanceEnv): string {
  const [feature, flag, option] =
    env.kernel.arch === 'arm64' ? ['POE (FEAT_S1POE)', 'poe', 'CONFIG_ARM64_POE'] : env.kernel.arch === 'x64' ? ['PKU', 'pku', 'CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS'] : [undefined, undefined, undefined];
  if (feature === undefined) return `pkey_alloc fails (${env.kernel.arch})`;
  if (env.cpuFeatures !== null && !env.cpuFeatures.includes(flag!)) return `pkey_alloc fails: the CPU has no ${feature} (no "${flag}" in /proc/cpuinfo)`;
  if (env.config.source !== null && env.config.options[option!] !== 'y') return `pkey_alloc fails: the kernel is built without ${option} (${env.config.source})`;
  return `pkey_alloc fails although the CPU has ${feature}${env.cpuFeatures === null ? ' (/proc/cpuinfo unreadable)' : ''}: switched off at boot?`;
}

/** The first unmet requirement of `c`, or undefined. */
export function unmetRequirement(c: Case, env: ConformanceEnv): RequirementCheck | undefined {
  for (const r of c.requires ?? []) {
    const check = REQUIREMENTS[r].check(env);
    if (!check.ok) return { ...check, requirement: r, reason: `${r}: ${check.reason}` };
  }
  return undefined;
}
