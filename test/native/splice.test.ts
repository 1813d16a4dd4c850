/**
 * native/splice.cc: vmspliceHold() splices user memory into a pipe it leaves
 * open, so the pipe holds the pages until its two fds are closed.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { describe, expect, it } from 'vitest';
import { binding } from '../../lib/binding.js';
import { SyscallError } from '../../lib/errors.js';
import { syscallError } from '../helpers/errors.js';
import { unlessEmulated } from '../helpers/emulation.js';

const b = binding();
const c = b.constants;
const PAGE = c.PAGE_SIZE!;


describe('vmspliceHold', () => {
  // poke() writes with process_vm_writev.
  unlessEmulated('processVm')('returns both ends of a pipe holding the bytes, which read back', () => {
    const addr = b.mmap(0n, PAGE, c.PROT_READ! | c.PROT_WRITE!, c.MAP_PRIVATE! | c.MAP_ANONYMOUS!, -1, 0);
    try {
      b.poke(addr, Buffer.from('held'));
      const [r, w, n] = b.vmspliceHold(addr, PAGE);
      try {
        expect(n).toBe(PAGE);
        expect(readlinkSync(`/proc/self/fd/${r}`)).toMatch(/^pipe:/);
        expect(readlinkSync(`/proc/self/fd/${w}`)).toBe(readlinkSync(`/proc/self/fd/${r}`));
        const back = Buffer.alloc(4);
        expect(b.read(r, back, 0, 4, -1)).toBe(4);
        expect(back.toString()).toBe('held');
      } finally {
        b.close(r);
        b.close(w);
      }
    } finally {
      b.munmap(addr, PAGE);
    }
  });

  it('fails with EFAULT on memory it cannot read and leaves no pipe behind', () => {
    // A PROT_NONE page that stays mapped: an unmapped address could be
    // taken by another thread (the runtime's, a sanitizer's) before the call.
    const addr = b.mmap(0n, PAGE, c.PROT_NONE!, c.MAP_PRIVATE! | c.MAP_ANONYMOUS!, -1, 0);
    try {
      const fds = readdirSync('/proc/self/fd').length;
      const e = syscallError(() => b.vmspliceHold(addr, PAGE));
      expect(e).toBeInstanceOf(SyscallError);
      expect(e.code).toBe('EFAULT');
      expect(e.errno).toBeLessThan(0);
      expect(getSystemErrorName(e.errno)).toBe(e.code);
      expect(e.syscall).toBe('vmsplice');
      expect(readdirSync('/proc/self/fd').length).toBe(fds);
    } finally {
      b.munmap(addr, PAGE);
    }
  });

  it('checks its arguments', () => {
    expect(() => (b.vmspliceHold as (...a: unknown[]) => unknown)('x', PAGE)).toThrow(TypeError);
    expect(() => (b.vmspliceHold as (...a: unknown[]) => unknown)(0n)).toThrow(TypeError);
    expect(() => b.vmspliceHold(0n, -1)).toThrow(TypeError);
  });
});
