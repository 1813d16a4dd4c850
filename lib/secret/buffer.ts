/**
 * SecretBuffer: a few bytes (a key, a token) in memory the kernel removes
 * from its direct map (memfd_secret(2), Linux 5.14+), so no other process,
 * not even through /proc/<pid>/mem or process_vm_readv, can read them; never
 * swapped, never in a core dump, wiped before release, and safe to misuse
 * from JS: after dispose() or protect('none') every Buffer handed out reads
 * as length 0 instead of faulting.
 *
 * Layout: each SecretBuffer owns one mapping between two PROT_NONE guard
 * pages. The memfd_secret descriptor is closed as soon as the memory is
 * mapped (the mapping keeps the file alive), so a secret costs no file
 * descriptor. Where memfd_secret is missing, `fallback: 'mlock'` maps
 * anonymous memory instead, locked (mlock), excluded from core dumps
 * (MADV_DONTDUMP) and zeroed in forked children (MADV_WIPEONFORK), with the
 * same guard pages; `backing` says which one you got. Nothing is ever
 * downgraded silently.
 *
 * Many small secrets are cheaper in a {@link SecretPool} (./pool.ts),
 * whose secrets are SecretBuffers too.
 */
import { OPTION_KEYS } from '../options.js';
import { type RawRegion } from '../binding.js';
import { constants } from '../constants.js';
import { MemsealError } from '../errors.js';
import { type Access } from '../mapping.js';
import { validateFunction, validateInteger, validateOneOf, validateOptions } from '../validate.js';
import { accessOf, checkAccess, releasedWhenCollected, type SecretHome, type Ticket } from './home.js';
import { isSecretRegion, mapSecretRegion, type SecretBacking } from './memory.js';
import { MAX_SECRET_SIZE, secretOptions, sourceBytes, useAccess, type SecretBufferFromOptions, type SecretBufferOptions, type SecretSealOptions, type SecretUseOptions } from './options.js';
import { OwnHome, secretStats, type SecretBufferStats } from './own.js';
import { equalBytes, equalSecrets, readSecret, writeSecret } from './bytes.js';
import { useSecret, useSecretAsync, type UseHooks } from './use.js';
import { secretView, zeroCopy } from './view.js';

const TOKEN = Symbol('SecretBuffer');

let adopt: (home: SecretHome, offset: number, length: number) => SecretBuffer;

/**
 * @internal A SecretBuffer over `length` bytes at `offset` of a pool arena.
 * @throws MemsealError ERR_MEMSEAL_NOT_OURS unless the home's memory is
 *   secret memory memseal mapped and the range lies inside it.
 */
export function secretInHome(home: SecretHome, offset: number, length: number): SecretBuffer {
  const region = (home as { region?: unknown } | null)?.region as RawRegion | undefined;
  if (!isSecretRegion(region) || !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 1 || offset + length > region.length) {
    throw new MemsealError('ERR_MEMSEAL_NOT_OURS', 'A SecretBuffer can only live in secret memory memseal mapped itself');
  }
  return adopt(home, offset, length);
}

const NOT_CLONEABLE = Symbol(
  // At most 128 characters: newer V8 cuts longer descriptions out of the DataCloneError message.
  'memseal: a SecretBuffer cannot be cloned or sent to another thread; copy its bytes out with read() if that is what you mean',
);

/**
 * A secret in memory no other process can read. See the module comment.
 *
 * Printing shows `[SecretBuffer 32 bytes secretmem]`, never the bytes
 * (util.inspect, console.log, toString, toJSON, template strings).
 * structuredClone() and postMessage() of a SecretBuffer throw DataCloneError.
 * Its `buffer` is an ordinary Buffer to those: structuredClone(s.buffer),
 * or postMessage(s.buffer) with or without a transfer list, copies the bytes
 * into ordinary memory (Node 20 copies where a transfer was asked; later
 * versions refuse the transfer), so send secrets between threads as bytes
 * only when you mean to.
 */
export class SecretBuffer {
  /**
   * Makes structuredClone() and postMessage() refuse a SecretBuffer with a
   * DataCloneError (a Symbol cannot be cloned) instead of sending an empty
   * object.
   */
  readonly notCloneable: symbol = NOT_CLONEABLE;
  readonly #ticket: Ticket;
  #buffer: Buffer | undefined = undefined;
  #disposed = false;

  static {
    adopt = (home, offset, length) => new SecretBuffer(TOKEN, home, offset, length);
  }

