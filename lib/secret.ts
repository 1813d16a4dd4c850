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
 * Many small secrets are cheaper in a {@link SecretPool} (lib/pool.ts),
 * whose secrets are SecretBuffers too.
 */
import { constants as osConstants } from 'node:os';
import { OPTION_KEYS } from './options.js';
import { binding, type RawRegion } from './binding.js';
import { constants, PAGE_SIZE } from './constants.js';
import { MemlockLimitError, MemsealError, SyscallError, UnsupportedError } from './errors.js';
import { explainUnavailable } from './features.js';
import { procStatusField } from './kernel.js';
import { explainSealed, mapRegion, protFor, type Access } from './mapping.js';
import { invalidArgType, invalidArgValue, outOfRange, toBytes, validateBoolean, validateFunction, validateInteger, validateLiveView, validateOneOf, validateOptions } from './validate.js';

/** Where a secret's bytes live: memfd_secret memory, or locked anonymous memory. */
export type SecretBacking = 'secretmem' | 'mlock';

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

/** What SecretBuffer.stats() counts: secrets with a mapping of their own. */
export interface SecretBufferStats {
  /** SecretBuffers allocated and neither disposed nor collected. */
  live: number;
  /** Bytes mapped for them, page-rounded, sealed ones included: what counts against RLIMIT_MEMLOCK. */
  lockedBytes: number;
  /** Sealed SecretBuffers: their memory stays mapped until the process exits, disposed or not. */
  sealed: number;
  sealedBytes: number;
}

// ---------------------------------------------------------------------------
// Internals shared with lib/pool.ts.

/**
 * @internal Where a SecretBuffer's bytes live: a mapping of its own, or a
 * slot of a pool arena. Protection belongs to the home, so every secret in
 * an arena shares it.
 */
export interface SecretHome {
  readonly region: RawRegion;
  readonly backing: SecretBacking;
  readonly pooled: boolean;
  /** True once the memory is gone (released, or its pool destroyed). */
  readonly dead: boolean;
  protect(access: Access): void;
  seal(access: 'r' | 'rw'): void;
  /**
   * Raises the protection to at least `access` until the returned function
   * is called. Overlapping opens are counted: the protection from before the
   * first is restored when the last one closes.
   */
  open(access: 'r' | 'rw'): () => void;
  /** Runs `fn` between open(access) and its close (also when `fn` throws). */
  withAccess<T>(access: 'r' | 'rw', fn: () => T): T;
  /** Gives one secret's bytes back (wipe, then unmap or free the slot). Called once per ticket. */
  release(ticket: Ticket, finalizing: boolean): void;
}

/** @internal One secret's claim on its home; what the finalizer sees. */
export interface Ticket {
  readonly home: SecretHome;
  readonly offset: number;
  readonly length: number;
  /** The ArrayBuffer of the current zero-copy view, if one was made. */
  view: ArrayBuffer | undefined;
}

const registry = new FinalizationRegistry<Ticket>((ticket) => {
  try {
    ticket.home.release(ticket, true);
  } catch (err) {
    process.emitWarning(`memseal: releasing a collected SecretBuffer failed: ${(err as Error).message}`, 'MemsealWarning');
  }
});

let externalBuffers = true;

/** @internal The access a PROT_* value grants. */
export function accessOf(prot: number): Access {
  if ((prot & constants.PROT_WRITE) !== 0) return 'rw';
  return (prot & constants.PROT_READ) !== 0 ? 'r' : 'none';
}

function allows(current: Access, wanted: 'r' | 'rw'): boolean {
  return current === 'rw' || (current === 'r' && wanted === 'r');
}

/** @internal mprotect of a secret's region, with the mseal hint on EPERM. */
export function protectRegion(region: RawRegion, access: Access): void {
  try {
    region.protect(protFor(access));
  } catch (err) {
    throw explainSealed(err, region.sealed);
  }
}

/**
 * @internal The temporary access of one region (a secret's own mapping, or
 * a pool arena), counted: overlapping opens, sync or async, raise the
 * protection as far as the widest asks, and the protection from before the
 * first open comes back when the last one closes, unless the home was
 * released meanwhile.
 */
