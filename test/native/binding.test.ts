/**
 * The raw binding's own argument checks and error shape. lib/ validates
 * first; these checks are the second line, so that no JS value reaching the
 * addon directly can crash the process or reach a syscall as garbage.
 */
import { readFileSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { describe, expect, it } from 'vitest';
import { binding } from '../../lib/binding.js';
import { SyscallError } from '../../lib/errors.js';
import { constants } from '../../lib/constants.js';
import { unlessEmulated } from '../helpers/emulation.js';

const raw = binding();
const HOSTILE: unknown[] = [undefined, null, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, -(2 ** 53), '3', {}, [], () => 1, Symbol('s'), 2n ** 65n, -1n];

function catchErr(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

function expectKernelError(fn: () => unknown, code: string, syscall: string): void {
  const err = catchErr(fn);
  expect(err).toBeInstanceOf(SyscallError);
  expect(err).toMatchObject({ code, syscall });
  expect((err as SyscallError).errno).toBeLessThan(0);
}

describe('raw binding: errors', () => {
  it('builds the registered SyscallError class, Node-shaped', () => {
    const err = catchErr(() => raw.close(2 ** 30)) as SyscallError;
    expect(err).toBeInstanceOf(SyscallError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('SyscallError');
    expect(Object.keys(err)).not.toContain('name');
    expect(err.code).toBe('EBADF');
    expect(err.errno).toBe(-9);
    expect(getSystemErrorName(err.errno)).toBe(err.code);
    expect(err.syscall).toBe('close');
    expect(err.message).toBe('EBADF: bad file descriptor, close');
    expect(err.stack).toMatch(/SyscallError: EBADF/);
  });

  it.each([
    ['memfdCreate', () => raw.memfdCreate('x', 0x8000_0000), 'EINVAL', 'memfd_create'],
    ['memfdCreate null name', () => raw.memfdCreate(null, 0), 'EFAULT', 'memfd_create'],
    ['addSeals', () => raw.addSeals(2 ** 30, 1), 'EBADF', 'fcntl'],
    ['getSeals', () => raw.getSeals(2 ** 30), 'EBADF', 'fcntl'],
    ['ftruncate', () => raw.ftruncate(2 ** 30, 0), 'EBADF', 'ftruncate'],
    ['fstat', () => raw.fstat(2 ** 30), 'EBADF', 'fstat'],
    ['fchmod', () => raw.fchmod(2 ** 30, 0o600), 'EBADF', 'fchmod'],
    ['pread', () => raw.read(2 ** 30, Buffer.alloc(1), 0, 1, 0), 'EBADF', 'pread'],
    ['pwrite', () => raw.write(2 ** 30, Buffer.alloc(1), 0, 1, 0), 'EBADF', 'pwrite'],
    ['write', () => raw.write(2 ** 30, Buffer.alloc(1), 0, 1, -1), 'EBADF', 'write'],
    ['sendfile', () => raw.sendfile(2 ** 30, 2 ** 30, null, 1), 'EBADF', 'sendfile'],
    ['copyFileRange', () => raw.copyFileRange(2 ** 30, null, 2 ** 30, null, 1), 'EBADF', 'copy_file_range'],
  ])('%s reports the kernel error', (_name, fn, code, syscall) => expectKernelError(fn, code, syscall));

  unlessEmulated('mseal')('mseal flags reports the kernel error', () => expectKernelError(() => raw.mseal(0n, 4096, 1), 'EINVAL', 'mseal'));
  unlessEmulated('memfd_secret')('memfdSecret flags reports the kernel error', () => expectKernelError(() => raw.memfdSecret(1), 'EINVAL', 'memfd_secret'));
});

describe('raw binding: hostile arguments never crash', () => {
  const calls: Array<[string, (x: unknown) => unknown]> = [
    ['memfdCreate name', (x) => raw.memfdCreate(x as string, 0)],
    ['memfdCreate flags', (x) => raw.memfdCreate('x', x as number)],
    ['addSeals', (x) => raw.addSeals(x as number, 1)],
    ['getSeals', (x) => raw.getSeals(x as number)],
    ['ftruncate', (x) => raw.ftruncate(0, x as number)],
    ['fstat', (x) => raw.fstat(x as number)],
    ['fchmod', (x) => raw.fchmod(0, x as number)],
    ['read buffer', (x) => raw.read(0, x as Buffer, 0, 1, 0)],
    ['read offset', (x) => raw.read(0, Buffer.alloc(4), x as number, 1, 0)],
    ['write length', (x) => raw.write(1, Buffer.alloc(4), 0, x as number, -1)],
    ['writev', (x) => raw.writev(1, x as Buffer[])],
    ['close', (x) => raw.close(x as number)],
    ['dup', (x) => raw.dup(x as number)],
    ['fcntl cmd', (x) => raw.fcntl(0, x as number, 0)],
    ['mmap length', (x) => raw.mmap(0n, x as number, 3, 0x22, -1, 0)],
    ['munmap', (x) => raw.munmap(x as bigint, 4096)],
    ['mprotect', (x) => raw.mprotect(x as bigint, 4096, 0)],
    ['madvise', (x) => raw.madvise(x as bigint, 4096, 4)],
    ['mremap', (x) => raw.mremap(x as bigint, 4096, 8192, 1, 0n)],
    ['mseal', (x) => raw.mseal(x as bigint, 4096, 0)],
    ['mlock', (x) => raw.mlock(x as bigint, 4096)],
    ['peek', (x) => raw.peek(x as bigint, 16)],
    ['poke', (x) => raw.poke(x as bigint, Buffer.alloc(16))],
    ['memfdSecret', (x) => raw.memfdSecret(x as number)],
    ['getrlimit', (x) => raw.getrlimit(x as number)],
    ['ownFd fd', (x) => raw.ownFd(x as number)],
    [
      'ownFd path',
      (x) => {
        const fd = raw.memfdCreate('owned', constants.MFD_CLOEXEC);
        try {
          raw.ownFd(fd, x as string);
        } finally {
          raw.close(fd); // forgotten again: nothing is removed when this thread ends
        }
      },
    ],
    ['Region length', (x) => new raw.Region(x as number, 3, 0x22, -1, 0, 0, 4096, false)],
    ['Region prot', (x) => new raw.Region(4096, x as number, 0x22, -1, 0, 0, 4096, false)],
    ['Region pageSize', (x) => new raw.Region(4096, 3, 0x22, -1, 0, 0, x as number, false)],
  ];
  for (const [name, call] of calls) {
    it(name, () => {
      for (const value of HOSTILE) {
        const err = catchErr(() => call(value));
        if (err === undefined) continue; // some values are valid for some arguments
        expect(err).toBeInstanceOf(Error);
        const code = (err as { code?: string }).code;
        expect(err instanceof TypeError || err instanceof RangeError || err instanceof SyscallError || code === 'ERR_MEMSEAL_NOT_OWNED').toBe(true);
      }
    });
  }

  it('refuses wrong argument counts with a Usage TypeError', () => {
    expect(() => (raw.memfdCreate as (...a: unknown[]) => number)('x')).toThrow(/^Usage: memfdCreate/);
    expect(() => (raw.mseal as (...a: unknown[]) => void)(0n, 4096)).toThrow(TypeError);
    expect(() => (raw.close as (...a: unknown[]) => void)()).toThrow(TypeError);
    expect(() => (raw.countMappings as (...a: unknown[]) => number)(1)).toThrow(/^Usage: countMappings/);
    expect(() => (raw.regionMappings as (...a: unknown[]) => number)(1)).toThrow(/^Usage: regionMappings/);
    expect(() => (raw.ownFd as (...a: unknown[]) => void)()).toThrow(/^Usage: ownFd/);
    expect(() => raw.ownFd(0, '')).toThrow(/^Usage: ownFd/);
    expect(() => raw.ownFd(0, 'a\0b')).toThrow(/^Usage: ownFd/);
    expect(() => raw.ownFd(2 ** 30)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'fcntl' }));
  });
});

describe('raw binding: counting mappings', () => {
  it('countMappings() counts the lines of /proc/self/maps', () => {
    const lines = (): number => readFileSync('/proc/self/maps', 'utf8').trim().split('\n').length;
    const before = lines();
    const n = raw.countMappings();
    expect(Math.abs(n - before)).toBeLessThanOrEqual(2);
  });

  it('regionMappings() counts 3 for a Region between guard pages, 1 without, until it is unmapped', () => {
    const page = constants.PAGE_SIZE;
    const rw = constants.PROT_READ | constants.PROT_WRITE;
    const anon = constants.MAP_PRIVATE | constants.MAP_ANONYMOUS;
    const start = raw.regionMappings();
    const guarded = new raw.Region(page, rw, anon, -1, 0, 1, page, false);
    expect(raw.regionMappings()).toBe(start + 3);
    const plain = new raw.Region(page, rw, anon, -1, 0, 0, page, false);
    expect(raw.regionMappings()).toBe(start + 4);
    guarded.unmap();
    plain.unmap();
    expect(raw.regionMappings()).toBe(start);
  });

  it('ownFd() takes a descriptor close() forgets', () => {
    const fd = raw.memfdCreate('owned', constants.MFD_CLOEXEC);
    raw.ownFd(fd);
    raw.close(fd);
    expect(() => raw.fstat(fd)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});

describe('raw binding: address confinement', () => {
  const page = constants.PAGE_SIZE;

  it('refuses to touch memory it did not map', () => {
    const heap = Buffer.alloc(page * 4);
    // An address inside V8's heap: any change there would crash the process.
    const guess = raw.mmap(0n, page, constants.PROT_READ, constants.MAP_PRIVATE | constants.MAP_ANONYMOUS, -1, 0);
    raw.munmap(guess, page);
    for (const fn of [
      () => raw.munmap(guess, page),
      () => raw.mprotect(guess, page, 0),
      () => raw.madvise(guess, page, constants.MADV_DONTNEED),
      () => raw.mseal(guess, page, 0),
      () => raw.peek(guess, 8),
      () => raw.mmap(guess, page, 3, constants.MAP_PRIVATE | constants.MAP_ANONYMOUS | constants.MAP_FIXED, -1, 0),
    ]) {
      expect(fn).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_NOT_OWNED' }));
    }
    expect(heap.length).toBe(page * 4);
  });

  it('refuses Region memory to the raw calls', () => {
    const region = new raw.Region(page, constants.PROT_READ | constants.PROT_WRITE, constants.MAP_PRIVATE | constants.MAP_ANONYMOUS, -1, 0, 1, page, false);
    try {
      expect(() => raw.munmap(region.address, page)).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_NOT_OWNED' }));
      expect(() => raw.mprotect(region.address - BigInt(page), page, 3)).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_NOT_OWNED' }));
    } finally {
      region.unmap();
    }
  });

  unlessEmulated('mseal')('lets the kernel answer calls it refuses before any effect', () => {
    expect(() => raw.munmap(1n, page)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'munmap' }));
    expect(() => raw.mprotect(0n, 0, 0)).not.toThrow();
    expect(() => raw.mseal(0n, 0, 0)).not.toThrow();
    // A length that wraps around the address space: the kernel's EINVAL.
    expect(() => raw.mseal(BigInt(page), 2n ** 64n - 1n as unknown as number, 0)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'mseal' }));
  });

  unlessEmulated('processVm')('works on what it mapped, and peek/poke fault softly', () => {
    const addr = raw.mmap(0n, page * 2, constants.PROT_READ | constants.PROT_WRITE, constants.MAP_PRIVATE | constants.MAP_ANONYMOUS, -1, 0);
    expect(raw.poke(addr, Buffer.from('raw'))).toBe(3);
    expect(raw.peek(addr, 3).toString()).toBe('raw');
    raw.mprotect(addr + BigInt(page), page, constants.PROT_NONE);
    expect(() => raw.peek(addr + BigInt(page), 1)).toThrow(expect.objectContaining({ code: 'EFAULT', syscall: 'process_vm_readv' }));
    raw.munmap(addr, page * 2);
    expect(() => raw.peek(addr, 1)).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_NOT_OWNED' }));
  });
});

