/**
 * probe(): what this kernel, and the policy around it, lets a process use.
 * Each feature is tried for real with a call that changes nothing, and the
 * answer is classified rather than thrown: expected conditions (ENOSYS,
 * EINVAL for an unknown flag, EPERM from a filter, EACCES from the sysctl)
 * become statuses; anything else propagates as a SyscallError.
 */
import { existsSync, readlinkSync } from 'node:fs';
import { arch } from 'node:os';
import { binding } from './binding.js';
import { constants, PAGE_SIZE } from './constants.js';
import { SyscallError, UnsupportedError } from './errors.js';
import { explainUnavailable, FEATURE_SINCE, type FeatureName } from './features.js';
import {
  kernelAtLeast,
  kernelRelease,
  kernelVersion,
  memfdNoexecSysctl,
  procStatusField,
  readSmallFile,
  seccompMode,
} from './kernel.js';
import { sealNames } from './seals.js';

/**
 * - `supported`: works here.
 * - `unsupported`: this kernel does not have it.
 * - `disabled`: the kernel has it, switched off (boot option or build config).
 * - `blocked`: a seccomp filter or LSM denies it although the kernel has it.
 * - `refused`: the kernel has it and refuses it by policy (vm.memfd_noexec=2).
 */
export type FeatureStatus = 'supported' | 'unsupported' | 'disabled' | 'blocked' | 'refused';

/** One feature's verdict. */
export interface FeatureReport {
  status: FeatureStatus;
  /** The errno name seen, or null when the call succeeded. */
  errno: string | null;
  /** The first kernel version with the feature. */
  since: string;
  /** One line: why this status. */
  why: string;
}

/** Everything probe() reports. */
export interface ProbeReport {
  kernel: { release: string; version: string; arch: string };
  node: string;
  uid: number;
  /**
   * `detected` when this process is in a pid namespace other than the
   * initial one; `engine` from marker files (/.dockerenv, /run/.containerenv,
   * cgroup paths) when present.
   */
  container: { detected: boolean; engine: string | null; pidNamespace: 'initial' | 'child' | 'unknown' };
  seccomp: {
    /** 0 none, 1 strict, 2 filter; null when /proc does not say. */
    mode: number | null;
    filters: number | null;
    /**
     * The errno of a control call (cachestat on an invalid fd) the kernel
     * answers with EBADF from 6.5 on; anything else there means a filter
     * answers syscalls it does not know.
     */
    controlErrno: string | null;
    deniesUnknownSyscalls: boolean | null;
  };
  /** vm.memfd_noexec in this pid namespace (null before 6.3). */
  memfdNoexec: number | null;
  limits: {
    /** RLIMIT_MEMLOCK in bytes. */
    memlock: { soft: number | 'unlimited'; hard: number | 'unlimited' };
    /** CAP_IPC_LOCK lets a process (root) lock memory past RLIMIT_MEMLOCK. */
    capIpcLock: boolean | null;
    maxMapCount: number | null;
    pageSize: number;
  };
  hugepages: { sizeKiB: number | null; total: number | null; free: number | null };
  features: Record<FeatureName, FeatureReport>;
}

function errnoNameOf(n: number): string {
  try {
    return new SyscallError('probe', -n).code;
  } catch {
    return `E${n}`;
  }
}

function classify(feature: FeatureName, err: unknown): FeatureReport {
  const since = FEATURE_SINCE[feature];
  if (!(err instanceof SyscallError)) throw err;
  const explained = explainUnavailable(err, feature);
  if (explained instanceof UnsupportedError) {
    const status: FeatureStatus = explained.reason === 'kernel' ? 'unsupported' : explained.reason;
    const why =
      explained.reason === 'kernel'
        ? `needs Linux ${since}; this kernel is ${kernelRelease()}`
        : (explained.hint ?? explained.message);
    return { status, errno: err.code, since, why };
  }
  if (err.code === 'EACCES' && feature === 'MFD_EXEC') {
    return { status: 'refused', errno: err.code, since, why: `vm.memfd_noexec=${memfdNoexecSysctl() ?? '?'} refuses executable memfds in this pid namespace` };
  }
  if (err.code === 'EPERM' || err.code === 'EACCES') {
    return { status: 'blocked', errno: err.code, since, why: 'denied by a seccomp filter or LSM policy' };
  }
  if (err.code === 'EINVAL') {
    return { status: 'unsupported', errno: err.code, since, why: 'the kernel does not accept the flag (EINVAL)' };
  }
  throw err;
}

function tryFeature(feature: FeatureName, attempt: () => string): FeatureReport {
  try {
    return { status: 'supported', errno: null, since: FEATURE_SINCE[feature], why: attempt() };
  } catch (err) {
    return classify(feature, err);
  }
}

function withMemfd<T>(flags: number, use: (fd: number) => T): T {
  const fd = binding().memfdCreate('memseal-probe', flags | constants.MFD_CLOEXEC);
  try {
    return use(fd);
  } finally {
    binding().close(fd);
  }
}

function describeMemfd(fd: number): string {
  const mode = (binding().fstat(fd).mode & 0o777).toString(8);
  const seals = [...sealNames(binding().getSeals(fd))].join(', ') || 'none';
  return `mode 0${mode}, seals: ${seals}`;
}

