/**
 * Running programs from sealed memory.
 *
 * cloneExecutable() copies a program into an executable memfd (MFD_EXEC)
 * inside the kernel and seals it (exec, shrink, grow, write, seal), so
 * nothing can rewrite the file being executed: the CVE-2019-5736 defence
 * runc uses. spawnSealed() runs such a memfd as a Node ChildProcess.
 *
 * Where the kernel refuses executable memfds (vm.memfd_noexec=2, a seccomp
 * filter or an LSM), the refusal is a typed error naming the cause; an
 * O_TMPFILE copy is made only when asked for (`fallback: 'tmpfile'`).
 */
import { OPTION_KEYS } from './options.js';
import { spawn, type ChildProcess, type IOType, type SpawnOptions, type StdioOptions } from 'node:child_process';
import * as fs from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { binding, type RawCopyResult } from './binding.js';
import { constants } from './constants.js';
import { MemsealError, SyscallError, UnsupportedError, type MemsealErrorCode } from './errors.js';
import { kernelAtLeast, memfdNoexecSysctl, seccompMode } from './kernel.js';
import { Memfd } from './memfd.js';
import { sealMask, type SealName } from './seals.js';
import { invalidArgType, invalidArgValue, ownOptions, toBytes, validateLiveView, validateOneOf, validateOptions, validateString } from './validate.js';

/** A program to clone: a path (or file: URL), an open file descriptor, bytes, or (async only) a stream. */
export type ExecSource = string | URL | number | ArrayBufferView | AsyncIterable<Uint8Array | string>;

/** What {@link cloneExecutableSync} accepts: everything but streams. */
export type ExecSourceSync = string | URL | number | ArrayBufferView;

/** Options for {@link cloneExecutable} and {@link cloneExecutableSync}. */
export interface CloneExecutableOptions {
  /**
   * The memfd's name (shown as "/memfd:NAME" in /proc/PID/exe) and the
   * default argv[0] of {@link spawnSealed}. Default: the source file's base
   * name, or `'memseal-exec'` for bytes and streams.
   */
  name?: string;
  /**
   * Seals added once the copy is complete. Default: `exec` (6.3+),
   * `shrink`, `grow`, `write`, `seal`. {@link spawnSealed} requires the
   * default set, so fewer seals only suit clones that are not run here.
   */
  seals?: readonly SealName[];
  /**
   * `'none'` (default): a refused executable memfd is an
   * {@link ExecRefusedError}. `'tmpfile'`: then copy into an unnamed
   * O_TMPFILE file instead, in a directory whose mount allows exec (checked);
   * the result is a {@link TmpfileExecutable}, whose `refusal` says why.
   */
  fallback?: 'none' | 'tmpfile';
  /**
   * Where `fallback: 'tmpfile'` creates the file. Default: the first usable
   * of os.tmpdir(), /dev/shm, /var/tmp, /tmp.
   */
  tmpDir?: string;
}

/** Options for {@link spawnSealed}: those of child_process.spawn, less `shell`. */
export interface SpawnSealedOptions extends Omit<SpawnOptions, 'shell' | 'windowsVerbatimArguments'> {
  /** argv[0] of the program. Default: the clone's name. Ignored for `#!` scripts (the kernel passes the script's path). */
  argv0?: string;
  /**
   * A `#!` script cannot run from a close-on-exec descriptor (its
   * interpreter could not open it: ENOENT). `'run'` (default): the
   * interpreter gets the script as one extra, read-only descriptor (the
   * first after stdio), opened as /proc/self/fd/N. `'refuse'`: throw
   * ERR_MEMSEAL_SCRIPT instead.
   */
  script?: 'run' | 'refuse';
}

/**
 * Why an executable clone cannot be made or run:
 * - `'noexec-sysctl'`: memfd_create(MFD_EXEC) gave EACCES because
 *   vm.memfd_noexec is 2 in this pid namespace;
 * - `'blocked'`: a seccomp filter or an LSM refused memfd_create;
 * - `'noexec-seal'`: the memfd was created with MFD_NOEXEC_SEAL, so no
 *   execute bit can ever be set on it.
 */
export type ExecRefusalReason = 'noexec-sysctl' | 'blocked' | 'noexec-seal';

