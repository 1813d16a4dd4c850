// Everything the kernel has and the build machine's libc headers may lack.
// Debian 12's glibc 2.36 headers predate MFD_EXEC, MFD_NOEXEC_SEAL,
// F_SEAL_EXEC and the mseal syscall number. Values are the kernel's UAPI ones
// (include/uapi/linux/memfd.h, fcntl.h, arch/x86/entry/syscalls/syscall_64.tbl).
#ifndef MEMSEAL_COMPAT_H_
#define MEMSEAL_COMPAT_H_

#include <fcntl.h>
#include <linux/memfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

// memfd_create(2) flags.
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U  // Linux 6.3
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U  // Linux 6.3
#endif
#ifndef MFD_HUGE_SHIFT
#define MFD_HUGE_SHIFT 26
#endif
#ifndef MFD_HUGE_MASK
#define MFD_HUGE_MASK 0x3fU
#endif

// fcntl(2) sealing.
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#endif
#ifndef F_GET_SEALS
#define F_GET_SEALS 1034
#endif
#ifndef F_SEAL_SEAL
#define F_SEAL_SEAL 0x0001
#endif
#ifndef F_SEAL_SHRINK
#define F_SEAL_SHRINK 0x0002
#endif
#ifndef F_SEAL_GROW
#define F_SEAL_GROW 0x0004
#endif
#ifndef F_SEAL_WRITE
#define F_SEAL_WRITE 0x0008
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010  // Linux 5.1
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020  // Linux 6.3
#endif

// madvise(2) advice newer than some headers.
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif
#ifndef MADV_KEEPONFORK
#define MADV_KEEPONFORK 19
#endif
#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102  // Linux 6.13
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

// Syscall numbers the build's kernel headers may predate (Debian 12's are
// 6.1). From 424 on, every architecture shares one number for each new
// syscall (the unified table since Linux 5.1), so these hold for both targets,
// x86-64 and arm64; elsewhere an unknown number makes the shim answer -ENOSYS
// instead of failing to compile.
#if defined(__x86_64__) || defined(__aarch64__)
#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447  // Linux 5.14
#endif
#ifndef SYS_mseal
#define SYS_mseal 462  // Linux 6.10
#endif
#ifndef SYS_cachestat
#define SYS_cachestat 451  // Linux 6.5: the control call for seccomp detection
#endif
#endif

#endif  // MEMSEAL_COMPAT_H_
