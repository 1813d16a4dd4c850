/**
 * A secret with a mapping of its own (SecretBuffer.alloc/from), and the
 * counts SecretBuffer.stats() reports for them.
 */
import { type RawRegion } from '../binding.js';
import { type Access } from '../mapping.js';
import { protectRegion, RegionGate, sealRegion, type SecretHome } from './home.js';
import { type SecretBacking } from './memory.js';

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

const counters = { live: 0, lockedBytes: 0, sealed: 0, sealedBytes: 0 };

/** @internal SecretBuffer.stats(): the counts of this thread. */
export function secretStats(): SecretBufferStats {
  return { ...counters };
}

/** @internal A mapping of one secret's own. */
export class OwnHome implements SecretHome {
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
