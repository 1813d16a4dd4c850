/**
 * File seals by name. The kernel's F_SEAL_* bits are read from the addon;
 * users only ever see the names.
 */
import { constants } from './constants.js';
import { invalidArgValue, invalidArgType } from './validate.js';

/** A file seal (fcntl F_ADD_SEALS), by name. */
export type SealName = 'seal' | 'shrink' | 'grow' | 'write' | 'future-write' | 'exec';

/** Every seal name, in bit order. */
export const SEAL_NAMES: readonly SealName[] = Object.freeze(['seal', 'shrink', 'grow', 'write', 'future-write', 'exec']);

const BITS: Readonly<Record<SealName, number>> = Object.freeze({
  seal: constants.F_SEAL_SEAL,
  shrink: constants.F_SEAL_SHRINK,
  grow: constants.F_SEAL_GROW,
  write: constants.F_SEAL_WRITE,
  'future-write': constants.F_SEAL_FUTURE_WRITE,
  exec: constants.F_SEAL_EXEC,
});

/** The kernel version that introduced each seal. */
export const SEAL_SINCE: Readonly<Record<SealName, string>> = Object.freeze({
  seal: '3.17',
  shrink: '3.17',
  grow: '3.17',
  write: '3.17',
  'future-write': '5.1',
  exec: '6.3',
});

/** The F_SEAL_* bit of one seal. */
export function sealBit(name: SealName): number {
  return BITS[name];
}

/** Validates seal names (as given to addSeals, requireSeals, from) and ORs their bits. */
export function sealMask(names: readonly unknown[], argName: string): number {
  let mask = 0;
  names.forEach((name, i) => {
    const label = `${argName}[${i}]`;
    if (typeof name !== 'string') throw invalidArgType(label, `one of ${SEAL_NAMES.map((n) => `'${n}'`).join(', ')}`, name);
    if (!Object.hasOwn(BITS, name)) {
      throw invalidArgValue(label, `must be one of ${SEAL_NAMES.map((n) => `'${n}'`).join(', ')}. Received '${name.slice(0, 40)}'`);
    }
    mask |= BITS[name as SealName];
  });
  return mask;
}

/** The names of the seals set in `mask`, as a frozen-in-practice Set. */
export function sealNames(mask: number): Set<SealName> {
  return new Set(SEAL_NAMES.filter((n) => (mask & BITS[n]) !== 0));
}
