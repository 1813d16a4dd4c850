/** What cloneExecutable copies from: classifying the source, and checking a file source before and after the copy. */
import * as fs from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { invalidArgType, invalidArgValue, toBytes } from '../validate.js';
import { ExecError, fsError } from './errors.js';

/** A program to clone: a path (or file: URL), an open file descriptor, bytes, or (async only) a stream. */
export type ExecSource = string | URL | number | ArrayBufferView | AsyncIterable<Uint8Array | string>;

/** What {@link cloneExecutableSync} accepts: everything but streams. */
export type ExecSourceSync = string | URL | number | ArrayBufferView;

const DEFAULT_NAME = 'memseal-exec';
const NAME_LIMIT = 249; // memfd names: NAME_MAX minus the "memfd:" prefix

export type Source =
  | { kind: 'path'; path: string }
  | { kind: 'fd'; fd: number }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'stream'; stream: AsyncIterable<unknown> };

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}

export function classifySource(source: unknown, allowStream: boolean): Source {
  if (typeof source === 'string') {
    if (source === '' || source.includes('\0')) throw invalidArgValue('source', 'must be a non-empty path without NUL characters');
    return { kind: 'path', path: source };
  }
  if (source instanceof URL) return { kind: 'path', path: fileURLToPath(source) };
  if (typeof source === 'number') {
    if (!Number.isInteger(source) || source < 0 || source > 2 ** 31 - 1) throw invalidArgValue('source', `must be a file descriptor (an integer from 0 to 2147483647). Received ${source}`);
    return { kind: 'fd', fd: source };
  }
  if (ArrayBuffer.isView(source)) return { kind: 'bytes', bytes: toBytes(source, 'source') };
  if (allowStream && isAsyncIterable(source)) return { kind: 'stream', stream: source };
  const expected = allowStream ? 'a path, file descriptor, Buffer, TypedArray, DataView or readable stream' : 'a path, file descriptor, Buffer, TypedArray or DataView (streams need cloneExecutable)';
  throw invalidArgType('source', expected, source);
}

function clampName(name: string): string {
  let out = name;
  while (Buffer.byteLength(out) > NAME_LIMIT) out = out.slice(0, -1);
  return out === '' ? DEFAULT_NAME : out;
}

export function defaultName(source: Source): string {
  if (source.kind === 'path') return clampName(basename(source.path));
  if (source.kind !== 'fd') return DEFAULT_NAME;
  try {
    const link = fs.readlinkSync(`/proc/self/fd/${source.fd}`).replace(/ \(deleted\)$/, '');
    return clampName(basename(link.replace(/^\/memfd:/, '')));
  } catch {
    return DEFAULT_NAME;
  }
}

export const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK; // a FIFO must not block open()
export const openAsync = promisify(fs.open);

/** What is known of a file source before the copy; compared after it. */
export interface Snapshot {
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  ino: bigint;
  dev: bigint;
  mode: number;
}

export function snapshot(fd: number): Snapshot {
  let st: fs.BigIntStats;
  try {
    st = fs.fstatSync(fd, { bigint: true });
  } catch (err) {
    throw fsError(err);
  }
  return { size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, ino: st.ino, dev: st.dev, mode: Number(st.mode) };
}

export function checkSource(st: Snapshot, what: string): void {
  if ((st.mode & fs.constants.S_IFMT) !== fs.constants.S_IFREG) {
    throw new ExecError('ERR_MEMSEAL_NOT_REGULAR_FILE', `${what} is not a regular file (mode 0o${st.mode.toString(8)}): only files can be executed`);
  }
  if (st.size === 0n) throw new ExecError('ERR_MEMSEAL_EMPTY_SOURCE', `${what} is empty: there is nothing to execute`);
  if ((st.mode & 0o111) === 0) {
    throw new ExecError('ERR_MEMSEAL_NOT_EXECUTABLE', `${what} has no execute permission (mode 0o${(st.mode & 0o7777).toString(8)}); chmod +x it if it is meant to run`);
  }
}

export function checkUnchanged(before: Snapshot, after: Snapshot, copied: number, what: string): void {
  const same =
    BigInt(copied) === before.size &&
    after.size === before.size &&
    after.mtimeNs === before.mtimeNs &&
    after.ctimeNs === before.ctimeNs &&
    after.ino === before.ino &&
    after.dev === before.dev;
  if (!same) {
    throw new ExecError(
      'ERR_MEMSEAL_SOURCE_CHANGED',
      `${what} changed while it was copied (${before.size} bytes before, ${copied} copied, ${after.size} after${after.mtimeNs !== before.mtimeNs ? ', modified' : ''}): the clone was discarded`,
    );
  }
}

export function describeSource(source: Source): string {
  if (source.kind === 'path') return `'${source.path}'`;
  if (source.kind === 'fd') return `File descriptor ${source.fd}`;
  return 'The source';
}
