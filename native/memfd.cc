// memfd_create(2).
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "addon.h"
#include "args.h"
#include "compat.h"
#include "errors.h"

namespace memseal {

namespace {

// Called through syscall(2) so that flags glibc does not know pass untouched.
int MemfdCreateShim(const char* name, unsigned int flags) {
  long fd = syscall(SYS_memfd_create, name, flags);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

// memfdCreate(name: string | Uint8Array | null, flags: number): number
// A Uint8Array is passed as raw bytes (NUL-terminated here); null passes a
// NULL pointer, which the kernel answers with EFAULT.
Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  static const char* usage = "memfdCreate(name: string | Uint8Array | null, flags: number)";
  ArgCount(info, 2, usage);
  const unsigned int flags = ArgU32(info, 1, usage);
  std::string name;
  const char* name_ptr = nullptr;
  if (info[0].IsString()) {
    name = info[0].As<Napi::String>().Utf8Value();
    if (name.find('\0') != std::string::npos) Usage(info, usage);
    name_ptr = name.c_str();
  } else if (!info[0].IsNull()) {
    Bytes bytes = ArgBytes(info, 0, usage);
    name.assign(reinterpret_cast<const char*>(bytes.data), bytes.length);
    name_ptr = name.c_str();
  }
  const int fd = MemfdCreateShim(name_ptr, flags);
  if (fd < 0) throw SyscallError(info.Env(), fd, "memfd_create");
  return Napi::Number::New(info.Env(), fd);
}

}  // namespace

void InitMemfd(Napi::Env env, Napi::Object exports) {
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate, "memfdCreate"));
}

}  // namespace memseal
