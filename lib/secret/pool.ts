/**
 * SecretPool: many small secrets packed into few pages of secret memory.
 *
 * A SecretBuffer of its own costs a page of locked memory (RLIMIT_MEMLOCK,
 * 8 MiB by default, allows 2048 of them) and a memfd_secret call (about
 * 30 us, mostly the kernel removing the page from its direct map). A pool
 * maps arenas (64 KiB by default, between PROT_NONE guard pages) once and
 * hands out slots from them (./arena.ts): 16, 32, 64, 128, 256, 512, 1024 or
 * 2048 bytes, the smallest that fits; larger requests get a SecretBuffer of
 * their own. The canaries around each slot catch overruns by bugs; they are
 * not secret from code that can read the pool's memory anyway.
 *
 * Protection is per arena: protect(), use() and seal() on a pooled secret
 * act on its whole arena, so every secret in that arena shares them, and a
 * new secret has its arena's access. Keep secrets that need different
 * protection in different pools.
 */
import { OPTION_KEYS } from '../options.js';
import { randomBytes } from 'node:crypto';
import { PAGE_SIZE } from '../constants.js';
import { MemsealError } from '../errors.js';
import { validateInteger, validateOneOf, validateOptions } from '../validate.js';
import { Arena, CANARY, type PoolCore } from './arena.js';
import { accessOf } from './home.js';
import { type SecretBacking } from './memory.js';
import { MAX_SECRET_SIZE, sourceBytes } from './options.js';
import { SecretBuffer, secretInHome } from './buffer.js';

/** The slot sizes, in bytes. Larger secrets get a SecretBuffer of their own. */
export const SECRET_POOL_CLASSES: readonly number[] = Object.freeze([16, 32, 64, 128, 256, 512, 1024, 2048]);

const DEFAULT_ARENA = 64 * 1024;

/** Options for {@link SecretPool}. */
export interface SecretPoolOptions {
  /** As the `fallback` option of {@link SecretBuffer.alloc}; applies to every arena. Default 'error'. */
  fallback?: 'error' | 'mlock';
  /** As the `backing` option of {@link SecretBuffer.alloc}. Default 'secretmem'. */
  backing?: SecretBacking;
  /**
   * Bytes per arena, a multiple of the page size, from one page to 64 MiB.
   * Default 64 KiB. Each arena is locked as a whole.
   */
  arenaSize?: number;
}

/** Options for {@link SecretPool.from}. */
export interface SecretPoolFromOptions {
  /** As the `wipeSource` option of {@link SecretBuffer.from}. */
  wipeSource?: boolean;
}

/** One size class in {@link SecretPoolStats}. */
export interface SecretPoolClassStats {
  slotSize: number;
  arenas: number;
  slotsInUse: number;
  slotsFree: number;
}

/** What a pool holds. */
export interface SecretPoolStats {
  /** Arenas mapped (sealed ones included). */
  arenas: number;
  slotsInUse: number;
  /** Free slots in arenas that still take secrets. */
  slotsFree: number;
  /** Slots retired after a canary mismatch. */
  slotsRetired: number;
  /** Live secrets too large for a slot (SecretBuffers of their own). */
  large: number;
  /** Locked bytes: arenas plus large secrets, page-rounded. Counts against RLIMIT_MEMLOCK. */
  lockedBytes: number;
  /** Sealed arenas: they stay mapped until the process exits. */
  sealedArenas: number;
  sealedBytes: number;
  classes: SecretPoolClassStats[];
}

/**
 * Many small secrets in few pages of secret memory. See the module comment;
 * each secret is a {@link SecretBuffer} (pooled: protection is per arena).
 *
 * ```ts
 * using pool = new SecretPool();
 * const key = pool.from(keyBytes, { wipeSource: true });
 * key.use((k) => hmac(k, message));
 * key.dispose();
 * ```
 */
export class SecretPool {
  readonly #core: PoolCore;
  readonly #large = new Set<WeakRef<SecretBuffer>>();

