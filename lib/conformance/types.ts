/**
 * The shape of the conformance catalog: each case is data (id, title,
 * sources, requirements, the expected outcome per kernel version range) plus
 * a `run()` that makes the real syscalls and returns what it observed.
 */
import type { RawBinding, RawConstants } from '../binding.js';
import type { KernelVersion } from '../kernel.js';
import type { FeatureName } from '../features.js';
import type { FeatureReport } from '../probe.js';

/** The families, one module each under lib/conformance/ (vm.memfd_noexec belongs to exec). */
export type Family = 'memfd' | 'seals' | 'exec' | 'secret' | 'mseal' | 'hugetlb';

/** Every family, in report order. */
export const FAMILIES: readonly Family[] = ['memfd', 'seals', 'exec', 'secret', 'mseal', 'hugetlb'];

/**
 * Where an expectation comes from.
 * - `selftest`: the kernel's own tests (torvalds/linux tools/testing/selftests/...)
 * - `ltp`: linux-test-project/ltp
 * - `man`: a man page (the man-pages project)
 * - `doc`: kernel documentation (torvalds/linux Documentation/...)
 * - `code`: kernel source read where no test covers the row (mm/memfd.c ...)
 * - `lkml`: a patch or thread on the kernel mailing lists, by subject
 * - `observed`: measured on a named kernel with no upstream test behind it
 */
export type SourceKind = 'selftest' | 'ltp' | 'man' | 'doc' | 'code' | 'lkml' | 'observed';

export interface Source {
  kind: SourceKind;
  /** Repository and path (`torvalds/linux tools/testing/selftests/memfd/memfd_test.c`), or a subject line. */
  path: string;
  /** The test function, test case, or section. */
  test?: string;
}

/**
 * What a case needs from the machine; unmet, the case is skipped with the
 * reason (or `blocked`, when a seccomp filter or LSM is what stands in the way).
 */
export type Requirement =
  | 'root' // euid 0
  | 'ipcLock' // CAP_IPC_LOCK in the effective set (root outside a container; Docker drops it)
  | 'pidns' // may create pid namespaces and write vm.memfd_noexec in them (root, CAP_SYS_ADMIN, 6.3+)
  | 'secretmem' // memfd_secret enabled
  | 'mseal' // mseal present and allowed
  | 'hugetlb' // hugetlbfs memfds can be created
  | 'hugepages' // at least one free default-size huge page
  | 'noFreeHugepages' // no free huge page (cases about the reservation failing)
  | 'secondProcess' // a forked child can inspect this one (fork allowed)
  | 'ptrace' // ptrace and process_vm_readv allowed between parent and child
  | 'pku' // memory protection keys (pkey_alloc works)
  | 'lowAddress' // this process may map page 0 (CAP_SYS_RAWIO below vm.mmap_min_addr; tried at run time)
  | 'machineCode' // the catalog carries machine code for this architecture (x86-64, arm64)
  | 'sh' // /bin/sh exists (script exec cases)
  | 'devShm' // a tmpfs is mounted at /dev/shm
  | 'tmpfsPosixAcl' // tmpfs (and so memfds) takes POSIX ACLs (CONFIG_TMPFS_POSIX_ACL, read from its configuration)
  | 'sysmapSealed' // the kernel is built to seal system mappings (CONFIG_MSEAL_SYSTEM_MAPPINGS, read from its configuration)
  | 'otherUser' // root can run a step as uid 65534: this node and memseal's files are open to every user
  | 'hibernation' // /sys/power/state offers "disk" (hibernation built in and available)
  | 'procMemForce'; // writes through /proc/PID/mem may override page protections (proc_mem.force_override, CONFIG_PROC_MEM_*)

/** A condition of the running system an expectation range can depend on, besides version and vm.memfd_noexec. */
export type Condition =
  | 'secretmem-boot-enabled'
  | 'secretmem-boot-disabled'
  /** Transparent huge pages are built in (/sys/kernel/mm/transparent_hugepage exists). */
  | 'thp'
  | 'no-thp'
  /** The internal shmem mount (memfds) may use huge pages: shmem_enabled is not "never" or "deny". */
  | 'shmem-huge'
  | 'no-shmem-huge'
  /** The machine: x86-64, or arm64 (any page size). */
  | 'x86_64'
  | 'arm64'
  /** arm64 with 4 KiB or 16 KiB pages (Debian's arm64 and arm64-16k flavours). */
  | 'arm64-4k'
  | 'arm64-16k'
  /**
   * The kernel cannot change its direct map (can_set_direct_map() false:
   * arm64 without rodata_full, debug_pagealloc or a late KFENCE pool, read
   * from the boot options and the configuration: lib/direct-map.ts).
   */
  | 'direct-map-fixed';

