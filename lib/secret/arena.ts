/**
 * A pool arena: one mapping of secret memory cut into equal slots, each
 * between 8-byte canaries from one random value per pool, with the
 * protection every secret in it shares.
 *
 * Layout, for slot size S: [canary][slot 0][canary][slot 1]...[canary].
 * Freeing a slot checks the canaries on both sides (a mismatch throws
 * ERR_MEMSEAL_CANARY: something wrote past a secret's end or before its
 * start; the slot is wiped and never reused) and wipes the slot.
 */
import { constants } from '../constants.js';
import { MemsealError } from '../errors.js';
import { accessOf, GatedHome, sealRegion, type SecretHome, type Ticket } from './home.js';
import { mapSecretRegion, type SecretBacking } from './memory.js';

/** @internal Bytes of each canary. */
export const CANARY = 8;
const RW = constants.PROT_READ | constants.PROT_WRITE;

/** The shared state of a pool, which arenas (and so live secrets) reach. */
export interface PoolCore {
  readonly fallback: 'error' | 'mlock';
  readonly backing: SecretBacking;
  readonly arenaSize: number;
  readonly canary: Buffer;
  readonly classes: SizeClass[];
  destroyed: boolean;
}

export interface SizeClass {
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
export class Arena extends GatedHome implements SecretHome {
  readonly pooled = true;
  readonly backing: SecretBacking;
  readonly slots: number;
  readonly #stride: number;
  readonly #free: Int32Array;
  #freeTop = 0;
  inUse = 0;
  retiredSlots = 0;
  #unmapped = false;

  constructor(
    readonly core: PoolCore,
    readonly cls: SizeClass,
  ) {
    const mapped = mapSecretRegion(core.arenaSize, core.fallback, core.backing);
    super(mapped.region);
    this.backing = mapped.backing;
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
