/**
 * Keeping the process clear of vm.max_map_count, the kernel's limit on the
 * mappings one process may have (65530 by default). At the limit every mmap
 * and mprotect fails with ENOMEM, V8's and Node's own too, and the runtime
 * then aborts ("Zone Allocation failed", heap out of memory) rather than
 * throwing. So before memseal maps memory it makes sure the process keeps a
 * reserve of mappings for the runtime, and throws MapCountError otherwise.
 *
 * Reading /proc/self/maps costs what the kernel takes to print every
 * mapping (about 1 us each: 60 ms near the default limit), so it is read
 * only now and then: the addon counts the mappings memseal's own regions
 * hold (process-wide, all threads), and the count of the whole process is
 * read again once memseal's own have grown by half the room that was left
 * at the last reading, or by half the reserve, whichever is less.
 */
import { binding } from './binding.js';
import { MapCountError, SyscallError } from './errors.js';
import { readSmallFile } from './kernel.js';

/** Mappings left free for the runtime: an eighth of vm.max_map_count, at least 2048. */
export function mapCountReserve(maxMapCount: number): number {
  return Math.max(2048, Math.floor(maxMapCount / 8));
}

/** regionMappings() at the last reading of the process's count, or lower since. */
let base = 0;
/** How far memseal's own mappings may grow from `base` before the next reading; -1: read now. */
let interval = -1;

interface MapCount {
  maxMapCount: number;
  mapCount: number;
  reserve: number;
}

/** vm.max_map_count and the process's mappings now; undefined where /proc cannot tell. */
function readMapCount(): MapCount | undefined {
  const limit = Number(readSmallFile('/proc/sys/vm/max_map_count'));
  if (!Number.isSafeInteger(limit) || limit <= 0) return undefined;
  let count: number;
  try {
    count = binding().countMappings();
  } catch {
    return undefined;
  }
  return { maxMapCount: limit, mapCount: count, reserve: mapCountReserve(limit) };
}

/**
 * @internal Throws MapCountError unless `cost` more mappings (3 for memory
 * between guard pages, 1 otherwise) leave the reserve free.
 */
export function reserveMappings(cost: number): void {
  const ours = binding().regionMappings();
  if (ours < base) base = ours;
  if (ours + cost - base <= interval) return;
  const now = readMapCount();
  if (now === undefined) return;
  const room = now.maxMapCount - now.reserve - now.mapCount;
  if (cost > room) {
    interval = -1;
    throw new MapCountError({ ...now, requested: cost });
  }
  // Until the next reading memseal takes at most half the room, and never
  // more than half the reserve: what the rest of the process maps meanwhile
  // is not seen until then.
  base = ours;
  interval = Math.max(cost, Math.min(Math.floor(room / 2), Math.floor(now.reserve / 2)));
}

/**
 * @internal An ENOMEM from mmap, mprotect or mlock becomes a MapCountError
 * when the process is inside the reserve (the kernel refused a mapping);
 * anything else passes through.
 */
export function explainMapCount(err: unknown, cost: number): unknown {
  if (!(err instanceof SyscallError) || err.code !== 'ENOMEM') return err;
  const now = readMapCount();
  if (now === undefined || now.mapCount + cost <= now.maxMapCount - now.reserve) return err;
  return new MapCountError({ ...now, requested: cost, cause: err });
}
