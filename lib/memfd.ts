/**
 * Memfd: an anonymous file in memory (memfd_create(2)) with file seals.
 *
 * A Memfd owns one file descriptor. Every method checks that it is still
 * open, so a closed Memfd gives ERR_MEMSEAL_CLOSED, never an EBADF on a
 * descriptor number the process has since reused.
 */
import { OPTION_KEYS } from './options.js';
import { readlinkSync } from 'node:fs';
import { binding } from './binding.js';
import { constants, PAGE_SIZE } from './constants.js';
import { MemsealError, SyscallError, UnsupportedError } from './errors.js';
import { explainUnavailable } from './features.js';
import { memfdNoexecSysctl } from './kernel.js';
import { mappingOf, mapRegion, MAX_MAPPING_SIZE, type Mapping } from './mapping.js';
import { sealBit, sealMask, sealNames, type SealName } from './seals.js';
import {
  invalidArgType,
  invalidArgValue,
  outOfRange,
  toBytes,
  validateBoolean,
  validateInteger,
  validateOneOf,
  validateOptions,
} from './validate.js';

/**
 * Which exec flag memfd_create gets (Linux 6.3+):
 * - `'noexec-seal'`: MFD_NOEXEC_SEAL. Mode 0666 and the `exec` seal: chmod
 *   can never make the file executable (an access ACL can, on kernels without
 *   "mm/shmem: honour F_SEAL_EXEC when an ACL is set", such as 6.18.44 and
 *   7.3.4; 6.12.118 has it). The kernel then allows sealing even
 *   without MFD_ALLOW_SEALING (see {@link MemfdCreateOptions.allowSealing}).
 * - `'exec'`: MFD_EXEC. Mode 0777; refused (EACCES) where vm.memfd_noexec is 2.
 * - `'kernel-default'`: neither flag; the kernel and vm.memfd_noexec decide
 *   (0777 at 0, as `'noexec-seal'` at 1 and 2).
 */
export type ExecMode = 'noexec-seal' | 'exec' | 'kernel-default';

/** A huge page size for MFD_HUGETLB; `true` takes the system default. */
export type HugePageSize = '2MB' | '1GB';

/** Options for {@link Memfd.create}. */
export interface MemfdCreateOptions {
  /** Default `'noexec-seal'`. */
  exec?: ExecMode;
  /**
   * What to do when `exec` asks for a flag this kernel lacks (before 6.3):
   * `'error'` (default) throws UnsupportedError; `'kernel-default'` creates
   * the memfd without the flag, and `exec` on the result reads
   * `'kernel-default'` so the downgrade is visible.
   */
  fallback?: 'error' | 'kernel-default';
  /**
   * MFD_ALLOW_SEALING. Default true. With false no seal can ever be added
   * (F_ADD_SEALS gives EPERM): where the kernel would allow seals anyway,
   * under MFD_NOEXEC_SEAL (`exec: 'noexec-seal'`, and `'kernel-default'`
   * where vm.memfd_noexec is 1 or 2), memseal adds the `seal` seal itself
   * before returning, so `seals` reads `exec` and `seal`.
   */
  allowSealing?: boolean;
  /** MFD_CLOEXEC. Default true. */
  cloexec?: boolean;
  /** MFD_HUGETLB, with an optional page size. Default false. */
  hugetlb?: boolean | HugePageSize;
}

/** Options for {@link Memfd.from}. */
export interface MemfdFromOptions {
  /** Default `'memseal'`. */
  name?: string;
  /** Seals added after the data is written. Default `['seal', 'shrink', 'grow', 'write']`. */
  seals?: readonly SealName[];
  /** As in {@link MemfdCreateOptions.exec}; default `'noexec-seal'`. */
  exec?: ExecMode;
  /** As in {@link MemfdCreateOptions.fallback}. */
  fallback?: 'error' | 'kernel-default';
}

