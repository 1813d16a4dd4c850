// Region: one mapping that lib's Mapping, SecretBuffer and SecretPool own.
//
// The mapping may sit between PROT_NONE guard pages. JS sees it through
// external ArrayBuffers ("views"); the Region keeps a weak reference to each,
// and detaches them all before the memory stops being readable (protect to
// PROT_NONE, unmap), so a stale view reads as length 0 instead of faulting.
//
// Lifetime: a small refcounted State is shared by the Region object and by
// every live view. Whichever lets go last (explicit unmap aside) wipes the
// memory if asked to and unmaps it, so GC never frees memory a view can still
// reach, and nothing is unmapped twice. The environment that made a Region
// holds it too (lifetime.h): when the environment is torn down, what is still
// mapped is wiped and unmapped; at exit(3) it is wiped.
//
// Memory that holds secrets (`wipe`) is zeroed before it goes on every path,
// at any protection: a region at PROT_NONE or PROT_READ is made writable
// first. Only a sealed one cannot be (the kernel refuses), and it is never
// unmapped either: its bytes stay until the process exits.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <vector>

#include "addon.h"
#include "args.h"
#include "compat.h"
#include "errors.h"
#include "lifetime.h"
#include "ranges.h"

namespace memseal {

namespace {

struct State {
  std::atomic<int> refs{1};
  uintptr_t base = 0;  // start of the reservation (first guard page)
  size_t total = 0;    // reservation length, guards included
  uintptr_t data = 0;  // first byte JS sees
  size_t length = 0;   // bytes JS sees
  size_t mapped = 0;   // length rounded up to the mapping's page size
  int prot = PROT_NONE;
  bool wipe = false;   // zero the bytes before the memory is released
  bool dirty = false;  // written through a view or write(): worth wiping
  bool unmapped = false;
  bool sealed = false;
  EnvResources* owner = nullptr;  // the environment that holds it, until released
  int64_t mappings = 0;           // what it adds to the process's count of mappings, at most
};

// The mappings all Regions hold, process-wide: an upper bound (3 for memory
// between guard pages, 1 otherwise), since the guard pages of neighbouring
// Regions merge into one mapping. lib/ reads /proc/self/maps only when this
// has grown enough to matter (vm.max_map_count).
std::atomic<int64_t> region_mappings{0};

void WipeShim(uintptr_t data, size_t length) {
  explicit_bzero(reinterpret_cast<void*>(data), length);
}

// Constant time in `length`: every byte is read whatever the answer.
bool EqualShim(const volatile uint8_t* a, const volatile uint8_t* b, size_t length) {
  uint8_t diff = 0;
  for (size_t i = 0; i < length; i++) diff = static_cast<uint8_t>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

int MprotectShim(uintptr_t addr, size_t len, int prot) {
  return mprotect(reinterpret_cast<void*>(addr), len, prot) < 0 ? -errno : 0;
}

int MunmapShim(uintptr_t addr, size_t len) {
  return munmap(reinterpret_cast<void*>(addr), len) < 0 ? -errno : 0;
}

int MsealShim(uintptr_t addr, size_t len) {
#ifdef SYS_mseal
  return syscall(SYS_mseal, addr, len, 0UL) < 0 ? -errno : 0;
#else
  (void)addr, (void)len;
  return -ENOSYS;
#endif
}

// Reserves [guard | length | guard] and maps the middle as asked.
// Faults [data, data + length) in from the kernel side, by reading zeros
// into it (/dev/zero, else a sparse memfd): a page the kernel refuses to back
// ends the read short instead of raising SIGBUS, as a first touch from user
// space would. Secret memory needs this on kernels with the CVE-2026-93243
// fix, which charge each page to RLIMIT_MEMLOCK when it is first faulted in.
// Returns the bytes faulted in, or -errno when no source could be opened.
ssize_t PopulateShim(uintptr_t data, size_t length) {
  bool sparse = false;
  int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fd = static_cast<int>(syscall(SYS_memfd_create, "memseal-populate", MFD_CLOEXEC));
    if (fd < 0) return -errno;
    sparse = true;
    if (ftruncate(fd, static_cast<off_t>(length)) < 0) {
      const int err = errno;
      close(fd);
      return -err;
    }
  }
  size_t done = 0;
  while (done < length) {
    void* at = reinterpret_cast<void*>(data + done);
    const ssize_t n = sparse ? pread(fd, at, length - done, static_cast<off_t>(done))
                             : read(fd, at, length - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EFAULT: the kernel would not back the next page
    done += static_cast<size_t>(n);
  }
  close(fd);
  return static_cast<ssize_t>(done);
}

int MapShim(State* s, int prot, int flags, int fd, off_t offset, size_t guard) {
  int extra = guard > 0 ? MAP_FIXED : 0;
  void* base = nullptr;
  if (guard > 0) {
    base = mmap(nullptr, s->total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) return -errno;
  }
  void* want = guard > 0 ? static_cast<char*>(base) + guard : nullptr;
  void* data = mmap(want, s->mapped, prot, flags | extra, fd, offset);
  if (data == MAP_FAILED) {
    const int err = errno;
    if (guard > 0) munmap(base, s->total);
    return -err;
  }
  s->base = guard > 0 ? reinterpret_cast<uintptr_t>(base) : reinterpret_cast<uintptr_t>(data);
  s->data = reinterpret_cast<uintptr_t>(data);
  return 0;
}

// Zeroes the bytes of a region that holds secrets before its memory goes,
// making it writable first if it is not. A sealed region that is not
// writable cannot be wiped (nor unmapped): 0 all the same. -errno when the
// protection could not be raised.
int WipeBeforeRelease(State* s) {
  if (!s->wipe || !s->dirty) return 0;
  if ((s->prot & PROT_WRITE) == 0) {
    if (s->sealed) return 0;
    const int rc = MprotectShim(s->data, s->mapped, PROT_READ | PROT_WRITE);
    if (rc < 0) return rc;
    s->prot = PROT_READ | PROT_WRITE;
  }
  WipeShim(s->data, s->length);
  return 0;
}

void Disown(State* s) {
  if (s->owner != nullptr) s->owner->RemoveRegion(s);
  s->owner = nullptr;
}

// Wipes (secrets), then unmaps. 0, or -errno and the call that failed: the
// memory stays mapped then, as memory released unwiped would reach the page
// allocator with its bytes.
int ReleaseMemory(State* s, const char** syscall) {
  *syscall = "mprotect";
  int rc = WipeBeforeRelease(s);
  if (rc < 0) return rc;
  *syscall = "munmap";
  rc = MunmapShim(s->base, s->total);
  if (rc < 0) return rc;
  RemoveRange(s->base, s->total);
  region_mappings.fetch_sub(s->mappings);
  s->unmapped = true;
  Disown(s);
  return 0;
}

// Drops one reference; the last one releases the memory unless it is sealed
// (the kernel would refuse) or already gone.
void Release(State* s) {
  if (s->refs.fetch_sub(1) != 1) return;
  const char* syscall;
  if (!s->unmapped && !s->sealed) ReleaseMemory(s, &syscall);
  Disown(s);
  delete s;
}

// The environment is going (kTeardown): release the memory, views or not,
// as no JS will touch it again; the State itself goes with its last
// reference. The process is going (kExit): wipe only.
void EndRegion(void* region, Ending how) {
  State* s = static_cast<State*>(region);
  if (s->unmapped) return;
  if (how == Ending::kTeardown) s->owner = nullptr;
  const char* syscall;
  if (how == Ending::kExit || s->sealed) {
    WipeBeforeRelease(s);
  } else {
    ReleaseMemory(s, &syscall);
  }
}

#ifndef NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED
void FinalizeView(napi_env, void*, void* hint) { Release(static_cast<State*>(hint)); }
#endif

// Marks Region objects, so that no other object (hostile JS can make
// `instanceof Region` say anything) is ever taken for one.
const napi_type_tag kRegionTag = {0x6d656d7365616c52ULL, 0x6567696f6e546167ULL};

bool ProtAllowed(int prot) {
  return prot == PROT_NONE || prot == PROT_READ || prot == (PROT_READ | PROT_WRITE);
}

// Only advice that changes no byte and cannot raise a signal.
bool AdviceAllowed(int advice) {
  switch (advice) {
    case MADV_NORMAL:
    case MADV_RANDOM:
    case MADV_SEQUENTIAL:
    case MADV_WILLNEED:
    case MADV_DONTFORK:
    case MADV_DOFORK:
    case MADV_DONTDUMP:
    case MADV_DODUMP:
    case MADV_WIPEONFORK:
    case MADV_KEEPONFORK:
      return true;
    default:
      return false;
  }
}

class Region : public Napi::ObjectWrap<Region> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Region",
                       {
                           InstanceAccessor<&Region::Address>("address"),
                           InstanceAccessor<&Region::Length>("length"),
                           InstanceAccessor<&Region::MappedLength>("mappedLength"),
                           InstanceAccessor<&Region::Prot>("prot"),
                           InstanceAccessor<&Region::Sealed>("sealed"),
                           InstanceAccessor<&Region::Unmapped>("unmapped"),
                           InstanceMethod<&Region::View>("view"),
                           InstanceMethod<&Region::Detach>("detach"),
                           InstanceMethod<&Region::Protect>("protect"),
                           InstanceMethod<&Region::Advise>("advise"),
                           InstanceMethod<&Region::Lock>("lock"),
                           InstanceMethod<&Region::Populate>("populate"),
                           InstanceMethod<&Region::Seal>("seal"),
                           InstanceMethod<&Region::Wipe>("wipe"),
                           InstanceMethod<&Region::Compare>("compare"),
                           InstanceMethod<&Region::WipeSlot>("wipeSlot"),
                           InstanceMethod<&Region::Read>("read"),
                           InstanceMethod<&Region::Write>("write"),
                           InstanceMethod<&Region::Unmap>("unmap"),
                       });
  }

