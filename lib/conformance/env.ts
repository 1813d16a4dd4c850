/**
 * The facts about the running system that decide which expectation applies
 * and which requirements are met: kernel version, vm.memfd_noexec, the
 * privileges held, the features probe() finds, and whether a seccomp filter
 * or LSM answers a syscall in the kernel's place.
 */
import { accessSync, closeSync, constants as fsConstants, existsSync, openSync, readFileSync, realpathSync, statfsSync, statSync } from 'node:fs';
import { arch } from 'node:os';
import { binding } from '../binding.js';
import { PAGE_SIZE } from '../constants.js';
import { SyscallError } from '../errors.js';
import { kernelConfig, kernelRelease, kernelVersion, memfdNoexecSysctl, procStatusField, readSmallFile } from '../kernel.js';
import { DIRECT_MAP_OPTIONS } from '../direct-map.js';
import { probe } from '../probe.js';
import { nodeFiles } from '../node-self.js';
import { childScript } from './context.js';
import type { ConformanceEnv } from './types.js';

/** The syscalls policyProbe() can test. */
export const POLICY_SYSCALLS = ['execveat', 'ptrace', 'process_vm_readv', 'process_vm_writev', 'vmsplice', 'unshare', 'pkey_mprotect'] as const;

const TMPFS_MAGIC = 0x01021994;

function errnoName(n: number): string | null {
  return n === 0 ? null : new SyscallError('probe', -n).code;
}


function capBit(bit: number): boolean {
  const eff = procStatusField('CapEff');
  return eff !== undefined && (BigInt(`0x${eff}`) & (1n << BigInt(bit))) !== 0n;
}

function pkuWorks(): boolean {
  try {
    binding().pkeyFree(binding().pkeyAlloc(0, 0));
    return true;
  } catch {
    return false;
  }
}

function vdsoSealed(): boolean {
  try {
    const smaps = readFileSync('/proc/self/smaps', 'utf8');
    const at = smaps.indexOf('[vdso]');
    if (at < 0) return false;
    const flags = /^VmFlags:(.*)$/m.exec(smaps.slice(at));
    return flags !== null && flags[1]!.split(/\s+/).includes('sl');
  } catch {
    return false;
  }
}

