/**
 * Sending sealed memfds to other processes over Unix domain sockets.
 *
 * A memfd travels as an SCM_RIGHTS descriptor in one SOCK_SEQPACKET message
 * whose bytes carry a small JSON message: the receiver gets its own
 * descriptor for the same file, and so the same seals, whatever process it
 * is. The receiving side trusts nothing: a message must carry exactly one
 * descriptor, that descriptor must be a memfd, the bytes must be a memseal
 * frame, and (with `requireSeals`) the memfd must carry the seals named.
 * Anything else is a {@link TransferError} (or ERR_MEMSEAL_NOT_MEMFD /
 * ERR_MEMSEAL_MISSING_SEALS), and every descriptor that arrived with it is
 * closed.
 *
 * Waiting (for a connection, a message, room to send) happens on the libuv
 * thread pool in slices of at most a quarter second, so a timeout or a
 * close() ends it promptly and the event loop never blocks.
 */
import { unlinkSync } from 'node:fs';
import { binding, type RawSocketConstants } from './binding.js';
import { MemsealError, SyscallError, type MemsealErrorCode } from './errors.js';
import { Memfd } from './memfd.js';
import type { SealName } from './seals.js';
import { invalidArgType, invalidArgValue, validateInteger, validateOptions, validateString } from './validate.js';

/** Codes of {@link TransferError}. */
export type TransferErrorCode = Extract<MemsealErrorCode, 'ERR_MEMSEAL_PEER_CLOSED' | 'ERR_MEMSEAL_BAD_MESSAGE' | 'ERR_MEMSEAL_FD_COUNT' | 'ERR_MEMSEAL_TIMEOUT'>;

/**
 * A transfer that failed for a reason of its own, not a syscall's:
 * - `ERR_MEMSEAL_PEER_CLOSED`: the other end closed the connection (or the
 *   socket pair) before a message arrived, or while sending;
 * - `ERR_MEMSEAL_BAD_MESSAGE`: the bytes are not a memseal frame (too long,
 *   wrong header, not JSON): a peer that speaks another protocol;
 * - `ERR_MEMSEAL_FD_COUNT`: the message carried no descriptor or more than
 *   one (all of them closed, including those the kernel had to drop:
 *   MSG_CTRUNC);
 * - `ERR_MEMSEAL_TIMEOUT`: nothing arrived (or no room to send) in time.
 */
export class TransferError extends MemsealError {
  declare readonly code: TransferErrorCode;
  constructor(code: TransferErrorCode, message: string) {
    super(code, message);
  }
}
Object.defineProperty(TransferError.prototype, 'name', { value: 'TransferError', enumerable: false, configurable: true, writable: true });

/** Options for {@link sendMemfd}. */
export interface SendMemfdOptions {
  /** Milliseconds to wait for the listener to accept and take the message. Default 10000; `Infinity` waits for ever. */
  timeout?: number;
}

/** Options for {@link receiveMemfd} and {@link MemfdListener.receive}. */
export interface ReceiveMemfdOptions {
  /** Milliseconds to wait for a connection and its message. Default 10000; `Infinity` waits for ever. */
  timeout?: number;
  /** Seals the memfd must carry (checked with `requireSeals`); a memfd without them is closed and refused. Default: none. */
  requireSeals?: readonly SealName[];
  /** The longest message accepted, in bytes of JSON. Default 65536. */
  maxMessageBytes?: number;
}

/** What arrived: the memfd (yours to close) and the message sent with it. */
export interface ReceivedMemfd {
  memfd: Memfd;
  message: unknown;
}

/** Options for {@link MemfdListener.listen}. */
export interface MemfdListenerOptions {
  /** listen(2) backlog: connections that may wait to be received. Default 16. */
  backlog?: number;
}

/** The frame: these 4 ASCII bytes, then the message as UTF-8 JSON; the record's end is the frame's end (README: the message format). */
const MAGIC = Buffer.from('MSL1');
/** Strict: bytes that are not UTF-8 are refused, not replaced; a byte order mark is kept, so JSON.parse refuses it. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const DEFAULT_TIMEOUT = 10_000;
const DEFAULT_MAX_MESSAGE = 65_536;
const SLICE_MS = 250;
/** Room for this many descriptors per message: enough to see that a peer sent too many. */
const FD_ROOM = 4;

function sc(): RawSocketConstants {
  return binding().socketConstants;
}

function validateTimeout(value: unknown, name: string): number {
  if (value === undefined) return DEFAULT_TIMEOUT;
  if (value === Infinity) return Infinity;
  return validateInteger(value, name, 0, 2 ** 31 - 1);
}