/** Options for {@link Memfd.map}. */
export interface MemfdMapOptions {
  /** `'r'` (default) or `'rw'`. */
  access?: 'r' | 'rw';
  /** MAP_SHARED (default true); false maps a private copy-on-write view. */
  shared?: boolean;
  /** Byte offset into the file, a multiple of the page size. Default 0. */
  offset?: number;
  /** Bytes to map. Default: from `offset` to the current end of the file. */
  length?: number;
}

/** Options for {@link Memfd.fromFd}. */
export interface MemfdFromFdOptions {
  /** Overrides the name read from /proc/self/fd. */
  name?: string;
}

const EXEC_MODES: readonly ExecMode[] = ['noexec-seal', 'exec', 'kernel-default'];
const HUGE_SIZES: Readonly<Record<HugePageSize, number>> = { '2MB': 21, '1GB': 30 };
const NAME_LIMIT = 249; // NAME_MAX minus the "memfd:" prefix

const finalizer = new FinalizationRegistry<number>((fd) => {
  process.emitWarning(`Closing memfd file descriptor ${fd} on garbage collection; call close() or use \`using\``, 'MemsealWarning');
  try {
    binding().close(fd);
  } catch {
    // Nothing to report to: the object is gone.
  }
});

function validateName(name: unknown, argName: string): string {
  if (typeof name !== 'string') throw invalidArgType(argName, 'of type string', name);
  if (name.includes('\0')) throw invalidArgValue(argName, 'must not contain NUL characters');
  return name;
}

function hugetlbFlags(value: boolean | HugePageSize): number {
  if (value === false) return 0;
  if (value === true) return constants.MFD_HUGETLB;
  return constants.MFD_HUGETLB | (HUGE_SIZES[value] << constants.MFD_HUGE_SHIFT);
}

function execFlag(mode: ExecMode): number {
  if (mode === 'exec') return constants.MFD_EXEC;
  if (mode === 'noexec-seal') return constants.MFD_NOEXEC_SEAL;
  return 0;
}

function createError(err: unknown, name: string, mode: ExecMode, huge: boolean): unknown {
  if (!(err instanceof SyscallError)) return err;
  if (mode !== 'kernel-default') {
    const explained = explainUnavailable(err, mode === 'exec' ? 'MFD_EXEC' : 'MFD_NOEXEC_SEAL');
    if (explained instanceof UnsupportedError) {
      return explained.addHint("pass { fallback: 'kernel-default' } to create the memfd without the flag");
    }
  }
  if (err.code === 'EINVAL' && Buffer.byteLength(name) > NAME_LIMIT) {
    err.addHint(`memfd names are limited to ${NAME_LIMIT} bytes; this one has ${Buffer.byteLength(name)}`);
  } else if (err.code === 'EACCES' && mode === 'exec') {
    err.addHint(
      `vm.memfd_noexec is ${memfdNoexecSysctl() ?? '?'} in this pid namespace; at 2 the kernel refuses executable memfds: use exec: 'noexec-seal'`,
    );
  } else if (huge && (err.code === 'ENODEV' || err.code === 'EINVAL' || err.code === 'ENOENT')) {
    err.addHint('this kernel offers no huge pages of that size (see /sys/kernel/mm/hugepages)');
  }
  return err;
}

/**
 * Makes a new memfd take no seals, as MFD_ALLOW_SEALING left out promises.
 * The kernel ignores a missing MFD_ALLOW_SEALING under MFD_NOEXEC_SEAL
 * (mm/memfd.c: memfd_create clears F_SEAL_SEAL for it), which `'noexec-seal'`
 * and `'kernel-default'` at vm.memfd_noexec 1 or 2 pass; adding F_SEAL_SEAL
 * before anyone else has the descriptor gives the same state as a memfd
 * created without sealing. Closes `fd` when that fails.
 */
function forbidSealing(fd: number): void {
  try {
    const seals = binding().getSeals(fd);
    if ((seals & constants.F_SEAL_SEAL) === 0) binding().addSeals(fd, constants.F_SEAL_SEAL);
  } catch (err) {
    binding().close(fd);
    throw err;
  }
}

