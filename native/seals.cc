// File seals: fcntl(2) F_ADD_SEALS and F_GET_SEALS.
#include <errno.h>
#include <fcntl.h>

#include "addon.h"
#include "args.h"
#include "compat.h"
#include "errors.h"

namespace memseal {

namespace {

// The argument is passed as the full unsigned long the kernel receives, so a
// caller can observe how it treats bits above 32 (truncated since 6.6).
int AddSealsShim(int fd, unsigned long seals) {
  return fcntl(fd, F_ADD_SEALS, seals) < 0 ? -errno : 0;
}

int GetSealsShim(int fd) {
  int seals = fcntl(fd, F_GET_SEALS);
  return seals < 0 ? -errno : seals;
}

// addSeals(fd: number, seals: number | bigint): void
Napi::Value AddSeals(const Napi::CallbackInfo& info) {
  static const char* usage = "addSeals(fd: number, seals: number | bigint)";
  ArgCount(info, 2, usage);
  const int fd = ArgFd(info, 0, usage);
  const unsigned long seals = static_cast<unsigned long>(ArgU64(info, 1, usage));
  const int rc = AddSealsShim(fd, seals);
  if (rc < 0) throw SyscallError(info.Env(), rc, "fcntl");
  return info.Env().Undefined();
}

// getSeals(fd: number): number
Napi::Value GetSeals(const Napi::CallbackInfo& info) {
  static const char* usage = "getSeals(fd: number)";
  ArgCount(info, 1, usage);
  const int rc = GetSealsShim(ArgFd(info, 0, usage));
  if (rc < 0) throw SyscallError(info.Env(), rc, "fcntl");
  return Napi::Number::New(info.Env(), rc);
}

}  // namespace

void InitSeals(Napi::Env env, Napi::Object exports) {
  exports.Set("addSeals", Napi::Function::New(env, AddSeals, "addSeals"));
  exports.Set("getSeals", Napi::Function::New(env, GetSeals, "getSeals"));
}

}  // namespace memseal
