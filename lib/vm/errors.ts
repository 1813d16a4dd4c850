/**
 * The one error of the VM harness: a boot, a kernel download or a guest
 * userland that did not give an answer, with a `kind` (also `code`) saying
 * which, and the console's last lines when there was a console.
 */
export type VmErrorKind =
  | 'missing-qemu'
  | 'missing-kernel'
  | 'bad-argument'
  | 'panic'
  | 'timeout'
  | 'qemu-failed'
  | 'no-answer'
  | 'corrupt-output'
  // Fetching a `debian:` kernel (lib/vm/kernels.ts):
  | 'no-apt'
  | 'offline'
  | 'no-such-kernel'
  | 'download-failed';

/**
 * A boot (or a kernel download) that did not give an answer. `kind`, also
 * as `code`, says which; `consoleTail` holds the console's last lines.
 */
export class VmError extends Error {
  readonly kind: VmErrorKind;
  readonly code: VmErrorKind;
  readonly consoleTail: readonly string[];
  constructor(kind: VmErrorKind, message: string, consoleTail: readonly string[] = []) {
    const tail = consoleTail.length > 0 ? `\n--- the console's last ${consoleTail.length} lines ---\n${consoleTail.join('\n')}\n---` : '';
    super(`${message}${tail}`);
    this.kind = kind;
    this.code = kind;
    this.consoleTail = consoleTail;
  }
}
Object.defineProperty(VmError.prototype, 'name', { value: 'VmError', enumerable: false });
