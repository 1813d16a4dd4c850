/**
 * The errors memseal throws. Failed syscalls are `SyscallError`s shaped like
 * Node's own system errors (`code`, negative `errno`, `syscall`); the native
 * addon constructs this very class, so `instanceof` holds without rewrapping.
 */
import { getSystemErrorName } from 'node:util';

/** Options for {@link SyscallError}. */
export interface SyscallErrorOptions {
  /** Overrides the default `"<CODE>: <description>, <syscall>"` message. */
  message?: string;
  /** What the caller can do about it; appended to the message. */
  hint?: string;
  cause?: unknown;
}

function errnoName(errno: number): string {
  try {
    return getSystemErrorName(errno);
  } catch {
    return `E${-errno}`;
  }
}

/** A system call failed. */
export class SyscallError extends Error {
  /** The errno name, such as `'EPERM'`. */
  readonly code: string;
  /** The negative errno number, as in Node's system errors. */
  readonly errno: number;
  /** The system call that failed, such as `'mseal'`. */
  readonly syscall: string;
  /** What to do about it, when memseal knows. */
  hint: string | undefined;

  constructor(syscall: string, errno: number, options: SyscallErrorOptions = {}) {
    const code = errnoName(errno);
    super(options.message ?? `${code}: ${syscall} failed`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
    this.hint = undefined;
    if (options.hint !== undefined) this.addHint(options.hint);
  }

  /** Records what to do about the failure and appends it to the message. */
  addHint(hint: string): this {
    this.hint = this.hint === undefined ? hint : `${this.hint}; ${hint}`;
    this.message = `${this.message} (${hint})`;
    return this;
  }
}
Object.defineProperty(SyscallError.prototype, 'name', { value: 'SyscallError', enumerable: false, configurable: true, writable: true });

/** Why a feature is not available. */
export type UnsupportedReason = 'kernel' | 'disabled' | 'blocked';

/** Options for {@link UnsupportedError}. */
export interface UnsupportedErrorOptions extends SyscallErrorOptions {
  feature: string;
  since: string;
  kernel: string;
  reason: UnsupportedReason;
}

/**
 * The running kernel (or the seccomp/LSM policy around it) does not offer a
 * feature. `reason` says which: `'kernel'` (too old), `'disabled'` (present
 * but switched off, e.g. secretmem without `secretmem.enable=1`), or
 * `'blocked'` (a seccomp filter or LSM denies a syscall the kernel has).
 */
export class UnsupportedError extends SyscallError {
  /** The feature, such as `'mseal'` or `'MFD_NOEXEC_SEAL'`. */
  readonly feature: string;
  /** The first kernel version that has it, such as `'6.10'`. */
  readonly since: string;
  /** The running kernel's release string. */
  readonly kernel: string;
  readonly reason: UnsupportedReason;