  // new Region(length, prot, flags, fd, offset, guardPages, pageSize, wipe)
  explicit Region(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Region>(info) {
    static const char* usage =
        "new Region(length: number, prot: number, flags: number, fd: number, offset: number, "
        "guardPages: number, pageSize: number, wipe: boolean)";
    ArgCount(info, 8, usage);
    const size_t length = ArgSize(info, 0, usage);
    const int prot = static_cast<int>(ArgU32(info, 1, usage));
    const int flags = static_cast<int>(ArgU32(info, 2, usage));
    const int fd = static_cast<int>(ArgInt(info, 3, -1, INT32_MAX, usage));
    const off_t offset = static_cast<off_t>(ArgI64(info, 4, usage));
    const size_t guards = static_cast<size_t>(ArgInt(info, 5, 0, 16, usage));
    const size_t align = static_cast<size_t>(ArgInt(info, 6, 1, int64_t{1} << 30, usage));
    if (!info[7].IsBoolean() || length == 0 || length > (size_t{1} << 46) || !ProtAllowed(prot) ||
        (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) != 0 || (align & (align - 1)) != 0 ||
        align < PageSize()) {
      Usage(info, usage);
    }
    state_ = new State();
    state_->length = length;
    state_->mapped = (length + align - 1) & ~(align - 1);
    const size_t guard = guards * PageSize();
    state_->total = state_->mapped + 2 * guard;
    state_->prot = prot;
    state_->wipe = info[7].As<Napi::Boolean>().Value();
    const int rc = MapShim(state_, prot, flags, fd, offset, guard);
    if (rc < 0) {
      delete state_;
      state_ = nullptr;
      throw SyscallError(info.Env(), rc, "mmap");
    }
    AddRange(state_->base, state_->total, RangeKind::kRegion);
    state_->mappings = guard > 0 ? 3 : 1;
    region_mappings.fetch_add(state_->mappings);
    state_->owner = GetEnvResources(info.Env());
    state_->owner->AddRegion(state_, EndRegion);
    info.This().As<Napi::Object>().TypeTag(&kRegionTag);
  }

  ~Region() override {
    if (state_ != nullptr) Release(state_);
  }

 private:
  Napi::Value Address(const Napi::CallbackInfo& info) {
    return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(state_->data));
  }
  Napi::Value Length(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(state_->length));
  }
  Napi::Value MappedLength(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(state_->mapped));
  }
  Napi::Value Prot(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), state_->prot);
  }
  Napi::Value Sealed(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), state_->sealed);
  }
  Napi::Value Unmapped(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), state_->unmapped);
  }

  void CheckMapped(Napi::Env env) {
    if (state_->unmapped) {
      throw CodedError(env, "ERR_MEMSEAL_UNMAPPED", "The region has been unmapped");
    }
  }

  // view([offset, length]): ArrayBuffer over the mapping (or part of it),
  // zero copies. Every view holds a reference on the memory.
  Napi::Value View(const Napi::CallbackInfo& info) {
    static const char* usage = "view([offset: number, length: number])";
    Napi::Env env = info.Env();
    if (info.Length() != 0) ArgCount(info, 2, usage);
    const size_t offset = info.Length() == 0 ? 0 : ArgSize(info, 0, usage);
    const size_t length = info.Length() == 0 ? state_->length : ArgSize(info, 1, usage);
    CheckMapped(env);
    CheckSpan(info, offset, length, state_->length, usage);
    if ((state_->prot & PROT_READ) == 0) {
      throw CodedError(env, "ERR_MEMSEAL_NO_ACCESS",
                       "The region is not readable (protect it first)");
    }
#ifdef NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED
    throw CodedError(env, "ERR_MEMSEAL_NO_EXTERNAL_BUFFERS",
                     "This build of memseal cannot expose external memory as a Buffer; "
                     "use read(), write() or use() instead");
#else
    state_->refs.fetch_add(1);
    napi_value ab;
    napi_status status = napi_create_external_arraybuffer(
        env, reinterpret_cast<void*>(state_->data + offset), length, FinalizeView, state_, &ab);
    if (status != napi_ok) {
      state_->refs.fetch_sub(1);
      if (env.IsExceptionPending()) throw env.GetAndClearPendingException();
      throw CodedError(env, "ERR_MEMSEAL_NO_EXTERNAL_BUFFERS",
                       "This runtime does not allow external ArrayBuffers (a V8 sandbox); "
                       "use read(), write() or use() instead");
    }
    state_->dirty = true;  // it may become writable later
    if (views_.size() >= prune_at_) Prune();
    views_.push_back(Napi::Weak(Napi::ArrayBuffer(env, ab)));
    return Napi::Value(env, ab);
#endif
  }

  void Prune() {
    std::vector<Napi::Reference<Napi::ArrayBuffer>> live;
    for (auto& ref : views_) {
      if (!ref.Value().IsEmpty()) live.push_back(std::move(ref));
    }
    views_.swap(live);
    prune_at_ = 2 * views_.size() + 64;  // amortized: many live views stay cheap
  }

  void DetachAll() {
    for (auto& ref : views_) {
      Napi::ArrayBuffer ab = ref.Value();
      if (!ab.IsEmpty() && !ab.IsDetached()) ab.Detach();
    }
    views_.clear();
  }

  // detach([view]): detaches every view, or only `view` when it is an
  // ArrayBuffer over this region's memory (anything else is left alone).
  Napi::Value Detach(const Napi::CallbackInfo& info) {
    static const char* usage = "detach([view: ArrayBuffer])";
    Napi::Env env = info.Env();
    if (info.Length() == 0) {
      DetachAll();
      return env.Undefined();
    }
    ArgCount(info, 1, usage);
    if (!info[0].IsArrayBuffer()) Usage(info, usage);
    Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
    if (ab.IsDetached()) return Napi::Boolean::New(env, false);
    const uintptr_t at = reinterpret_cast<uintptr_t>(ab.Data());
    const bool ours = !state_->unmapped && at >= state_->data &&
                      at - state_->data <= state_->length &&
                      ab.ByteLength() <= state_->length - (at - state_->data);
    if (ours) ab.Detach();
    return Napi::Boolean::New(env, ours);
  }

  // protect(prot): views are detached first when the memory stops being readable.
  Napi::Value Protect(const Napi::CallbackInfo& info) {
    static const char* usage = "protect(prot: PROT_NONE | PROT_READ | PROT_READ|PROT_WRITE)";
    ArgCount(info, 1, usage);
    const int prot = static_cast<int>(ArgU32(info, 0, usage));
    if (!ProtAllowed(prot)) Usage(info, usage);
    CheckMapped(info.Env());
    if ((prot & PROT_READ) == 0) DetachAll();
    const int rc = MprotectShim(state_->data, state_->mapped, prot);
    if (rc < 0) throw SyscallError(info.Env(), rc, "mprotect");
    state_->prot = prot;
    return info.Env().Undefined();
  }

  Napi::Value Advise(const Napi::CallbackInfo& info) {
    static const char* usage = "advise(advice: number)";
    ArgCount(info, 1, usage);
    const int advice = static_cast<int>(ArgU32(info, 0, usage));
    if (!AdviceAllowed(advice)) Usage(info, usage);
    CheckMapped(info.Env());
    if (madvise(reinterpret_cast<void*>(state_->data), state_->mapped, advice) < 0) {
      throw SyscallError(info.Env(), errno, "madvise");
    }
    return info.Env().Undefined();
  }

  Napi::Value Lock(const Napi::CallbackInfo& info) {
    CheckMapped(info.Env());
    // The syscall itself, not libc's mlock: an interposer (AddressSanitizer's
    // runtime is one) may make mlock() a no-op that reports success, which
    // would leave secrets swappable without a word.
    if (syscall(SYS_mlock, state_->data, state_->mapped) < 0) {
      throw SyscallError(info.Env(), errno, "mlock");
    }
    return info.Env().Undefined();
  }

  // populate(): faults the mapped pages in without risking SIGBUS; returns
  // how many bytes the kernel backed (short when it refused a page).
  Napi::Value Populate(const Napi::CallbackInfo& info) {
    CheckMapped(info.Env());
    if ((state_->prot & PROT_WRITE) == 0) {
      throw CodedError(info.Env(), "ERR_MEMSEAL_NO_ACCESS",
                       "The region is not writable (protect it first)");
    }
    const ssize_t n = PopulateShim(state_->data, state_->mapped);
    if (n < 0) throw SyscallError(info.Env(), static_cast<int>(n), "open");
    return Napi::Number::New(info.Env(), static_cast<double>(n));
  }

  // seal(): mseal over the whole reservation, guard pages included.
  Napi::Value Seal(const Napi::CallbackInfo& info) {
    CheckMapped(info.Env());
    const int rc = MsealShim(state_->base, state_->total);
    if (rc < 0) throw SyscallError(info.Env(), rc, "mseal");
    state_->sealed = true;
    return info.Env().Undefined();
  }

  // wipe([offset, length]): zeroes the bytes (all, or a span) if the mapping
  // is writable; returns whether it did.
  Napi::Value Wipe(const Napi::CallbackInfo& info) {
    static const char* usage = "wipe([offset: number, length: number])";
    if (info.Length() != 0) ArgCount(info, 2, usage);
    const size_t offset = info.Length() == 0 ? 0 : ArgSize(info, 0, usage);
    const size_t length = info.Length() == 0 ? state_->length : ArgSize(info, 1, usage);
    CheckMapped(info.Env());
    CheckSpan(info, offset, length, state_->length, usage);
    const bool writable = (state_->prot & PROT_WRITE) != 0;
    if (writable) WipeShim(state_->data + offset, length);
    return Napi::Boolean::New(info.Env(), writable);
  }

  // compare(offset, other, otherOffset, length): whether `length` bytes here
  // equal those of `other` (a Region or an ArrayBufferView), in constant time.
  Napi::Value Compare(const Napi::CallbackInfo& info) {
    static const char* usage =
        "compare(offset: number, other: Region | ArrayBufferView, otherOffset: number, "
        "length: number)";
    ArgCount(info, 4, usage);
    const size_t offset = ArgSize(info, 0, usage);
    const size_t other_offset = ArgSize(info, 2, usage);
    const size_t length = ArgSize(info, 3, usage);
    Bytes other = OtherBytes(info, 1, usage);
    CheckMapped(info.Env());
    CheckSpan(info, offset, length, state_->length, usage);
    CheckSpan(info, other_offset, length, other.length, usage);
    if ((state_->prot & PROT_READ) == 0) {
      throw CodedError(info.Env(), "ERR_MEMSEAL_NO_ACCESS", "The region is not readable");
    }
    const uint8_t* here = reinterpret_cast<const uint8_t*>(state_->data) + offset;
    return Napi::Boolean::New(info.Env(), EqualShim(here, other.data + other_offset, length));
  }

  // wipeSlot(offset, length, canary): for SecretPool slots. Checks the
  // canary.length bytes before and after [offset, offset + length) against
  // `canary` (constant time), then zeroes the span. Returns a bit mask: 1 when
  // the bytes before differ, 2 when those after do.
  Napi::Value WipeSlot(const Napi::CallbackInfo& info) {
    static const char* usage = "wipeSlot(offset: number, length: number, canary: ArrayBufferView)";
    ArgCount(info, 3, usage);
    const size_t offset = ArgSize(info, 0, usage);
    const size_t length = ArgSize(info, 1, usage);
    Bytes canary = ArgBytes(info, 2, usage);
    CheckMapped(info.Env());
    if (offset < canary.length) Usage(info, usage);
    CheckSpan(info, offset - canary.length, length + 2 * canary.length, state_->length, usage);
    if ((state_->prot & PROT_WRITE) == 0) {
      throw CodedError(info.Env(), "ERR_MEMSEAL_NO_ACCESS", "The region is not writable");
    }
    const uint8_t* start = reinterpret_cast<const uint8_t*>(state_->data) + offset;
    int bad = EqualShim(start - canary.length, canary.data, canary.length) ? 0 : 1;
    bad |= EqualShim(start + length, canary.data, canary.length) ? 0 : 2;
    WipeShim(state_->data + offset, length);
    return Napi::Number::New(info.Env(), bad);
  }

  // The bytes of an ArrayBufferView or of another Region (readable, mapped).
  Bytes OtherBytes(const Napi::CallbackInfo& info, size_t i, const char* usage) {
    Napi::Env env = info.Env();
    Napi::Value v = info[i];
    if (v.IsTypedArray() || v.IsDataView() || v.IsArrayBuffer()) return ArgBytes(info, i, usage);
    if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kRegionTag)) Usage(info, usage);
    const State* other = Unwrap(v.As<Napi::Object>())->state_;
    if (other == nullptr || other->unmapped) {
      throw CodedError(env, "ERR_MEMSEAL_UNMAPPED", "The other region has been unmapped");
    }
    if ((other->prot & PROT_READ) == 0) {
      throw CodedError(env, "ERR_MEMSEAL_NO_ACCESS", "The other region is not readable");
    }
    return {reinterpret_cast<uint8_t*>(other->data), other->length};
  }

  // read(offset, target, targetOffset, length) / write(offset, source,
  // sourceOffset, length): copies for runtimes without external buffers.
  Napi::Value Copy(const Napi::CallbackInfo& info, bool into_region) {
    static const char* usage =
        "read|write(offset: number, bytes: ArrayBufferView, bytesOffset: number, length: number)";
    ArgCount(info, 4, usage);
    const size_t offset = ArgSize(info, 0, usage);
    Bytes bytes = ArgBytes(info, 1, usage);
    const size_t bytes_offset = ArgSize(info, 2, usage);
    const size_t length = ArgSize(info, 3, usage);
    CheckMapped(info.Env());
    CheckSpan(info, offset, length, state_->length, usage);
    CheckSpan(info, bytes_offset, length, bytes.length, usage);
    const int need = into_region ? PROT_WRITE : PROT_READ;
    if ((state_->prot & need) == 0) {
      throw CodedError(info.Env(), "ERR_MEMSEAL_NO_ACCESS",
                       into_region ? "The region is not writable" : "The region is not readable");
    }
    if (length == 0) return Napi::Number::New(info.Env(), 0);
    uint8_t* region = reinterpret_cast<uint8_t*>(state_->data) + offset;
    if (into_region) {
      state_->dirty = true;
      memmove(region, bytes.data + bytes_offset, length);
    } else {
      memmove(bytes.data + bytes_offset, region, length);
    }
    return Napi::Number::New(info.Env(), static_cast<double>(length));
  }

  Napi::Value Read(const Napi::CallbackInfo& info) { return Copy(info, false); }
  Napi::Value Write(const Napi::CallbackInfo& info) { return Copy(info, true); }

  // unmap(): detach views, wipe if asked (at any protection), munmap.
  // Idempotent. A sealed region gets the kernel's EPERM and stays mapped.
  Napi::Value Unmap(const Napi::CallbackInfo& info) {
    if (state_->unmapped) return info.Env().Undefined();
    DetachAll();
    const char* syscall;
    const int rc = ReleaseMemory(state_, &syscall);
    if (rc < 0) throw SyscallError(info.Env(), rc, syscall);
    return info.Env().Undefined();
  }

  State* state_ = nullptr;
  std::vector<Napi::Reference<Napi::ArrayBuffer>> views_;
  size_t prune_at_ = 64;
};

// regionMappings(): how many mappings the Regions of this process hold, at most.
Napi::Value RegionMappings(const Napi::CallbackInfo& info) {
  if (info.Length() != 0) Usage(info, "regionMappings()");
  return Napi::Number::New(info.Env(), static_cast<double>(region_mappings.load()));
}

}  // namespace

void InitRegion(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = Region::Define(env);
  GetAddonData(env)->region_class = Napi::Persistent(cls);
  exports.Set("Region", cls);
  exports.Set("regionMappings", Napi::Function::New(env, RegionMappings, "regionMappings"));
}

}  // namespace memseal
