// The raw memory-management calls: mmap, munmap, mprotect, pkey_mprotect,
// madvise, mremap, mseal, mlock, and byte access to such memory. lib/ uses
// these only through the conformance suite; Mapping and SecretBuffer use the
// Region class (region.cc) instead.
//
// Every address-taking call is confined to ranges that this addon's raw mmap
// created (ranges.h), so no argument can make it change memory V8 owns. The
// only exceptions are calls the kernel refuses before touching anything: a
// zero length, a start that is not page aligned (for the calls that demand
// alignment), and ranges that wrap around the address space; those reach the
// kernel so the suite can observe its answer.
//
// A conformance child that must aim at memory it did not map (holes it just
// made, the vdso) runs with MEMSEAL_UNSAFE_RAW=1 in its environment, which
// lifts the confinement for that process only. Nothing else sets it.
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "addon.h"
#include "args.h"
#include "compat.h"
#include "errors.h"
#include "ranges.h"

namespace memseal {

namespace {

bool UnsafeRaw() {
  static const bool unsafe = [] {
    const char* v = getenv("MEMSEAL_UNSAFE_RAW");
    return v != nullptr && strcmp(v, "1") == 0;
  }();
  return unsafe;
}

// True when the kernel answers this range without changing any mapping.
bool RefusedBeforeEffect(uintptr_t start, size_t length, bool needs_alignment) {
  uintptr_t begin, end;
  if (length == 0) return true;
  if (needs_alignment && (start & (PageSize() - 1)) != 0) return true;
  return !PageSpan(start, length, &begin, &end);
}

void RequireRaw(const Napi::CallbackInfo& info, uintptr_t start, size_t length, bool aligned,
                const char* syscall) {
  if (UnsafeRaw() || RefusedBeforeEffect(start, length, aligned)) return;
  if (CoversRange(start, length, RangeKind::kRaw)) return;
  throw CodedError(info.Env(), "ERR_MEMSEAL_NOT_OWNED",
                   (std::string(syscall) +
                    ": the range is not one this addon's raw mmap created; refusing to touch it")
                       .c_str());
}

Napi::Value Address(Napi::Env env, uintptr_t addr) {
  return Napi::BigInt::New(env, static_cast<uint64_t>(addr));
}

// The advice values that could kill the process (MADV_HWPOISON,
// MADV_SOFT_OFFLINE) are never passed on.
bool AdviceAllowed(int advice) { return advice != 100 && advice != 101; }

int MmapShim(uintptr_t addr, size_t len, int prot, int flags, int fd, off_t off, uintptr_t* out) {
  void* p = mmap(reinterpret_cast<void*>(addr), len, prot, flags, fd, off);
  if (p == MAP_FAILED) return -errno;
  *out = reinterpret_cast<uintptr_t>(p);
  return 0;
}

int MunmapShim(uintptr_t addr, size_t len) {
  return munmap(reinterpret_cast<void*>(addr), len) < 0 ? -errno : 0;
}

int MprotectShim(uintptr_t addr, size_t len, int prot) {
  return mprotect(reinterpret_cast<void*>(addr), len, prot) < 0 ? -errno : 0;
}

int PkeyMprotectShim(uintptr_t addr, size_t len, int prot, int pkey) {
  return syscall(SYS_pkey_mprotect, addr, len, prot, pkey) < 0 ? -errno : 0;
}

int MadviseShim(uintptr_t addr, size_t len, int advice) {
  return madvise(reinterpret_cast<void*>(addr), len, advice) < 0 ? -errno : 0;
}

int MremapShim(uintptr_t old, size_t old_len, size_t new_len, int flags, uintptr_t new_addr,
               uintptr_t* out) {
  void* p = mremap(reinterpret_cast<void*>(old), old_len, new_len, flags,
                   reinterpret_cast<void*>(new_addr));
  if (p == MAP_FAILED) return -errno;
  *out = reinterpret_cast<uintptr_t>(p);
  return 0;
}

int MsealShim(uintptr_t addr, size_t len, unsigned long flags) {
#ifdef SYS_mseal
  return syscall(SYS_mseal, addr, len, flags) < 0 ? -errno : 0;
#else
  (void)addr, (void)len, (void)flags;
  return -ENOSYS;
#endif
}

// Through syscall(2): sanitizer runtimes turn the libc mlock into a no-op.
int MlockShim(uintptr_t addr, size_t len, bool lock) {
  return syscall(lock ? SYS_mlock : SYS_munlock, addr, len) < 0 ? -errno : 0;
}

// Reads or writes this process's own memory through process_vm_readv/writev,
// so an unmapped or protected address gives EFAULT instead of a signal.
ssize_t SelfCopyShim(uintptr_t remote, void* local, size_t len, bool write) {
  struct iovec l = {local, len};
  struct iovec r = {reinterpret_cast<void*>(remote), len};
  ssize_t n = write ? process_vm_writev(getpid(), &l, 1, &r, 1, 0)
                    : process_vm_readv(getpid(), &l, 1, &r, 1, 0);
  return n < 0 ? -errno : n;
}

int PkeyAllocShim(unsigned int flags, unsigned int rights) {
  long k = syscall(SYS_pkey_alloc, flags, rights);
  return k < 0 ? -errno : static_cast<int>(k);
}

int PkeyFreeShim(int pkey) { return syscall(SYS_pkey_free, pkey) < 0 ? -errno : 0; }

// The lines of /proc/self/maps: the mappings this process has, which
// vm.max_map_count limits.
ssize_t CountMappingsShim(const char** syscall) {
  *syscall = "open";
  const int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  *syscall = "read";
  char buf[16384];
  ssize_t lines = 0, n;
  while ((n = read(fd, buf, sizeof(buf))) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (ssize_t i = 0; i < n; i++) lines += buf[i] == '\n';
  }
  const int err = n < 0 ? errno : 0;
  close(fd);
  return err != 0 ? -err : lines;
}

// mmap(addr, length, prot, flags, fd, offset): bigint
Napi::Value Mmap(const Napi::CallbackInfo& info) {
  static const char* usage =
      "mmap(addr: bigint, length: number, prot: number, flags: number, fd: number, offset: number)";
  ArgCount(info, 6, usage);
  const uintptr_t addr = ArgAddr(info, 0, usage);
  const size_t len = ArgSize(info, 1, usage);
  const int prot = static_cast<int>(ArgU32(info, 2, usage));
  const int flags = static_cast<int>(ArgU32(info, 3, usage));
  const int fd = static_cast<int>(ArgInt(info, 4, -1, INT32_MAX, usage));
  const off_t off = static_cast<off_t>(ArgI64(info, 5, usage));
  if ((flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) != 0) RequireRaw(info, addr, len, true, "mmap");
  uintptr_t out = 0;
  const int rc = MmapShim(addr, len, prot, flags, fd, off, &out);
  if (rc < 0) throw SyscallError(info.Env(), rc, "mmap");
  AddRange(out, len, RangeKind::kRaw);
  return Address(info.Env(), out);
}

Napi::Value Munmap(const Napi::CallbackInfo& info) {
  static const char* usage = "munmap(addr: bigint, length: number)";
  ArgCount(info, 2, usage);
  const uintptr_t addr = ArgAddr(info, 0, usage);
  const size_t len = ArgSize(info, 1, usage);
  RequireRaw(info, addr, len, true, "munmap");
  const int rc = MunmapShim(addr, len);
  if (rc < 0) throw SyscallError(info.Env(), rc, "munmap");
  RemoveRange(addr, len);
  return info.Env().Undefined();
}

Napi::Value Mprotect(const Napi::CallbackInfo& info) {
  static const char* usage = "mprotect(addr: bigint, length: number, prot: number)";
  ArgCount(info, 3, usage);
  const uintptr_t addr = ArgAddr(info, 0, usage);
  const size_t len = ArgSize(info, 1, usage);
  RequireRaw(info, addr, len, true, "mprotect");
  const int rc = MprotectShim(addr, len, static_cast<int>(ArgU32(info, 2, usage)));
  if (rc < 0) throw SyscallError(info.Env(), rc, "mprotect");
  return info.Env().Undefined();
}

Napi::Value PkeyMprotect(const Napi::CallbackInfo& info) {
  static const char* usage =
      "pkeyMprotect(addr: bigint, length: number, prot: number, pkey: number)";
  ArgCount(info, 4, usage);
  const uintptr_t addr = ArgAddr(info, 0, usage);
  const size_t len = ArgSize(info, 1, usage);
  RequireRaw(info, addr, len, true, "pkey_mprotect");
  const int rc = PkeyMprotectShim(addr, len, static_cast<int>(ArgU32(info, 2, usage)),
                                  static_cast<int>(ArgInt(info, 3, -1, INT32_MAX, usage)));
  if (rc < 0) throw SyscallError(info.Env(), rc, "pkey_mprotect");
  return info.Env().Undefined();
}

Napi::Value Madvise(const Napi::CallbackInfo& info) {
  static const char* usage = "madvise(addr: bigint, length: number, advice: number)";
  ArgCount(info, 3, usage);
  const uintptr_t addr = ArgAddr(info, 0, usage);
  const size_t len = ArgSize(info, 1, usage);
  const int advice = static_cast<int>(ArgU32(info, 2, usage));
  if (!AdviceAllowed(advice)) Usage(info, usage);
  RequireRaw(info, addr, len, true, "madvise");
  const int rc = MadviseShim(addr, len, advice);
  if (rc < 0) throw SyscallError(info.Env(), rc, "madvise");
  return info.Env().Undefined();
}

// mremap(old, oldLength, newLength, flags, newAddr): bigint
Napi::Value Mremap(const Napi::CallbackInfo& info) {
  static const char* usage =
      "mremap(old: bigint, oldLength: number, newLength: number, flags: number, newAddr: bigint)";
  ArgCount(info, 5, usage);
  const uintptr_t old = ArgAddr(info, 0, usage);
  const size_t old_len = ArgSize(info, 1, usage);
  const size_t new_len = ArgSize(info, 2, usage);
  const int flags = static_cast<int>(ArgU32(info, 3, usage));
  const uintptr_t new_addr = ArgAddr(info, 4, usage);
  // An old length of 0 duplicates a shared mapping: the source must be ours.
  RequireRaw(info, old, old_len == 0 ? PageSize() : old_len, true, "mremap");
  if ((flags & MREMAP_FIXED) != 0) RequireRaw(info, new_addr, new_len, true, "mremap");
  uintptr_t out = 0;
  const int rc = MremapShim(old, old_len, new_len, flags, new_addr, &out);
  if (rc < 0) throw SyscallError(info.Env(), rc, "mremap");
  if ((flags & MREMAP_DONTUNMAP) == 0) RemoveRange(old, old_len);
  AddRange(out, new_len, RangeKind::kRaw);
  return Address(info.Env(), out);
}

Napi::Value Mseal(const Napi::CallbackInfo& info) {
  static const char* usage = "mseal(addr: bigint, length: number, flags: number | bigint)";
  ArgCount(info, 3, usage);
  const uintptr_t addr = ArgAddr(info, 0, usage);
  const size_t len = ArgSize(info, 1, usage);
  const unsigned long flags = static_cast<unsigned long>(ArgU64(info, 2, usage));
  // Invalid flags are refused before anything is sealed.
  if (flags == 0) RequireRaw(info, addr, len, true, "mseal");
  const int rc = MsealShim(addr, len, flags);
  if (rc < 0) throw SyscallError(info.Env(), rc, "mseal");
  return info.Env().Undefined();
}

Napi::Value Mlock(const Napi::CallbackInfo& info, bool lock) {
  static const char* usage = "mlock|munlock(addr: bigint, length: number)";
  ArgCount(info, 2, usage);
  const uintptr_t addr = ArgAddr(info, 0, usage);
  const size_t len = ArgSize(info, 1, usage);
  RequireRaw(info, addr, len, false, lock ? "mlock" : "munlock");
  const int rc = MlockShim(addr, len, lock);
  if (rc < 0) throw SyscallError(info.Env(), rc, lock ? "mlock" : "munlock");
  return info.Env().Undefined();
}

Napi::Value MlockJs(const Napi::CallbackInfo& info) { return Mlock(info, true); }
Napi::Value MunlockJs(const Napi::CallbackInfo& info) { return Mlock(info, false); }

// peek(addr, length): Buffer, a copy of this process's memory.
Napi::Value Peek(const Napi::CallbackInfo& info) {
  static const char* usage = "peek(addr: bigint, length: number)";
  ArgCount(info, 2, usage);
  const uintptr_t addr = ArgAddr(info, 0, usage);
  const size_t len = ArgSize(info, 1, usage);
  if (len > (size_t{1} << 30)) Usage(info, usage);
  RequireRaw(info, addr, len, false, "process_vm_readv");
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(info.Env(), len);
  const ssize_t rc = SelfCopyShim(addr, out.Data(), len, false);
  if (rc < 0) throw SyscallError(info.Env(), static_cast<int>(rc), "process_vm_readv");
  return Napi::Buffer<uint8_t>::Copy(info.Env(), out.Data(), static_cast<size_t>(rc));
}

// poke(addr, bytes): number of bytes written into this process's memory.
Napi::Value Poke(const Napi::CallbackInfo& info) {
  static const char* usage = "poke(addr: bigint, bytes: ArrayBufferView)";
  ArgCount(info, 2, usage);
  const uintptr_t addr = ArgAddr(info, 0, usage);
  Bytes bytes = ArgBytes(info, 1, usage);
  RequireRaw(info, addr, bytes.length, false, "process_vm_writev");
  const ssize_t rc = SelfCopyShim(addr, bytes.data, bytes.length, true);
  if (rc < 0) throw SyscallError(info.Env(), static_cast<int>(rc), "process_vm_writev");
  return Napi::Number::New(info.Env(), static_cast<double>(rc));
}

Napi::Value PkeyAlloc(const Napi::CallbackInfo& info) {
  static const char* usage = "pkeyAlloc(flags: number, rights: number)";
  ArgCount(info, 2, usage);
  const int rc = PkeyAllocShim(ArgU32(info, 0, usage), ArgU32(info, 1, usage));
  if (rc < 0) throw SyscallError(info.Env(), rc, "pkey_alloc");
  return Napi::Number::New(info.Env(), rc);
}

Napi::Value PkeyFree(const Napi::CallbackInfo& info) {
  static const char* usage = "pkeyFree(pkey: number)";
  ArgCount(info, 1, usage);
  const int rc = PkeyFreeShim(static_cast<int>(ArgInt(info, 0, 0, INT32_MAX, usage)));
  if (rc < 0) throw SyscallError(info.Env(), rc, "pkey_free");
  return info.Env().Undefined();
}

// countMappings(): the mappings this process has now (/proc/self/maps).
Napi::Value CountMappings(const Napi::CallbackInfo& info) {
  if (info.Length() != 0) Usage(info, "countMappings()");
  const char* syscall;
  const ssize_t n = CountMappingsShim(&syscall);
  if (n < 0) throw SyscallError(info.Env(), static_cast<int>(n), syscall);
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// ownedRanges(regions): [start, end) of every range the raw mmap created
// (or, with `regions` true, that Regions own), for the fuzzer's cleanup and
// leak checks.
Napi::Value OwnedRanges(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsBoolean()) Usage(info, "ownedRanges(regions: boolean)");
  const auto ranges =
      ListRanges(info[0].As<Napi::Boolean>().Value() ? RangeKind::kRegion : RangeKind::kRaw);
  Napi::Array out = Napi::Array::New(env, ranges.size());
  for (uint32_t i = 0; i < ranges.size(); i++) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, Address(env, ranges[i].first));
    pair.Set(1u, Address(env, ranges[i].second));
    out.Set(i, pair);
  }
  return out;
}

}  // namespace