export class RegionGate {
  /** Open uses asking for 'r' and for 'rw'. */
  readonly #opens = { r: 0, rw: 0 };
  #before = 0;

  constructor(
    readonly region: RawRegion,
    readonly released: () => boolean,
  ) {}

  open(access: 'r' | 'rw'): () => void {
    const region = this.region;
    if (this.#opens.r + this.#opens.rw === 0) this.#before = region.prot;
    if (!allows(accessOf(region.prot), access) && !region.sealed) protectRegion(region, access);
    this.#opens[access]++;
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      this.#opens[access]--;
      if (this.released() || region.sealed) return;
      // The protection from before, or what the uses still open need, whichever is wider.
      const needed = this.#opens.rw > 0 ? 'rw' : this.#opens.r > 0 ? 'r' : undefined;
      const target = needed === undefined || allows(accessOf(this.#before), needed) ? this.#before : protFor(needed);
      if (region.prot !== target) region.protect(target);
    };
  }

  withAccess<T>(access: 'r' | 'rw', fn: () => T): T {
    const close = this.open(access);
    try {
      return fn();
    } finally {
      close();
    }
  }
}

/** @internal The final protection, then mseal; false when it was sealed already. */
export function sealRegion(region: RawRegion, access: 'r' | 'rw'): boolean {
  if (region.sealed) return false;
  protectRegion(region, access);
  try {
    region.seal();
  } catch (err) {
    throw explainUnavailable(err, 'mseal');
  }
  return true;
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function vmLckBytes(): number {
  const v = procStatusField('VmLck');
  const m = v === undefined ? null : /^(\d+)\s*kB/.exec(v);
  return m ? Number(m[1]) * 1024 : -1;
}

/**
 * Turns a failure to lock memory into a MemlockLimitError when
 * RLIMIT_MEMLOCK explains it (EAGAIN from mmap of secret memory always does;
 * ENOMEM or EPERM when the numbers say so); other errors pass through.
 */
function explainMemlock(err: unknown, requested: number): unknown {
  if (!(err instanceof SyscallError) || !['EAGAIN', 'ENOMEM', 'EPERM'].includes(err.code)) return err;
  const [soft] = binding().getrlimit(binding().rlimits.RLIMIT_MEMLOCK);
  const locked = vmLckBytes();
  const over = soft >= 0 && (locked < 0 || locked + requested > soft);
  if (err.code !== 'EAGAIN' && !over) return err;
  return new MemlockLimitError(err.syscall, err.errno, { requested, limit: soft, locked, cause: err });
}

/**
 * Faults every page of a new secret mapping in before anyone touches it.
 * Kernels with the CVE-2026-93243 fix ("mm/secretmem: properly account
 * locked pages": 6.1.191, 6.12.113, 7.2 and later) no longer check
 * RLIMIT_MEMLOCK at mmap, for root too: they charge each page when it is
 * first faulted in, and a first touch past the limit is SIGBUS, which would
 * kill the process. Faulting the pages in from the kernel side turns that
 * into a short count here, and a MemlockLimitError.
 */
function populateSecret(region: RawRegion): void {
  const backed = region.populate();
  if (backed >= region.mappedLength) return;
  const [soft] = binding().getrlimit(binding().rlimits.RLIMIT_MEMLOCK);
  throw new MemlockLimitError('memfd_secret', -osConstants.errno.EFAULT, {
    requested: region.mappedLength,
    limit: soft,
    locked: -1,
    perPage: true,
  });
}

function mapSecretmem(length: number): RawRegion {
  const raw = binding();
  const fd = raw.memfdSecret(constants.O_CLOEXEC);
  try {
    const mapped = roundUp(length, PAGE_SIZE);
    raw.ftruncate(fd, mapped);
    let region: RawRegion;
    try {
      region = mapRegion({ length, access: 'rw', flags: constants.MAP_SHARED, fd, offset: 0, guardPages: 1, wipe: true });
    } catch (err) {
      throw explainMemlock(err, mapped);
    }
    try {
      populateSecret(region);
      // A forked child gets no mapping at all (secret memory is shared, so
      // MADV_WIPEONFORK does not apply to it).
      region.advise(constants.MADV_DONTFORK);
    } catch (err) {
      region.unmap();
      throw err;
    }
    return region;
  } finally {
    // The mapping keeps the file alive: one secret costs no descriptor.
    raw.close(fd);
  }
}

function mapLocked(length: number): RawRegion {
  const region = mapRegion({ length, access: 'rw', flags: constants.MAP_PRIVATE | constants.MAP_ANONYMOUS, fd: -1, offset: 0, guardPages: 1, wipe: true });
  try {
    try {
      region.lock();
    } catch (err) {
      throw explainMemlock(err, region.mappedLength);
    }
    region.advise(constants.MADV_DONTDUMP);
    region.advise(constants.MADV_WIPEONFORK);
  } catch (err) {
    region.unmap();
    throw err;
  }
  return region;
}

/**
 * @internal Maps `length` bytes of secret memory between guard pages, read
 * and write, following the fallback rules of {@link SecretBufferOptions}.
 */
export function mapSecretRegion(length: number, fallback: 'error' | 'mlock', backing: SecretBacking): { region: RawRegion; backing: SecretBacking } {
  const mapped = mapSecretRegionOnce(length, fallback, backing);
  SECRET_REGIONS.add(mapped.region);
  return mapped;
}

function mapSecretRegionOnce(length: number, fallback: 'error' | 'mlock', backing: SecretBacking): { region: RawRegion; backing: SecretBacking } {
  if (backing === 'secretmem') {
    try {
      return { region: mapSecretmem(length), backing: 'secretmem' };
    } catch (err) {
      const why = explainUnavailable(err, 'memfd_secret');
      if (!(why instanceof UnsupportedError) || fallback === 'error') {
        if (why instanceof UnsupportedError) why.addHint("pass { fallback: 'mlock' } to use locked anonymous memory instead");
        throw why;
      }
    }
  }
  return { region: mapLocked(length), backing: 'mlock' };
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

const counters = { live: 0, lockedBytes: 0, sealed: 0, sealedBytes: 0 };

/** A mapping of one secret's own. */
class OwnHome implements SecretHome {
  readonly pooled = false;
  #released = false;
  readonly #gate: RegionGate;

  constructor(
    readonly region: RawRegion,
    readonly backing: SecretBacking,
  ) {
    this.#gate = new RegionGate(region, () => this.#released);
    counters.live++;
    counters.lockedBytes += region.mappedLength;
  }

  get dead(): boolean {
    return this.#released;
  }

  protect(access: Access): void {
    protectRegion(this.region, access);
  }

  open(access: 'r' | 'rw'): () => void {
    return this.#gate.open(access);
  }

  withAccess<T>(access: 'r' | 'rw', fn: () => T): T {
    return this.#gate.withAccess(access, fn);
  }

  seal(access: 'r' | 'rw'): void {
    // MADV_DONTFORK (secretmem) or MADV_DONTDUMP + MADV_WIPEONFORK (mlock)
    // were applied when the memory was mapped; now the protection, then mseal.
    if (!sealRegion(this.region, access)) return;
    counters.sealed++;
    counters.sealedBytes += this.region.mappedLength;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    counters.live--;
    if (this.region.sealed) {
      // The kernel refuses to unmap it: wipe what can be wiped, cut the views.
      this.region.detach();
      this.region.wipe();
      return;
    }
    counters.lockedBytes -= this.region.mappedLength;
    this.region.unmap();
  }
}

const TOKEN = Symbol('SecretBuffer');

let adopt: (home: SecretHome, offset: number, length: number) => SecretBuffer;

/** The regions mapSecretRegion() mapped: the only memory a pooled secret may live in. */
const SECRET_REGIONS = new WeakSet<RawRegion>();

/**
 * @internal A SecretBuffer over `length` bytes at `offset` of a pool arena.
 * @throws MemsealError ERR_MEMSEAL_NOT_OURS unless the home's memory is
 *   secret memory memseal mapped and the range lies inside it.
 */
export function secretInHome(home: SecretHome, offset: number, length: number): SecretBuffer {
  const region = (home as { region?: unknown } | null)?.region as RawRegion | undefined;
  if (region === undefined || !SECRET_REGIONS.has(region) || !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 1 || offset + length > region.length) {
    throw new MemsealError('ERR_MEMSEAL_NOT_OURS', 'A SecretBuffer can only live in secret memory memseal mapped itself');
  }
  return adopt(home, offset, length);
}

const NOT_CLONEABLE = Symbol(
  // At most 128 characters: newer V8 cuts longer descriptions out of the DataCloneError message.
  'memseal: a SecretBuffer cannot be cloned or sent to another thread; copy its bytes out with read() if that is what you mean',
);

/**
 * The Buffer a SecretBuffer hands out: a Buffer in every respect (its
 * prototype chain holds Buffer.prototype, as Node's own Buffers do), except
 * that util.inspect and JSON.stringify show its length, not its bytes.
 */
class SecretView extends Uint8Array {
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `<Buffer (secret) ${this.length} bytes>`;
  }

  toJSON(): string {
    return `[secret ${this.length} bytes]`;
  }
}
Object.setPrototypeOf(SecretView.prototype, Buffer.prototype);

function useAccess(options: unknown): 'r' | 'rw' {
  const o = validateOptions<SecretUseOptions>(options, 'options', OPTION_KEYS.secretUse);
  return o.access === undefined ? 'r' : validateOneOf(o.access, 'options.access', ['r', 'rw'] as const);
}

/** A promise or any object with a then() method. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function asyncCallbackError(): MemsealError {
  return new MemsealError(
    'ERR_MEMSEAL_ASYNC_CALLBACK',
    "The callback given to use() returned a promise: after its first await the secret's Buffer would read as 0 bytes. Use useAsync() for an async callback (the access was restored)",
  );
}

function noExternalBuffers(): MemsealError {
  return new MemsealError(
    'ERR_MEMSEAL_NO_EXTERNAL_BUFFERS',
    'This runtime (or memseal build) cannot expose secret memory as a Buffer (external ArrayBuffers are not allowed, as in a V8 sandbox): use read(), write() or use(), which copy through a temporary that is wiped',
  );
}

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
    registry.register(this, this.#ticket, this.#ticket);
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
    return { ...counters };
  }

  #check(): Ticket {
    if (this.#disposed || this.#ticket.home.dead) {
      throw new MemsealError('ERR_MEMSEAL_DISPOSED', 'The SecretBuffer has been disposed');
    }
    return this.#ticket;
  }

  #readable(t: Ticket, write: boolean): void {
    const access = accessOf(t.home.region.prot);
    if (write ? access !== 'rw' : access === 'none') {
      const hint = t.home.pooled ? ' (protection is shared by every secret in its pool arena)' : '';
      throw new MemsealError('ERR_MEMSEAL_NO_ACCESS', `The SecretBuffer's access is '${access}'${hint}: call protect('${write ? 'rw' : 'r'}') first, or work inside use()`);
    }
  }

  #view(t: Ticket): Buffer {
    if (this.#buffer !== undefined && this.#buffer.length !== 0) return this.#buffer;
    if (!externalBuffers) throw noExternalBuffers();
    let ab: ArrayBuffer;
    try {
      ab = t.home.region.view(t.offset, t.length);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_MEMSEAL_NO_EXTERNAL_BUFFERS') {
        externalBuffers = false;
        throw noExternalBuffers();
      }
      throw err;
    }
    t.view = ab;
    const buffer = new SecretView(ab) as unknown as Buffer;
    this.#buffer = buffer;
    return buffer;
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
    this.#readable(t, false);
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
    const close = t.home.open(access);
    try {
      this.#readable(t, access === 'rw');
      const view = this.#zeroCopy(t);
      const result = view === undefined ? this.#useCopy(t, fn, access) : fn(view);
      if (isThenable(result)) {
        // Its rejection would otherwise surface as an unhandled rejection.
        if (result instanceof Promise) result.catch(() => undefined);
        throw asyncCallbackError(); // the finally below restores the access first
      }
      return result;
    } finally {
      close();
      this.#forgetDetached(t);
    }
  }

  #useCopy<T>(t: Ticket, fn: (bytes: Buffer) => T, access: 'r' | 'rw'): T {
    const temp = this.#copyOut(t);
    try {
      const result = fn(temp);
      if (isThenable(result)) return result; // use() refuses it; nothing to write back
      this.#copyBack(t, temp, access);
      return result;
    } finally {
      temp.fill(0);
    }
  }

  /** A temporary copy of the secret, for a runtime without external buffers (the caller wipes it). */
  #copyOut(t: Ticket): Buffer {
    const temp = Buffer.alloc(t.length);
    t.home.region.read(t.offset, temp, 0, t.length);
    return temp;
  }

  /** Writes a temporary copy back after an 'rw' use, unless the secret was disposed meanwhile. */
  #copyBack(t: Ticket, temp: Buffer, access: 'r' | 'rw'): void {
    if (access === 'rw' && !this.disposed) t.home.region.write(t.offset, temp, 0, t.length);
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
    const close = t.home.open(access);
    try {
      this.#readable(t, access === 'rw');
      const view = this.#zeroCopy(t);
      if (view !== undefined) return await fn(view);
      const temp = this.#copyOut(t);
      try {
        const result = await fn(temp);
        this.#copyBack(t, temp, access);
        return result;
      } finally {
        temp.fill(0);
      }
    } finally {
      close();
      this.#forgetDetached(t);
    }
  }