function devShmIsTmpfs(): boolean {
  try {
    return statfsSync('/dev/shm').type === TMPFS_MAGIC;
  } catch {
    return false;
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, fsConstants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a forked child may read this process's memory (PTRACE_PEEKDATA,
 * process_vm_readv) at an ordinary page: an LSM (AppArmor, Yama) can refuse
 * what the harmless policy probes cannot show. The errno name of a refusal,
 * per call, or null when the read worked.
 */
function remoteReadControl(): { ptrace: string | null; process_vm_readv: string | null } {
  const b = binding();
  const c = b.constants;
  const pc = b.procConstants;
  const addr = b.mmap(0n, PAGE_SIZE, c.PROT_READ! | c.PROT_WRITE!, c.MAP_PRIVATE! | c.MAP_ANONYMOUS!, -1, 0);
  try {
    const one = (op: number): string | null => {
      const r = b.forkProbe(op, addr, 8, 0, 5);
      return r.errno === null || r.errno === 0 ? null : errnoName(r.errno);
    };
    return { ptrace: one(pc.FORK_PEEK_PARENT!), process_vm_readv: one(pc.FORK_VM_READ_PARENT!) };
  } finally {
    b.munmap(addr, PAGE_SIZE);
  }
}

/** The configuration options the catalog reads (requirements, conditions and skip reasons). */
export const CONFIG_OPTIONS: readonly string[] = [
  'CONFIG_MSEAL_SYSTEM_MAPPINGS',
  'CONFIG_CHECKPOINT_RESTORE',
  'CONFIG_PROC_MEM_ALWAYS_FORCE',
  'CONFIG_PROC_MEM_FORCE_PTRACE',
  'CONFIG_PROC_MEM_NO_FORCE',
  'CONFIG_TRANSPARENT_HUGEPAGE',
  'CONFIG_SECRETMEM',
  'CONFIG_HUGETLBFS',
  'CONFIG_HIBERNATION',
  'CONFIG_UPROBES',
  'CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS',
  'CONFIG_ARM64_POE',
  ...DIRECT_MAP_OPTIONS,
  'CONFIG_TMPFS_POSIX_ACL',
];

function configFacts(): ConformanceEnv['config'] {
  const cfg = kernelConfig();
  const options: Record<string, string> = {};
  if (cfg !== undefined) for (const name of CONFIG_OPTIONS) if (cfg.options.has(name)) options[name] = cfg.options.get(name)!;
  return { source: cfg?.source ?? null, options, unset: cfg === undefined ? [] : CONFIG_OPTIONS.filter((name) => cfg.unset.has(name)) };
}

/** The CPU's feature words: /proc/cpuinfo's "flags" (x86) or "Features" (arm64) line of the first CPU. */
function cpuFeatures(): string[] | null {
  const line = /^(flags|Features)\s*:(.*)$/m.exec(readSmallFile('/proc/cpuinfo') ?? '');
  return line === null ? null : line[2]!.trim().split(/\s+/);
}

/** THP built in, and the bracketed choice of shmem_enabled ("always within_size advise [never] deny force"). */
function thpFacts(): ConformanceEnv['thp'] {
  const built = existsSync('/sys/kernel/mm/transparent_hugepage');
  const shmem = readSmallFile('/sys/kernel/mm/transparent_hugepage/shmem_enabled');
  const chosen = shmem === undefined ? null : (/\[([a-z_]+)\]/.exec(shmem)?.[1] ?? null);
  return { built, shmemEnabled: chosen };
}

/**
 * Whether /proc/self/mem can write a read-only page of this process, tried
 * on a page of our own; and the policy that explains it: the
 * proc_mem.force_override boot option (6.12+, and stable kernels that took
 * it), else the CONFIG_PROC_MEM_* choice, else unknown.
 */
function procMemFacts(cmdline: string, config: ConformanceEnv['config']): ConformanceEnv['procMem'] {
  const word = cmdline.split(/\s+/).find((w) => w.startsWith('proc_mem.force_override='));
  const boot = word?.slice('proc_mem.force_override='.length);
  let policy: ConformanceEnv['procMem']['policy'] = null;
  let from: string | null = null;
  if (boot === 'always' || boot === 'ptrace' || boot === 'never') {
    policy = boot;
    from = `boot option ${word}`;
  } else if (config.source !== null) {
    const o = config.options;
    policy = o.CONFIG_PROC_MEM_NO_FORCE === 'y' ? 'never' : o.CONFIG_PROC_MEM_FORCE_PTRACE === 'y' ? 'ptrace' : 'always';
    const set = ['CONFIG_PROC_MEM_NO_FORCE', 'CONFIG_PROC_MEM_FORCE_PTRACE', 'CONFIG_PROC_MEM_ALWAYS_FORCE'].find((n) => o[n] === 'y');
    from = set !== undefined ? `${set}=y (${config.source})` : `no CONFIG_PROC_MEM_* option (${config.source}): writes are always forced`;
  }
  return { forced: procMemWriteWorks(), policy, from };
}

function procMemWriteWorks(): boolean {
  const b = binding();
  const c = b.constants;
  const addr = b.mmap(0n, PAGE_SIZE, c.PROT_READ!, c.MAP_PRIVATE! | c.MAP_ANONYMOUS!, -1, 0);
  let fd = -1;
  try {
    fd = openSync('/proc/self/mem', fsConstants.O_RDWR);
    return b.write(fd, Buffer.from([1]), 0, 1, addr) === 1;
  } catch {
    return false;
  } finally {
    if (fd >= 0) closeSync(fd);
    b.munmap(addr, PAGE_SIZE);
  }
}

/**
 * The first path a process of another user (the cases use uid 65534) could
 * not reach on its way to this node binary (to run it) or memseal's child
 * script (to read it): a directory without search permission for others, or
 * the file without read permission. Null when both are open to everyone. A
 * checkout in a `mktemp -d` folder (mode 0700) is the usual case.
 */
export function closedToOthers(targets: readonly { path: string; need: number }[]): string | null {
  for (const { path: target, need } of targets) {
    let real: string;
    try {
      real = realpathSync(target);
    } catch {
      return target;
    }
    const parts = real.split('/').filter(Boolean);
    let path = '';
    for (let i = 0; i < parts.length; i++) {
      path += `/${parts[i]}`;
      const bits = i === parts.length - 1 ? need : 0o001;
      if ((statSync(path).mode & bits) !== bits) return path;
    }
  }
  return null;
}

/** Gathers the environment once; children receive it from the runner. */
export function gatherEnv(): ConformanceEnv {
  const p = probe();
  const policy: Record<string, string | null> = {};
  for (const name of POLICY_SYSCALLS) policy[name] = errnoName(binding().policyProbe(name));
  // A refusal of the real thing overrides a probe that looked fine.
  for (const [name, refused] of Object.entries(remoteReadControl())) if (refused !== null) policy[name] = refused;
  const yama = readSmallFile('/proc/sys/kernel/yama/ptrace_scope');
  const cmdline = readSmallFile('/proc/cmdline') ?? '';
  const config = configFacts();
  return {
    kernel: { release: kernelRelease(), version: kernelVersion(), arch: arch() },
    node: process.version,
    uid: process.getuid?.() ?? -1,
    euid: process.geteuid?.() ?? -1,
    caps: { sysAdmin: capBit(21), ipcLock: capBit(14), sysPtrace: capBit(19) },
    container: p.container,
    seccomp: { mode: p.seccomp.mode, filters: p.seccomp.filters, controlErrno: p.seccomp.controlErrno },
    memfdNoexec: memfdNoexecSysctl() ?? null,
    memfdNoexecWritable: writable('/proc/sys/vm/memfd_noexec'),
    features: p.features,
    policy,
    hugepages: { free: p.hugepages.free, sizeKiB: p.hugepages.sizeKiB },
    pku: pkuWorks(),
    cpuFeatures: cpuFeatures(),
    cmdline,
    sh: existsSync('/bin/sh'),
    devShmTmpfs: devShmIsTmpfs(),
    yamaPtraceScope: yama === undefined ? null : Number(yama),
    sysmapSealed: vdsoSealed(),
    closedToOthers: closedToOthers([
      ...nodeFiles().map((path) => ({ path, need: 0o005 })),
      { path: childScript(), need: 0o004 },
    ]),
    pageSize: PAGE_SIZE,
    config,
    thp: thpFacts(),
    procMem: procMemFacts(cmdline, config),
    powerStates: readSmallFile('/sys/power/state') ?? null,
  };
}