describe('raw binding: Region', () => {
  const page = constants.PAGE_SIZE;
  const rw = constants.PROT_READ | constants.PROT_WRITE;
  const anon = constants.MAP_PRIVATE | constants.MAP_ANONYMOUS;

  it('puts PROT_NONE guard pages around the data', () => {
    const region = new raw.Region(100, rw, anon, -1, 0, 1, page, false);
    try {
      const maps = readFileSync('/proc/self/maps', 'utf8');
      const start = region.address;
      const before = (start - BigInt(page)).toString(16);
      expect(maps).toMatch(new RegExp(`^${before}-${start.toString(16)} ---p`, 'm'));
      expect(maps).toMatch(new RegExp(`^${start.toString(16)}-${(start + BigInt(page)).toString(16)} rw-p`, 'm'));
      expect(maps).toMatch(new RegExp(`^${(start + BigInt(page)).toString(16)}-[0-9a-f]+ ---p`, 'm'));
    } finally {
      region.unmap();
    }
  });

  it('copies in and out with bounds and protection checks', () => {
    const region = new raw.Region(16, rw, anon, -1, 0, 0, page, true);
    try {
      expect(region.write(0, Buffer.from('0123456789abcdef'), 0, 16)).toBe(16);
      const out = Buffer.alloc(4);
      expect(region.read(4, out, 0, 4)).toBe(4);
      expect(out.toString()).toBe('4567');
      expect(() => region.read(14, out, 0, 4)).toThrow(RangeError);
      expect(() => region.write(0, out, 2, 4)).toThrow(RangeError);
      region.protect(constants.PROT_READ);
      expect(() => region.write(0, out, 0, 1)).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_NO_ACCESS' }));
      region.protect(constants.PROT_NONE);
      expect(() => region.read(0, out, 0, 1)).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_NO_ACCESS' }));
      expect(() => region.view()).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_NO_ACCESS' }));
      expect(() => region.protect(constants.PROT_EXEC)).toThrow(TypeError);
      expect(() => region.advise(100)).toThrow(TypeError); // MADV_HWPOISON is never passed on
    } finally {
      region.unmap();
    }
    expect(() => region.view()).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_UNMAPPED' }));
    expect(() => region.read(0, Buffer.alloc(1), 0, 1)).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_UNMAPPED' }));
  });

  it('populate() faults pages in from the kernel side and reports a page it could not back as a short count, not a SIGBUS', () => {
    const fd = raw.memfdCreate('populate', constants.MFD_CLOEXEC);
    try {
      // A shared mapping two pages longer than its file: touching the last
      // two from user space would be SIGBUS; the kernel-side fill stops there.
      raw.ftruncate(fd, 2 * page);
      const region = new raw.Region(4 * page, rw, constants.MAP_SHARED, fd, 0, 0, page, false);
      try {
        expect(region.populate()).toBe(2 * page);
        region.protect(constants.PROT_READ);
        expect(() => region.populate()).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_NO_ACCESS' }));
      } finally {
        region.unmap();
      }
      expect(() => region.populate()).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_UNMAPPED' }));
      const whole = new raw.Region(3 * page, rw, anon, -1, 0, 1, page, false);
      expect(whole.populate()).toBe(3 * page);
      whole.unmap();
    } finally {
      raw.close(fd);
    }
  });

  it('wipes on unmap when asked (observed through a shared memfd mapping)', () => {
    const fd = raw.memfdCreate('wipe', constants.MFD_CLOEXEC);
    try {
      raw.ftruncate(fd, page);
      const region = new raw.Region(page, rw, constants.MAP_SHARED, fd, 0, 0, page, true);
      Buffer.from(region.view()).fill(0xaa);
      region.unmap();
      const back = Buffer.alloc(16);
      raw.read(fd, back, 0, 16, 0);
      expect(back.equals(Buffer.alloc(16))).toBe(true);
    } finally {
      raw.close(fd);
    }
  });
});