  constructor(syscall: string, errno: number, options: UnsupportedErrorOptions) {
    super(syscall, errno, { message: options.message ?? defaultUnsupportedMessage(errno, options), cause: options.cause });
    this.feature = options.feature;
    this.since = options.since;
    this.kernel = options.kernel;
    this.reason = options.reason;
    if (options.hint !== undefined) this.addHint(options.hint);
  }
}
Object.defineProperty(UnsupportedError.prototype, 'name', { value: 'UnsupportedError', enumerable: false, configurable: true, writable: true });

function defaultUnsupportedMessage(errno: number, o: UnsupportedErrorOptions): string {
  const code = errnoName(errno);
  switch (o.reason) {
    case 'kernel':
      return `${code}: ${o.feature} needs Linux ${o.since} or later; this kernel is ${o.kernel}`;
    case 'disabled':
      return `${code}: ${o.feature} is disabled in this kernel (${o.kernel})`;
    case 'blocked':
      return `${code}: ${o.feature} is blocked by a seccomp filter or LSM; this kernel (${o.kernel}) has it`;
  }
}

/** Codes of the errors memseal raises itself (not from a syscall). */
export type MemsealErrorCode =
  | 'ERR_MEMSEAL_CLOSED'
  | 'ERR_MEMSEAL_UNMAPPED'
  | 'ERR_MEMSEAL_NO_ACCESS'
  | 'ERR_MEMSEAL_MISSING_SEALS'
  | 'ERR_MEMSEAL_NOT_MEMFD'
  | 'ERR_MEMSEAL_UNSUPPORTED_PLATFORM'
  | 'ERR_MEMSEAL_NO_EXTERNAL_BUFFERS'
  | 'ERR_MEMSEAL_DISPOSED'
  | 'ERR_MEMSEAL_CANARY'
  | 'ERR_MEMSEAL_NOT_REGULAR_FILE'
  | 'ERR_MEMSEAL_EMPTY_SOURCE'
  | 'ERR_MEMSEAL_NOT_EXECUTABLE'
  | 'ERR_MEMSEAL_SOURCE_CHANGED'
  | 'ERR_MEMSEAL_SCRIPT'
  | 'ERR_MEMSEAL_PEER_CLOSED'
  | 'ERR_MEMSEAL_BAD_MESSAGE'
  | 'ERR_MEMSEAL_FD_COUNT'
  | 'ERR_MEMSEAL_TIMEOUT'
  | 'ERR_MEMSEAL_DETACHED'
  | 'ERR_MEMSEAL_ASYNC_CALLBACK'
  | 'ERR_MEMSEAL_NOT_OURS'
  | 'ERR_MEMSEAL_FILTER_NO_MATCH'
  | 'ERR_MEMSEAL_MAP_COUNT';

/** A misuse memseal detects itself, with a stable `code`. */
export class MemsealError extends Error {
  readonly code: MemsealErrorCode;
  constructor(code: MemsealErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
Object.defineProperty(MemsealError.prototype, 'name', { value: 'MemsealError', enumerable: false, configurable: true, writable: true });

/** Options for {@link MapCountError}. */
export interface MapCountErrorOptions {
  /** vm.max_map_count. */
  maxMapCount: number;
  /** The mappings the process had. */
  mapCount: number;
  /** Mappings memseal leaves free for the runtime. */
  reserve: number;
  /** Mappings the refused call needed. */
  requested: number;
  cause?: unknown;
}

/**
 * memseal refused to map memory (a SecretBuffer, a pool arena, a Mapping)
 * because the process would come too close to `vm.max_map_count`, the
 * kernel's limit on the mappings one process may have. Past it, every mmap
 * and mprotect fails, V8's and Node's own included, and the runtime aborts
 * instead of throwing; so memseal keeps `reserve` mappings free for it.
 * `code` is ERR_MEMSEAL_MAP_COUNT.
 */
export class MapCountError extends MemsealError {
  declare readonly code: 'ERR_MEMSEAL_MAP_COUNT';
  /** vm.max_map_count. */
  readonly maxMapCount: number;
  /** The mappings the process had (/proc/self/maps). */
  readonly mapCount: number;
  /** Mappings memseal leaves free for the runtime. */
  readonly reserve: number;
  /** Mappings the refused call needed. */
  readonly requested: number;

  constructor(options: MapCountErrorOptions) {
    super(
      'ERR_MEMSEAL_MAP_COUNT',
      `This process has ${options.mapCount} memory mappings and vm.max_map_count is ${options.maxMapCount}: ` +
        `memseal keeps the last ${options.reserve} for the runtime (V8 and Node abort when they cannot map memory), so it refused ${options.requested} more. ` +
        'Each SecretBuffer costs 2 mappings (3 when no neighbour shares a guard page: its memory and two guard pages), each Mapping 1. ' +
        'Pack small secrets in a SecretPool (one 64 KiB arena, 2 or 3 mappings, holds 2,730 secrets of up to 16 bytes), dispose what is no longer needed, ' +
        'or raise the limit (sysctl vm.max_map_count)',
    );
    if (options.cause !== undefined) Object.defineProperty(this, 'cause', { value: options.cause, writable: true, configurable: true });
    this.maxMapCount = options.maxMapCount;
    this.mapCount = options.mapCount;
    this.reserve = options.reserve;
    this.requested = options.requested;
  }
}
Object.defineProperty(MapCountError.prototype, 'name', { value: 'MapCountError', enumerable: false, configurable: true, writable: true });

/** Options for {@link MemlockLimitError}. */
export interface MemlockLimitErrorOptions {
  /** Bytes the failed call tried to lock. */
  requested: number;
  /** RLIMIT_MEMLOCK (soft) in bytes; -1 when unlimited. */
  limit: number;
  /** Bytes this process had locked (VmLck) when the call failed; -1 if unknown. */
  locked: number;
  /**
   * The kernel refused a page of secret memory when it was first faulted in:
   * it charges secret memory page by page to the user's locked memory (all
   * of the user's processes together), for root too.
   */
  perPage?: boolean;
  cause?: unknown;
}

/**
 * Locking memory failed because RLIMIT_MEMLOCK is used up: secret memory
 * (memfd_secret) and mlock'd memory both count against it. `code` is the
 * errno the kernel gave (EAGAIN from mmap of secret memory, ENOMEM or EPERM
 * from mlock).
 */
export class MemlockLimitError extends SyscallError {
  /** Bytes the failed call tried to lock. */
  readonly requested: number;
  /** RLIMIT_MEMLOCK (soft) in bytes; -1 when unlimited. */
  readonly limit: number;
  /** Bytes this process had locked when the call failed; -1 if unknown. */
  readonly locked: number;

  constructor(syscall: string, errno: number, options: MemlockLimitErrorOptions) {
    const kib = (n: number): string => (n < 0 ? 'unknown' : `${n} bytes`);
    const limitText = options.limit < 0 ? 'unlimited' : `${options.limit} bytes (ulimit -l ${Math.floor(options.limit / 1024)})`;
    const message =
      options.perPage === true
        ? `${errnoName(errno)}: ${syscall}: the kernel refused to back ${options.requested} bytes of secret memory: it charges secret memory page by page to the locked memory of this user (every process of the user, root included), and RLIMIT_MEMLOCK is ${limitText}`
        : `${errnoName(errno)}: ${syscall} cannot lock ${options.requested} more bytes: RLIMIT_MEMLOCK is ${limitText} and this process has ${kib(options.locked)} locked`;
    super(syscall, errno, {
      message,
      hint: 'dispose secrets no longer needed, pack small secrets in a SecretPool, or raise the limit: `ulimit -l <KiB>` in the shell, LimitMEMLOCK= for a systemd service, `--ulimit memlock=<bytes>` for docker run',
      cause: options.cause,
    });
    this.requested = options.requested;
    this.limit = options.limit;
    this.locked = options.locked;
  }
}
Object.defineProperty(MemlockLimitError.prototype, 'name', { value: 'MemlockLimitError', enumerable: false, configurable: true, writable: true });

/** True when `err` is a SyscallError with this code. */
export function isErrno(err: unknown, code: string): err is SyscallError {
  return err instanceof SyscallError && err.code === code;
}
