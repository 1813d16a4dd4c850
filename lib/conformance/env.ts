/**
 * The facts about the running system that decide which expectation applies
 * and which requirements are met: kernel version, vm.memfd_noexec, the
 * privileges held, the features probe() finds, and whether a seccomp filter
 * or LSM answers a syscall in the kernel's place.
 */
import { accessSync, constants as fsConstants, existsSync, readFileSync, statfsSync } from 'node:fs';
import { arch } from 'node:os';
import { binding } from '../binding.js';
import { PAGE_SIZE } from '../constants.js';
import { SyscallError } from '../errors.js';
import { kernelRelease, kernelVersion, memfdNoexecSysctl, procStatusField, readSmallFile } from '../kernel.js';
import { probe } from '../probe.js';
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

/** Gathers the environment once; children receive it from the runner. */
export function gatherEnv(): ConformanceEnv {
  const p = probe();
  const policy: Record<string, string | null> = {};
  for (const name of POLICY_SYSCALLS) policy[name] = errnoName(binding().policyProbe(name));
  // A refusal of the real thing overrides a probe that looked fine.
  for (const [name, refused] of Object.entries(remoteReadControl())) if (refused !== null) policy[name] = refused;
  const yama = readSmallFile('/proc/sys/kernel/yama/ptrace_scope');
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
    cmdline: readSmallFile('/proc/cmdline') ?? '',
    sh: existsSync('/bin/sh'),
    devShmTmpfs: devShmIsTmpfs(),
    yamaPtraceScope: yama === undefined ? null : Number(yama),
    sysmapSealed: vdsoSealed(),
    pageSize: PAGE_SIZE,
  };
}