function closeAll(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      binding().close(fd);
    } catch {
      // Already gone: nothing to release.
    }
  }
}

function isCode(err: unknown, ...codes: string[]): boolean {
  return err instanceof SyscallError && codes.includes(err.code);
}

/**
 * Waits until `fd` is ready for `events` or the deadline passes, in slices,
 * checking `aborted` between them. False on timeout.
 */
async function waitFor(fd: number, events: number, deadline: number, aborted: () => boolean): Promise<boolean> {
  for (;;) {
    if (aborted()) throw new MemsealError('ERR_MEMSEAL_CLOSED', 'The listener was closed while waiting');
    const left = deadline - Date.now();
    if (left <= 0) return false;
    const revents = await binding().pollFdAsync(fd, events, Math.min(SLICE_MS, left));
    if (revents !== 0) return true;
  }
}

function encode(message: unknown): Buffer {
  let json: string | undefined;
  try {
    json = JSON.stringify(message ?? null);
  } catch (err) {
    throw Object.assign(invalidArgValue('message', `must be serialisable as JSON (${(err as Error).message})`), { cause: err });
  }
  if (json === undefined) throw invalidArgValue('message', 'must be serialisable as JSON');
  return Buffer.concat([MAGIC, Buffer.from(json, 'utf8')]);
}

function checkSocket(fd: number, name: string): void {
  let type: number;
  try {
    type = binding().socketType(fd);
  } catch (err) {
    if (isCode(err, 'ENOTSOCK')) throw invalidArgValue(name, `must be a Unix domain socket (descriptor ${fd} is not a socket)`);
    throw err;
  }
  if (type !== sc().SOCK_SEQPACKET) throw invalidArgValue(name, `must be a SOCK_SEQPACKET socket (from memfdSocketPair() or a MemfdListener); descriptor ${fd} has type ${type}`);
}

async function sendOn(fd: number, frame: Buffer, memfdFd: number, deadline: number): Promise<void> {
  for (;;) {
    try {
      binding().sendFds(fd, frame, [memfdFd]);
      return;
    } catch (err) {
      if (isCode(err, 'EPIPE', 'ECONNRESET', 'ENOTCONN')) throw new TransferError('ERR_MEMSEAL_PEER_CLOSED', `The receiving end of socket ${fd} is closed (${(err as SyscallError).code})`);
      if (isCode(err, 'EMSGSIZE')) throw invalidArgValue('message', `is too long for one socket message (${frame.length} bytes)`);
      if (!isCode(err, 'EAGAIN')) throw err;
    }
    if (!(await waitFor(fd, sc().POLLOUT, deadline, () => false))) {
      throw new TransferError('ERR_MEMSEAL_TIMEOUT', 'Timed out waiting for the receiver to take the message');
    }
  }
}

function checkMemfdArg(memfd: unknown): number {
  if (!(memfd instanceof Memfd)) throw invalidArgType('memfd', 'a Memfd', memfd);
  return memfd.fd; // ERR_MEMSEAL_CLOSED for a closed one
}

/**
 * Sends `memfd` and a JSON `message` in one message.
 *
 * @param target The path of a {@link MemfdListener} (connects, sends,
 *   disconnects), or a connected SOCK_SEQPACKET socket descriptor (one end of
 *   {@link memfdSocketPair}, left open).
 * @param memfd Stays yours: the receiver gets its own descriptor, so you may
 *   close this one as soon as the promise resolves. Seal it first; the
 *   receiver cannot tell a seal added later from one that was there.
 * @param message Anything JSON can hold (default `null`).
 * @throws SyscallError ENOENT / ECONNREFUSED when nothing listens at the path.
 * @throws TransferError ERR_MEMSEAL_PEER_CLOSED, ERR_MEMSEAL_TIMEOUT.
 */