const TOKEN = Symbol('Memfd');

const NOT_CLONEABLE = Symbol('memseal: a Memfd cannot be cloned or sent to another thread; pass its descriptor (memfd.fd) and wrap it there with Memfd.fromFd()');

/**
 * An anonymous in-memory file, with seals. structuredClone() and
 * postMessage() of a Memfd throw DataCloneError.
 */
export class Memfd {
  /** Makes structuredClone() and postMessage() throw DataCloneError instead of sending an empty object. */
  readonly notCloneable: symbol = NOT_CLONEABLE;
  #fd: number;
  readonly #name: string;
  readonly #exec: ExecMode;

  /** Use Memfd.create(), Memfd.from() or Memfd.fromFd(). */
  private constructor(token: symbol, fd: number, name: string, exec: ExecMode) {
    if (token !== TOKEN) throw new TypeError('Illegal constructor: use Memfd.create(), Memfd.from() or Memfd.fromFd()');
    this.#fd = fd;
    binding().ownFd(fd); // closed with this thread, if not before
    this.#name = name;
    this.#exec = exec;
    finalizer.register(this, fd, this);
  }

  /**
   * Creates a memfd (memfd_create(2)).
   * @param name Shown in /proc/self/fd as "/memfd:NAME"; at most 249 bytes
   *   (the kernel refuses longer ones with EINVAL), no NUL characters.
   * @throws UnsupportedError (feature 'MFD_NOEXEC_SEAL' or 'MFD_EXEC', since
   *   6.3) on an older kernel, unless `fallback: 'kernel-default'`.
   * @throws SyscallError EACCES for `exec: 'exec'` where vm.memfd_noexec is 2;
   *   EINVAL for a name over 249 bytes; EMFILE when out of descriptors.
   */
  static create(name: string, options?: MemfdCreateOptions): Memfd {
    validateName(name, 'name');
    const o = validateOptions<MemfdCreateOptions>(options, 'options', OPTION_KEYS.memfdCreate);
    const exec = o.exec === undefined ? 'noexec-seal' : validateOneOf(o.exec, 'options.exec', EXEC_MODES);
    const fallback = o.fallback === undefined ? 'error' : validateOneOf(o.fallback, 'options.fallback', ['error', 'kernel-default'] as const);
    const allowSealing = o.allowSealing === undefined ? true : validateBoolean(o.allowSealing, 'options.allowSealing');
    const cloexec = o.cloexec === undefined ? true : validateBoolean(o.cloexec, 'options.cloexec');
    const huge = o.hugetlb === undefined ? false : o.hugetlb;
    if (typeof huge !== 'boolean') validateOneOf(huge, 'options.hugetlb', Object.keys(HUGE_SIZES) as HugePageSize[]);
    const base =
      (cloexec ? constants.MFD_CLOEXEC : 0) | (allowSealing ? constants.MFD_ALLOW_SEALING : 0) | hugetlbFlags(huge);
    let fd: number;
    let made = exec;
    try {
      fd = binding().memfdCreate(name, base | execFlag(exec));
    } catch (err) {
      const explained = createError(err, name, exec, huge !== false);
      if (!(explained instanceof UnsupportedError) || fallback !== 'kernel-default') throw explained;
      try {
        fd = binding().memfdCreate(name, base);
        made = 'kernel-default';
      } catch (err2) {
        throw createError(err2, name, 'kernel-default', huge !== false);
      }
    }
    if (!allowSealing) forbidSealing(fd);
    return new Memfd(TOKEN, fd, name, made);
  }

