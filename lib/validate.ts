/**
 * Argument checks shared by every public function. They run before any
 * native call and throw Node-style errors naming the argument:
 * TypeError ERR_INVALID_ARG_TYPE, TypeError ERR_INVALID_ARG_VALUE,
 * RangeError ERR_OUT_OF_RANGE.
 */
import { inspect } from 'node:util';
import { MemsealError } from './errors.js';

type CodedTypeError = TypeError & { code: string };
type CodedRangeError = RangeError & { code: string };

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const ctor = (value as { constructor?: { name?: unknown } }).constructor;
    return typeof ctor?.name === 'string' && ctor.name !== '' ? `an instance of ${ctor.name}` : 'an object';
  }
  let shown = inspect(value, { depth: 0, maxStringLength: 40 });
  if (shown.length > 60) shown = `${shown.slice(0, 57)}...`;
  return `type ${typeof value} (${shown})`;
}

export function invalidArgType(name: string, expected: string, actual: unknown): CodedTypeError {
  const err = new TypeError(`The "${name}" argument must be ${expected}. Received ${describe(actual)}`) as CodedTypeError;
  err.code = 'ERR_INVALID_ARG_TYPE';
  return err;
}

export function invalidArgValue(name: string, reason: string): CodedTypeError {
  const err = new TypeError(`The argument '${name}' ${reason}`) as CodedTypeError;
  err.code = 'ERR_INVALID_ARG_VALUE';
  return err;
}

export function outOfRange(name: string, range: string, actual: unknown): CodedRangeError {
  const err = new RangeError(
    `The value of "${name}" is out of range. It must be ${range}. Received ${typeof actual === 'number' || typeof actual === 'bigint' ? String(actual) : describe(actual)}`,
  ) as CodedRangeError;
  err.code = 'ERR_OUT_OF_RANGE';
  return err;
}

/** An integer Number in [min, max] (both safe integers). */
export function validateInteger(value: unknown, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} and <= ${max}`, value);
  return value;
}

export function validateBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value);
  return value;
}

export function validateString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  return value;
}

export function validateFunction(value: unknown, name: string): (...args: never[]) => unknown {
  if (typeof value !== 'function') throw invalidArgType(name, 'of type function', value);
  return value as (...args: never[]) => unknown;
}

/** One of a fixed set of strings. */
export function validateOneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    const list = allowed.map((a) => `'${a}'`).join(', ');
    if (typeof value !== 'string') throw invalidArgType(name, `one of ${list}`, value);
    throw invalidArgValue(name, `must be one of ${list}. Received '${value.length > 40 ? `${value.slice(0, 40)}...` : value}'`);
  }
  return value as T;
}

/**
 * The own enumerable properties of an options object, copied into an object
 * with no prototype. Whatever the prototype chain carries (a polluted
 * Object.prototype included) is never read as an option.
 */
export function ownOptions(value: object): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(value)) out[key] = (value as Record<string, unknown>)[key];
  return out;
}

/**
 * A deep copy of parsed JSON (or any plain data) whose objects have no
 * prototype, so that reading a field the data lacks gives undefined, never
 * a value planted on Object.prototype.
 */
export function ownData(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(ownData);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(value)) out[key] = ownData((value as Record<string, unknown>)[key]);
  return out;
}

/**
 * An options object (or undefined, giving {}), with no keys beyond `known`.
 * Unknown keys are refused so a misspelt option never silently does nothing.
 * Only own properties count (Object.hasOwn): an option inherited from the
 * prototype chain is ignored, so a polluted Object.prototype cannot change
 * a default. The result has no prototype.
 */
export function validateOptions<T extends object>(value: unknown, name: string, known: readonly (keyof T & string)[]): Partial<T> {
  if (value === undefined) return Object.create(null) as Partial<T>;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArgType(name, 'of type object', value);
  }
  for (const key of Object.keys(value)) {
    if (!(known as readonly string[]).includes(key)) {
      throw invalidArgValue(`${name}.${key}`, `is not a known option (known: ${known.join(', ')})`);
    }
  }
  return ownOptions(value) as Partial<T>;
}

/**
 * True for a view whose memory is gone: its ArrayBuffer was detached (a
 * SecretBuffer's Buffer kept past use(), protect('none') or dispose(); an
 * unmapped Mapping's Buffer; a transferred ArrayBuffer). Such a view reads
 * as zero bytes, which memseal refuses to take for an empty input.
 */
export function isDetachedView(view: ArrayBufferView): boolean {
  let length: number;
  try {
    length = view.byteLength; // a DataView over a detached buffer throws
  } catch {
    return true;
  }
  if (length !== 0) return false;
  const buffer = view.buffer as ArrayBufferLike & { detached?: unknown };
  if (typeof buffer.detached === 'boolean') return buffer.detached; // Node 22+
  try {
    buffer.slice(0, 0); // throws on a detached ArrayBuffer
    return false;
  } catch {
    return true;
  }
}

/** Throws ERR_MEMSEAL_DETACHED for a view whose memory is gone (see {@link isDetachedView}). */
export function validateLiveView(view: ArrayBufferView, name: string): void {
  if (isDetachedView(view)) {
    throw new MemsealError(
      'ERR_MEMSEAL_DETACHED',
      `The "${name}" argument is a view of memory that is gone (its ArrayBuffer is detached: a SecretBuffer's Buffer kept past use(), protect('none') or dispose(), or an unmapped Mapping's): it would read as 0 bytes. Get a fresh Buffer`,
    );
  }
}

/**
 * A Buffer, TypedArray or DataView, or a string (UTF-8); returned as bytes.
 * @throws MemsealError ERR_MEMSEAL_DETACHED for a detached view.
 */
export function toBytes(value: unknown, name: string): Uint8Array {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (ArrayBuffer.isView(value)) {
    validateLiveView(value, name);
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  throw invalidArgType(name, 'a string, Buffer, TypedArray or DataView', value);
}
