/**
 * native/procs.cc: argument checks, error shape, and that no argument can
 * crash this process or reach memory the addon did not map.
 */
import { getSystemErrorName } from 'node:util';
import { describe, expect, it } from 'vitest';
import { binding } from '../../lib/binding.js';
import { syscallError } from '../helpers/errors.js';
import { unlessEmulated } from '../helpers/emulation.js';

const b = binding();
const pc = b.procConstants;
const c = b.constants;
const PAGE = c.PAGE_SIZE!;


describe('forkProbe', () => {
  // poke() writes with process_vm_writev.
  unlessEmulated('processVm')('reads a byte in a forked child, and reports a fault as the signal that ended the child', () => {
    const addr = b.mmap(0n, PAGE, c.PROT_READ! | c.PROT_WRITE!, c.MAP_PRIVATE! | c.MAP_ANONYMOUS!, -1, 0);
    try {
      b.poke(addr, Buffer.from([0x5a]));
      expect(b.forkProbe(pc.FORK_READ!, addr, 1, 0, 5)).toEqual({ exitCode: 0, signal: null, errno: 0, value: 0x5a });
      b.mprotect(addr, PAGE, c.PROT_NONE!);
      expect(b.forkProbe(pc.FORK_READ!, addr, 1, 0, 5)).toMatchObject({ exitCode: null, signal: 11, errno: null });
    } finally {
      b.munmap(addr, PAGE);
    }
  });

  it('writes only into memory the raw mmap created (a shared mapping would carry the write back here)', () => {
    const view = new Uint8Array(16);
    expect(() => b.forkProbe(pc.FORK_WRITE!, BigInt(view.byteOffset) + 0x1000n, 1, 1, 5)).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_NOT_OWNED' }));
  });

  unlessEmulated('processVm')('munmap and mprotect happen in the child only', () => {
    const addr = b.mmap(0n, PAGE, c.PROT_READ! | c.PROT_WRITE!, c.MAP_PRIVATE! | c.MAP_ANONYMOUS!, -1, 0);
    try {
      expect(b.forkProbe(pc.FORK_MUNMAP!, addr, PAGE, 0, 5).errno).toBe(0);
      expect(b.forkProbe(pc.FORK_MPROTECT!, addr, PAGE, c.PROT_NONE!, 5).errno).toBe(0);
      b.poke(addr, Buffer.from([1])); // still mapped and writable here
      expect(b.peek(addr, 1)[0]).toBe(1);
    } finally {
      b.munmap(addr, PAGE);
    }
  });

  it('refuses bad arguments with a TypeError', () => {
    expect(() => b.forkProbe(99, 0n, 0, 0, 5)).toThrow(TypeError);
    expect(() => b.forkProbe(-1, 0n, 0, 0, 5)).toThrow(TypeError);
    expect(() => b.forkProbe(0, 0n, 0, 0, 0)).toThrow(TypeError);
    expect(() => b.forkProbe(0, 0n, 0, 0, 61)).toThrow(TypeError);
    expect(() => (b.forkProbe as unknown as (...a: unknown[]) => unknown)(0, 'x', 0, 0, 5)).toThrow(TypeError);
    expect(() => (b.forkProbe as unknown as (...a: unknown[]) => unknown)()).toThrow(/^Usage: forkProbe/);
  });
});

describe('forkExecveat', () => {
  unlessEmulated('execveat')('runs a program and reports its exit status; a failed exec reports its errno', () => {
    expect(b.forkExecveat(pc.AT_FDCWD!, process.execPath, [process.execPath, '-e', 'process.exit(7)'], [], 0, 20)).toEqual({ exitCode: 7, signal: null, execErrno: 0 });
    const missing = b.forkExecveat(pc.AT_FDCWD!, '/nonexistent/memseal', ['x'], [], 0, 5);
    expect(getSystemErrorName(-missing.execErrno)).toBe('ENOENT');
    expect(missing.exitCode).toBe(127);
    const badFd = b.forkExecveat(2 ** 31 - 1, '', ['x'], [], pc.AT_EMPTY_PATH!, 5);
    expect(getSystemErrorName(-badFd.execErrno)).toBe('EBADF');
  });

  it('refuses NUL bytes and non-string arguments', () => {
    expect(() => b.forkExecveat(pc.AT_FDCWD!, '/bin/true\0x', ['x'], [], 0, 5)).toThrow(TypeError);
    expect(() => b.forkExecveat(pc.AT_FDCWD!, '/bin/true', ['a\0b'], [], 0, 5)).toThrow(TypeError);
    expect(() => b.forkExecveat(pc.AT_FDCWD!, '/bin/true', [1 as unknown as string], [], 0, 5)).toThrow(TypeError);
    expect(() => b.forkExecveat(-200, '/bin/true', [], [], 0, 5)).toThrow(TypeError);
  });
});

describe('the rest', () => {
  it('unshare takes CLONE_NEWPID only', () => {
    expect(() => b.unshare(0)).toThrow(TypeError);
    expect(() => b.unshare(0x10000000)).toThrow(TypeError); // CLONE_NEWUSER
    expect(() => b.unshare(pc.CLONE_NEWPID! | 0x20000)).toThrow(TypeError); // plus CLONE_NEWNS
  });

  it('setrlimit takes RLIMIT_MEMLOCK and RLIMIT_CORE only, and keeps them within what the process may set', () => {
    expect(() => b.setrlimit(b.rlimits.RLIMIT_NOFILE, 1, 1)).toThrow(TypeError);
    const [soft, hard] = b.getrlimit(pc.RLIMIT_CORE!);
    b.setrlimit(pc.RLIMIT_CORE!, soft, hard);
    if (hard !== -1 && process.getuid?.() !== 0) expect(syscallError(() => b.setrlimit(pc.RLIMIT_CORE!, -1, -1)).code).toBe('EPERM');
    expect(() => b.setrlimit(pc.RLIMIT_CORE!, -2, -1)).toThrow(TypeError);
  });

  it('capDrop takes a capability number', () => {
    expect(() => b.capDrop(64)).toThrow(TypeError);
    expect(() => b.capDrop(-1)).toThrow(TypeError);
  });

  it('vmsplice of unmapped memory fails with EFAULT; pipeRoundTrip stays within raw mappings', () => {
    const addr = b.mmap(0n, 2 * PAGE, c.PROT_READ! | c.PROT_WRITE!, c.MAP_PRIVATE! | c.MAP_ANONYMOUS!, -1, 0);
    try {
      expect(b.vmsplice(addr, PAGE)).toBe(PAGE);
      expect(b.pipeRoundTrip(addr, 64)).toEqual([64, 64]);
      b.munmap(addr + BigInt(PAGE), PAGE);
      expect(syscallError(() => b.vmsplice(addr + BigInt(PAGE), PAGE)).code).toBe('EFAULT');
      expect(() => b.pipeRoundTrip(addr + BigInt(PAGE), 16)).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_NOT_OWNED' }));
      expect(() => b.pipeRoundTrip(addr, 70000)).toThrow(TypeError);
    } finally {
      b.munmap(addr, PAGE);
    }
  });

  it('policyProbe answers as the kernel would without a filter, and refuses unknown names', () => {
    for (const name of ['execveat', 'ptrace', 'process_vm_readv', 'process_vm_writev', 'vmsplice', 'unshare', 'pkey_mprotect']) {
      expect(typeof b.policyProbe(name)).toBe('number');
    }
    expect(() => b.policyProbe('reboot')).toThrow(TypeError);
    expect(() => (b.policyProbe as unknown as (x: unknown) => number)(1)).toThrow(TypeError);
  });
});