  /**
   * A memfd holding `data`, then sealed (by default against every change:
   * seal, shrink, grow, write).
   * @throws as {@link Memfd.create}; SyscallError from the write or seals.
   */
  static from(data: string | ArrayBufferView, options?: MemfdFromOptions): Memfd {
    const bytes = toBytes(data, 'data');
    const o = validateOptions<MemfdFromOptions>(options, 'options', OPTION_KEYS.memfdFrom);
    const name = o.name === undefined ? 'memseal' : validateName(o.name, 'options.name');
    const seals = o.seals === undefined ? (['seal', 'shrink', 'grow', 'write'] as const) : o.seals;
    if (!Array.isArray(seals)) throw invalidArgType('options.seals', 'an array of seal names', seals);
    const mask = sealMask(seals, 'options.seals');
    const memfd = Memfd.create(name, { exec: o.exec, fallback: o.fallback, allowSealing: true });
    try {
      let done = 0;
      while (done < bytes.length) {
        const n = binding().write(memfd.#fd, bytes, done, bytes.length - done, done);
        if (n === 0) throw new SyscallError('pwrite', -5, { message: 'EIO: the memfd accepted no more bytes, pwrite' });
        done += n;
      }
      if (mask !== 0) memfd.#addSealMask(mask, seals);
      return memfd;
    } catch (err) {
      memfd.close();
      throw err;
    }
  }

  /**
   * Wraps an existing memfd descriptor (for instance one received over a Unix
   * socket). The Memfd works on its own duplicate (close-on-exec): the caller
   * still owns `fd` and closes it when done, so no descriptor ever has two
   * owners.
   * @throws MemsealError ERR_MEMSEAL_NOT_MEMFD when `fd` is not a memfd.
   * @throws SyscallError EBADF when `fd` is not open.
   */
  static fromFd(fd: number, options?: MemfdFromFdOptions): Memfd {
    validateInteger(fd, 'fd', 0, 2 ** 31 - 1);
    const o = validateOptions<MemfdFromFdOptions>(options, 'options', OPTION_KEYS.memfdFromFd);
    const name = o.name === undefined ? undefined : validateName(o.name, 'options.name');
    const own = binding().dup(fd); // EBADF for a closed descriptor
    try {
      let link = '';
      try {
        link = readlinkSync(`/proc/self/fd/${own}`);
      } catch {
        // No procfs: the seals check below still applies.
      }
      let sealable = true;
      try {
        binding().getSeals(own);
      } catch {
        sealable = false;
      }
      if (!sealable || (link !== '' && !link.startsWith('/memfd:'))) {
        throw new MemsealError('ERR_MEMSEAL_NOT_MEMFD', `File descriptor ${fd} is not a memfd (${link || 'no seals'})`);
      }
      const parsed = link.replace(/^\/memfd:/, '').replace(/ \(deleted\)$/, '');
      return new Memfd(TOKEN, own, name ?? parsed, 'kernel-default');
    } catch (err) {
      binding().close(own);
      throw err;
    }
  }

  #checkClosed(): number {
    if (this.#fd < 0) throw new MemsealError('ERR_MEMSEAL_CLOSED', `The memfd '${this.#name}' is closed`);
    return this.#fd;
  }

  /** The file descriptor. Throws ERR_MEMSEAL_CLOSED after close(). */
  get fd(): number {
    return this.#checkClosed();
  }

  /** The name given at creation (without the "memfd:" prefix). */
  get name(): string {
    return this.#name;
  }

  /** The exec flag the memfd was created with ('kernel-default' for fromFd, or after a fallback). */
  get exec(): ExecMode {
    return this.#exec;
  }

  /** True after close(). */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Current size in bytes (fstat). */
  get size(): number {
    return binding().fstat(this.#checkClosed()).size;
  }

  /** Permission bits (fstat), e.g. 0o666 for a NOEXEC_SEAL memfd. */
  get mode(): number {
    return binding().fstat(this.#checkClosed()).mode & 0o7777;
  }

  /** The seals in force (F_GET_SEALS), as a new Set of names. */
  get seals(): Set<SealName> {
    return sealNames(binding().getSeals(this.#checkClosed()));
  }

  #addSealMask(mask: number, names: readonly unknown[]): void {
    try {
      binding().addSeals(this.#fd, mask);
    } catch (err) {
      throw this.#explainSealFailure(err, names);
    }
  }

  #explainSealFailure(err: unknown, names: readonly unknown[]): unknown {
    if (!(err instanceof SyscallError)) return err;
    if (names.includes('exec')) {
      const explained = explainUnavailable(err, 'F_SEAL_EXEC');
      if (explained !== err) return explained;
    }
    if (names.includes('future-write')) {
      const explained = explainUnavailable(err, 'F_SEAL_FUTURE_WRITE');
      if (explained !== err) return explained;
    }
    if (err.code === 'EPERM') {
      let current = 0;
      try {
        current = binding().getSeals(this.#fd);
      } catch {
        // Report the original error.
      }
      err.addHint(
        (current & sealBit('seal')) !== 0
          ? "the 'seal' seal is set, so no seal can be added (or the memfd was created without allowSealing)"
          : 'seals can only be added through a descriptor opened for writing',
      );
    } else if (err.code === 'EBUSY') {
      err.addHint('a writable shared mapping of this memfd still exists: unmap it first, or seal with future-write');
    }
    return err;
  }

  /**
   * Adds seals (F_ADD_SEALS). Seals never come off.
   * @throws SyscallError EPERM when the 'seal' seal is set or sealing was not
   *   allowed; EBUSY for 'write' (or 'exec' on an executable file) while a
   *   writable shared mapping exists.
   * @throws UnsupportedError for 'exec' before 6.3, 'future-write' before 5.1.
   */
  addSeals(...seals: SealName[]): void {
    this.#checkClosed();
    this.#addSealMask(sealMask(seals, 'seals'), seals);
  }

  /**
   * For a receiver: throws unless every named seal is in force, so a memfd
   * handed over by someone else cannot change under you.
   * @throws MemsealError ERR_MEMSEAL_MISSING_SEALS naming the missing seals.
   */
  requireSeals(...seals: SealName[]): void {
    const mask = sealMask(seals, 'seals');
    const have = binding().getSeals(this.#checkClosed());
    const missing = [...sealNames(mask & ~have)];
    if (missing.length > 0) {
      throw new MemsealError('ERR_MEMSEAL_MISSING_SEALS', `The memfd '${this.#name}' lacks the seal(s): ${missing.join(', ')}`);
    }
  }

  /**
   * Writes `data` at `position` (pwrite), or at the file offset when
   * `position` is omitted (write). Returns the bytes written. Under the
   * 'grow' seal the kernel refuses the chunk (a page, or a large folio) that
   * crosses the end of the file: a write across the end returns fewer bytes
   * than given, or throws EPERM having written nothing when the end lies in
   * its first chunk.
   * @throws SyscallError EPERM when sealed against writes, or under the
   *   'grow' seal as above.
   */
  write(data: string | ArrayBufferView, position?: number): number {
    const fd = this.#checkClosed();
    const bytes = toBytes(data, 'data');
    const pos = position === undefined ? -1 : validateInteger(position, 'position');
    try {
      return binding().write(fd, bytes, 0, bytes.length, pos);
    } catch (err) {
      if (err instanceof SyscallError && err.code === 'EPERM') {
        const seals = this.seals;
        if (seals.has('write') || seals.has('future-write')) err.addHint("the memfd is sealed against writes ('write' or 'future-write')");
        else if (seals.has('grow')) err.addHint("the 'grow' seal forbids writing past the end, and the kernel refuses the whole chunk (up to a large folio) that would cross it");
      }
      throw err;
    }
  }

  /**
   * Reads `length` bytes from `position` (default: from 0 to the end) into a
   * new Buffer. The result is shorter if the file ends first.
   */
  read(position = 0, length?: number): Buffer {
    const fd = this.#checkClosed();
    validateInteger(position, 'position');
    const want = length === undefined ? Math.max(0, binding().fstat(fd).size - position) : validateInteger(length, 'length', 0, 2 ** 31 - 1);
    const out = Buffer.allocUnsafe(want);
    let done = 0;
    while (done < want) {
      const n = binding().read(fd, out, done, want - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done === want ? out : out.subarray(0, done);
  }

  /**
   * Sets the size (ftruncate).
   * @throws SyscallError EPERM under the 'shrink' or 'grow' seal.
   */
  truncate(size: number): void {
    const fd = this.#checkClosed();
    validateInteger(size, 'size');
    try {
      binding().ftruncate(fd, size);
    } catch (err) {
      if (err instanceof SyscallError && err.code === 'EPERM') err.addHint("the 'shrink' or 'grow' seal forbids this size change");
      throw err;
    }
  }

  /**
   * Changes the permission bits (fchmod).
   * @throws SyscallError EPERM under the 'exec' seal for a mode whose
   *   execute bits differ from the current ones (the other bits may change;
   *   hugetlbfs memfds ignore the seal here).
   */
  chmod(mode: number): void {
    const fd = this.#checkClosed();
    validateInteger(mode, 'mode', 0, 0o7777);
    try {
      binding().fchmod(fd, mode);
    } catch (err) {
      if (err instanceof SyscallError && err.code === 'EPERM' && this.seals.has('exec')) {
        err.addHint("the 'exec' seal freezes the execute bits: only modes with the same execute bits are allowed");
      }
      throw err;
    }
  }

  /**
   * Maps the file. The mapping outlives the Memfd (closing it does not unmap).
   * The range must lie inside the current size: a page past the end of the
   * file cannot be touched (SIGBUS). If others may shrink the file, seal it
   * with 'shrink' first.
   * @throws RangeError for an offset not on a page boundary or a range past
   *   the end of the file.
   * @throws SyscallError EPERM mapping a write-sealed memfd shared with 'rw'.
   */
  map(options?: MemfdMapOptions): Mapping {
    const fd = this.#checkClosed();
    const o = validateOptions<MemfdMapOptions>(options, 'options', OPTION_KEYS.memfdMap);
    const access = o.access === undefined ? 'r' : validateOneOf(o.access, 'options.access', ['r', 'rw'] as const);
    const shared = o.shared === undefined ? true : validateBoolean(o.shared, 'options.shared');
    const st = binding().fstat(fd);
    const pageSize = Math.max(PAGE_SIZE, st.blksize); // hugetlbfs reports its huge page size
    const offset = o.offset === undefined ? 0 : validateInteger(o.offset, 'options.offset');
    if (offset % pageSize !== 0) throw outOfRange('options.offset', `a multiple of the page size (${pageSize})`, offset);
    const length = o.length === undefined ? st.size - offset : validateInteger(o.length, 'options.length', 1, MAX_MAPPING_SIZE);
    if (length < 1 || offset + length > st.size) {
      throw outOfRange('options.length', `at least 1 and within the file's size (${st.size} bytes from offset ${offset}); grow the memfd first`, o.length ?? length);
    }
    const flags = shared ? constants.MAP_SHARED : constants.MAP_PRIVATE;
    try {
      return mappingOf(mapRegion({ length, access, flags, fd, offset, pageSize }), `memfd '${this.#name}'`);
    } catch (err) {
      if (err instanceof SyscallError && err.code === 'EPERM' && shared && access === 'rw') {
        err.addHint("the memfd is sealed against writes: map it with access 'r', or shared: false");
      }
      throw err;
    }
  }

  /** Closes the descriptor. Idempotent. Mappings made from it stay valid. */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    finalizer.unregister(this);
    binding().close(fd);
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    if (this.#fd < 0) return `Memfd <closed ${JSON.stringify(this.#name)}>`;
    try {
      const st = binding().fstat(this.#fd);
      const seals = [...this.seals].join(', ');
      return `Memfd { fd: ${this.#fd}, name: ${JSON.stringify(this.#name)}, size: ${st.size}, mode: 0o${(st.mode & 0o7777).toString(8)}, seals: [${seals}], exec: '${this.#exec}' }`;
    } catch {
      return `Memfd { fd: ${this.#fd}, name: ${JSON.stringify(this.#name)} }`;
    }
  }
}
