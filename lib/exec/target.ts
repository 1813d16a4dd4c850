/** Where a clone is made: an executable memfd, or after a refusal an O_TMPFILE file; and how it is finished (mode, seals). */
import * as fs from 'node:fs';
import { binding } from '../binding.js';
import { constants } from '../constants.js';
import { SyscallError, UnsupportedError } from '../errors.js';
import { memfdNoexecSysctl, seccompMode } from '../kernel.js';
import { Memfd } from '../memfd.js';
import type { SealName } from '../seals.js';
import { ExecRefusedError, fsError } from './errors.js';
import type { Plan } from './options.js';
import { makeTmpfile, type Executable } from './tmpfile.js';

/** The clone's permission bits: read and execute as the source had them, never write. */
export function cloneMode(sourceMode: number | undefined): number {
  return sourceMode === undefined ? 0o555 : sourceMode & 0o555;
}

export type Target = { kind: 'memfd'; fd: number; memfd: Memfd } | { kind: 'tmpfile'; fd: number; dir: string; refusal: ExecRefusedError };

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

export function createTarget(plan: Plan): Target {
  try {
    const memfd = createMemfd(plan.name);
    return { kind: 'memfd', fd: memfd.fd, memfd };
  } catch (err) {
    if (plan.fallback !== 'tmpfile' || !(err instanceof ExecRefusedError)) throw err;
    return createTmpfile(plan.tmpDirs, err);
  }
}

export function discard(target: Target): void {
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

export function finish(target: Target, plan: Plan, mode: number): Executable {
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
