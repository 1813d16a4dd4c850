// The file operations a memfd needs: size, mode, reads and writes at an
// offset, in-kernel copies, and closing.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <vector>

#include "addon.h"
#include "args.h"
#include "compat.h"
#include "errors.h"
#include "lifetime.h"

namespace memseal {

namespace {

int FtruncateShim(int fd, off_t length) { return ftruncate(fd, length) < 0 ? -errno : 0; }

int FstatShim(int fd, struct stat* st) { return fstat(fd, st) < 0 ? -errno : 0; }

int FchmodShim(int fd, mode_t mode) { return fchmod(fd, mode) < 0 ? -errno : 0; }

int FallocateShim(int fd, int mode, off_t offset, off_t length) {
  return fallocate(fd, mode, offset, length) < 0 ? -errno : 0;
}

// Linux always releases the descriptor, even when close reports EINTR.
int CloseShim(int fd) { return close(fd) < 0 && errno != EINTR ? -errno : 0; }

int DupShim(int fd) {
  int r = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  return r < 0 ? -errno : r;
}

int FcntlIntShim(int fd, int cmd, int arg) {
  int r = fcntl(fd, cmd, arg);
  return r < 0 ? -errno : r;
}

// position < 0: read(2)/write(2) at the file offset; else pread(2)/pwrite(2).
ssize_t ReadShim(int fd, void* buf, size_t len, int64_t position) {
  ssize_t r = position < 0 ? read(fd, buf, len) : pread(fd, buf, len, position);
  return r < 0 ? -errno : r;
}

ssize_t WriteShim(int fd, const void* buf, size_t len, int64_t position) {
  ssize_t r = position < 0 ? write(fd, buf, len) : pwrite(fd, buf, len, position);
  return r < 0 ? -errno : r;
}

ssize_t WritevShim(int fd, const struct iovec* iov, int count) {
  ssize_t r = writev(fd, iov, count);
  return r < 0 ? -errno : r;
}

ssize_t CopyFileRangeShim(int in, loff_t* in_off, int out, loff_t* out_off, size_t len) {
  ssize_t r = copy_file_range(in, in_off, out, out_off, len, 0);
  return r < 0 ? -errno : r;
}

ssize_t SendfileShim(int out, int in, off_t* in_off, size_t count) {
  ssize_t r = sendfile(out, in, in_off, count);
  return r < 0 ? -errno : r;
}

Napi::Value Ftruncate(const Napi::CallbackInfo& info) {
  static const char* usage = "ftruncate(fd: number, length: number)";
  ArgCount(info, 2, usage);
  const int rc = FtruncateShim(ArgFd(info, 0, usage), static_cast<off_t>(ArgI64(info, 1, usage)));
  if (rc < 0) throw SyscallError(info.Env(), rc, "ftruncate");
  return info.Env().Undefined();
}

Napi::Value Fstat(const Napi::CallbackInfo& info) {
  static const char* usage = "fstat(fd: number)";
  ArgCount(info, 1, usage);
  struct stat st;
  const int rc = FstatShim(ArgFd(info, 0, usage), &st);
  Napi::Env env = info.Env();
  if (rc < 0) throw SyscallError(env, rc, "fstat");
  Napi::Object out = Napi::Object::New(env);
  out.Set("size", Napi::Number::New(env, static_cast<double>(st.st_size)));
  out.Set("mode", Napi::Number::New(env, st.st_mode));
  out.Set("ino", Napi::Number::New(env, static_cast<double>(st.st_ino)));
  out.Set("dev", Napi::Number::New(env, static_cast<double>(st.st_dev)));
  out.Set("nlink", Napi::Number::New(env, static_cast<double>(st.st_nlink)));
  out.Set("uid", Napi::Number::New(env, st.st_uid));
  out.Set("gid", Napi::Number::New(env, st.st_gid));
  out.Set("blocks", Napi::Number::New(env, static_cast<double>(st.st_blocks)));
  out.Set("blksize", Napi::Number::New(env, static_cast<double>(st.st_blksize)));
  return out;
}

Napi::Value Fchmod(const Napi::CallbackInfo& info) {
  static const char* usage = "fchmod(fd: number, mode: number)";
  ArgCount(info, 2, usage);
  const int fd = ArgFd(info, 0, usage);
  const int rc = FchmodShim(fd, static_cast<mode_t>(ArgInt(info, 1, 0, 07777, usage)));
  if (rc < 0) throw SyscallError(info.Env(), rc, "fchmod");
  return info.Env().Undefined();
}

Napi::Value Fallocate(const Napi::CallbackInfo& info) {
  static const char* usage = "fallocate(fd: number, mode: number, offset: number, length: number)";
  ArgCount(info, 4, usage);
  const int rc = FallocateShim(
      ArgFd(info, 0, usage), static_cast<int>(ArgInt(info, 1, 0, INT32_MAX, usage)),
      static_cast<off_t>(ArgI64(info, 2, usage)), static_cast<off_t>(ArgI64(info, 3, usage)));
  if (rc < 0) throw SyscallError(info.Env(), rc, "fallocate");
  return info.Env().Undefined();
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  static const char* usage = "close(fd: number)";
  ArgCount(info, 1, usage);
  const int fd = ArgFd(info, 0, usage);
  GetEnvResources(info.Env())->ForgetFd(fd);  // owned or not, it is closed now
  const int rc = CloseShim(fd);
  if (rc < 0) throw SyscallError(info.Env(), rc, "close");
  return info.Env().Undefined();
}

// dup(fd): the copy is close-on-exec.
Napi::Value Dup(const Napi::CallbackInfo& info) {
  static const char* usage = "dup(fd: number)";
  ArgCount(info, 1, usage);
  const int rc = DupShim(ArgFd(info, 0, usage));
  if (rc < 0) throw SyscallError(info.Env(), rc, "fcntl");
  return Napi::Number::New(info.Env(), rc);
}

// fcntl(fd, cmd, arg): integer commands only (F_GETFD, F_SETFD, F_GETFL, ...).
Napi::Value Fcntl(const Napi::CallbackInfo& info) {
  static const char* usage = "fcntl(fd: number, cmd: number, arg: number)";
  ArgCount(info, 3, usage);
  const int cmd = static_cast<int>(ArgInt(info, 1, 0, INT32_MAX, usage));
  if (cmd != F_GETFD && cmd != F_SETFD && cmd != F_GETFL && cmd != F_SETFL && cmd != F_GET_SEALS &&
      cmd != F_ADD_SEALS) {
    Usage(info, usage);
  }
  const int rc = FcntlIntShim(ArgFd(info, 0, usage), cmd,
                              static_cast<int>(ArgInt(info, 2, INT32_MIN, INT32_MAX, usage)));
  if (rc < 0) throw SyscallError(info.Env(), rc, "fcntl");
  return Napi::Number::New(info.Env(), rc);
}

// read(fd, buffer, offset, length, position) / write(...): position -1 uses
// the file offset (read/write), otherwise pread/pwrite.
Napi::Value ReadWrite(const Napi::CallbackInfo& info, bool is_write) {
  static const char* usage =
      "read|write(fd: number, buffer: ArrayBufferView, offset: number, length: number, position: "
      "number)";
  ArgCount(info, 5, usage);
  const int fd = ArgFd(info, 0, usage);
  Bytes bytes = ArgBytes(info, 1, usage);
  const size_t offset = ArgSize(info, 2, usage);
  const size_t length = ArgSize(info, 3, usage);
  const int64_t position = ArgI64(info, 4, usage);
  CheckSpan(info, offset, length, bytes.length, usage);
  uint8_t* p = bytes.data == nullptr ? nullptr : bytes.data + offset;
  const ssize_t rc =
      is_write ? WriteShim(fd, p, length, position) : ReadShim(fd, p, length, position);
  if (rc < 0) {
    const char* name =
        is_write ? (position < 0 ? "write" : "pwrite") : (position < 0 ? "read" : "pread");
    throw SyscallError(info.Env(), static_cast<int>(rc), name);
  }
  return Napi::Number::New(info.Env(), static_cast<double>(rc));
}

Napi::Value Read(const Napi::CallbackInfo& info) { return ReadWrite(info, false); }
Napi::Value Write(const Napi::CallbackInfo& info) { return ReadWrite(info, true); }

// writev(fd, buffers: ArrayBufferView[]): number
Napi::Value Writev(const Napi::CallbackInfo& info) {
  static const char* usage = "writev(fd: number, buffers: ArrayBufferView[])";
  ArgCount(info, 2, usage);
  const int fd = ArgFd(info, 0, usage);
  if (!info[1].IsArray()) Usage(info, usage);
  Napi::Array list = info[1].As<Napi::Array>();
  if (list.Length() > IOV_MAX) Usage(info, usage);
  std::vector<Napi::Value> keep;  // hold the views while iovecs point into them
  std::vector<struct iovec> iov(list.Length());
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value item = list.Get(i);
    if (!item.IsTypedArray() && !item.IsDataView()) Usage(info, usage);
    keep.push_back(item);
  }
  for (size_t i = 0; i < keep.size(); i++) {
    napi_typedarray_type type;
    size_t count = 0, length = 0;
    void* data = nullptr;
    if (keep[i].IsTypedArray()) {
      napi_get_typedarray_info(info.Env(), keep[i], &type, &count, &data, nullptr, nullptr);
      length = count * ElementSize(type);
    } else {
      napi_get_dataview_info(info.Env(), keep[i], &length, &data, nullptr, nullptr);
    }
    iov[i] = {data, data == nullptr ? 0 : length};
  }
  const ssize_t rc = WritevShim(fd, iov.data(), static_cast<int>(iov.size()));
  if (rc < 0) throw SyscallError(info.Env(), static_cast<int>(rc), "writev");
  return Napi::Number::New(info.Env(), static_cast<double>(rc));
}

// copyFileRange(in, inOffset | null, out, outOffset | null, length): number
Napi::Value CopyFileRange(const Napi::CallbackInfo& info) {
  static const char* usage =
      "copyFileRange(fdIn: number, offIn: number | null, fdOut: number, offOut: number | null, "
      "length: number)";
  ArgCount(info, 5, usage);
  int64_t in_off = 0, out_off = 0;
  const bool has_in = ArgOptionalOffset(info, 1, &in_off, usage);
  const bool has_out = ArgOptionalOffset(info, 3, &out_off, usage);
  loff_t in_pos = in_off, out_pos = out_off;
  const ssize_t rc =
      CopyFileRangeShim(ArgFd(info, 0, usage), has_in ? &in_pos : nullptr, ArgFd(info, 2, usage),
                        has_out ? &out_pos : nullptr, ArgSize(info, 4, usage));
  if (rc < 0) throw SyscallError(info.Env(), static_cast<int>(rc), "copy_file_range");
  return Napi::Number::New(info.Env(), static_cast<double>(rc));
}

// sendfile(out, in, inOffset | null, count): number
Napi::Value Sendfile(const Napi::CallbackInfo& info) {
  static const char* usage =
      "sendfile(fdOut: number, fdIn: number, offIn: number | null, count: number)";
  ArgCount(info, 4, usage);
  int64_t in_off = 0;
  const bool has_in = ArgOptionalOffset(info, 2, &in_off, usage);
  off_t in_pos = static_cast<off_t>(in_off);
  const ssize_t rc = SendfileShim(ArgFd(info, 0, usage), ArgFd(info, 1, usage),
                                  has_in ? &in_pos : nullptr, ArgSize(info, 3, usage));
  if (rc < 0) throw SyscallError(info.Env(), static_cast<int>(rc), "sendfile");
  return Napi::Number::New(info.Env(), static_cast<double>(rc));
}

}  // namespace

void InitFileIo(Napi::Env env, Napi::Object exports) {
  exports.Set("ftruncate", Napi::Function::New(env, Ftruncate, "ftruncate"));
  exports.Set("fstat", Napi::Function::New(env, Fstat, "fstat"));
  exports.Set("fchmod", Napi::Function::New(env, Fchmod, "fchmod"));
  exports.Set("fallocate", Napi::Function::New(env, Fallocate, "fallocate"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("dup", Napi::Function::New(env, Dup, "dup"));
  exports.Set("fcntl", Napi::Function::New(env, Fcntl, "fcntl"));
  exports.Set("read", Napi::Function::New(env, Read, "read"));
  exports.Set("write", Napi::Function::New(env, Write, "write"));
  exports.Set("writev", Napi::Function::New(env, Writev, "writev"));
  exports.Set("copyFileRange", Napi::Function::New(env, CopyFileRange, "copyFileRange"));
  exports.Set("sendfile", Napi::Function::New(env, Sendfile, "sendfile"));
}

}  // namespace memseal
