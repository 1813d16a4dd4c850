/**
 * The only place that loads the native addon. The raw binding is typed here
 * and never exported from the package: lib/ validates and names everything
 * before a call reaches it.
 */
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

/**
 * TEST-ONLY: MEMSEAL_ADDON_PATH names a .node file to load instead of the
 * default build (the test suite uses it to run the build without external
 * buffers, or the sanitizer build). Not for
 * production use: nothing checks that the file is a memseal build.
 */
function loadAddon(): RawBinding {
  const path = process.env.MEMSEAL_ADDON_PATH;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (path !== undefined && path !== '') return require(path) as RawBinding;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bindings = require('bindings') as (name: string) => RawBinding;
  return bindings('memseal');
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
  if (process.platform !== 'linux') {
    throw new MemsealError(
      'ERR_MEMSEAL_UNSUPPORTED_PLATFORM',
      `memseal binds Linux system calls (memfd_create, memfd_secret, mseal); this is ${process.platform}`,
    );
  }
  warnIfUnsupportedNode();
  const raw = loadAddon();
  raw.setErrorClass(SyscallError);
  return raw;
}

let cached: RawBinding | undefined;

/** The raw binding, loaded on first use. */
export function binding(): RawBinding {
  cached ??= load();
  return cached;
}
