// Extended attributes of an open file: fsetxattr(2) and fgetxattr(2). The
// conformance suite sets POSIX access ACLs (system.posix_acl_access) through
// them, the one way besides chmod to change a memfd's mode.
#include <errno.h>
#include <sys/xattr.h>

#include <string>

#include "addon.h"
#include "args.h"
#include "errors.h"

namespace memseal {

namespace {

int FsetxattrShim(int fd, const char* name, const void* value, size_t size, int flags) {
  return fsetxattr(fd, name, value, size, flags) < 0 ? -errno : 0;
}

// size 0 asks for the value's length, as fgetxattr(2) does.
ssize_t FgetxattrShim(int fd, const char* name, void* value, size_t size) {
  const ssize_t n = fgetxattr(fd, name, value, size);
  return n < 0 ? -errno : n;
}

// An attribute name: a string without NUL bytes.
std::string ArgName(const Napi::CallbackInfo& info, size_t i, const char* usage) {
  if (i >= info.Length() || !info[i].IsString()) Usage(info, usage);
  std::string name = info[i].As<Napi::String>().Utf8Value();
  if (name.find('\0') != std::string::npos) Usage(info, usage);
  return name;
}

// fsetxattr(fd, name, value, flags): flags 0, XATTR_CREATE or XATTR_REPLACE.
Napi::Value Fsetxattr(const Napi::CallbackInfo& info) {
  static const char* usage =
      "fsetxattr(fd: number, name: string, value: ArrayBufferView, flags: number)";
  ArgCount(info, 4, usage);
  const int fd = ArgFd(info, 0, usage);
  const std::string name = ArgName(info, 1, usage);
  Bytes value = ArgBytes(info, 2, usage);
  const int flags = static_cast<int>(ArgInt(info, 3, 0, INT32_MAX, usage));
  const int rc = FsetxattrShim(fd, name.c_str(), value.data, value.length, flags);
  if (rc < 0) throw SyscallError(info.Env(), rc, "fsetxattr");
  return info.Env().Undefined();
}

// fgetxattr(fd, name, buffer): the value's length, copied into `buffer`; an
// empty buffer asks only for the length.
Napi::Value Fgetxattr(const Napi::CallbackInfo& info) {
  static const char* usage = "fgetxattr(fd: number, name: string, buffer: ArrayBufferView)";
  ArgCount(info, 3, usage);
  const int fd = ArgFd(info, 0, usage);
  const std::string name = ArgName(info, 1, usage);
  Bytes buffer = ArgBytes(info, 2, usage);
  const ssize_t rc = FgetxattrShim(fd, name.c_str(), buffer.data, buffer.length);
  if (rc < 0) throw SyscallError(info.Env(), static_cast<int>(rc), "fgetxattr");
  return Napi::Number::New(info.Env(), static_cast<double>(rc));
}

}  // namespace

void InitXattr(Napi::Env env, Napi::Object exports) {
  exports.Set("fsetxattr", Napi::Function::New(env, Fsetxattr, "fsetxattr"));
  exports.Set("fgetxattr", Napi::Function::New(env, Fgetxattr, "fgetxattr"));
  Napi::Object c = Napi::Object::New(env);
  c.Set("XATTR_CREATE", Napi::Number::New(env, XATTR_CREATE));
  c.Set("XATTR_REPLACE", Napi::Number::New(env, XATTR_REPLACE));
  c.Freeze();
  exports.Set("xattrConstants", c);
}

}  // namespace memseal
