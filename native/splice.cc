// vmspliceHold(): vmsplice(2) of user memory into a pipe that stays open, so
// the pipe keeps its references on the pages until the caller drains or
// closes it. The conformance suite uses it to hold memfd pages the way an
// in-flight I/O would (F_SEAL_WRITE must then wait for them, and fail with
// EBUSY). It reads memory only; the caller owns both pipe ends.
#include <errno.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addon.h"
#include "args.h"
#include "errors.h"

namespace memseal {

// Fills p[0] (read end) and p[1] (write end); returns the bytes spliced or -errno.
static ssize_t VmspliceHoldShim(uintptr_t addr, size_t length, int p[2]) {
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) return -errno;
  struct iovec iov = {reinterpret_cast<void*>(addr), length};
  const ssize_t n = vmsplice(p[1], &iov, 1, 0);
  if (n >= 0) return n;
  const int err = errno;
  close(p[0]), close(p[1]);
  return -err;
}

// vmspliceHold(addr, length): [readFd, writeFd, bytes]
static Napi::Value VmspliceHold(const Napi::CallbackInfo& info) {
  static const char* usage = "vmspliceHold(addr: bigint, length: number)";
  ArgCount(info, 2, usage);
  int p[2] = {-1, -1};
  const ssize_t rc = VmspliceHoldShim(ArgAddr(info, 0, usage), ArgSize(info, 1, usage), p);
  Napi::Env env = info.Env();
  if (rc < 0) throw SyscallError(env, static_cast<int>(rc), "vmsplice");
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, Napi::Number::New(env, p[0]));
  out.Set(1u, Napi::Number::New(env, p[1]));
  out.Set(2u, Napi::Number::New(env, static_cast<double>(rc)));
  return out;
}

void InitSplice(Napi::Env env, Napi::Object exports) {
  exports.Set("vmspliceHold", Napi::Function::New(env, VmspliceHold, "vmspliceHold"));
}

}  // namespace memseal
