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
export { cloneExecutable, cloneExecutableSync } from './clone.js';
export { ExecError, ExecRefusedError } from './errors.js';
export type { ExecErrorCode, ExecRefusalReason, ExecRefusedErrorOptions } from './errors.js';
export type { CloneExecutableOptions } from './options.js';
export type { ExecSource, ExecSourceSync } from './source.js';
export { spawnSealed } from './spawn.js';
export type { SpawnSealedOptions } from './spawn.js';
export { TmpfileExecutable } from './tmpfile.js';
export type { Executable } from './tmpfile.js';