export async function sendMemfd(target: string | number, memfd: Memfd, message?: unknown, options?: SendMemfdOptions): Promise<void> {
  if (typeof target !== 'string' && typeof target !== 'number') throw invalidArgType('target', 'a socket path (string) or a socket descriptor (number)', target);
  const o = validateOptions<SendMemfdOptions>(options, 'options', ['timeout']);
  const timeout = validateTimeout(o.timeout, 'options.timeout');
  const memfdFd = checkMemfdArg(memfd);
  const frame = encode(message);
  const deadline = Date.now() + timeout;
  if (typeof target === 'number') {
    validateInteger(target, 'target', 0, 2 ** 31 - 1);
    checkSocket(target, 'target');
    return sendOn(target, frame, memfdFd, deadline);
  }
  const fd = binding().unixSocket();
  try {
    binding().ownFd(fd); // closed with this thread if it ends while sending
    for (;;) {
      try {
        binding().unixConnect(fd, validateString(target, 'target'));
        break;
      } catch (err) {
        // A full backlog: wait for the listener to accept, then try again.
        if (!isCode(err, 'EAGAIN')) throw err;
        if (Date.now() >= deadline) throw new TransferError('ERR_MEMSEAL_TIMEOUT', `Timed out connecting to ${target}: its backlog stayed full`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    await sendOn(fd, frame, memfdFd, deadline);
  } finally {
    binding().close(fd);
  }
}

function decode(bytes: Buffer, flags: number, max: number): unknown {
  if ((flags & sc().MSG_TRUNC) !== 0 || bytes.length > MAGIC.length + max) throw new TransferError('ERR_MEMSEAL_BAD_MESSAGE', `The message is longer than ${max} bytes`);
  if (bytes.length < MAGIC.length || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) throw new TransferError('ERR_MEMSEAL_BAD_MESSAGE', 'The message is not a memseal frame (wrong header): the peer speaks another protocol');
  let text: string;
  try {
    text = UTF8.decode(bytes.subarray(MAGIC.length));
  } catch {
    throw new TransferError('ERR_MEMSEAL_BAD_MESSAGE', 'The message is not UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new TransferError('ERR_MEMSEAL_BAD_MESSAGE', 'The message is not valid JSON');
  }
}

/** Checks one received message; closes every descriptor it brought unless it becomes the result. */
function accept(fds: number[], bytes: Buffer, flags: number, o: { max: number; seals: readonly SealName[] }): ReceivedMemfd {
  let memfd: Memfd | undefined;
  try {
    if ((flags & sc().MSG_CTRUNC) !== 0 || fds.length > 1) throw new TransferError('ERR_MEMSEAL_FD_COUNT', `The message carried more than one descriptor (${(flags & sc().MSG_CTRUNC) !== 0 ? `over ${FD_ROOM}` : fds.length}); all were closed`);
    const message = decode(bytes, flags, o.max);
    if (fds.length === 0) throw new TransferError('ERR_MEMSEAL_FD_COUNT', 'The message carried no descriptor');
    memfd = Memfd.fromFd(fds[0]!); // ERR_MEMSEAL_NOT_MEMFD for a pipe, a file, a socket...
    if (o.seals.length > 0) memfd.requireSeals(...o.seals);
    const result = { memfd, message };
    memfd = undefined;
    return result;
  } finally {
    memfd?.close();
    closeAll(fds);
  }
}

function receiveOptions(options: ReceiveMemfdOptions | undefined): { timeout: number; max: number; seals: readonly SealName[] } {
  const o = validateOptions<ReceiveMemfdOptions>(options, 'options', ['timeout', 'requireSeals', 'maxMessageBytes']);
  const seals = o.requireSeals ?? [];
  if (!Array.isArray(seals)) throw invalidArgType('options.requireSeals', 'an array of seal names', seals);
  return {
    timeout: validateTimeout(o.timeout, 'options.timeout'),
    max: o.maxMessageBytes === undefined ? DEFAULT_MAX_MESSAGE : validateInteger(o.maxMessageBytes, 'options.maxMessageBytes', 0, 2 ** 24),
    seals: seals as readonly SealName[],
  };
}

async function receiveOn(fd: number, o: { timeout: number; max: number; seals: readonly SealName[] }, deadline: number, aborted: () => boolean): Promise<ReceivedMemfd> {
  const buffer = Buffer.alloc(MAGIC.length + o.max + 1);
  for (;;) {
    let r: { bytes: number; fds: number[]; flags: number } | undefined;
    try {
      r = binding().recvFds(fd, buffer, FD_ROOM);
    } catch (err) {
      if (isCode(err, 'ECONNRESET')) throw new TransferError('ERR_MEMSEAL_PEER_CLOSED', `The sending end of socket ${fd} is closed`);
      if (!isCode(err, 'EAGAIN')) throw err;
    }
    if (r !== undefined) {
      if (r.bytes === 0 && r.fds.length === 0) throw new TransferError('ERR_MEMSEAL_PEER_CLOSED', `The sending end of socket ${fd} closed before a message arrived`);
      return accept(r.fds, Buffer.from(buffer.subarray(0, r.bytes)), r.flags, o);
    }
    if (!(await waitFor(fd, sc().POLLIN, deadline, aborted))) throw new TransferError('ERR_MEMSEAL_TIMEOUT', `No message arrived within ${o.timeout} ms`);
  }
}

/**
 * Receives one memfd and its message on a connected SOCK_SEQPACKET socket
 * (one end of {@link memfdSocketPair}, for instance inherited by a child).
 * The socket stays open: call it again for the next message.
 * @throws TransferError ERR_MEMSEAL_PEER_CLOSED, ERR_MEMSEAL_BAD_MESSAGE,
 *   ERR_MEMSEAL_FD_COUNT, ERR_MEMSEAL_TIMEOUT.
 * @throws MemsealError ERR_MEMSEAL_NOT_MEMFD (the descriptor is a pipe, a
 *   file, ...), ERR_MEMSEAL_MISSING_SEALS (see `requireSeals`).
 */
export async function receiveMemfd(socket: number, options?: ReceiveMemfdOptions): Promise<ReceivedMemfd> {
  validateInteger(socket, 'socket', 0, 2 ** 31 - 1);
  const o = receiveOptions(options);
  checkSocket(socket, 'socket');
  return receiveOn(socket, o, Date.now() + o.timeout, () => false);
}

/**
 * Two connected SOCK_SEQPACKET Unix sockets, close-on-exec: keep one, give
 * the other to a child (in its `stdio` array) and use {@link sendMemfd} /
 * {@link receiveMemfd} on the descriptor numbers. Close both when done.
 */
export function memfdSocketPair(): [number, number] {
  const [a, b] = binding().unixSocketPair();
  return [a, b];
}

/**
 * A listening Unix socket at a filesystem path that receives memfds from
 * any process allowed to connect to it (the path's permissions decide who
 * may). Each {@link MemfdListener.receive} takes one connection and one
 * message from it.
 */
export class MemfdListener {
  #fd: number;
  readonly #path: string;

  private constructor(fd: number, path: string) {
    this.#fd = fd;
    this.#path = path;
  }

  /**
   * Binds a new socket at `path` (at most 107 bytes) and listens.
   * @throws SyscallError EADDRINUSE when the path exists (remove a stale
   *   socket first), ENAMETOOLONG, EACCES.
   */
  static listen(path: string, options?: MemfdListenerOptions): MemfdListener {
    validateString(path, 'path');
    if (path.includes('\0')) throw invalidArgValue('path', 'must not contain NUL characters');
    const o = validateOptions<MemfdListenerOptions>(options, 'options', ['backlog']);
    const backlog = o.backlog === undefined ? 16 : validateInteger(o.backlog, 'options.backlog', 1, 4096);
    const fd = binding().unixSocket();
    try {
      binding().unixListen(fd, path, backlog);
      // If this thread ends first, the socket is closed and its path removed then.
      binding().ownFd(fd, path);
    } catch (err) {
      binding().close(fd);
      throw err;
    }
    return new MemfdListener(fd, path);
  }

  /** The socket's path. */
  get path(): string {
    return this.#path;
  }

  /** True after close(). */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /**
   * Waits for a sender to connect, receives its memfd and message, and
   * closes that connection.
   * @throws as {@link receiveMemfd}; ERR_MEMSEAL_CLOSED when the listener is
   *   (or gets) closed.
   */
  async receive(options?: ReceiveMemfdOptions): Promise<ReceivedMemfd> {
    const o = receiveOptions(options);
    const deadline = Date.now() + o.timeout;
    const aborted = (): boolean => this.#fd < 0;
    for (;;) {
      if (aborted()) throw new MemsealError('ERR_MEMSEAL_CLOSED', `The listener at ${this.#path} is closed`);
      let conn = -1;
      try {
        conn = binding().unixAccept(this.#fd);
      } catch (err) {
        if (!isCode(err, 'EAGAIN')) throw err;
      }
      if (conn >= 0) {
        try {
          binding().ownFd(conn); // closed with this thread if it ends while receiving
          return await receiveOn(conn, o, deadline, aborted);
        } finally {
          binding().close(conn);
        }
      }
      if (!(await waitFor(this.#fd, sc().POLLIN, deadline, aborted))) throw new TransferError('ERR_MEMSEAL_TIMEOUT', `No sender connected to ${this.#path} within ${o.timeout} ms`);
    }
  }

  /** Closes the socket and removes its path; a pending receive() rejects with ERR_MEMSEAL_CLOSED. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    binding().close(fd);
    try {
      unlinkSync(this.#path);
    } catch {
      // Already removed by someone else.
    }
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.#fd < 0 ? `MemfdListener <closed ${JSON.stringify(this.#path)}>` : `MemfdListener { path: ${JSON.stringify(this.#path)} }`;
  }
}
