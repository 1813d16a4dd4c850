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

const BY_NAME: ReadonlyMap<string, number> = new Map(Object.entries(BITS));

function refuse(name: unknown, label: string): never {
  const list = SEAL_NAMES.map((n) => `'${n}'`).join(', ');
  if (typeof name !== 'string') throw invalidArgType(label, `one of ${list}`, name);
  throw invalidArgValue(label, `must be one of ${list}. Received '${name.slice(0, 40)}'`);
}

/** Validates seal names (as given to addSeals, requireSeals, from) and ORs their bits. */
export function sealMask(names: readonly unknown[], argName: string): number {
  let mask = 0;
  for (let i = 0; i < names.length; i++) {
    const bit = typeof names[i] === 'string' ? BY_NAME.get(names[i] as string) : undefined;
    if (bit === undefined) refuse(names[i], `${argName}[${i}]`);
    mask |= bit;
  }
  return mask;
}

const KNOWN = SEAL_NAMES.reduce((m, n) => m | BITS[n], 0);
const namesByMask = new Map<number, readonly SealName[]>(); // at most 2^6 entries

/** The names of the seals set in `mask`, as a new Set (unknown bits are ignored). */
export function sealNames(mask: number): Set<SealName> {
  const known = mask & KNOWN;
  let names = namesByMask.get(known);
  if (names === undefined) {
    names = SEAL_NAMES.filter((n) => (known & BITS[n]) !== 0);
    namesByMask.set(known, names);
  }
  return new Set(names);
}
