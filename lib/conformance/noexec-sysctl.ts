/**
 * vm.memfd_noexec as a step process sees it: read and write this pid
 * namespace's value, and describe the memfd a set of flags gives.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { binding } from '../binding.js';
import { SyscallError } from '../errors.js';

const SYSCTL = '/proc/sys/vm/memfd_noexec';

function errnoOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof SyscallError) return err.code;
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    throw err;
  }
}

/** Reads this pid namespace's vm.memfd_noexec. */
export function readNoexec(): string {
  return readFileSync(SYSCTL, 'utf8').trim();
}

/** Writes vm.memfd_noexec for this pid namespace: 'ok' or the errno name. */
export function writeNoexec(value: string): string {
  return errnoOf(() => writeFileSync(SYSCTL, value));
}

/** What a memfd created with `flags` looks like here: `mode=0666 seals=0x20`, or the errno name. */
export function memfdShape(flags: number): string {
  const b = binding();
  let fd: number;
  try {
    fd = b.memfdCreate('conform-step', flags | b.constants.MFD_CLOEXEC!);
  } catch (err) {
    if (err instanceof SyscallError) return err.code;
    throw err;
  }
  try {
    return `mode=0${(b.fstat(fd).mode & 0o777).toString(8)} seals=0x${b.getSeals(fd).toString(16)}`;
  } finally {
    b.close(fd);
  }
}