  /** The zero-copy Buffer, or undefined in a runtime without external buffers. */
  #zeroCopy(t: Ticket): Buffer | undefined {
    if (!externalBuffers) return undefined;
    try {
      return this.#view(t);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ERR_MEMSEAL_NO_EXTERNAL_BUFFERS') throw err;
      return undefined;
    }
  }

  /** Drops the cached Buffer once the access is 'none' again (it was detached). */
  #forgetDetached(t: Ticket): void {
    if (!t.home.dead && t.home.region.prot === constants.PROT_NONE) this.#buffer = undefined;
  }

  /**
   * Copies the secret, from byte `offset`, into `target`; works in every
   * runtime (no external buffer needed).
   * @returns The number of bytes copied: min(target.byteLength, length - offset).
   * @throws MemsealError ERR_MEMSEAL_DISPOSED, ERR_MEMSEAL_NO_ACCESS.
   */
  read(target: ArrayBufferView, offset = 0): number {
    if (!ArrayBuffer.isView(target)) throw invalidArgType('target', 'a Buffer, TypedArray or DataView', target);
    validateLiveView(target, 'target');
    const t = this.#check();
    validateInteger(offset, 'offset', 0, t.length);
    this.#readable(t, false);
    const n = Math.min(target.byteLength, t.length - offset);
    return t.home.region.read(t.offset + offset, target, 0, n);
  }

  /**
   * Copies `source` into the secret at byte `offset`; works in every runtime.
   * @returns The number of bytes written.
   * @throws RangeError ERR_OUT_OF_RANGE when it does not fit.
   * @throws MemsealError ERR_MEMSEAL_DISPOSED, ERR_MEMSEAL_NO_ACCESS (not 'rw').
   */
  write(source: ArrayBufferView, offset = 0): number {
    if (!ArrayBuffer.isView(source)) throw invalidArgType('source', 'a Buffer, TypedArray or DataView', source);
    validateLiveView(source, 'source');
    const t = this.#check();
    validateInteger(offset, 'offset', 0, t.length);
    if (source.byteLength > t.length - offset) {
      throw outOfRange('source.byteLength', `<= ${t.length - offset} (the room from offset ${offset})`, source.byteLength);
    }
    this.#readable(t, true);
    return t.home.region.write(t.offset + offset, source, 0, source.byteLength);
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
    if (other instanceof SecretBuffer) {
      const u = other.#check();
      if (u.length !== t.length) return false;
      this.#readable(t, false);
      other.#readable(u, false);
      return t.home.region.compare(t.offset, u.home.region, u.offset, t.length);
    }
    if (!ArrayBuffer.isView(other)) throw invalidArgType('other', 'a SecretBuffer, Buffer, TypedArray or DataView', other);
    validateLiveView(other, 'other');
    if (other.byteLength !== t.length) return false;
    this.#readable(t, false);
    return t.home.region.compare(t.offset, other, 0, t.length);
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
    registry.unregister(t);
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
