/**
 * Where a secret's bytes live (a mapping of its own, or a slot of a pool
 * arena) and the protection of that memory: the interfaces both kinds of
 * home implement, and the counted gate that opens a region for use().
 */
import { type RawRegion } from '../binding.js';
import { constants } from '../constants.js';
import { MemsealError } from '../errors.js';
import { explainUnavailable } from '../features.js';
import { explainSealed, protFor, type Access } from '../mapping.js';
import { type SecretBacking } from './memory.js';

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

/**
 * @internal What both kinds of home share: their region, protection set on
 * it, and the counted gate that opens it, which stays shut once the home is
 * dead.
 */
export abstract class GatedHome {
  readonly #gate: RegionGate;

  constructor(readonly region: RawRegion) {
    this.#gate = new RegionGate(region, () => this.dead);
  }

  abstract get dead(): boolean;

  protect(access: Access): void {
    protectRegion(this.region, access);
  }

  open(access: 'r' | 'rw'): () => void {
    return this.#gate.open(access);
  }

  withAccess<T>(access: 'r' | 'rw', fn: () => T): T {
    return this.#gate.withAccess(access, fn);
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

/** @internal Throws ERR_MEMSEAL_NO_ACCESS unless the home's access allows reading (or writing). */
export function checkAccess(t: Ticket, write: boolean): void {
  const access = accessOf(t.home.region.prot);
  if (write ? access !== 'rw' : access === 'none') {
    const hint = t.home.pooled ? ' (protection is shared by every secret in its pool arena)' : '';
    throw new MemsealError('ERR_MEMSEAL_NO_ACCESS', `The SecretBuffer's access is '${access}'${hint}: call protect('${write ? 'rw' : 'r'}') first, or work inside use()`);
  }
}

/** @internal Gives a collected SecretBuffer's bytes back, as dispose() would. */
export const releasedWhenCollected = new FinalizationRegistry<Ticket>((ticket) => {
  try {
    ticket.home.release(ticket, true);
  } catch (err) {
    process.emitWarning(`memseal: releasing a collected SecretBuffer failed: ${(err as Error).message}`, 'MemsealWarning');
  }
});
