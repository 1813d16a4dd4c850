/** The exec errors: a refused executable memfd, a source or clone that cannot run; Node fs errors as SyscallErrors. */
import { MemsealError, SyscallError, type MemsealErrorCode } from '../errors.js';
import { memfdNoexecSysctl } from '../kernel.js';

/**
 * Why an executable clone cannot be made or run:
 * - `'noexec-sysctl'`: memfd_create(MFD_EXEC) gave EACCES because
 *   vm.memfd_noexec is 2 in this pid namespace;
 * - `'blocked'`: a seccomp filter or an LSM refused memfd_create;
 * - `'noexec-seal'`: the memfd was created with MFD_NOEXEC_SEAL and has no
 *   execute bit, which chmod can never set (only an access ACL on a kernel
 *   without the F_SEAL_EXEC ACL fix can).
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

// Node's fs errors carry the same code/errno/syscall; give them our class.
export function fsError(err: unknown): unknown {
  const e = err as NodeJS.ErrnoException | null;
  if (e instanceof Error && typeof e.errno === 'number' && typeof e.syscall === 'string' && !(e instanceof SyscallError)) {
    return new SyscallError(e.syscall, e.errno, { message: e.message, cause: err });
  }
  return err;
}