void InitMman(Napi::Env env, Napi::Object exports) {
  exports.Set("mmap", Napi::Function::New(env, Mmap, "mmap"));
  exports.Set("munmap", Napi::Function::New(env, Munmap, "munmap"));
  exports.Set("mprotect", Napi::Function::New(env, Mprotect, "mprotect"));
  exports.Set("pkeyMprotect", Napi::Function::New(env, PkeyMprotect, "pkeyMprotect"));
  exports.Set("madvise", Napi::Function::New(env, Madvise, "madvise"));
  exports.Set("mremap", Napi::Function::New(env, Mremap, "mremap"));
  exports.Set("mseal", Napi::Function::New(env, Mseal, "mseal"));
  exports.Set("mlock", Napi::Function::New(env, MlockJs, "mlock"));
  exports.Set("munlock", Napi::Function::New(env, MunlockJs, "munlock"));
  exports.Set("peek", Napi::Function::New(env, Peek, "peek"));
  exports.Set("poke", Napi::Function::New(env, Poke, "poke"));
  exports.Set("pkeyAlloc", Napi::Function::New(env, PkeyAlloc, "pkeyAlloc"));
  exports.Set("pkeyFree", Napi::Function::New(env, PkeyFree, "pkeyFree"));
  exports.Set("ownedRanges", Napi::Function::New(env, OwnedRanges, "ownedRanges"));
  exports.Set("countMappings", Napi::Function::New(env, CountMappings, "countMappings"));
}

}  // namespace memseal
