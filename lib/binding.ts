/**
 * The only place that loads the native addon. The raw binding is typed here
 * and never exported from the package: lib/ validates and names everything
 * before a call reaches it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemsealError, SyscallError } from './errors.js';

/** fstat(2) fields the addon returns. */
export interface RawStat {
  size: number;
  mode: number;
  ino: number;
  dev: number;
  nlink: number;
  uid: number;
  gid: number;
  blocks: number;
  blksize: number;
}

/** A mapping owned by lib (native/region.cc). */
export interface RawRegion {
  readonly address: bigint;
  readonly length: number;
  readonly mappedLength: number;
  readonly prot: number;
  readonly sealed: boolean;
  readonly unmapped: boolean;
  view(offset?: number, length?: number): ArrayBuffer;
  /** Detaches every view, or only `view` (true when it was this region's). */
  detach(view?: ArrayBuffer): boolean | undefined;
  protect(prot: number): void;
  advise(advice: number): void;
  lock(): void;
  /** Faults every mapped page in from the kernel side; the bytes backed (short when the kernel refused a page, where a touch would raise SIGBUS). */
  populate(): number;
  seal(): void;
  wipe(offset?: number, length?: number): boolean;
  /** Constant-time equality of `length` bytes here and in `other`. */
  compare(offset: number, other: RawRegion | ArrayBufferView, otherOffset: number, length: number): boolean;
  /** Checks the canaries around a pool slot and zeroes it: bit 1 = the one before differs, 2 = after. */
  wipeSlot(offset: number, length: number, canary: ArrayBufferView): number;
  read(offset: number, target: ArrayBufferView, targetOffset: number, length: number): number;
  write(offset: number, source: ArrayBufferView, sourceOffset: number, length: number): number;
  unmap(): void;
}

export interface RawRegionClass {
  new (
    length: number,
    prot: number,
    flags: number,
    fd: number,
    offset: number,
    guardPages: number,
    pageSize: number,
    wipe: boolean,
  ): RawRegion;
}

/** What native/copy.cc reports after an in-kernel copy. */
export interface RawCopyResult {
  copied: number;
  method: 'copy_file_range' | 'sendfile';
}

/** fstatvfs(3) of an open file: how its mount is mounted. */
export interface RawStatvfs {
  flag: number;
  noexec: boolean;
  readonly: boolean;
  nosuid: boolean;
}

/** Flag values from the kernel headers the addon was built against. */
export interface RawConstants {
  readonly [name: string]: number;
}

/** What a forkProbe() child did: how it ended, and what it reported. */
export interface RawForkResult {
  exitCode: number | null;
  signal: number | null;
  /** The operation's errno (positive, 0 on success); null when the child reported nothing (it died). */
  errno: number | null;
  /** A byte the operation read, when it reads one. */
  value: number | null;
}

/** How a forkExecveat() child ended. */
export interface RawExecResult {
  /** The errno of execveat (positive), or 0 when the exec succeeded. */
  execErrno: number;
  exitCode: number | null;
  signal: number | null;
}

/** Socket constants native/fdpass.cc uses. */
export interface RawSocketConstants {
  readonly SOCK_SEQPACKET: number;
  readonly POLLIN: number;
  readonly POLLOUT: number;
  readonly POLLHUP: number;
  readonly POLLERR: number;
  readonly MSG_TRUNC: number;
  readonly MSG_CTRUNC: number;
  readonly SCM_MAX_FD: number;
}

