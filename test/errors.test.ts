import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ExecError, MemsealError, SyscallError, UnsupportedError, isErrno } from '../lib/index.js';
import { explainUnavailable } from '../lib/features.js';
import { kernelRelease } from '../lib/kernel.js';

describe('SyscallError', () => {
  it('is Node-shaped', () => {
    const err = new SyscallError('mseal', -1);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('SyscallError');
    expect(err.code).toBe('EPERM');
    expect(err.errno).toBe(-1);
    expect(err.syscall).toBe('mseal');
    expect(err.hint).toBeUndefined();
    expect(isErrno(err, 'EPERM')).toBe(true);
    expect(isErrno(err, 'EINVAL')).toBe(false);
    expect(isErrno(new Error('x'), 'EPERM')).toBe(false);
  });

  it('appends hints to the message and keeps them', () => {
    const err = new SyscallError('mprotect', -1, { message: 'EPERM: operation not permitted, mprotect', hint: 'sealed' });
    err.addHint('really');
    expect(err.hint).toBe('sealed; really');
    expect(err.message).toBe('EPERM: operation not permitted, mprotect (sealed) (really)');
    expect(inspect(err)).toMatch(/SyscallError: EPERM/);
  });

  it('names unknown errnos without throwing', () => {
    expect(new SyscallError('x', -99999).code).toMatch(/^E|Unknown/);
  });
});

describe('UnsupportedError', () => {
  it('says what is needed and what this kernel is', () => {
    const err = new UnsupportedError('mseal', -38, { feature: 'mseal', since: '6.10', kernel: '6.1.0', reason: 'kernel' });
    expect(err).toBeInstanceOf(SyscallError);
    expect(err.name).toBe('UnsupportedError');
    expect(err.code).toBe('ENOSYS');
    expect(err.message).toBe('ENOSYS: mseal needs Linux 6.10 or later; this kernel is 6.1.0');
    expect(err).toMatchObject({ feature: 'mseal', since: '6.10', kernel: '6.1.0', reason: 'kernel' });
  });

  it('tells blocked from disabled', () => {
    const blocked = new UnsupportedError('mseal', -1, { feature: 'mseal', since: '6.10', kernel: '6.18.0', reason: 'blocked' });
    expect(blocked.message).toMatch(/blocked by a seccomp filter or LSM/);
    const disabled = new UnsupportedError('memfd_secret', -38, { feature: 'memfd_secret', since: '5.14', kernel: '6.1.0', reason: 'disabled' });
    expect(disabled.message).toMatch(/disabled/);
  });
});

describe('explainUnavailable', () => {
  it('leaves other errors alone', () => {
    const busy = new SyscallError('fcntl', -16);
    expect(explainUnavailable(busy, 'F_SEAL_EXEC')).toBe(busy);
    const plain = new Error('x');
    expect(explainUnavailable(plain, 'mseal')).toBe(plain);
  });

  it('calls EPERM from mseal itself blocked (only a filter or LSM answers so)', () => {
    const err = explainUnavailable(new SyscallError('mseal', -1), 'mseal') as UnsupportedError;
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(err.reason).toBe('blocked');
    expect(err.kernel).toBe(kernelRelease());
    expect(err.hint).toMatch(/seccomp/);
    expect(err.cause).toBeInstanceOf(SyscallError);
  });

  it('calls ENOSYS on a kernel that has the syscall and no filter disabled or blocked, never "too old"', () => {
    const err = explainUnavailable(new SyscallError('memfd_secret', -38), 'memfd_secret') as UnsupportedError;
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(['disabled', 'blocked', 'kernel']).toContain(err.reason);
  });
});

describe('ExecError', () => {
  it('is a MemsealError with an exec code', () => {
    const err = new ExecError('ERR_MEMSEAL_EMPTY_SOURCE', 'empty');
    expect(err).toBeInstanceOf(MemsealError);
    expect(err.name).toBe('ExecError');
    expect(err.code).toBe('ERR_MEMSEAL_EMPTY_SOURCE');
  });
});

describe('MemsealError', () => {
  it('carries a stable code', () => {
    const err = new MemsealError('ERR_MEMSEAL_CLOSED', 'closed');
    expect(err.name).toBe('MemsealError');
    expect(err.code).toBe('ERR_MEMSEAL_CLOSED');
    expect(Object.keys(err)).toEqual(['code']);
  });
});
