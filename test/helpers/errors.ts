/**
 * The error a raw binding call throws, checked for Node's system-error shape
 * (a SyscallError, negative errno, code matching it) before a test looks at
 * what the error says.
 */
import { getSystemErrorName } from 'node:util';
import { expect } from 'vitest';
import { SyscallError } from '../../lib/errors.js';

export function syscallError(fn: () => unknown): SyscallError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SyscallError);
    const e = err as SyscallError;
    expect(e.errno).toBeLessThan(0);
    expect(getSystemErrorName(e.errno)).toBe(e.code);
    return e;
  }
  throw new Error('expected a SyscallError');
}