/** Exact positional signatures of native/*.cc. */
export interface RawBinding {
  setErrorClass(cls: typeof SyscallError): void;
  readonly constants: RawConstants;
  readonly rlimits: { readonly RLIMIT_MEMLOCK: number; readonly RLIMIT_NOFILE: number };
  memfdCreate(name: string | Uint8Array | null, flags: number): number;
  addSeals(fd: number, seals: number | bigint): void;
  getSeals(fd: number): number;
  ftruncate(fd: number, length: number): void;
  fstat(fd: number): RawStat;
  fchmod(fd: number, mode: number): void;
  fallocate(fd: number, mode: number, offset: number, length: number): void;
  /** Forgets `fd` if this environment owned it (ownFd), then closes it. */
  close(fd: number): void;
  /** This environment (thread) closes `fd`, and removes the socket file at `path`, when it is torn down, unless close(fd) came first. */
  ownFd(fd: number, path?: string): void;
  dup(fd: number): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  read(fd: number, buffer: ArrayBufferView, offset: number, length: number, position: number | bigint): number;
  write(fd: number, buffer: ArrayBufferView, offset: number, length: number, position: number | bigint): number;
  writev(fd: number, buffers: ArrayBufferView[]): number;
  copyFileRange(fdIn: number, offIn: number | null, fdOut: number, offOut: number | null, length: number): number;
  sendfile(fdOut: number, fdIn: number, offIn: number | null, count: number): number;
  mmap(addr: bigint, length: number, prot: number, flags: number, fd: number, offset: number): bigint;
  munmap(addr: bigint, length: number): void;
  mprotect(addr: bigint, length: number, prot: number): void;
  pkeyMprotect(addr: bigint, length: number, prot: number, pkey: number): void;
  madvise(addr: bigint, length: number, advice: number): void;
  mremap(old: bigint, oldLength: number, newLength: number, flags: number, newAddr: bigint): bigint;
  mseal(addr: bigint, length: number | bigint, flags: number | bigint): void;
  mlock(addr: bigint, length: number): void;
  munlock(addr: bigint, length: number): void;
  peek(addr: bigint, length: number): Buffer;
  poke(addr: bigint, bytes: ArrayBufferView): number;
  pkeyAlloc(flags: number, rights: number): number;
  pkeyFree(pkey: number): void;
  /** The lines of /proc/self/maps: the mappings this process has. */
  countMappings(): number;
  /** How many mappings the Regions of this process hold, at most (3 between guard pages, else 1). */
  regionMappings(): number;
  /** [start, end) of each range the raw mmap (or, with `regions`, a Region) owns. */
  ownedRanges(regions: boolean): Array<[bigint, bigint]>;
  memfdSecret(flags: number): number;
  controlSyscallErrno(): number;
  getrlimit(resource: number): [number, number];
  readonly Region: RawRegionClass;
  copyFd(fdIn: number, fdOut: number, limit: number): RawCopyResult;
  copyFdAsync(fdIn: number, fdOut: number, limit: number): Promise<RawCopyResult>;
  fstatvfs(fd: number): RawStatvfs;
  // native/procs.cc: process helpers for the conformance suite.
  readonly procConstants: RawConstants;
  forkProbe(op: number, addr: bigint, length: number, arg: number, timeoutSeconds: number): RawForkResult;
  forkExecveat(dirfd: number, path: string, argv: string[], envp: string[], flags: number, timeoutSeconds: number): RawExecResult;
  unshare(flags: number): void;
  setrlimit(resource: number, soft: number, hard: number): void;
  capDrop(capability: number): void;
  vmsplice(addr: bigint, length: number): number;
  pipeRoundTrip(addr: bigint, length: number): [number, number];
  /** vmsplice into a pipe left open (it holds the pages): [readFd, writeFd, bytes]; close both fds to release them. */
  vmspliceHold(addr: bigint, length: number): [number, number, number];
  policyProbe(name: string): number;
  // native/fdpass.cc: SOCK_SEQPACKET Unix sockets and SCM_RIGHTS.
  readonly socketConstants: RawSocketConstants;
  unixSocket(): number;
  unixSocketPair(): [number, number];
  unixListen(fd: number, path: string, backlog: number): void;
  unixConnect(fd: number, path: string): void;
  unixAccept(fd: number): number;
  socketType(fd: number): number;
  sendFds(fd: number, data: ArrayBufferView, fds: number[]): number;
  recvFds(fd: number, buffer: ArrayBufferView, maxFds: number): { bytes: number; fds: number[]; flags: number };
  pollFdAsync(fd: number, events: number, timeoutMs: number): Promise<number>;
  // native/xattr.cc: extended attributes of an open file (the conformance suite sets POSIX ACLs).
  readonly xattrConstants: { readonly XATTR_CREATE: number; readonly XATTR_REPLACE: number };
  fsetxattr(fd: number, name: string, value: ArrayBufferView, flags: number): void;
  /** The value's length, copied into `buffer`; an empty buffer asks only for the length. */
  fgetxattr(fd: number, name: string, buffer: ArrayBufferView): number;
}

/** The architectures the package ships an addon for (process.arch names). */
export const SUPPORTED_ARCHES: readonly string[] = ['x64', 'arm64'];

/** The oldest glibc each shipped addon is built and checked for (Debian 12's). */
export const GLIBC_FLOOR = '2.36';

/** Where the addon for `arch` sits in the package, from its root. */
export function addonFile(arch: string): string {
  return `prebuilds/linux-${arch}/memseal.node`;
}

/** The C library a process runs on, as far as loading an addon goes. */
export type Libc = 'glibc' | 'musl' | 'unknown';

/**
 * The C library mapped into the process whose /proc/<pid>/maps this is:
 * glibc's libc.so.6, or musl's, which is its own dynamic loader
 * (ld-musl-<arch>.so.1, as on Alpine).
 */
export function libcFromMaps(maps: string): Libc {
  if (/\/libc\.so\.6( \(deleted\))?$/m.test(maps)) return 'glibc';
  if (/\/(ld-musl-[\w-]+\.so\.1|libc\.musl-[\w-]+\.so\.1)$/m.test(maps)) return 'musl';
  return 'unknown';
}

/**
 * This process's C library, read before any dlopen: a glibc addon loaded by
 * musl's loader can fail late, at a call, instead of at load. The mappings
 * are the cheap answer (a fraction of a millisecond); a diagnostic report
 * (glibcVersionRuntime, and the shared objects it lists) is the slower one,
 * for where /proc is not mounted.
 */
function runtimeLibc(): Libc {
  try {
    const found = libcFromMaps(readFileSync('/proc/self/maps', 'latin1'));
    if (found !== 'unknown') return found;
  } catch {
    // No /proc: ask the report.
  }
  const report = diagnosticReport();
  if (report.header?.glibcVersionRuntime !== undefined) return 'glibc';
  return libcFromMaps((report.sharedObjects ?? []).join('\n'));
}