  /** Use SecretBuffer.alloc(), SecretBuffer.from() or a SecretPool. */
  private constructor(token: symbol, home: SecretHome, offset: number, length: number) {
    if (token !== TOKEN) throw new TypeError('Illegal constructor: use SecretBuffer.alloc(), SecretBuffer.from() or a SecretPool');
    this.#ticket = { home, offset, length, view: undefined };
    releasedWhenCollected.register(this, this.#ticket, this.#ticket);
  }

  /**
   * Allocates `size` zeroed bytes of secret memory (memfd_secret, Linux
   * 5.14+; on by default from 6.5, earlier only when booted with
   * `secretmem.enable=1`), between guard pages. Each call maps at least one
   * page of its own: for many small secrets use a {@link SecretPool}.
   * @param size 1 to 2^31 bytes.
   * @throws TypeError ERR_INVALID_ARG_TYPE / RangeError ERR_OUT_OF_RANGE for
   *   a bad size (not a number, not an integer, below 1, above 2^31), and
   *   ERR_INVALID_ARG_VALUE for unknown options.
   * @throws UnsupportedError (code ENOSYS or EPERM; `reason` 'kernel',
   *   'disabled' or 'blocked' by seccomp) when memfd_secret is unavailable
   *   and `fallback` is 'error'.
   * @throws MemlockLimitError (EAGAIN, ENOMEM or EPERM) when RLIMIT_MEMLOCK
   *   is used up: the message gives the limit, the bytes in use and how to
   *   raise it (`ulimit -l`).
   * @throws SyscallError for other failures (EMFILE, ENOMEM).
   */
  static alloc(size: number, options?: SecretBufferOptions): SecretBuffer {
    validateInteger(size, 'size', 1, MAX_SECRET_SIZE);
    const o = secretOptions(options);
    return SecretBuffer.#alloc(size, o.fallback, o.backing, o.access);
  }

  static #alloc(size: number, fallback: 'error' | 'mlock', backing: SecretBacking, access: Access): SecretBuffer {
    const mapped = mapSecretRegion(size, fallback, backing);
    const home = new OwnHome(mapped.region, mapped.backing);
    const secret = new SecretBuffer(TOKEN, home, 0, size);
    if (access !== 'rw') home.protect(access);
    return secret;
  }

  /**
   * A new SecretBuffer holding a copy of `source` (a Buffer, TypedArray,
   * DataView, or a string as UTF-8). With `wipeSource: true` the source
   * bytes are zeroed afterwards; a string source's temporary UTF-8 copy is
   * always zeroed (the string itself cannot be).
   * @throws TypeError ERR_INVALID_ARG_TYPE for another source type;
   *   ERR_INVALID_ARG_VALUE for an empty source or `wipeSource` with a string.
   * @throws As {@link SecretBuffer.alloc}.
   */
  static from(source: string | ArrayBufferView, options?: SecretBufferFromOptions): SecretBuffer {
    const o = secretOptions(options, OPTION_KEYS.secretFrom);
    const src = sourceBytes(source, o.rest.wipeSource);
    const secret = SecretBuffer.#alloc(src.bytes.byteLength, o.fallback, o.backing, 'rw');
    secret.write(src.bytes);
    src.done();
    if (o.access !== 'rw') secret.protect(o.access);
    return secret;
  }

  /** Counts of the SecretBuffers with a mapping of their own (not pooled ones) in this thread. */
  static stats(): SecretBufferStats {
    return secretStats();
  }