/** A known, cited way a kernel departs from the documented behaviour. */
export interface Deviation {
  /** The observed outcome(s) that mean this deviation. */
  observed: string | readonly string[];
  /** What the kernel does wrong (or still lacks), in one line. */
  reason: string;
  source: Source;
}

/**
 * The expected outcome over one kernel version range. A case lists its
 * ranges in order; the first whose bounds, vm.memfd_noexec values and
 * condition all match the running system applies.
 */
export interface Expectation {
  /** First kernel version the range covers (inclusive); open when absent. */
  since?: string;
  /** First kernel version it no longer covers (exclusive); open when absent. */
  before?: string;
  /** The vm.memfd_noexec values (of the pid namespace the case runs in) it covers; all when absent. */
  noexec?: readonly number[];
  condition?: Condition;
  /** The accepted observed outcome(s). */
  outcome: string | readonly string[];
  /** Why this range differs from its neighbours (a change, a backport). */
  note?: string;
  deviations?: readonly Deviation[];
}

/** Where a case runs. */
export type Isolation =
  /** In the runner's own process: only cases that seal no memory, never crash and spawn nothing. */
  | 'inline'
  /** In a throwaway child process (batched with others of its family). */
  | 'child'
  /** Alone, as pid 1 of a fresh pid namespace. */
  | 'pidns';

/** The facts about the running system that expectations and requirements read. */
export interface ConformanceEnv {
  kernel: { release: string; version: KernelVersion; arch: string };
  node: string;
  uid: number;
  euid: number;
  /** CAP_SYS_ADMIN, CAP_IPC_LOCK, CAP_SYS_PTRACE in the effective set. */
  caps: { sysAdmin: boolean; ipcLock: boolean; sysPtrace: boolean };
  container: { detected: boolean; engine: string | null; pidNamespace: 'initial' | 'child' | 'unknown' };
  seccomp: { mode: number | null; filters: number | null; controlErrno: string | null };
  /** vm.memfd_noexec of this pid namespace; null before 6.3. */
  memfdNoexec: number | null;
  /** Whether /proc/sys/vm/memfd_noexec can be opened for writing. */
  memfdNoexecWritable: boolean;
  features: Record<FeatureName, FeatureReport>;
  /** Per syscall, the errno of a harmless probe call (0: answered as the kernel would). */
  policy: Record<string, string | null>;
  hugepages: { free: number | null; sizeKiB: number | null };
  /** Memory protection keys work (pkey_alloc succeeds): x86 PKU, arm64 POE. */
  pku: boolean;
  /** The CPU's feature words from /proc/cpuinfo ("flags" on x86, "Features" on arm64), or null when unreadable. */
  cpuFeatures: string[] | null;
  cmdline: string;
  sh: boolean;
  devShmTmpfs: boolean;
  yamaPtraceScope: number | null;
  sysmapSealed: boolean;
  /** The first path another user could not reach on the way to this node or memseal's child script; null when none. */
  closedToOthers: string | null;
  pageSize: number;
  /**
   * The options of the kernel's build configuration the catalog reads, and
   * where they were found (null: no configuration could be read). An option
   * missing from `options` is not set.
   */
  config: { source: string | null; options: Record<string, string>; unset: string[] };
  /** Transparent huge pages: built in, and the shmem_enabled value in force (null without THP). */
  thp: { built: boolean; shmemEnabled: string | null };
  /**
   * Whether a write through /proc/self/mem to a read-only page of this
   * process works (the kernel forces it), and the policy that decides it:
   * the proc_mem.force_override boot option, else CONFIG_PROC_MEM_*, else
   * null when neither can be read.
   */
  procMem: { forced: boolean; policy: 'always' | 'ptrace' | 'never' | null; from: string | null };
  /** The sleep states /sys/power/state offers ("freeze mem disk"), or null when it cannot be read. */
  powerStates: string | null;
}

/** The answer to one requirement: met, or why not. */
export interface RequirementCheck {
  ok: boolean;
  /** The requirement checked (set by unmetRequirement). */
  requirement?: Requirement;
  /** `blocked` when a filter or LSM, not the kernel or the machine, is what is missing. */
  status?: 'skip' | 'blocked';
  reason?: string;
}

/** A step's side of its JSON-lines channel to the case that started it. */
export interface StepIO {
  send(message: unknown): void;
  receive(): Promise<unknown>;
}

