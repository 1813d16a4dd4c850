/**
 * Mapping secret memory: memfd_secret between guard pages, or the mlock
 * fallback, with a full RLIMIT_MEMLOCK explained as a MemlockLimitError.
 */
import { constants as osConstants } from 'node:os';
import { binding, type RawRegion } from '../binding.js';
import { constants, PAGE_SIZE } from '../constants.js';
import { MemlockLimitError, SyscallError, UnsupportedError } from '../errors.js';
import { explainUnavailable } from '../features.js';
import { hasCapability, procStatusField } from '../kernel.js';
import { explainMapCount } from '../mapcount.js';
import { mapRegion } from '../mapping.js';

/** Where a secret's bytes live: memfd_secret memory, or locked anonymous memory. */
export type SecretBacking = 'secretmem' | 'mlock';

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function vmLckBytes(): number {
  const v = procStatusField('VmLck');
  const m = v === undefined ? null : /^(\d+)\s*kB/.exec(v);
  return m ? Number(m[1]) * 1024 : -1;
}

/**
 * @internal Turns a failure to lock memory into a MemlockLimitError when
 * RLIMIT_MEMLOCK is what refused: never for a process with CAP_IPC_LOCK
 * (root), which the limit does not bind at mmap or mlock; else EAGAIN from
 * mmap of secret memory always, ENOMEM or EPERM when the numbers say so. An
 * ENOMEM near vm.max_map_count becomes a MapCountError. Anything else passes
 * through.
 */
export function explainMemlock(err: unknown, requested: number): unknown {
  if (!(err instanceof SyscallError) || !['EAGAIN', 'ENOMEM', 'EPERM'].includes(err.code)) return err;
  const mapCount = explainMapCount(err, 3);
  if (mapCount !== err) return mapCount;
  if (hasCapability(binding().procConstants.CAP_IPC_LOCK!)) return err;
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

/** The regions mapSecretRegion() mapped: the only memory a pooled secret may live in. */
const SECRET_REGIONS = new WeakSet<RawRegion>();

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

/** @internal True for a region mapSecretRegion() mapped. */
export function isSecretRegion(region: RawRegion | undefined): region is RawRegion {
  return region !== undefined && SECRET_REGIONS.has(region);
}
