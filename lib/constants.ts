/**
 * Kernel flag values, read from the addon (which takes them from the kernel
 * headers, with fallbacks for older libc headers). Loading this module loads
 * the addon, so importing memseal on another OS fails here, at load, with
 * code ERR_MEMSEAL_UNSUPPORTED_PLATFORM.
 */
import { binding } from './binding.js';

const NAMES = [
  'MFD_CLOEXEC', 'MFD_ALLOW_SEALING', 'MFD_HUGETLB', 'MFD_NOEXEC_SEAL', 'MFD_EXEC', 'MFD_HUGE_SHIFT', 'MFD_HUGE_MASK',
  'F_ADD_SEALS', 'F_GET_SEALS', 'F_SEAL_SEAL', 'F_SEAL_SHRINK', 'F_SEAL_GROW', 'F_SEAL_WRITE', 'F_SEAL_FUTURE_WRITE',
  'F_SEAL_EXEC', 'F_GETFD', 'F_SETFD', 'F_GETFL', 'FD_CLOEXEC', 'O_CLOEXEC', 'O_NONBLOCK', 'O_RDONLY', 'O_WRONLY',
  'O_RDWR', 'O_TMPFILE', 'O_LARGEFILE', 'PROT_NONE', 'PROT_READ', 'PROT_WRITE', 'PROT_EXEC', 'MAP_SHARED',
  'MAP_PRIVATE', 'MAP_ANONYMOUS', 'MAP_FIXED', 'MAP_FIXED_NOREPLACE', 'MAP_NORESERVE', 'MAP_POPULATE',
  'MREMAP_MAYMOVE', 'MREMAP_FIXED', 'MREMAP_DONTUNMAP', 'MADV_NORMAL', 'MADV_RANDOM', 'MADV_SEQUENTIAL',
  'MADV_WILLNEED', 'MADV_DONTNEED', 'MADV_FREE', 'MADV_REMOVE', 'MADV_DONTFORK', 'MADV_DOFORK', 'MADV_DONTDUMP',
  'MADV_DODUMP', 'MADV_WIPEONFORK', 'MADV_KEEPONFORK', 'MADV_COLD', 'MADV_PAGEOUT', 'MADV_DONTNEED_LOCKED',
  'MADV_GUARD_INSTALL', 'MADV_GUARD_REMOVE', 'SYS_memfd_create', 'SYS_memfd_secret', 'SYS_mseal', 'SYS_cachestat',
  'PAGE_SIZE',
] as const;

/** The name of one kernel constant memseal exports. */
export type ConstantName = (typeof NAMES)[number];

function read(): Readonly<Record<ConstantName, number>> {
  const raw = binding().constants;
  const out = {} as Record<ConstantName, number>;
  for (const name of NAMES) {
    const value = raw[name];
    if (typeof value !== 'number') throw new Error(`memseal: the addon does not export ${name}; rebuild it`);
    out[name] = value;
  }
  return Object.freeze(out);
}

/** Kernel flag values (MFD_*, F_SEAL_*, PROT_*, MAP_*, MADV_*), frozen. */
export const constants: Readonly<Record<ConstantName, number>> = read();

/** The system page size in bytes. */
export const PAGE_SIZE: number = constants.PAGE_SIZE;
