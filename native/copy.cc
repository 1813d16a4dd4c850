// In-kernel copies of a whole file into another (copy_file_range(2), or
// sendfile(2) where the filesystems refuse it), on the calling thread or on
// the libuv thread pool, and the mount flags of an open file (fstatvfs(3)).
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "addon.h"
#include "args.h"
#include "compat.h"
#include "errors.h"

namespace memseal {

namespace {

constexpr uint64_t kChunk = 0x7ffff000;  // the most one sendfile(2) call moves

struct CopyProgress {
  uint64_t copied = 0;
  bool sendfile = false;  // copy_file_range refused this pair of files
  const char* syscall = "copy_file_range";
};

// Both files at the same offset; neither file position moves.
ssize_t CopyFileRangeAtShim(int in, int out, off_t offset, size_t len) {
  loff_t in_off = offset, out_off = offset;
  ssize_t r = copy_file_range(in, &in_off, out, &out_off, len, 0);
  return r < 0 ? -errno : r;
}

// sendfile(2) writes at the output's file position, so place it first.
ssize_t SendfileAtShim(int in, int out, off_t offset, size_t len) {
  if (lseek(out, offset, SEEK_SET) < 0) return -errno;
  off_t in_off = offset;
  ssize_t r = sendfile(out, in, &in_off, len);
  return r < 0 ? -errno : r;
}

int RegularFileShim(int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0) return -errno;
  return S_ISREG(st.st_mode) ? 1 : 0;
}

int DupCloexecShim(int fd) {
  int r = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  return r < 0 ? -errno : r;
}

// Linux always releases the descriptor, even when close reports EINTR.
void CloseShim(int fd) {
  if (fd >= 0) close(fd);
}

int FstatvfsShim(int fd, struct statvfs* st) { return fstatvfs(fd, st) < 0 ? -errno : 0; }

// Copies bytes [0, limit) of `in` to the same offsets of `out`, stopping
// early at the end of `in`. copy_file_range first; on the errors with which
// it refuses a pair of files (EXDEV across filesystems, as from ext4 into a
// memfd), sendfile from where it stopped. Returns 0 or -errno.
int CopyLoop(int in, int out, uint64_t limit, CopyProgress* p) {
  while (p->copied < limit) {
    const size_t len = static_cast<size_t>(std::min(limit - p->copied, kChunk));
    const off_t at = static_cast<off_t>(p->copied);
    ssize_t n =
        p->sendfile ? SendfileAtShim(in, out, at, len) : CopyFileRangeAtShim(in, out, at, len);
    if (!p->sendfile && (n == -EXDEV || n == -EINVAL || n == -EOPNOTSUPP || n == -ENOSYS)) {
      p->sendfile = true;
      p->syscall = "sendfile";
      continue;
    }
    if (n == -EINTR) continue;
    if (n < 0) return static_cast<int>(n);
    if (n == 0) break;  // end of file
    p->copied += static_cast<uint64_t>(n);
  }
  return 0;
}

Napi::Object CopyResult(Napi::Env env, const CopyProgress& p) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("copied", Napi::Number::New(env, static_cast<double>(p.copied)));
  out.Set("method", p.sendfile ? "sendfile" : "copy_file_range");
  return out;
}

// Both descriptors must be open regular files: a pipe, socket or terminal
// could block the copy for ever.
void CheckRegular(const Napi::CallbackInfo& info, int fd, const char* usage) {
  const int rc = RegularFileShim(fd);
  if (rc < 0) throw SyscallError(info.Env(), rc, "fstat");
  if (rc == 0) Usage(info, usage);
}

struct CopyArgs {
  int in;
  int out;
  uint64_t limit;
};

// (fdIn, fdOut, limit), both descriptors open regular files.
CopyArgs ArgCopy(const Napi::CallbackInfo& info, const char* usage) {
  ArgCount(info, 3, usage);
  const CopyArgs a = {ArgFd(info, 0, usage), ArgFd(info, 1, usage), ArgU64(info, 2, usage)};
  CheckRegular(info, a.in, usage);
  CheckRegular(info, a.out, usage);
  return a;
}

