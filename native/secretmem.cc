// memfd_secret(2), and the control call that tells a seccomp filter apart
// from a kernel that lacks a syscall.
#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addon.h"
#include "args.h"
#include "compat.h"
#include "errors.h"

namespace memseal {

namespace {

int MemfdSecretShim(unsigned int flags) {
#ifdef SYS_memfd_secret
  long fd = syscall(SYS_memfd_secret, flags);
  return fd < 0 ? -errno : static_cast<int>(fd);
#else
  (void)flags;
  return -ENOSYS;
#endif
}

// cachestat(-1, NULL, NULL, 0): a kernel that has it (6.5+) answers EBADF
// without side effects; a filter that denies unknown syscalls answers
// otherwise (ENOSYS, EPERM). Returns the errno seen (0 if it succeeded).
int CachestatControlShim() {
#ifdef SYS_cachestat
  return syscall(SYS_cachestat, -1, nullptr, nullptr, 0) < 0 ? errno : 0;
#else
  return ENOSYS;
#endif
}

// memfdSecret(flags: number): number
Napi::Value MemfdSecret(const Napi::CallbackInfo& info) {
  static const char* usage = "memfdSecret(flags: number)";
  ArgCount(info, 1, usage);
  const int fd = MemfdSecretShim(ArgU32(info, 0, usage));
  if (fd < 0) throw SyscallError(info.Env(), fd, "memfd_secret");
  return Napi::Number::New(info.Env(), fd);
}

// controlSyscallErrno(): number (a positive errno, or 0)
Napi::Value ControlSyscallErrno(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), CachestatControlShim());
}

// getrlimit(resource): [soft, hard] (-1 for unlimited)
Napi::Value Getrlimit(const Napi::CallbackInfo& info) {
  static const char* usage = "getrlimit(resource: number)";
  ArgCount(info, 1, usage);
  struct rlimit rl;
  if (getrlimit(static_cast<__rlimit_resource>(ArgInt(info, 0, 0, RLIM_NLIMITS - 1, usage)), &rl) <
      0) {
    throw SyscallError(info.Env(), errno, "getrlimit");
  }
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, rl.rlim_cur == RLIM_INFINITY ? -1.0 : static_cast<double>(rl.rlim_cur));
  out.Set(1u, rl.rlim_max == RLIM_INFINITY ? -1.0 : static_cast<double>(rl.rlim_max));
  return out;
}

}  // namespace

void InitSecretmem(Napi::Env env, Napi::Object exports) {
  exports.Set("memfdSecret", Napi::Function::New(env, MemfdSecret, "memfdSecret"));
  exports.Set("controlSyscallErrno",
              Napi::Function::New(env, ControlSyscallErrno, "controlSyscallErrno"));
  exports.Set("getrlimit", Napi::Function::New(env, Getrlimit, "getrlimit"));
  Napi::Object limits = Napi::Object::New(env);
  limits.Set("RLIMIT_MEMLOCK", Napi::Number::New(env, RLIMIT_MEMLOCK));
  limits.Set("RLIMIT_NOFILE", Napi::Number::New(env, RLIMIT_NOFILE));
  exports.Set("rlimits", limits);
}

}  // namespace memseal