function probeFeatures(): Record<FeatureName, FeatureReport> {
  const b = binding();
  const hugepages = meminfoHuge();
  return {
    memfd_create: tryFeature('memfd_create', () => withMemfd(0, () => 'creates anonymous in-memory files')),
    MFD_EXEC: tryFeature('MFD_EXEC', () => withMemfd(constants.MFD_EXEC, (fd) => `executable memfds: ${describeMemfd(fd)}`)),
    MFD_NOEXEC_SEAL: tryFeature('MFD_NOEXEC_SEAL', () =>
      withMemfd(constants.MFD_NOEXEC_SEAL, (fd) => `never-executable memfds: ${describeMemfd(fd)}`),
    ),
    F_SEAL_EXEC: tryFeature('F_SEAL_EXEC', () =>
      withMemfd(constants.MFD_ALLOW_SEALING, (fd) => {
        b.addSeals(fd, constants.F_SEAL_EXEC);
        return 'freezes the execute bits';
      }),
    ),
    F_SEAL_FUTURE_WRITE: tryFeature('F_SEAL_FUTURE_WRITE', () =>
      withMemfd(constants.MFD_ALLOW_SEALING, (fd) => {
        b.addSeals(fd, constants.F_SEAL_FUTURE_WRITE);
        return 'blocks new writes while existing writable mappings keep working';
      }),
    ),
    memfd_secret: tryFeature('memfd_secret', () => {
      b.close(b.memfdSecret(constants.O_CLOEXEC));
      return 'memory removed from the kernel direct map';
    }),
    mseal: tryFeature('mseal', () => {
      b.mseal(0n, 0, 0); // a zero length seals nothing; only ENOSYS can fail it
      return 'mappings can be sealed against change';
    }),
    hugetlb: tryFeature('hugetlb', () =>
      withMemfd(constants.MFD_HUGETLB, () =>
        hugepages.free === 0
          ? `hugetlb memfds can be created, but no huge pages are free (HugePages_Free=0): mapping one fails`
          : `${hugepages.free} huge pages of ${hugepages.sizeKiB} KiB free`,
      ),
    ),
  };
}

function meminfoHuge(): ProbeReport['hugepages'] {
  const text = readSmallFile('/proc/meminfo') ?? '';
  const field = (name: string): number | null => {
    const m = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : null;
  };
  return { sizeKiB: field('Hugepagesize'), total: field('HugePages_Total'), free: field('HugePages_Free') };
}

// The initial pid namespace always has this inode number (PROC_PID_INIT_INO).
const INITIAL_PID_NS = 0xeffffffc;

function pidNamespaceInode(): number | null {
  try {
    const m = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function engineMarker(): string | null {
  if (existsSync('/run/.containerenv')) return 'podman';
  if (process.env.container) return process.env.container;
  const cgroup = readSmallFile('/proc/1/cgroup') ?? '';
  for (const engine of ['kubepods', 'docker', 'libpod', 'containerd', 'lxc']) {
    if (cgroup.includes(engine)) return engine;
  }
  if (existsSync('/.dockerenv')) return 'docker';
  return null;
}

/**
 * Whether this process runs in a container: a pid namespace other than the
 * initial one, with the engine named by its marker files when there are any.
 * A marker alone (a root filesystem built from an image, as on some VMs) does
 * not count.
 */
export function detectContainer(): ProbeReport['container'] {
  const ino = pidNamespaceInode();
  const engine = engineMarker();
  if (ino === null) return { detected: engine !== null, engine, pidNamespace: 'unknown' };
  const initial = ino === INITIAL_PID_NS;
  return { detected: !initial, engine: initial ? null : engine, pidNamespace: initial ? 'initial' : 'child' };
}

function capIpcLock(): boolean | null {
  const eff = procStatusField('CapEff');
  if (eff === undefined) return null;
  return (BigInt(`0x${eff}`) & (1n << 14n)) !== 0n;
}

function seccompReport(): ProbeReport['seccomp'] {
  const mode = seccompMode();
  const filters = procStatusField('Seccomp_filters');
  const control = binding().controlSyscallErrno();
  const controlErrno = control === 0 ? null : errnoNameOf(control);
  return {
    mode: mode ?? null,
    filters: filters === undefined ? null : Number(filters),
    controlErrno,
    deniesUnknownSyscalls: kernelAtLeast('6.5') ? controlErrno !== 'EBADF' : null,
  };
}

/**
 * Probes the running kernel. Never throws for a missing feature; throws a
 * SyscallError only for an unexpected failure (such as EMFILE).
 */
export function probe(): ProbeReport {
  const [soft, hard] = binding().getrlimit(binding().rlimits.RLIMIT_MEMLOCK);
  const maxMap = readSmallFile('/proc/sys/vm/max_map_count');
  return {
    kernel: { release: kernelRelease(), version: kernelVersion().join('.'), arch: arch() },
    node: process.version,
    uid: process.getuid?.() ?? -1,
    container: detectContainer(),
    seccomp: seccompReport(),
    memfdNoexec: memfdNoexecSysctl() ?? null,
    limits: {
      memlock: { soft: soft < 0 ? 'unlimited' : soft, hard: hard < 0 ? 'unlimited' : hard },
      capIpcLock: capIpcLock(),
      maxMapCount: maxMap === undefined ? null : Number(maxMap),
      pageSize: PAGE_SIZE,
    },
    hugepages: meminfoHuge(),
    features: probeFeatures(),
  };
}