interface ReportSubset {
  header?: { glibcVersionRuntime?: string };
  sharedObjects?: string[];
}

/** process.report.getReport() without the network interfaces (slow to list), leaving the caller's setting as it was. */
function diagnosticReport(): ReportSubset {
  // excludeNetwork: Node 20.13 and 22 on; @types/node 22 does not list it.
  const report = process.report as (NodeJS.ProcessReport & { excludeNetwork?: boolean }) | undefined;
  if (report === undefined) return {};
  const excluded = report.excludeNetwork;
  report.excludeNetwork = true;
  try {
    return report.getReport() as ReportSubset;
  } finally {
    report.excludeNetwork = excluded;
  }
}

/** What a platform offers memseal's addon: Node's names (process.platform, process.arch). */
export interface PlatformFacts {
  platform: string;
  arch: string;
  libc: Libc;
}

const SUPPORTED = `memseal's addon is built for Linux on ${SUPPORTED_ARCHES.join(' and ')} with glibc ${GLIBC_FLOOR} or later`;

/** Why memseal cannot load on a platform, naming what it found and what is supported; undefined when it can. */
export function platformProblem(facts: PlatformFacts): string | undefined {
  if (facts.platform !== 'linux') return `memseal binds Linux system calls (memfd_create, memfd_secret, mseal); this is ${facts.platform}`;
  if (!SUPPORTED_ARCHES.includes(facts.arch)) return `${SUPPORTED}; this is linux-${facts.arch}`;
  if (facts.libc === 'musl') return `${SUPPORTED}; this Node.js runs on musl, which memseal does not support`;
  if (facts.libc !== 'glibc') return `${SUPPORTED}; this Node.js runs on a C library other than glibc or musl`;
  return undefined;
}

/**
 * Loads prebuilds/linux-<arch>/memseal.node from the package (lib/ and dist/
 * both sit one level below its root). A failure of the loader itself (the
 * file missing from this copy, or a glibc older than the addon needs)
 * becomes ERR_MEMSEAL_UNSUPPORTED_PLATFORM naming what was found, with the
 * loader's own error as its cause.
 *
 * TEST-ONLY: MEMSEAL_ADDON_PATH names a .node file to load instead (the test
 * suite uses it to run the build without external buffers, the sanitizer
 * build, or the arm64 addon from the packed tarball under emulation). Not
 * for production use: nothing checks that the file is a memseal build.
 */
function loadAddon(arch: string): RawBinding {
  const override = process.env.MEMSEAL_ADDON_PATH;
  const path = override !== undefined && override !== '' ? override : join(__dirname, '..', addonFile(arch));
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(path) as RawBinding;
  } catch (e) {
    const glibc = diagnosticReport().header?.glibcVersionRuntime;
    const raw = String((e as Error).message).split('\n')[0];
    const missing = (e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND';
    throw new MemsealError(
      'ERR_MEMSEAL_UNSUPPORTED_PLATFORM',
      missing
        ? `memseal's addon for linux-${arch} is missing from this copy (${path}); ${SUPPORTED}, each in the package as published`
        : `memseal's addon for linux-${arch} cannot be loaded on this system (linux-${arch}, glibc ${glibc ?? 'of unknown version'}); ${SUPPORTED}. The loader said: ${raw}`,
      { cause: e },
    );
  }
}

/** The oldest Node.js major line memseal supports and tests (package.json `engines`). */
export const OLDEST_SUPPORTED_NODE = 22;

/**
 * An older Node still loads the addon (it is N-API), but nothing is tested
 * there and the line no longer gets security fixes: say so once, as a
 * warning a deployment can see, rather than refuse to run code that may
 * well work.
 */
export function warnIfUnsupportedNode(version: string = process.versions.node): boolean {
  const major = Number(version.split('.')[0]);
  if (!(major < OLDEST_SUPPORTED_NODE)) return false;
  process.emitWarning(`memseal supports Node.js ${OLDEST_SUPPORTED_NODE} and later; Node.js ${version} is past its end of life and untested with memseal`, {
    type: 'MemsealWarning',
    code: 'MEMSEAL_UNSUPPORTED_NODE',
  });
  return true;
}

function load(): RawBinding {
  const facts: PlatformFacts = { platform: process.platform, arch: process.arch, libc: 'unknown' };
  if (facts.platform === 'linux' && SUPPORTED_ARCHES.includes(facts.arch)) facts.libc = runtimeLibc();
  const problem = platformProblem(facts);
  if (problem !== undefined) throw new MemsealError('ERR_MEMSEAL_UNSUPPORTED_PLATFORM', problem);
  warnIfUnsupportedNode();
  const raw = loadAddon(facts.arch);
  raw.setErrorClass(SyscallError);
  return raw;
}

let cached: RawBinding | undefined;

/** The raw binding, loaded on first use. */
export function binding(): RawBinding {
  cached ??= load();
  return cached;
}