/** Options for {@link ExecRefusedError}. */
export interface ExecRefusedErrorOptions {
  reason: ExecRefusalReason;
  message: string;
  hint?: string;
  cause?: unknown;
}

/** The kernel (or the policy around it) refuses to make or run an executable memfd. */
export class ExecRefusedError extends SyscallError {
  readonly reason: ExecRefusalReason;
  /** vm.memfd_noexec as this pid namespace sees it (undefined before 6.3). */
  readonly memfdNoexec: number | undefined;

  constructor(syscall: string, errno: number, options: ExecRefusedErrorOptions) {
    super(syscall, errno, { message: options.message, cause: options.cause });
    this.reason = options.reason;
    this.memfdNoexec = memfdNoexecSysctl();
    if (options.hint !== undefined) this.addHint(options.hint);
  }
}
Object.defineProperty(ExecRefusedError.prototype, 'name', { value: 'ExecRefusedError', enumerable: false, configurable: true, writable: true });

/** Codes of {@link ExecError}. */
export type ExecErrorCode = Extract<
  MemsealErrorCode,
  'ERR_MEMSEAL_NOT_REGULAR_FILE' | 'ERR_MEMSEAL_EMPTY_SOURCE' | 'ERR_MEMSEAL_NOT_EXECUTABLE' | 'ERR_MEMSEAL_SOURCE_CHANGED' | 'ERR_MEMSEAL_SCRIPT'
>;

/** A source or clone that cannot be run, found before any exec: a MemsealError with one of the exec codes. */
export class ExecError extends MemsealError {
  declare readonly code: ExecErrorCode;
  constructor(code: ExecErrorCode, message: string) {
    super(code, message);
  }
}
Object.defineProperty(ExecError.prototype, 'name', { value: 'ExecError', enumerable: false, configurable: true, writable: true });

const TOKEN = Symbol('TmpfileExecutable');
const DEFAULT_NAME = 'memseal-exec';
const NAME_LIMIT = 249; // memfd names: NAME_MAX minus the "memfd:" prefix
const EACCES = -osConstants.errno.EACCES;

const tmpfileFinalizer = new FinalizationRegistry<number>((fd) => {
  process.emitWarning(`Closing tmpfile executable descriptor ${fd} on garbage collection; call close() or use \`using\``, 'MemsealWarning');
  try {
    binding().close(fd);
  } catch {
    // Nothing to report to: the object is gone.
  }
});

/**
 * A clone made by `fallback: 'tmpfile'`: an unnamed file (O_TMPFILE with
 * O_EXCL, so it can never be linked into a directory) held through a
 * read-only descriptor; no writable descriptor to it remains. Weaker than a
 * sealed memfd: files on disk take no seals, so a process able to open
 * /proc/PID/fd of this process for writing (root, or the same user with
 * ptrace access) could still change it while no child runs it.
 */
const NOT_CLONEABLE_TMPFILE = Symbol('memseal: a TmpfileExecutable cannot be cloned or sent to another thread');

let makeTmpfile: (fd: number, name: string, dir: string, refusal: ExecRefusedError) => TmpfileExecutable;

export class TmpfileExecutable {
  #fd: number;
  readonly #name: string;
  readonly #dir: string;
  readonly #refusal: ExecRefusedError;

  /** Makes structuredClone() and postMessage() throw DataCloneError instead of sending an empty object. */
  readonly notCloneable: symbol = NOT_CLONEABLE_TMPFILE;

  static {
    makeTmpfile = (fd, name, dir, refusal) => new TmpfileExecutable(TOKEN, fd, name, dir, refusal);
  }

  /** Made by cloneExecutable({ fallback: 'tmpfile' }). */
  private constructor(token: symbol, fd: number, name: string, dir: string, refusal: ExecRefusedError) {
    if (token !== TOKEN) throw new TypeError("Illegal constructor: use cloneExecutable(source, { fallback: 'tmpfile' })");
    this.#fd = fd;
    this.#name = name;
    this.#dir = dir;
    this.#refusal = refusal;
    binding().ownFd(fd); // closed with this thread, if not before
    tmpfileFinalizer.register(this, fd, this);
  }

  #checkClosed(): number {
    if (this.#fd < 0) throw new MemsealError('ERR_MEMSEAL_CLOSED', `The executable '${this.#name}' is closed`);
    return this.#fd;
  }