  /**
   * Creates an empty pool; arenas are mapped on demand (memfd_secret, Linux
   * 5.14+, or the mlock fallback as the `fallback` option of {@link SecretBuffer.alloc}).
   * @throws TypeError / RangeError for bad options.
   */
  constructor(options?: SecretPoolOptions) {
    const o = validateOptions<SecretPoolOptions>(options, 'options', OPTION_KEYS.poolCreate);
    const arenaSize = o.arenaSize === undefined ? DEFAULT_ARENA : validateInteger(o.arenaSize, 'options.arenaSize', PAGE_SIZE, 64 * 1024 * 1024);
    if (arenaSize % PAGE_SIZE !== 0) throw new RangeError(`options.arenaSize must be a multiple of the page size (${PAGE_SIZE})`);
    this.#core = {
      fallback: o.fallback === undefined ? 'error' : validateOneOf(o.fallback, 'options.fallback', ['error', 'mlock'] as const),
      backing: o.backing === undefined ? 'secretmem' : validateOneOf(o.backing, 'options.backing', ['secretmem', 'mlock'] as const),
      arenaSize,
      canary: randomBytes(CANARY),
      classes: SECRET_POOL_CLASSES.filter((s) => s + 2 * CANARY <= arenaSize).map((slotSize) => ({ slotSize, arenas: [], open: [] })),
      destroyed: false,
    };
  }

  #check(): void {
    if (this.#core.destroyed) throw new MemsealError('ERR_MEMSEAL_DISPOSED', 'The SecretPool has been destroyed');
  }

  /**
   * A zeroed secret of `size` bytes: a slot of the smallest class that fits,
   * or, above the largest class, a SecretBuffer of its own (same fallback
   * and backing). Maps a new arena when every arena of the class is full.
   * The secret's access is its arena's ('rw' for a new arena). Needs
   * memfd_secret (Linux 5.14+) unless the pool falls back to mlock.
   * @throws TypeError / RangeError for a bad size (1 to 2^31).
   * @throws UnsupportedError, MemlockLimitError, SyscallError as
   *   {@link SecretBuffer.alloc} when an arena must be mapped.
   * @throws MemsealError ERR_MEMSEAL_DISPOSED after destroy().
   */
  alloc(size: number): SecretBuffer {
    validateInteger(size, 'size', 1, MAX_SECRET_SIZE);
    this.#check();
    const core = this.#core;
    const cls = core.classes.find((c) => c.slotSize >= size);
    if (cls === undefined) return this.#allocLarge(size);
    let arena = cls.open[cls.open.length - 1];
    if (arena === undefined) {
      arena = new Arena(core, cls);
      cls.arenas.push(arena);
      cls.open.push(arena);
    }
    const offset = arena.take();
    if (arena.full) cls.open.pop();
    return secretInHome(arena, offset, size);
  }

  #allocLarge(size: number): SecretBuffer {
    const secret = SecretBuffer.alloc(size, { fallback: this.#core.fallback, backing: this.#core.backing });
    this.#large.add(new WeakRef(secret));
    return secret;
  }

  /**
   * A secret holding a copy of `source` (Buffer, TypedArray, DataView or a
   * UTF-8 string), as {@link SecretBuffer.from}. If the arena is not
   * writable it is opened for the copy and restored.
   * @throws As {@link SecretPool.alloc}, plus ERR_INVALID_ARG_* for the source.
   */
  from(source: string | ArrayBufferView, options?: SecretPoolFromOptions): SecretBuffer {
    const o = validateOptions<SecretPoolFromOptions>(options, 'options', OPTION_KEYS.poolFrom);
    const src = sourceBytes(source, o.wipeSource);
    const secret = this.alloc(src.bytes.byteLength);
    try {
      if (secret.access === 'rw') secret.write(src.bytes);
      else secret.use((b) => b.set(src.bytes), { access: 'rw' });
    } catch (err) {
      secret.dispose();
      throw err;
    }
    src.done();
    return secret;
  }

  /** What the pool holds now. */
  stats(): SecretPoolStats {
    const s: SecretPoolStats = { arenas: 0, slotsInUse: 0, slotsFree: 0, slotsRetired: 0, large: 0, lockedBytes: 0, sealedArenas: 0, sealedBytes: 0, classes: [] };
    for (const cls of this.#core.classes) {
      const c: SecretPoolClassStats = { slotSize: cls.slotSize, arenas: cls.arenas.length, slotsInUse: 0, slotsFree: 0 };
      for (const a of cls.arenas) {
        const sealedReadOnly = a.region.sealed && accessOf(a.region.prot) !== 'rw';
        c.slotsInUse += a.inUse;
        if (!sealedReadOnly) c.slotsFree += a.slots - a.inUse - a.retiredSlots;
        s.slotsRetired += a.retiredSlots;
        s.lockedBytes += a.region.mappedLength;
        if (a.region.sealed) {
          s.sealedArenas++;
          s.sealedBytes += a.region.mappedLength;
        }
      }
      s.arenas += c.arenas;
      s.slotsInUse += c.slotsInUse;
      s.slotsFree += c.slotsFree;
      s.classes.push(c);
    }
    for (const ref of this.#large) {
      const secret = ref.deref();
      if (secret === undefined || secret.disposed) {
        this.#large.delete(ref);
        continue;
      }
      s.large++;
      s.lockedBytes += Math.ceil(secret.length / PAGE_SIZE) * PAGE_SIZE;
    }
    return s;
  }

  /** True after destroy(). */
  get destroyed(): boolean {
    return this.#core.destroyed;
  }

  /**
   * Disposes every secret of the pool at once: detaches their Buffers,
   * wipes and unmaps every arena (sealed ones are wiped if writable and stay
   * mapped), disposes the large secrets. Afterwards each of the pool's
   * SecretBuffers reads `disposed`. Idempotent.
   */
  destroy(): void {
    if (this.#core.destroyed) return;
    for (const cls of this.#core.classes) {
      for (const arena of [...cls.arenas]) arena.unmap();
    }
    this.#core.destroyed = true;
    for (const ref of this.#large) ref.deref()?.dispose();
    this.#large.clear();
  }

  /** destroy(), for `using`. */
  [Symbol.dispose](): void {
    this.destroy();
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    if (this.#core.destroyed) return 'SecretPool <destroyed>';
    const s = this.stats();
    return `SecretPool { arenas: ${s.arenas}, slotsInUse: ${s.slotsInUse}, large: ${s.large}, lockedBytes: ${s.lockedBytes} }`;
  }
}
