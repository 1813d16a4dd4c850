/**
 * SecretPool: many small secrets packed into few pages of secret memory.
 *
 * A SecretBuffer of its own costs a page of locked memory (RLIMIT_MEMLOCK,
 * 8 MiB by default, allows 2048 of them) and a memfd_secret call (about
 * 30 us, mostly the kernel removing the page from its direct map). A pool
 * maps arenas (64 KiB by default, between PROT_NONE guard pages) once and
 * hands out slots from them: 16, 32, 64, 128, 256, 512, 1024 or 2048 bytes,
 * the smallest that fits; larger requests get a SecretBuffer of their own.
 *
 * Arena layout, for slot size S: [canary][slot 0][canary][slot 1]...[canary],
 * 8-byte canaries from one random value per pool. Freeing a slot checks the
 * canaries on both sides (a mismatch throws ERR_MEMSEAL_CANARY: something
 * wrote past a secret's end or before its start; the slot is wiped and
 * never reused) and wipes the slot. The canaries catch overruns by bugs;
 * they are not secret from code that can read the pool's memory anyway.
 *
 * Protection is per arena: protect(), use() and seal() on a pooled secret
 * act on its whole arena, so every secret in that arena shares them, and a
 * new secret has its arena's access. Keep secrets that need different
 * protection in different pools.
 */
import { OPTION_KEYS } from './options.js';
import { randomBytes } from 'node:crypto';
import { type RawRegion } from './binding.js';
import { constants, PAGE_SIZE } from './constants.js';
import { MemsealError } from './errors.js';
import { type Access } from './mapping.js';
import { SecretBuffer, secretInHome } from './secret/buffer.js';
import { accessOf, protectRegion, RegionGate, sealRegion, type SecretHome, type Ticket } from './secret/home.js';
import { mapSecretRegion, type SecretBacking } from './secret/memory.js';
import { MAX_SECRET_SIZE, sourceBytes } from './secret/options.js';
import { validateInteger, validateOneOf, validateOptions } from './validate.js';

/** The slot sizes, in bytes. Larger secrets get a SecretBuffer of their own. */
export const SECRET_POOL_CLASSES: readonly number[] = Object.freeze([16, 32, 64, 128, 256, 512, 1024, 2048]);

const CANARY = 8;
const RW = constants.PROT_READ | constants.PROT_WRITE;
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

/** The shared state of a pool, which arenas (and so live secrets) reach. */
interface PoolCore {
  readonly fallback: 'error' | 'mlock';
  readonly backing: SecretBacking;
  readonly arenaSize: number;
  readonly canary: Buffer;
  readonly classes: SizeClass[];
  destroyed: boolean;
}

interface SizeClass {
  readonly slotSize: number;
  readonly arenas: Arena[];
  /** Arenas with free slots that take new secrets; the last one is used first. */
  readonly open: Arena[];
}

function canaryError(slotSize: number, index: number, before: boolean, after: boolean): MemsealError {
  const where = [before ? 'before its start' : '', after ? 'past its end' : ''].filter(Boolean).join(' and ');
  return new MemsealError(
    'ERR_MEMSEAL_CANARY',
    `A pooled secret's canary was overwritten (slot ${index} of a ${slotSize}-byte arena): something wrote ${where}. The slot was wiped and retired`,
  );
}

/** One mapping of equal slots. */
class Arena implements SecretHome {
  readonly pooled = true;
  readonly region: RawRegion;
  readonly backing: SecretBacking;
  readonly slots: number;
  readonly #stride: number;
  readonly #free: Int32Array;
  #freeTop = 0;
  inUse = 0;
  retiredSlots = 0;
  #unmapped = false;
  readonly #gate: RegionGate;

  constructor(
    readonly core: PoolCore,
    readonly cls: SizeClass,
  ) {
    const mapped = mapSecretRegion(core.arenaSize, core.fallback, core.backing);
    this.region = mapped.region;
    this.backing = mapped.backing;
    this.#gate = new RegionGate(this.region, () => this.dead);
    this.#stride = cls.slotSize + CANARY;
    this.slots = Math.floor((core.arenaSize - CANARY) / this.#stride);
    this.#free = new Int32Array(this.slots);
    for (let i = this.slots - 1; i >= 0; i--) this.#free[this.#freeTop++] = i;
    // Every canary at once: one copy into the fresh (zeroed) memory.
    const image = Buffer.alloc(this.slots * this.#stride + CANARY);
    for (let i = 0; i <= this.slots; i++) core.canary.copy(image, i * this.#stride);
    this.region.write(0, image, 0, image.length);
  }

  get dead(): boolean {
    return this.#unmapped || this.core.destroyed;
  }

  get full(): boolean {
    return this.#freeTop === 0;
  }

  /** Takes a free slot; returns its data offset. */
  take(): number {
    const index = this.#free[--this.#freeTop]!;
    this.inUse++;
    return CANARY + index * this.#stride;
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
    if (!sealRegion(this.region, access)) return;
    // A read-only sealed arena cannot wipe a freed slot for reuse.
    if (access !== 'rw') this.#leaveOpen();
  }

  #leaveOpen(): void {
    const at = this.cls.open.indexOf(this);
    if (at >= 0) this.cls.open.splice(at, 1);
  }

  release(ticket: Ticket, finalizing: boolean): void {
    if (this.dead) return;
    if (ticket.view !== undefined) this.region.detach(ticket.view);
    const slotSize = this.cls.slotSize;
    const index = (ticket.offset - CANARY) / this.#stride;
    const sealedReadOnly = this.region.sealed && accessOf(this.region.prot) !== 'rw';
    let bad: number;
    if (this.region.prot === RW) bad = this.region.wipeSlot(ticket.offset, slotSize, this.core.canary);
    else if (!sealedReadOnly) bad = this.withAccess('rw', () => this.region.wipeSlot(ticket.offset, slotSize, this.core.canary));
    else bad = this.#checkOnly(ticket.offset);
    this.inUse--;
    if (bad !== 0) {
      this.retiredSlots++;
      const err = canaryError(slotSize, index, (bad & 1) !== 0, (bad & 2) !== 0);
      if (finalizing) process.emitWarning(err.message, 'MemsealWarning');
      else throw err;
      return;
    }
    if (sealedReadOnly) return;
    const wasFull = this.#freeTop === 0;
    this.#free[this.#freeTop++] = index;
    if (wasFull) {
      this.cls.open.push(this);
      // Room here now: an arena that sat empty can go.
      for (const other of [...this.cls.open]) if (other !== this && other.#droppable()) other.unmap();
    }
    if (this.#droppable() && this.cls.open.length > 1) this.unmap();
  }

  /** Empty, and nothing keeps it: no retired slot, not sealed. */
  #droppable(): boolean {
    return this.inUse === 0 && this.retiredSlots === 0 && !this.region.sealed;
  }

  /** The canary check alone, for a read-only sealed arena that cannot be wiped. */
  #checkOnly(offset: number): number {
    const canary = this.core.canary;
    const before = this.region.compare(offset - CANARY, canary, 0, CANARY);
    const after = this.region.compare(offset + this.cls.slotSize, canary, 0, CANARY);
    return (before ? 0 : 1) | (after ? 0 : 2);
  }

  /** Unmaps an arena no secret uses (or every arena, when the pool is destroyed). */
  unmap(): void {
    if (this.#unmapped) return;
    this.#leaveOpen();
    const all = this.cls.arenas;
    all.splice(all.indexOf(this), 1);
    if (this.region.sealed) {
      this.region.detach();
      this.region.wipe();
    } else {
      this.region.unmap();
    }
    this.#unmapped = true;
  }
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
