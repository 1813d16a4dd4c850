import * as fs from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { binding } from '../../lib/binding.js';
import { constants } from '../../lib/constants.js';
import { SyscallError } from '../../lib/errors.js';
import { openFds } from '../helpers/exec.js';

const raw = binding();

function memfd(): number {
  const fd = raw.memfdCreate('copy-test', constants.MFD_CLOEXEC | constants.MFD_ALLOW_SEALING);
  onTestFinished(() => raw.close(fd));
  return fd;
}

function source(): number {
  const fd = fs.openSync('/bin/sh', 'r');
  onTestFinished(() => fs.closeSync(fd));
  return fd;
}

const GARBAGE: unknown[] = [undefined, null, -1, 1.5, NaN, Infinity, 2 ** 31, 2 ** 64, -1n, 2n ** 64n, '3', {}, [], () => 0, Symbol('x')];

describe('native copyFd / copyFdAsync / fstatvfs', () => {
  it('copies a whole file, by copy_file_range where it can and sendfile where it cannot', async () => {
    const size = fs.statSync('/bin/sh').size;
    const a = memfd();
    expect(raw.copyFd(source(), a, size + 1)).toEqual({ copied: size, method: 'sendfile' }); // ext4 -> memfd: EXDEV
    const b = memfd();
    expect(await raw.copyFdAsync(a, b, size + 1)).toEqual({ copied: size, method: 'copy_file_range' }); // memfd -> memfd
    expect(raw.fstat(b).size).toBe(size);
    expect(raw.copyFd(a, memfd(), 10)).toEqual({ copied: 10, method: 'copy_file_range' });
  });

  it('throws a TypeError with the usage for any hostile argument, never crashes', () => {
    const src = source();
    const out = memfd();
    for (const fn of [raw.copyFd, raw.copyFdAsync] as ((...a: unknown[]) => unknown)[]) {
      expect(() => fn()).toThrow(/^Usage: copyFd/);
      expect(() => fn(src, out)).toThrow(TypeError);
      expect(() => fn(src, out, 1, 2)).toThrow(TypeError);
      for (const bad of GARBAGE) {
        expect(() => fn(bad, out, 1)).toThrow(TypeError);
        expect(() => fn(src, bad, 1)).toThrow(TypeError);
        if (bad !== 2 ** 31) expect(() => fn(src, out, bad)).toThrow(TypeError); // 2 ** 31 is a fine limit
      }
    }
    for (const bad of GARBAGE) expect(() => (raw.fstatvfs as (...a: unknown[]) => unknown)(bad)).toThrow(TypeError);
  });

  it('refuses descriptors that are not regular files, so no pipe or terminal can block a copy', () => {
    const [r, w] = [fs.openSync('/dev/null', 'r'), memfd()];
    onTestFinished(() => fs.closeSync(r));
    expect(() => raw.copyFd(r, w, 100)).toThrow(/regular files/);
    expect(() => raw.copyFdAsync(source(), r, 100)).toThrow(/regular files/);
  });

  it('reports a closed descriptor as a SyscallError shaped like Node system errors', () => {
    const fd = 1_000_000; // past any open descriptor (a just-closed number would be reused by memfd())
    for (const call of [() => raw.copyFd(fd, memfd(), 1), () => raw.copyFdAsync(fd, memfd(), 1), () => raw.fstatvfs(fd)]) {
      let err: unknown;
      try {
        call();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SyscallError);
      const e = err as SyscallError;
      expect(e.code).toBe('EBADF');
      expect(e.errno).toBeLessThan(0);
      expect(getSystemErrorName(e.errno)).toBe('EBADF');
      expect(['fstat', 'fstatvfs']).toContain(e.syscall);
    }
  });

  it('rejects with a SyscallError when the copy itself fails (a write-sealed target)', async () => {
    const out = memfd();
    raw.addSeals(out, constants.F_SEAL_WRITE);
    const err = await raw.copyFdAsync(source(), out, 100).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SyscallError);
    expect((err as SyscallError).code).toBe('EPERM');
    expect((err as SyscallError).syscall).toBe('sendfile');
  });

  it('copies from its own duplicates: closing the caller\'s descriptors mid-copy changes nothing and leaks nothing', async () => {
    await raw.copyFdAsync(source(), memfd(), 1); // warm up the thread pool
    const before = openFds();
    const src = fs.openSync('/bin/sh', 'r');
    const out = raw.memfdCreate('copy-test', constants.MFD_CLOEXEC);
    const dup = raw.dup(out); // to read the result after closing `out`
    const pending = raw.copyFdAsync(src, out, 1 << 30);
    fs.closeSync(src);
    raw.close(out);
    expect((await pending).copied).toBe(fs.statSync('/bin/sh').size);
    expect(raw.fstat(dup).size).toBe(fs.statSync('/bin/sh').size);
    raw.close(dup);
    await new Promise((resolve) => setImmediate(resolve)); // the worker is freed after its callback
    expect(openFds()).toEqual(before);
  });

  it('fstatvfs reports the mount flags of an open file', () => {
    const st = raw.fstatvfs(source());
    expect(typeof st.flag).toBe('number');
    expect(st.noexec).toBe(false); // the root filesystem runs /bin/sh
    expect(typeof st.readonly).toBe('boolean');
  });
});
