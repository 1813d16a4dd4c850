/**
 * native/xattr.cc: fsetxattr() and fgetxattr() of an open file, the raw calls
 * the conformance suite sets POSIX access ACLs through.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { binding } from '../../lib/binding.js';
import { accessAcl } from '../../lib/conformance/acl.js';
import { syscallError } from '../helpers/errors.js';

const b = binding();
const c = b.constants;
const x = b.xattrConstants;
const open: number[] = [];

function memfd(flags = c.MFD_CLOEXEC!): number {
  const fd = b.memfdCreate('xattr-test', flags);
  open.push(fd);
  return fd;
}

afterEach(() => {
  for (const fd of open.splice(0)) b.close(fd);
});

describe('fsetxattr / fgetxattr', () => {
  it('exports XATTR_CREATE and XATTR_REPLACE from <sys/xattr.h>, frozen', () => {
    expect(x).toEqual({ XATTR_CREATE: 1, XATTR_REPLACE: 2 });
    expect(Object.isFrozen(x)).toBe(true);
  });

  it('sets a user attribute on a memfd and reads it back; an empty buffer asks for the length', () => {
    const fd = memfd();
    b.fsetxattr(fd, 'user.memseal', Buffer.from('value'), x.XATTR_CREATE);
    expect(b.fgetxattr(fd, 'user.memseal', new Uint8Array(0))).toBe(5);
    const back = Buffer.alloc(16);
    expect(b.fgetxattr(fd, 'user.memseal', back)).toBe(5);
    expect(back.subarray(0, 5).toString()).toBe('value');
    expect(syscallError(() => b.fgetxattr(fd, 'user.memseal', Buffer.alloc(2))).code).toBe('ERANGE');
  });

  it('answers with the kernel errno, Node-shaped: EEXIST, ENODATA, EOPNOTSUPP (ENOTSUP), EBADF', () => {
    const fd = memfd();
    b.fsetxattr(fd, 'user.memseal', Buffer.from('a'), 0);
    const exists = syscallError(() => b.fsetxattr(fd, 'user.memseal', Buffer.from('b'), x.XATTR_CREATE));
    expect([exists.code, exists.syscall]).toEqual(['EEXIST', 'fsetxattr']);
    expect(syscallError(() => b.fsetxattr(fd, 'user.absent', Buffer.from('b'), x.XATTR_REPLACE)).code).toBe('ENODATA');
    const missing = syscallError(() => b.fgetxattr(fd, 'user.absent', Buffer.alloc(8)));
    expect([missing.code, missing.syscall]).toEqual(['ENODATA', 'fgetxattr']);
    // EOPNOTSUPP and ENOTSUP are one number (95) on Linux; libuv names it ENOTSUP.
    expect(syscallError(() => b.fsetxattr(fd, 'nonsense.name', Buffer.from('b'), 0)).code).toBe('ENOTSUP');
    expect(syscallError(() => b.fsetxattr(2 ** 30, 'user.memseal', Buffer.from('b'), 0)).code).toBe('EBADF');
  });

  it('sets an access ACL, which changes the mode as chmod would', () => {
    const fd = memfd();
    b.fsetxattr(fd, 'system.posix_acl_access', accessAcl(0o640), 0);
    expect(b.fstat(fd).mode & 0o777).toBe(0o640);
    // An ACL with no more than the three base entries is the mode itself: nothing is stored.
    expect(syscallError(() => b.fgetxattr(fd, 'system.posix_acl_access', Buffer.alloc(64))).code).toBe('ENODATA');
    expect(syscallError(() => b.fsetxattr(fd, 'system.posix_acl_access', Buffer.from([1, 2, 3]), 0)).code).toBe('EINVAL');
  });

  it('checks its arguments', () => {
    const fd = memfd();
    const set = b.fsetxattr as (...a: unknown[]) => unknown;
    const get = b.fgetxattr as (...a: unknown[]) => unknown;
    expect(() => set(fd, 'user.a', Buffer.from('v'))).toThrow(TypeError);
    expect(() => set(-1, 'user.a', Buffer.from('v'), 0)).toThrow(TypeError);
    expect(() => set(fd, 42, Buffer.from('v'), 0)).toThrow(TypeError);
    expect(() => set(fd, 'user.a\0b', Buffer.from('v'), 0)).toThrow(TypeError);
    expect(() => set(fd, 'user.a', 'v', 0)).toThrow(TypeError);
    expect(() => set(fd, 'user.a', Buffer.from('v'), -1)).toThrow(TypeError);
    expect(() => set(fd, 'user.a', Buffer.from('v'), 1.5)).toThrow(TypeError);
    expect(() => get(fd, 'user.a')).toThrow(TypeError);
    expect(() => get(fd, null, Buffer.alloc(1))).toThrow(TypeError);
    expect(() => get(fd, 'user.a', 8)).toThrow(/^Usage: fgetxattr\(fd: number, name: string, buffer: ArrayBufferView\)$/);
    // Nothing reached the kernel.
    expect(syscallError(() => b.fgetxattr(fd, 'user.a', Buffer.alloc(1))).code).toBe('ENODATA');
  });
});