  /** The read-only file descriptor. Throws ERR_MEMSEAL_CLOSED after close(). */
  get fd(): number {
    return this.#checkClosed();
  }

  /** The name given to the clone (the default argv[0]). */
  get name(): string {
    return this.#name;
  }

  /** The directory the unnamed file was created in. */
  get dir(): string {
    return this.#dir;
  }

  /** Why no executable memfd could be made. */
  get refusal(): ExecRefusedError {
    return this.#refusal;
  }

  /** True after close(). */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Size in bytes (fstat). */
  get size(): number {
    return binding().fstat(this.#checkClosed()).size;
  }

  /** Permission bits (fstat). */
  get mode(): number {
    return binding().fstat(this.#checkClosed()).mode & 0o7777;
  }

  /** Closes the descriptor; the file is freed once no child runs it. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    tmpfileFinalizer.unregister(this);
    binding().close(fd);
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    if (this.#fd < 0) return `TmpfileExecutable <closed ${JSON.stringify(this.#name)}>`;
    return `TmpfileExecutable { fd: ${this.#fd}, name: ${JSON.stringify(this.#name)}, dir: ${JSON.stringify(this.#dir)}, reason: '${this.#refusal.reason}' }`;
  }
}

/** Anything cloneExecutable returns and spawnSealed runs. */
export type Executable = Memfd | TmpfileExecutable;

// ---------------------------------------------------------------------------
// Sources

type Source =
  | { kind: 'path'; path: string }
  | { kind: 'fd'; fd: number }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'stream'; stream: AsyncIterable<unknown> };

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}

function classifySource(source: unknown, allowStream: boolean): Source {
  if (typeof source === 'string') {
    if (source === '' || source.includes('\0')) throw invalidArgValue('source', 'must be a non-empty path without NUL characters');
    return { kind: 'path', path: source };
  }
  if (source instanceof URL) return { kind: 'path', path: fileURLToPath(source) };
  if (typeof source === 'number') {
    if (!Number.isInteger(source) || source < 0 || source > 2 ** 31 - 1) throw invalidArgValue('source', `must be a file descriptor (an integer from 0 to 2147483647). Received ${source}`);
    return { kind: 'fd', fd: source };
  }
  if (ArrayBuffer.isView(source)) return { kind: 'bytes', bytes: toBytes(source, 'source') };
  if (allowStream && isAsyncIterable(source)) return { kind: 'stream', stream: source };
  const expected = allowStream ? 'a path, file descriptor, Buffer, TypedArray, DataView or readable stream' : 'a path, file descriptor, Buffer, TypedArray or DataView (streams need cloneExecutable)';
  throw invalidArgType('source', expected, source);
}

interface Plan {
  name: string;
  seals: readonly SealName[] | undefined;
  fallback: 'none' | 'tmpfile';
  tmpDirs: readonly string[];
}

function clampName(name: string): string {
  let out = name;
  while (Buffer.byteLength(out) > NAME_LIMIT) out = out.slice(0, -1);
  return out === '' ? DEFAULT_NAME : out;
}

function defaultName(source: Source): string {
  if (source.kind === 'path') return clampName(basename(source.path));
  if (source.kind !== 'fd') return DEFAULT_NAME;
  try {
    const link = fs.readlinkSync(`/proc/self/fd/${source.fd}`).replace(/ \(deleted\)$/, '');
    return clampName(basename(link.replace(/^\/memfd:/, '')));
  } catch {
    return DEFAULT_NAME;
  }
}

function planClone(source: Source, options: unknown): Plan {
  const o = validateOptions<CloneExecutableOptions>(options, 'options', OPTION_KEYS.cloneExecutable);
  const name = o.name === undefined ? defaultName(source) : validateString(o.name, 'options.name');
  if (o.seals !== undefined) {
    if (!Array.isArray(o.seals)) throw invalidArgType('options.seals', 'an array of seal names', o.seals);
    sealMask(o.seals, 'options.seals');
  }
  const fallback = o.fallback === undefined ? 'none' : validateOneOf(o.fallback, 'options.fallback', ['none', 'tmpfile'] as const);
  let tmpDirs: string[];
  if (o.tmpDir !== undefined) {
    tmpDirs = [validateString(o.tmpDir, 'options.tmpDir')];
  } else {
    tmpDirs = [...new Set([tmpdir(), '/dev/shm', '/var/tmp', '/tmp'])];
  }
  return { name, seals: o.seals, fallback, tmpDirs };
}

// Node's fs errors carry the same code/errno/syscall; give them our class.
function fsError(err: unknown): unknown {
  const e = err as NodeJS.ErrnoException | null;
  if (e instanceof Error && typeof e.errno === 'number' && typeof e.syscall === 'string' && !(e instanceof SyscallError)) {
    return new SyscallError(e.syscall, e.errno, { message: e.message, cause: err });
  }
  return err;
}

const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK; // a FIFO must not block open()
const openAsync = promisify(fs.open);
const writeAsync = promisify(fs.write);

/** What is known of a file source before the copy; compared after it. */
interface Snapshot {
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  ino: bigint;
  dev: bigint;
  mode: number;
}

function snapshot(fd: number): Snapshot {
  let st: fs.BigIntStats;
  try {
    st = fs.fstatSync(fd, { bigint: true });
  } catch (err) {
    throw fsError(err);
  }
  return { size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, ino: st.ino, dev: st.dev, mode: Number(st.mode) };
}

function checkSource(st: Snapshot, what: string): void {
  if ((st.mode & fs.constants.S_IFMT) !== fs.constants.S_IFREG) {
    throw new ExecError('ERR_MEMSEAL_NOT_REGULAR_FILE', `${what} is not a regular file (mode 0o${st.mode.toString(8)}): only files can be executed`);
  }
  if (st.size === 0n) throw new ExecError('ERR_MEMSEAL_EMPTY_SOURCE', `${what} is empty: there is nothing to execute`);
  if ((st.mode & 0o111) === 0) {
    throw new ExecError('ERR_MEMSEAL_NOT_EXECUTABLE', `${what} has no execute permission (mode 0o${(st.mode & 0o7777).toString(8)}); chmod +x it if it is meant to run`);
  }
}

function checkUnchanged(before: Snapshot, after: Snapshot, copied: number, what: string): void {
  const same =
    BigInt(copied) === before.size &&
    after.size === before.size &&
    after.mtimeNs === before.mtimeNs &&
    after.ctimeNs === before.ctimeNs &&
    after.ino === before.ino &&
    after.dev === before.dev;
  if (!same) {
    throw new ExecError(
      'ERR_MEMSEAL_SOURCE_CHANGED',
      `${what} changed while it was copied (${before.size} bytes before, ${copied} copied, ${after.size} after${after.mtimeNs !== before.mtimeNs ? ', modified' : ''}): the clone was discarded`,
    );
  }
}

function describeSource(source: Source): string {
  if (source.kind === 'path') return `'${source.path}'`;
  if (source.kind === 'fd') return `File descriptor ${source.fd}`;
  return 'The source';
}

/** The clone's permission bits: read and execute as the source had them, never write. */
function cloneMode(sourceMode: number | undefined): number {
  return sourceMode === undefined ? 0o555 : sourceMode & 0o555;
}

// ---------------------------------------------------------------------------
// Targets

type Target = { kind: 'memfd'; fd: number; memfd: Memfd } | { kind: 'tmpfile'; fd: number; dir: string; refusal: ExecRefusedError };

function refusalOf(err: unknown): unknown {
  if (!(err instanceof SyscallError) || err.syscall !== 'memfd_create') return err;
  const sysctl = memfdNoexecSysctl();
  if (err.code === 'EACCES' && sysctl === 2) {
    return new ExecRefusedError(err.syscall, err.errno, {
      reason: 'noexec-sysctl',
      message: 'EACCES: the kernel refuses executable memfds here: vm.memfd_noexec is 2 in this pid namespace (memfd_create with MFD_EXEC)',
      hint: "vm.memfd_noexec is per pid namespace and can only be lowered as far as the parent namespace's value; run where it is 0 or 1, or pass { fallback: 'tmpfile' }",
      cause: err,
    });
  }
  const filtered = seccompMode() === 2 ? 'this process runs under a seccomp filter' : 'no seccomp filter is active, so an LSM refused it';
  if (err.code === 'EACCES' || err.code === 'EPERM' || (err.code === 'ENOSYS' && seccompMode() === 2)) {
    return new ExecRefusedError(err.syscall, err.errno, {
      reason: 'blocked',
      message: `${err.code}: memfd_create with MFD_EXEC was blocked (${filtered}; vm.memfd_noexec is ${sysctl ?? 'absent'})`,
      hint: "allow memfd_create in the seccomp profile or LSM policy, or pass { fallback: 'tmpfile' }",
      cause: err,
    });
  }
  if (err instanceof UnsupportedError && err.reason === 'blocked') {
    return new ExecRefusedError(err.syscall, err.errno, { reason: 'blocked', message: err.message, cause: err });
  }
  return err;
}

/** MFD_EXEC | MFD_ALLOW_SEALING | MFD_CLOEXEC; plain (no exec flag) before 6.3, as runc does. */
function createMemfd(name: string): Memfd {
  try {
    return Memfd.create(name, { exec: 'exec', fallback: 'kernel-default', allowSealing: true, cloexec: true });
  } catch (err) {
    throw refusalOf(err);
  }
}

/** An unnamed file in the first directory that takes O_TMPFILE and whose mount allows exec. */
function createTmpfile(dirs: readonly string[], refusal: ExecRefusedError): Target {
  const problems: string[] = [];
  const flags = constants.O_TMPFILE | fs.constants.O_RDWR | fs.constants.O_EXCL;
  for (const dir of dirs) {
    let fd: number;
    try {
      fd = fs.openSync(dir, flags, 0o700);
    } catch (err) {
      problems.push(`${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      continue;
    }
    let problem: string;
    try {
      binding().ownFd(fd); // closed with this thread if it ends during an async clone
      if (!binding().fstatvfs(fd).noexec) return { kind: 'tmpfile', fd, dir, refusal };
      problem = 'mounted noexec';
    } catch (err) {
      problem = (err as SyscallError).code ?? String(err);
    }
    binding().close(fd);
    problems.push(`${dir}: ${problem}`);
  }
  throw refusal.addHint(`the 'tmpfile' fallback found no directory to use (${problems.join('; ')})`);
}

function createTarget(plan: Plan): Target {
  try {
    const memfd = createMemfd(plan.name);
    return { kind: 'memfd', fd: memfd.fd, memfd };
  } catch (err) {
    if (plan.fallback !== 'tmpfile' || !(err instanceof ExecRefusedError)) throw err;
    return createTmpfile(plan.tmpDirs, err);
  }
}

function discard(target: Target): void {
  try {
    if (target.kind === 'memfd') target.memfd.close();
    else binding().close(target.fd);
  } catch {
    // The original error matters more.
  }
}

function defaultSeals(memfd: Memfd): SealName[] {
  // MFD_EXEC and F_SEAL_EXEC arrived together (6.3): a memfd made without
  // the flag is on a kernel without the seal.
  return memfd.exec === 'exec' ? ['exec', 'shrink', 'grow', 'write', 'seal'] : ['shrink', 'grow', 'write', 'seal'];
}

function finish(target: Target, plan: Plan, mode: number): Executable {
  if (target.kind === 'memfd') {
    target.memfd.chmod(mode);
    target.memfd.addSeals(...(plan.seals ?? defaultSeals(target.memfd)));
    return target.memfd;
  }
  binding().fchmod(target.fd, mode);
  // Keep only a read-only descriptor: a writable one would make exec fail
  // with ETXTBSY, and could change the file.
  let readOnly: number;
  try {
    readOnly = fs.openSync(`/proc/self/fd/${target.fd}`, fs.constants.O_RDONLY);
  } catch (err) {
    throw fsError(err);
  }
  binding().close(target.fd);
  return makeTmpfile(readOnly, plan.name, target.dir, target.refusal);
}

function writeAllSync(fd: number, bytes: Uint8Array): number {
  let done = 0;
  while (done < bytes.length) {
    const n = binding().write(fd, bytes, done, bytes.length - done, done);
    if (n === 0) throw new SyscallError('pwrite', -osConstants.errno.EIO, { message: 'EIO: the clone accepted no more bytes, pwrite' });
    done += n;
  }
  return done;
}

async function writeAll(fd: number, bytes: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < bytes.length) {
    let n: number;
    try {
      n = (await writeAsync(fd, bytes, done, bytes.length - done, position + done)).bytesWritten;
    } catch (err) {
      throw fsError(err);
    }
    if (n === 0) throw new SyscallError('pwrite', -osConstants.errno.EIO, { message: 'EIO: the clone accepted no more bytes, pwrite' });
    done += n;
  }
  return done;
}

async function writeStream(fd: number, stream: AsyncIterable<unknown>): Promise<number> {
  let total = 0;
  for await (const chunk of stream) {
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) throw invalidArgType('source chunk', 'a string or Uint8Array', chunk);
    if (typeof chunk !== 'string') validateLiveView(chunk, 'source chunk');
    total += await writeAll(fd, typeof chunk === 'string' ? Buffer.from(chunk) : chunk, total);
  }
  return total;
}

// ---------------------------------------------------------------------------
// Public API

/**
 * Clones a program into a sealed, executable memfd, copying inside the
 * kernel on the libuv thread pool (copy_file_range, or sendfile where the
 * filesystems refuse it, as from ext4 into a memfd), so even a large binary
 * never blocks the event loop. The memfd is created with MFD_EXEC,
 * MFD_ALLOW_SEALING and MFD_CLOEXEC (without MFD_EXEC before Linux 6.3),
 * made read+execute only, and sealed: its `seals` then include `exec`
 * (6.3+), `shrink`, `grow`, `write` and `seal`, so neither this process nor
 * anyone it hands the descriptor to can change it.
 *
 * A file source is checked with fstat before and after the copy; a file
 * that changed meanwhile (size, contents' mtime, ctime) is refused. An fd
 * source is read at explicit offsets: its file position does not move.
 *
 * @param source A path or file: URL, an open file descriptor (not closed by
 *   this call), a Buffer/TypedArray/DataView, or an async iterable of
 *   chunks (a Readable).
 * @throws ExecRefusedError `reason: 'noexec-sysctl'` (EACCES: vm.memfd_noexec
 *   is 2 in this pid namespace) or `'blocked'` (EPERM/EACCES from a seccomp
 *   filter or LSM), unless `fallback: 'tmpfile'` finds a usable directory.
 * @throws ExecError ERR_MEMSEAL_NOT_REGULAR_FILE, ERR_MEMSEAL_EMPTY_SOURCE,
 *   ERR_MEMSEAL_NOT_EXECUTABLE (no x bit on the source file),
 *   ERR_MEMSEAL_SOURCE_CHANGED.
 * @throws SyscallError ENOENT/EACCES opening the path, EBADF for a closed fd.
 */
export function cloneExecutable(source: ExecSource, options?: CloneExecutableOptions & { fallback?: 'none' }): Promise<Memfd>;
export function cloneExecutable(source: ExecSource, options: CloneExecutableOptions & { fallback: 'tmpfile' }): Promise<Executable>;
export function cloneExecutable(source: ExecSource, options?: CloneExecutableOptions): Promise<Executable>;
export async function cloneExecutable(source: ExecSource, options?: CloneExecutableOptions): Promise<Executable> {
  const src = classifySource(source, true);
  const plan = planClone(src, options);
  let srcFd: number | undefined;
  let owned = false;
  if (src.kind === 'path') {
    try {
      srcFd = await openAsync(src.path, OPEN_FLAGS);
    } catch (err) {
      throw fsError(err);
    }
    owned = true;
    binding().ownFd(srcFd); // closed with this thread if it ends during the copy
  } else if (src.kind === 'fd') {
    srcFd = src.fd;
  }
  try {
    const before = srcFd === undefined ? undefined : snapshot(srcFd);
    if (before !== undefined) checkSource(before, describeSource(src));
    const target = createTarget(plan);
    try {
      if (srcFd !== undefined && before !== undefined) {
        const result: RawCopyResult = await binding().copyFdAsync(srcFd, target.fd, Number(before.size) + 1);
        checkUnchanged(before, snapshot(srcFd), result.copied, describeSource(src));
      } else {
        const n = src.kind === 'bytes' ? await writeAll(target.fd, src.bytes, 0) : await writeStream(target.fd, (src as { stream: AsyncIterable<unknown> }).stream);
        if (n === 0) throw new ExecError('ERR_MEMSEAL_EMPTY_SOURCE', `${describeSource(src)} is empty: there is nothing to execute`);
      }
      return finish(target, plan, cloneMode(before?.mode));
    } catch (err) {
      discard(target);
      throw err;
    }
  } finally {
    if (owned && srcFd !== undefined) binding().close(srcFd);
  }
}

/**
 * {@link cloneExecutable} on the calling thread: the copy blocks the event
 * loop for its duration (about 40 ms per 100 MB here). Streams are not
 * accepted.
 * @throws as {@link cloneExecutable}.
 */
export function cloneExecutableSync(source: ExecSourceSync, options?: CloneExecutableOptions & { fallback?: 'none' }): Memfd;
export function cloneExecutableSync(source: ExecSourceSync, options: CloneExecutableOptions & { fallback: 'tmpfile' }): Executable;
export function cloneExecutableSync(source: ExecSourceSync, options?: CloneExecutableOptions): Executable;
export function cloneExecutableSync(source: ExecSourceSync, options?: CloneExecutableOptions): Executable {
  const src = classifySource(source, false);
  const plan = planClone(src, options);
  let srcFd: number | undefined;
  let owned = false;
  if (src.kind === 'path') {
    try {
      srcFd = fs.openSync(src.path, OPEN_FLAGS);
    } catch (err) {
      throw fsError(err);
    }
    owned = true;
    binding().ownFd(srcFd); // closed with this thread if it is terminated during the copy
  } else if (src.kind === 'fd') {
    srcFd = src.fd;
  }
  try {
    const before = srcFd === undefined ? undefined : snapshot(srcFd);
    if (before !== undefined) checkSource(before, describeSource(src));
    const target = createTarget(plan);
    try {
      if (srcFd !== undefined && before !== undefined) {
        const result = binding().copyFd(srcFd, target.fd, Number(before.size) + 1);
        checkUnchanged(before, snapshot(srcFd), result.copied, describeSource(src));
      } else if (writeAllSync(target.fd, (src as { bytes: Uint8Array }).bytes) === 0) {
        throw new ExecError('ERR_MEMSEAL_EMPTY_SOURCE', `${describeSource(src)} is empty: there is nothing to execute`);
      }
      return finish(target, plan, cloneMode(before?.mode));
    } catch (err) {
      discard(target);
      throw err;
    }
  } finally {
    if (owned && srcFd !== undefined) binding().close(srcFd);
  }
}

/** Seals a memfd must carry before spawnSealed runs it. */
function requiredSeals(): SealName[] {
  return kernelAtLeast('6.3') ? ['exec', 'shrink', 'grow', 'write', 'seal'] : ['shrink', 'grow', 'write', 'seal'];
}

function checkRunnable(exe: Executable): void {
  const fd = exe.fd;
  const st = binding().fstat(fd);
  const kind = exe instanceof Memfd ? 'memfd' : 'tmpfile';
  if ((st.mode & 0o111) === 0) {
    if (exe instanceof Memfd && exe.seals.has('exec')) {
      throw new ExecRefusedError('execve', EACCES, {
        reason: 'noexec-seal',
        message: `EACCES: the memfd '${exe.name}' was created with MFD_NOEXEC_SEAL (mode 0o${(st.mode & 0o7777).toString(8)}, sealed against exec): it can never be executed`,
        hint: 'clone the program with cloneExecutable() instead',
      });
    }
    throw new ExecError('ERR_MEMSEAL_NOT_EXECUTABLE', `The ${kind} '${exe.name}' has no execute permission (mode 0o${(st.mode & 0o7777).toString(8)})`);
  }
  if (st.size === 0) throw new ExecError('ERR_MEMSEAL_EMPTY_SOURCE', `The ${kind} '${exe.name}' is empty: there is nothing to execute`);
  if (exe instanceof Memfd) exe.requireSeals(...requiredSeals());
}

function isScript(fd: number): boolean {
  const head = Buffer.alloc(2);
  return binding().read(fd, head, 0, 2, 0) === 2 && head[0] === 0x23 && head[1] === 0x21; // "#!"
}

type StdioEntry = IOType | 'ipc' | number | null | undefined | import('node:stream').Stream;

function stdioArray(stdio: StdioOptions | undefined): StdioEntry[] {
  if (stdio === undefined) return ['pipe', 'pipe', 'pipe'];
  if (typeof stdio === 'string') return [stdio, stdio, stdio];
  if (!Array.isArray(stdio)) throw invalidArgType('options.stdio', 'a string or an array', stdio);
  const out: StdioEntry[] = [...(stdio as StdioEntry[])];
  while (out.length < 3) out.push('pipe');
  return out;
}

/**
 * Runs a clone made by {@link cloneExecutable} as a child process: a real
 * Node ChildProcess, as child_process.spawn returns (stdio, env, cwd,
 * events, kill). The program is executed through /proc/self/fd/N of the
 * forked child; the descriptor is close-on-exec, so the program sees no
 * extra open descriptors, and /proc/PID/exe names the memfd.
 *
 * Before running a memfd it checks its seals (`requireSeals`: exec on 6.3+,
 * shrink, grow, write, seal), so a memfd received from elsewhere cannot be
 * changed under the child. A `#!` script runs with its interpreter (which is
 * read from disk, unsealed) reading the sealed script from one extra
 * read-only descriptor, unless `script: 'refuse'`.
 *
 * @throws ExecRefusedError `reason: 'noexec-seal'` for an MFD_NOEXEC_SEAL memfd.
 * @throws MemsealError ERR_MEMSEAL_MISSING_SEALS for a memfd lacking seals;
 *   ERR_MEMSEAL_CLOSED (or an error with that code) for a closed clone.
 * @throws ExecError ERR_MEMSEAL_NOT_EXECUTABLE, ERR_MEMSEAL_EMPTY_SOURCE,
 *   ERR_MEMSEAL_SCRIPT.
 * Exec failures after the fork (ENOEXEC, EACCES from an LSM) arrive, as
 * with child_process.spawn, as an 'error' event or a thrown error.
 */
export function spawnSealed(exe: Executable, args: readonly string[] = [], options?: SpawnSealedOptions): ChildProcess {
  if (!(exe instanceof Memfd) && !(exe instanceof TmpfileExecutable)) {
    throw invalidArgType('exe', 'a Memfd or TmpfileExecutable (from cloneExecutable)', exe);
  }
  if (!Array.isArray(args)) throw invalidArgType('args', 'an array of strings', args);
  args.forEach((a, i) => {
    if (typeof a !== 'string') throw invalidArgType(`args[${i}]`, 'of type string', a);
  });
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw invalidArgType('options', 'of type object', options);
  }
  // Own properties only, and no prototype: neither memseal nor spawn sees an inherited option.
  const { script, argv0, ...rest } = ownOptions(options ?? {}) as SpawnSealedOptions;
  const spawnOptions = Object.assign(Object.create(null) as SpawnOptions, rest);
  const shell = (spawnOptions as { shell?: unknown }).shell;
  if (shell !== undefined && shell !== false) {
    throw invalidArgValue('options.shell', 'is not supported: the program runs directly from its clone');
  }
  const scriptMode = script === undefined ? 'run' : validateOneOf(script, 'options.script', ['run', 'refuse'] as const);
  if (argv0 !== undefined) validateString(argv0, 'options.argv0');
  checkRunnable(exe);
  const fd = exe.fd;
  if (!isScript(fd)) {
    return spawn(`/proc/self/fd/${fd}`, args, { ...spawnOptions, argv0: argv0 ?? exe.name });
  }
  if (scriptMode === 'refuse') {
    throw new ExecError(
      'ERR_MEMSEAL_SCRIPT',
      `'${exe.name}' is a #! script: its interpreter would have to open it through a close-on-exec descriptor (ENOENT); pass { script: 'run' } to hand it the script as an extra read-only descriptor`,
    );
  }
  // The interpreter opens the script by the path the kernel passes it,
  // /proc/self/fd/N: give the child a read-only, inheritable copy at N.
  const stdio = stdioArray(spawnOptions.stdio);
  const readOnly = fs.openSync(`/proc/self/fd/${fd}`, fs.constants.O_RDONLY);
  try {
    return spawn(`/proc/self/fd/${stdio.length}`, args, { ...spawnOptions, stdio: [...stdio, readOnly] as StdioOptions });
  } finally {
    fs.closeSync(readOnly);
  }
}
