/**
 * A secret with a mapping of its own (SecretBuffer.alloc/from), and the
 * counts SecretBuffer.stats() reports for them.
 */
import { type RawRegion } from '../binding.js';
import { GatedHome, sealRegion, type SecretHome } from './home.js';
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
export class OwnHome extends GatedHome implements SecretHome {
  readonly pooled = false;
  #released = false;

  constructor(
    region: RawRegion,
    readonly backing: SecretBacking,
  ) {
    super(region);
    counters.live++;
    counters.lockedBytes += region.mappedLength;
  }

  get dead(): boolean {
    return this.#released;
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