  #check(): Ticket {
    if (this.#disposed || this.#ticket.home.dead) {
      throw new MemsealError('ERR_MEMSEAL_DISPOSED', 'The SecretBuffer has been disposed');
    }
    return this.#ticket;
  }

  #view(t: Ticket): Buffer {
    if (this.#buffer === undefined || this.#buffer.length === 0) this.#buffer = secretView(t);
    return this.#buffer;
  }

  /**
   * A Buffer over the secret memory itself (no copy). After dispose() or
   * protect('none') (also the one use() makes on its way out) it is
   * detached: it reads as length 0, never faults, and memseal's functions
   * refuse it (ERR_MEMSEAL_DETACHED) rather than take it for empty bytes;
   * get it again after protect('r' | 'rw'). Writing through it while the access is 'r'
   * is a fault the kernel answers with SIGSEGV.
   * @throws MemsealError ERR_MEMSEAL_DISPOSED, ERR_MEMSEAL_NO_ACCESS (access
   *   'none'), ERR_MEMSEAL_NO_EXTERNAL_BUFFERS (a runtime or build without
   *   external buffers: use read(), write() or use()).
   */
  get buffer(): Buffer {
    const t = this.#check();
    checkAccess(t, false);
    return this.#view(t);
  }

  /** The secret's length in bytes. */
  get length(): number {
    return this.#ticket.length;
  }

  /** `'secretmem'` (memfd_secret) or `'mlock'` (the fallback). */
  get backing(): SecretBacking {
    return this.#ticket.home.backing;
  }

  /** True after dispose() (or once its pool was destroyed). */
  get disposed(): boolean {
    return this.#disposed || this.#ticket.home.dead;
  }

  /** True once sealed (mseal): the memory stays mapped until the process exits. */
  get sealed(): boolean {
    return this.#ticket.home.region.sealed;
  }

  /** True for a secret that lives in a SecretPool arena. */
  get pooled(): boolean {
    return this.#ticket.home.pooled;
  }

  /**
   * Current access: 'none', 'r' or 'rw'. For a pooled secret it is its
   * arena's, shared with the other secrets there.
   * @throws MemsealError ERR_MEMSEAL_DISPOSED.
   */
  get access(): Access {
    return accessOf(this.#check().home.region.prot);
  }

  /**
   * The start address, for diagnostics (/proc/self/maps).
   * @throws MemsealError ERR_MEMSEAL_DISPOSED.
   */
  get address(): bigint {
    const t = this.#check();
    return t.home.region.address + BigInt(t.offset);
  }

  /**
   * Changes the protection (mprotect). 'none' first detaches every Buffer
   * handed out, so touching one later reads length 0 and never faults. On a
   * pooled secret it changes the whole arena's protection.
   * @throws SyscallError EPERM when sealed (see `hint`).
   * @throws MemsealError ERR_MEMSEAL_DISPOSED.
   */
  protect(access: Access): void {
    validateOneOf(access, 'access', ['none', 'r', 'rw'] as const);
    this.#check().home.protect(access);
  }

  /**
   * Runs `fn` with the secret readable (`'r'`, or `'rw'` if asked), then
   * restores the access it had before, also when `fn` throws. Keep a secret
   * at 'none' (`protect('none')`, or `access: 'none'` when creating it) and
   * it is readable only inside use(), and back to 'none' afterwards, so a
   * stray Buffer or bug elsewhere cannot reach it. `fn` gets the zero-copy
   * Buffer, or, in a runtime without external buffers, a temporary copy that
   * is written back (for 'rw') and zeroed afterwards.
   *
   * `fn` must be synchronous: once the access is 'none' again its Buffer is
   * detached (length 0), so an `async` callback would go on after its first
   * `await` with an empty key. A callback that returns a promise (or any
   * thenable) is refused: the access is restored, then
   * ERR_MEMSEAL_ASYNC_CALLBACK is thrown. Use {@link SecretBuffer.useAsync}
   * for async work.
   *
   * Uses nest and overlap (with each other and with useAsync()): the access
   * from before the first comes back when the last one ends. On a pooled
   * secret the whole arena is opened and restored; on a sealed one nothing
   * changes.
   * @returns What `fn` returns.
   * @throws MemsealError ERR_MEMSEAL_DISPOSED; ERR_MEMSEAL_NO_ACCESS when a
   *   sealed secret lacks the access asked for; ERR_MEMSEAL_ASYNC_CALLBACK
   *   when `fn` returns a promise or thenable.
   */
  use<T>(fn: (bytes: Buffer) => T, options?: SecretUseOptions): T {
    validateFunction(fn, 'fn');
    const access = useAccess(options);
    const t = this.#check();
    return useSecret(t, access, fn, this.#useHooks(t));
  }

  /**
   * As {@link SecretBuffer.use}, for an async `fn`: the access stays open
   * until the promise `fn` returns settles, then the access from before is
   * restored (when no other use is still open). The Buffer is valid until
   * then, across every `await` inside `fn`. While it is open, any code in
   * this thread can read the secret, so keep the awaited work short.
   * @returns A promise of what `fn` resolves to; it rejects with what `fn`
   *   throws or rejects with, and with the errors of use() (never thrown
   *   synchronously).
   */
  async useAsync<T>(fn: (bytes: Buffer) => T | PromiseLike<T>, options?: SecretUseOptions): Promise<Awaited<T>> {
    validateFunction(fn, 'fn');
    const access = useAccess(options);
    const t = this.#check();
    return useSecretAsync(t, access, fn, this.#useHooks(t));
  }

  #useHooks(t: Ticket): UseHooks {
    return {
      // The zero-copy Buffer, or undefined in a runtime without external buffers.
      view: () => zeroCopy(() => this.#view(t)),
      disposed: () => this.disposed,
      // Drops the cached Buffer once the access is 'none' again (it was detached).
      after: () => {
        if (!t.home.dead && t.home.region.prot === constants.PROT_NONE) this.#buffer = undefined;
      },
    };
  }

  /**
   * Copies the secret, from byte `offset`, into `target`; works in every
   * runtime (no external buffer needed).
   * @returns The number of bytes copied: min(target.byteLength, length - offset).
   * @throws MemsealError ERR_MEMSEAL_DISPOSED, ERR_MEMSEAL_NO_ACCESS.
   */
  read(target: ArrayBufferView, offset = 0): number {
    return readSecret(() => this.#check(), target, offset);
  }

  /**
   * Copies `source` into the secret at byte `offset`; works in every runtime.
   * @returns The number of bytes written.
   * @throws RangeError ERR_OUT_OF_RANGE when it does not fit.
   * @throws MemsealError ERR_MEMSEAL_DISPOSED, ERR_MEMSEAL_NO_ACCESS (not 'rw').
   */
  write(source: ArrayBufferView, offset = 0): number {
    return writeSecret(() => this.#check(), source, offset);
  }

  /**
   * Whether `other` (a SecretBuffer or bytes) holds the same bytes, in time
   * that depends only on the length (lengths are not secret: different
   * lengths return false at once).
   * @throws MemsealError ERR_MEMSEAL_DISPOSED (either side), ERR_MEMSEAL_NO_ACCESS
   *   (either side at 'none').
   */
  equals(other: SecretBuffer | ArrayBufferView): boolean {
    const t = this.#check();
    return other instanceof SecretBuffer ? equalSecrets(t, other.#check()) : equalBytes(t, other);
  }

  /**
   * Keeps the secret for the life of the process (mseal, Linux 6.10+): sets
   * the final protection (`'r'` by default), then seals, so the kernel
   * refuses to unmap, remap or re-protect it (EPERM) and no bug or exploit
   * can make it writable or free it for reuse. MADV_DONTFORK (secretmem) or
   * MADV_DONTDUMP and MADV_WIPEONFORK (mlock) are applied when the memory is
   * mapped, so they hold before the seal. Afterwards dispose() wipes the
   * bytes only if the access is 'rw', detaches every Buffer, and the memory
   * stays mapped until exit (`sealed`, and the stats, show it). On a pooled
   * secret the whole arena is sealed: a read-only sealed arena takes no new
   * secrets. Idempotent.
   * @throws UnsupportedError when the kernel lacks mseal or a filter blocks it.
   * @throws MemsealError ERR_MEMSEAL_DISPOSED.
   */
  seal(options?: SecretSealOptions): void {
    const o = validateOptions<SecretSealOptions>(options, 'options', OPTION_KEYS.secretSeal);
    const access = o.access === undefined ? 'r' : validateOneOf(o.access, 'options.access', ['r', 'rw'] as const);
    this.#check().home.seal(access);
  }

  /**
   * Wipes the bytes (in native code), detaches every Buffer handed out,
   * then unmaps the memory (or returns the slot to its pool). Idempotent.
   * A sealed secret is wiped only if writable, and stays mapped.
   * @throws MemsealError ERR_MEMSEAL_CANARY for a pooled secret whose canary
   *   was overwritten (a write ran past its end or before its start); the
   *   slot is wiped and retired all the same.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#buffer = undefined;
    const t = this.#ticket;
    releasedWhenCollected.unregister(t);
    if (!t.home.dead) t.home.release(t, false);
  }

  /** dispose(), for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  #label(): string {
    const t = this.#ticket;
    const flags = `${this.disposed ? ', disposed' : ''}${!t.home.dead && t.home.region.sealed ? ', sealed' : ''}`;
    return `[SecretBuffer ${t.length} bytes ${t.home.backing}${flags}]`;
  }

  /** `[SecretBuffer 32 bytes secretmem]`: never the bytes. */
  toString(): string {
    return this.#label();
  }

  /** The same label as toString(): JSON.stringify never sees the bytes. */
  toJSON(): string {
    return this.#label();
  }

  [Symbol.toPrimitive](): string {
    return this.#label();
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.#label();
  }
}