/** The code of a step (`child.js step NAME ARGS`). */
export type StepFn = (args: unknown, io: StepIO) => Promise<void>;

/** A process started by a case in a child, with a line-based JSON channel. */
export interface StepHandle {
  send(message: unknown): void;
  receive(): Promise<unknown>;
  /** Waits for the process to end; rejects when it fails. */
  done(): Promise<void>;
}

export interface StepOptions {
  newPidns?: boolean;
  uid?: number;
}

/** What `run()` gets. */
export interface CaseContext {
  readonly b: RawBinding;
  /** Kernel constants (MFD_*, F_SEAL_*, PROT_*, ...). */
  readonly c: RawConstants;
  /** Constants of the process helpers (CLONE_NEWPID, FORK_*, ...). */
  readonly pc: RawConstants;
  readonly page: number;
  readonly env: ConformanceEnv;
  /** Closes `fd` when the case ends. */
  fd(fd: number): number;
  /** Closes `fd` now (one registered with fd()). */
  close(fd: number): void;
  /** Unmaps [addr, addr + length) when the case ends (when it still can). */
  mapped(addr: bigint, length: number): bigint;
  /** Runs `fn` when the case ends. */
  defer(fn: () => void): void;
  /**
   * Starts `child.js step NAME` (a step registered by a case module) and
   * returns its channel. With `newPidns`, the process is pid 1 of a new pid
   * namespace under this process's (once per process: only in child or
   * pidns isolation). With `uid`, it runs as that user and group (root only).
   */
  step(name: string, args: unknown, options?: StepOptions): Promise<StepHandle>;
}

/** A conformance case. */
export interface Case {
  /** Stable, dotted: `family.subject.check` (`memfd.name.too-long`). */
  id: string;
  title: string;
  family: Family;
  /** At least one source for the expectation. */
  source: readonly Source[];
  requires?: readonly Requirement[];
  /** Where it runs; `inline` when absent. */
  isolation?: Isolation;
  /** Child isolation: cases with the same batch share a child process (default: the family). */
  batch?: string;
  /**
   * Why its batch must run with no other case running: it measures a
   * resource every process of the uid shares. Such batches run last, one at
   * a time, after the inline cases and every other child.
   */
  alone?: string;
  /** Syscalls whose denial by a filter or LSM would explain an EPERM/ENOSYS here. */
  syscalls?: readonly string[];
  /** The expectation per kernel range, first match wins; a kernel no range covers skips the case. */
  expect: readonly Expectation[];
  /** Where a document says otherwise and measurement won: what it says, and the range measured. */
  docNote?: string;
  /** Seconds before the runner gives up on the case (default 10). */
  timeout?: number;
  run(ctx: CaseContext): string | Promise<string>;
}

/** The status of one case. */
export type Status = 'pass' | 'fail' | 'skip' | 'blocked' | 'deviation' | 'error';

export const STATUSES: readonly Status[] = ['pass', 'fail', 'deviation', 'blocked', 'skip', 'error'];

/** One case's result, as the JSON report records it. */
export interface CaseResult {
  id: string;
  family: Family;
  title: string;
  status: Status;
  /** The outcome(s) the matching range accepts; null when skipped before a range applied. */
  expected: string | string[] | null;
  /** What run() returned; null when it did not run or broke. */
  observed: string | null;
  /** Why: the unmet requirement, the deviation, the filter, the error, the range note. */
  reason: string | null;
  /** The kernel range the expectation came from, e.g. ">= 6.7" or "6.3 - 6.6". */
  range: string | null;
  source: Source[];
  durationMs: number;
}

/** The whole report (`memseal conform --json`). */
export interface ConformanceReport {
  schema: 'memseal-conformance/1';
  /** `version` is the upstream version ranges were judged by (Debian's 6.1 names its patch level only in `uname -v`); `build` the kernel's version string (`uname -v`); `config` where its configuration was read, or null. */
  kernel: { release: string; version: string; build?: string; arch: string; cmdline: string; config: string | null };
  node: string;
  uid: number;
  /** Machine facts that decide expectations and requirements besides the version. */
  facts: { thp: ConformanceEnv['thp']; procMem: ConformanceEnv['procMem']; powerStates: string | null };
  container: ConformanceEnv['container'];
  seccomp: ConformanceEnv['seccomp'];
  memfdNoexec: number | null;
  startedAt: string;
  durationMs: number;
  strict: boolean;
  filter: string | null;
  summary: Record<Status, number> & { total: number };
  cases: CaseResult[];
}