// copyFd(fdIn, fdOut, limit): { copied, method }, on this thread.
Napi::Value CopyFd(const Napi::CallbackInfo& info) {
  static const char* usage = "copyFd(fdIn: number, fdOut: number, limit: number) on regular files";
  const CopyArgs a = ArgCopy(info, usage);
  CopyProgress p;
  const int rc = CopyLoop(a.in, a.out, a.limit, &p);
  if (rc < 0) throw SyscallError(info.Env(), rc, p.syscall);
  return CopyResult(info.Env(), p);
}

// Owns duplicates of both descriptors, so the caller closing (and the
// process reusing) the numbers it passed cannot redirect the copy.
class CopyWorker : public Napi::AsyncWorker {
 public:
  CopyWorker(Napi::Env env, int in, int out, uint64_t limit)
      : Napi::AsyncWorker(env, "memseal:copyFd"),
        deferred_(Napi::Promise::Deferred::New(env)),
        in_(in),
        out_(out),
        limit_(limit) {}
  ~CopyWorker() override {
    CloseShim(in_);
    CloseShim(out_);
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    // Queueing the work woke this pool thread, and the scheduler often runs
    // the woken thread on the queueing (main) thread's CPU, preempting it:
    // a stall of the event loop of up to a scheduler tick. Hand the CPU
    // back first; the copy runs once the main thread waits or this thread
    // moves to another CPU.
    sched_yield();
    err_ = CopyLoop(in_, out_, limit_, &progress_);
    if (err_ < 0) SetError(progress_.syscall);
  }
  void OnOK() override { deferred_.Resolve(CopyResult(Env(), progress_)); }
  void OnError(const Napi::Error&) override {
    deferred_.Reject(SyscallError(Env(), err_, progress_.syscall).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  int in_, out_;
  uint64_t limit_;
  CopyProgress progress_;
  int err_ = 0;
};

// copyFdAsync(fdIn, fdOut, limit): Promise<{ copied, method }>, copied on the
// libuv thread pool. Bad arguments and failed dups throw at once.
Napi::Value CopyFdAsync(const Napi::CallbackInfo& info) {
  static const char* usage =
      "copyFdAsync(fdIn: number, fdOut: number, limit: number) on regular files";
  const CopyArgs a = ArgCopy(info, usage);
  const int in_dup = DupCloexecShim(a.in);
  if (in_dup < 0) throw SyscallError(info.Env(), in_dup, "fcntl");
  const int out_dup = DupCloexecShim(a.out);
  if (out_dup < 0) {
    CloseShim(in_dup);
    throw SyscallError(info.Env(), out_dup, "fcntl");
  }
  CopyWorker* worker = new CopyWorker(info.Env(), in_dup, out_dup, a.limit);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// fstatvfs(fd): { flag, noexec, readonly, nosuid }: how the file's mount is
// mounted (ST_NOEXEC: nothing on it can be executed).
Napi::Value Fstatvfs(const Napi::CallbackInfo& info) {
  static const char* usage = "fstatvfs(fd: number)";
  ArgCount(info, 1, usage);
  struct statvfs st;
  const int rc = FstatvfsShim(ArgFd(info, 0, usage), &st);
  Napi::Env env = info.Env();
  if (rc < 0) throw SyscallError(env, rc, "fstatvfs");
  Napi::Object out = Napi::Object::New(env);
  out.Set("flag", Napi::Number::New(env, static_cast<double>(st.f_flag)));
  out.Set("noexec", Napi::Boolean::New(env, (st.f_flag & ST_NOEXEC) != 0));
  out.Set("readonly", Napi::Boolean::New(env, (st.f_flag & ST_RDONLY) != 0));
  out.Set("nosuid", Napi::Boolean::New(env, (st.f_flag & ST_NOSUID) != 0));
  return out;
}

}  // namespace

void InitCopy(Napi::Env env, Napi::Object exports) {
  exports.Set("copyFd", Napi::Function::New(env, CopyFd, "copyFd"));
  exports.Set("copyFdAsync", Napi::Function::New(env, CopyFdAsync, "copyFdAsync"));
  exports.Set("fstatvfs", Napi::Function::New(env, Fstatvfs, "fstatvfs"));
}

}  // namespace memseal
