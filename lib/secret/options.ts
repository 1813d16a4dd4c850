/**
 * The options of SecretBuffer.alloc(), from(), use() and seal(), and their
 * validation: everything a secret is asked to be before memory is mapped.
 */
import { OPTION_KEYS } from '../options.js';
import { type Access } from '../mapping.js';
import { invalidArgValue, toBytes, validateBoolean, validateOneOf, validateOptions } from '../validate.js';
import { type SecretBacking } from './memory.js';

/** The largest secret memseal allocates (2 GiB). */
export const MAX_SECRET_SIZE = 2 ** 31;

/** Options for {@link SecretBuffer.alloc}. */
export interface SecretBufferOptions {
  /**
   * What to do when memfd_secret is unavailable (a kernel before 5.14,
   * secretmem disabled, or a seccomp filter that denies it): `'error'`
   * (default) throws UnsupportedError saying which; `'mlock'` uses locked
   * anonymous memory and `backing` reads `'mlock'`. A full RLIMIT_MEMLOCK is
   * never a reason to fall back (both count against it).
   */
  fallback?: 'error' | 'mlock';
  /**
   * `'secretmem'` (default) tries memfd_secret first; `'mlock'` skips it.
   * Choose `'mlock'` on machines that must hibernate: the kernel refuses to
   * hibernate while any secret memory exists.
   */
  backing?: SecretBacking;
  /** Access once the bytes are in place. Default `'rw'`. */
  access?: Access;
}

/** Options for {@link SecretBuffer.from}. */
export interface SecretBufferFromOptions extends SecretBufferOptions {
  /**
   * Zero the source Buffer/TypedArray after copying it. Default false.
   * A string cannot be wiped (strings are immutable): `true` with a string
   * source throws.
   */
  wipeSource?: boolean;
}

/** Options for {@link SecretBuffer.use}. */
export interface SecretUseOptions {
  /** `'r'` (default) or `'rw'` while `fn` runs. */
  access?: 'r' | 'rw';
}

/** Options for {@link SecretBuffer.seal}. */
export interface SecretSealOptions {
  /** The protection to keep for good. Default `'r'`. */
  access?: 'r' | 'rw';
}

/** @internal Validates the options alloc() and from() share. */
export function secretOptions(options: unknown, known: readonly string[] = OPTION_KEYS.secretAlloc): { fallback: 'error' | 'mlock'; backing: SecretBacking; access: Access; rest: Record<string, unknown> } {
  const o = validateOptions<Record<string, unknown>>(options, 'options', known);
  return {
    fallback: o.fallback === undefined ? 'error' : validateOneOf(o.fallback, 'options.fallback', ['error', 'mlock'] as const),
    backing: o.backing === undefined ? 'secretmem' : validateOneOf(o.backing, 'options.backing', ['secretmem', 'mlock'] as const),
    access: o.access === undefined ? 'rw' : validateOneOf(o.access, 'options.access', ['none', 'r', 'rw'] as const),
    rest: o,
  };
}

/** @internal The bytes of a from() source, and how to clean up after copying them. */
export function sourceBytes(source: unknown, wipeSource: unknown): { bytes: Uint8Array; done: () => void } {
  const wipe = wipeSource === undefined ? false : validateBoolean(wipeSource, 'options.wipeSource');
  if (typeof source === 'string' && wipe) throw invalidArgValue('options.wipeSource', 'cannot be true for a string source: strings cannot be wiped');
  const bytes = toBytes(source, 'source');
  if (bytes.byteLength === 0) throw invalidArgValue('source', 'must not be empty');
  const temporary = typeof source === 'string';
  return { bytes, done: () => (temporary || wipe ? bytes.fill(0) : undefined) };
}

/** @internal The access use() and useAsync() ask for. */
export function useAccess(options: unknown): 'r' | 'rw' {
  const o = validateOptions<SecretUseOptions>(options, 'options', OPTION_KEYS.secretUse);
  return o.access === undefined ? 'r' : validateOneOf(o.access, 'options.access', ['r', 'rw'] as const);
}
