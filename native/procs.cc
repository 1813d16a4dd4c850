// Process helpers for the conformance suite: what it takes to observe the
// kernel from a second process, in a new pid namespace, or through exec.
//
// Node cannot fork. forkProbe() forks a child that runs one async-signal-safe
// operation (read or write a byte, munmap, mprotect, read the parent's memory
// with process_vm_readv or ptrace) and reports errno through a pipe; the
// parent waits for it. The child arms alarm() first, so it always ends.
// forkExecveat() forks and execs (a memfd, or a path) the same way, with the
// child's stdio on /dev/null.
//
// Safety against hostile arguments: whatever a fork child does stays in the
// child, except writing to memory, which a MAP_SHARED mapping would share
// with this process; that operation (and pipeRoundTrip, which writes) is
// confined to ranges the raw mmap created, as in mman.cc, unless
// MEMSEAL_UNSAFE_RAW=1. unshare() takes only CLONE_NEWPID (it changes where
// later children go, nothing of this process), setrlimit() only the limits
// no runtime depends on (RLIMIT_MEMLOCK, RLIMIT_CORE).
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "addon.h"
#include "args.h"
#include "compat.h"
#include "errors.h"
#include "ranges.h"

namespace memseal {

namespace {

enum ForkOp {
  kOpRead = 0,          // value = the byte at addr (a fault kills the child)
  kOpWrite = 1,         // writes the byte `arg` at addr, value = the byte read back
  kOpMunmap = 2,        // munmap(addr, length)
  kOpMprotect = 3,      // mprotect(addr, length, arg)
  kOpVmReadParent = 4,  // process_vm_readv(parent, addr, min(length, 64))
  kOpPeekParent = 5,    // PTRACE_SEIZE + INTERRUPT the parent, PEEKDATA at addr
  kOpCount = 6,
};

struct ForkReport {
  int err;    // errno of the operation, 0 on success
  int value;  // a byte read, when the operation reads one
};

struct ForkOutcome {
  int status = 0;  // waitpid status
  bool reported = false;
  ForkReport report = {0, 0};
};

bool UnsafeRaw() {
  const char* v = getenv("MEMSEAL_UNSAFE_RAW");
  return v != nullptr && strcmp(v, "1") == 0;
}

void RequireOwned(const Napi::CallbackInfo& info, uintptr_t addr, size_t length, const char* op) {
  if (length == 0 || UnsafeRaw() || CoversRange(addr, length, RangeKind::kRaw)) return;
  throw CodedError(
      info.Env(), "ERR_MEMSEAL_NOT_OWNED",
      (std::string(op) + ": the range is not one this addon's raw mmap created").c_str());
}

// In the fork child. Stops the parent's main thread without a group stop, so
// its other threads run on, and detaches again.
int PeekParent(uintptr_t addr, int* value) {
  const pid_t parent = getppid();
  if (ptrace(PTRACE_SEIZE, parent, nullptr, nullptr) < 0) return errno;
  int status = 0, err = 0;
  if (ptrace(PTRACE_INTERRUPT, parent, nullptr, nullptr) < 0 ||
      waitpid(parent, &status, __WALL) < 0) {
    err = errno;
  } else {
    errno = 0;
    const long word = ptrace(PTRACE_PEEKDATA, parent, reinterpret_cast<void*>(addr), nullptr);
    err = errno;
    *value = static_cast<int>(word & 0xff);
  }
  ptrace(PTRACE_DETACH, parent, nullptr, nullptr);
  return err;
}

int VmReadParent(uintptr_t addr, size_t length, int* value) {
  unsigned char buf[64] = {0};
  struct iovec local = {buf, length < sizeof buf ? length : sizeof buf};
  struct iovec remote = {reinterpret_cast<void*>(addr), local.iov_len};
  if (process_vm_readv(getppid(), &local, 1, &remote, 1, 0) < 0) return errno;
  *value = buf[0];
  return 0;
}

// In the fork child: one operation, its errno returned.
int RunForkOp(int op, uintptr_t addr, size_t length, int arg, int* value) {
  volatile unsigned char* p = reinterpret_cast<volatile unsigned char*>(addr);
  switch (op) {
    case kOpRead:
      *value = p[0];
      return 0;
    case kOpWrite:
      p[0] = static_cast<unsigned char>(arg);
      *value = p[0];
      return 0;
    case kOpMunmap:
      return munmap(reinterpret_cast<void*>(addr), length) < 0 ? errno : 0;
    case kOpMprotect:
      return mprotect(reinterpret_cast<void*>(addr), length, arg) < 0 ? errno : 0;
    case kOpVmReadParent:
      return VmReadParent(addr, length, value);
    default:
      return PeekParent(addr, value);
  }
}

// In a fork child: the signals that end it (SIGALRM, and the faults a probe
// may cause) at their default action and unblocked, whatever handlers the
// parent had (a sanitizer's, V8's wasm trap handler), so alarm() always ends
// the child and a fault reports its own signal. With `all`, every signal is
// unblocked (for a program about to be exec'ed).
void DefaultSignals(unsigned timeout, bool all) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGALRM, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP}) {
    sigaction(sig, &dfl, nullptr);
    sigaddset(&set, sig);
  }
  if (all) sigemptyset(&set);
  sigprocmask(all ? SIG_SETMASK : SIG_UNBLOCK, &set, nullptr);
  alarm(timeout);
}

[[noreturn]] void ForkChild(int op, uintptr_t addr, size_t length, int arg, unsigned timeout,
                            int go_fd, int out_fd) {
  DefaultSignals(timeout, false);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);  // an expected fault leaves no core file
  char go = 0;
  if (read(go_fd, &go, 1) != 1) _exit(126);
  ForkReport report = {0, 0};
  report.err = RunForkOp(op, addr, length, arg, &report.value);
  if (write(out_fd, &report, sizeof report) != sizeof report) _exit(125);
  _exit(0);
}

int WaitChild(pid_t pid, int* status) {
  while (waitpid(pid, status, 0) < 0) {
    if (errno != EINTR) return -errno;
  }
  return 0;
}

int ForkProbeShim(int op, uintptr_t addr, size_t length, int arg, unsigned timeout,
                  ForkOutcome* out) {
  int go[2], res[2];
  if (pipe2(go, O_CLOEXEC) < 0) return -errno;
  if (pipe2(res, O_CLOEXEC) < 0) {
    const int err = errno;
    close(go[0]), close(go[1]);
    return -err;
  }
  const pid_t pid = fork();
  if (pid == 0) ForkChild(op, addr, length, arg, timeout, go[0], res[1]);
  const int fork_err = pid < 0 ? errno : 0;
  close(go[0]), close(res[1]);
  // Yama (ptrace_scope 1) lets a process be traced by its own child only when asked.
  if (pid > 0) prctl(PR_SET_PTRACER, static_cast<unsigned long>(pid), 0, 0, 0);
  const char one = 1;
  const bool started = pid > 0 && write(go[1], &one, 1) == 1;
  close(go[1]);
  const int rc = pid > 0 ? WaitChild(pid, &out->status) : -fork_err;
  if (pid > 0) prctl(PR_SET_PTRACER, 0UL, 0, 0, 0);
  out->reported = started && read(res[0], &out->report, sizeof out->report) == sizeof out->report;
  close(res[0]);
  return rc;
}

Napi::Object StatusObject(Napi::Env env, int status) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("exitCode",
        WIFEXITED(status) ? Napi::Value(Napi::Number::New(env, WEXITSTATUS(status))) : env.Null());
  o.Set("signal",
        WIFSIGNALED(status) ? Napi::Value(Napi::Number::New(env, WTERMSIG(status))) : env.Null());
  return o;
}

// forkProbe(op, addr, length, arg, timeoutSeconds):
//   { exitCode, signal, errno (positive, 0 on success) | null, value | null }
Napi::Value ForkProbe(const Napi::CallbackInfo& info) {
  static const char* usage =
      "forkProbe(op: number, addr: bigint, length: number, arg: number, timeoutSeconds: number)";
  ArgCount(info, 5, usage);
  const int op = static_cast<int>(ArgInt(info, 0, 0, kOpCount - 1, usage));
  const uintptr_t addr = ArgAddr(info, 1, usage);
  const size_t length = ArgSize(info, 2, usage);
  const int arg = static_cast<int>(ArgInt(info, 3, INT32_MIN, INT32_MAX, usage));
  const unsigned timeout = static_cast<unsigned>(ArgInt(info, 4, 1, 60, usage));
  if (op == kOpWrite) RequireOwned(info, addr, 1, "forkProbe(write)");
  ForkOutcome out;
  const int rc = ForkProbeShim(op, addr, length, arg, timeout, &out);
  Napi::Env env = info.Env();
  if (rc < 0) throw SyscallError(env, rc, "fork");
  Napi::Object o = StatusObject(env, out.status);
  o.Set("errno", out.reported ? Napi::Value(Napi::Number::New(env, out.report.err)) : env.Null());
  o.Set("value", out.reported ? Napi::Value(Napi::Number::New(env, out.report.value)) : env.Null());
  return o;
}

// A NULL-terminated char* array over strings that outlive it.
std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(&s[0]);
  out.push_back(nullptr);
  return out;
}

std::vector<std::string> ArgStrings(const Napi::CallbackInfo& info, size_t i, const char* usage) {
  if (i >= info.Length() || !info[i].IsArray()) Usage(info, usage);
  Napi::Array list = info[i].As<Napi::Array>();
  if (list.Length() > 4096) Usage(info, usage);
  std::vector<std::string> out;
  for (uint32_t k = 0; k < list.Length(); k++) {
    Napi::Value v = list.Get(k);
    if (!v.IsString()) Usage(info, usage);
    out.push_back(v.As<Napi::String>().Utf8Value());
    if (out.back().find('\0') != std::string::npos) Usage(info, usage);
  }
  return out;
}

struct ExecRequest {
  int dirfd;
  const char* path;
  char* const* argv;
  char* const* envp;
  int flags;
  unsigned timeout;
};

[[noreturn]] void ExecChild(const ExecRequest& r, int devnull, int err_fd) {
  DefaultSignals(r.timeout, true);  // the alarm survives the exec: the program gets the same limit
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  if (devnull >= 0) {
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
  }
  syscall(SYS_execveat, r.dirfd, r.path, r.argv, r.envp, r.flags);
  const int err = errno;
  if (write(err_fd, &err, sizeof err) != sizeof err) _exit(126);
  _exit(127);
}

// Returns the exec's errno (0 when it succeeded) and fills *status.
int ForkExecShim(const ExecRequest& r, int* status) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) < 0) return -errno;
  const int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  const pid_t pid = fork();
  if (pid == 0) ExecChild(r, devnull, pipefd[1]);
  const int fork_err = pid < 0 ? errno : 0;
  close(pipefd[1]);
  if (devnull >= 0) close(devnull);
  int exec_err = 0;
  const bool failed = pid > 0 && read(pipefd[0], &exec_err, sizeof exec_err) == sizeof exec_err;
  close(pipefd[0]);
  if (pid < 0) return -fork_err;
  const int rc = WaitChild(pid, status);
  return rc < 0 ? rc : (failed ? exec_err : 0);
}

// forkExecveat(dirfd, path, argv, envp, flags, timeoutSeconds):
//   { execErrno (0 when the exec succeeded), exitCode, signal }
Napi::Value ForkExecveat(const Napi::CallbackInfo& info) {
  static const char* usage =
      "forkExecveat(dirfd: number, path: string, argv: string[], envp: string[], flags: number, "
      "timeoutSeconds: number)";
  ArgCount(info, 6, usage);
  const int dirfd = static_cast<int>(ArgInt(info, 0, AT_FDCWD, INT32_MAX, usage));
  if (!info[1].IsString()) Usage(info, usage);
  std::string path = info[1].As<Napi::String>().Utf8Value();
  if (path.find('\0') != std::string::npos) Usage(info, usage);
  std::vector<std::string> argv = ArgStrings(info, 2, usage), envp = ArgStrings(info, 3, usage);
  const int flags = static_cast<int>(ArgInt(info, 4, 0, INT32_MAX, usage));
  const unsigned timeout = static_cast<unsigned>(ArgInt(info, 5, 1, 600, usage));
  std::vector<char*> av = CStrings(argv), ev = CStrings(envp);
  int status = 0;
  const int rc = ForkExecShim({dirfd, path.c_str(), av.data(), ev.data(), flags, timeout}, &status);
  Napi::Env env = info.Env();
  if (rc < 0) throw SyscallError(env, rc, "fork");
  Napi::Object o = StatusObject(env, status);
  o.Set("execErrno", Napi::Number::New(env, rc));
  return o;
}

int UnshareShim(int flags) { return unshare(flags) < 0 ? -errno : 0; }

// unshare(flags): only CLONE_NEWPID, which moves later children into a new
// pid namespace and leaves this process where it is.
Napi::Value Unshare(const Napi::CallbackInfo& info) {
  static const char* usage = "unshare(flags: CLONE_NEWPID)";
  ArgCount(info, 1, usage);
  const int flags = static_cast<int>(ArgInt(info, 0, 0, INT32_MAX, usage));
  if (flags != CLONE_NEWPID) Usage(info, usage);
  const int rc = UnshareShim(flags);
  if (rc < 0) throw SyscallError(info.Env(), rc, "unshare");
  return info.Env().Undefined();
}

int SetrlimitShim(int resource, rlim_t soft, rlim_t hard) {
  struct rlimit rl = {soft, hard};
  return setrlimit(static_cast<__rlimit_resource>(resource), &rl) < 0 ? -errno : 0;
}

// setrlimit(resource, soft, hard): RLIMIT_MEMLOCK or RLIMIT_CORE; -1 is unlimited.
Napi::Value Setrlimit(const Napi::CallbackInfo& info) {
  static const char* usage =
      "setrlimit(resource: RLIMIT_MEMLOCK | RLIMIT_CORE, soft: number, hard: number)";
  ArgCount(info, 3, usage);
  const int resource = static_cast<int>(ArgInt(info, 0, 0, RLIM_NLIMITS - 1, usage));
  if (resource != RLIMIT_MEMLOCK && resource != RLIMIT_CORE) Usage(info, usage);
  const int64_t soft = ArgInt(info, 1, -1, static_cast<int64_t>(kMaxSafeInteger), usage);
  const int64_t hard = ArgInt(info, 2, -1, static_cast<int64_t>(kMaxSafeInteger), usage);
  const rlim_t s = soft < 0 ? RLIM_INFINITY : static_cast<rlim_t>(soft);
  const rlim_t h = hard < 0 ? RLIM_INFINITY : static_cast<rlim_t>(hard);
  const int rc = SetrlimitShim(resource, s, h);
  if (rc < 0) throw SyscallError(info.Env(), rc, "setrlimit");
  return info.Env().Undefined();
}

// Drops one capability from the calling thread's effective, permitted and
// inheritable sets (capabilities are per thread: the JS thread's are the
// ones its syscalls are checked against).
int CapDropShim(int cap) {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &header, data) < 0) return -errno;
  const unsigned mask = ~(1U << (cap % 32));
  data[cap / 32].effective &= mask;
  data[cap / 32].permitted &= mask;
  data[cap / 32].inheritable &= mask;
  return syscall(SYS_capset, &header, data) < 0 ? -errno : 0;
}

Napi::Value CapDrop(const Napi::CallbackInfo& info) {
  static const char* usage = "capDrop(capability: number)";
  ArgCount(info, 1, usage);
  const int rc = CapDropShim(static_cast<int>(ArgInt(info, 0, 0, 63, usage)));
  if (rc < 0) throw SyscallError(info.Env(), rc, "capset");
  return info.Env().Undefined();
}

// vmsplice(2) of [addr, addr + length) into a fresh non-blocking pipe, which
// is closed again: the number of bytes the kernel took. Reads memory only.
ssize_t VmspliceShim(uintptr_t addr, size_t length) {
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) return -errno;
  struct iovec iov = {reinterpret_cast<void*>(addr), length};
  const ssize_t n = vmsplice(p[1], &iov, 1, 0);
  const int err = errno;
  close(p[0]), close(p[1]);
  return n < 0 ? -err : n;
}

Napi::Value Vmsplice(const Napi::CallbackInfo& info) {
  static const char* usage = "vmsplice(addr: bigint, length: number)";
  ArgCount(info, 2, usage);
  const ssize_t rc = VmspliceShim(ArgAddr(info, 0, usage), ArgSize(info, 1, usage));
  if (rc < 0) throw SyscallError(info.Env(), static_cast<int>(rc), "vmsplice");
  return Napi::Number::New(info.Env(), static_cast<double>(rc));
}

// write(2) from memory into a pipe, then read(2) it back into the same
// memory: ordinary copies to and from user memory, as opposed to pinning.
int PipeRoundTripShim(uintptr_t addr, size_t length, ssize_t* written, ssize_t* got) {
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) return -errno;
  void* mem = reinterpret_cast<void*>(addr);
  *written = write(p[1], mem, length);
  int err = *written < 0 ? errno : 0;
  *got = err == 0 ? read(p[0], mem, static_cast<size_t>(*written)) : -1;
  if (err == 0 && *got < 0) err = errno;
  close(p[0]), close(p[1]);
  return -err;
}

// pipeRoundTrip(addr, length): [written, read]
Napi::Value PipeRoundTrip(const Napi::CallbackInfo& info) {
  static const char* usage = "pipeRoundTrip(addr: bigint, length: number)";
  ArgCount(info, 2, usage);
  const uintptr_t addr = ArgAddr(info, 0, usage);
  const size_t length = ArgSize(info, 1, usage);
  if (length > 65536) Usage(info, usage);
  RequireOwned(info, addr, length, "pipeRoundTrip");
  ssize_t written = 0, got = 0;
  const int rc = PipeRoundTripShim(addr, length, &written, &got);
  Napi::Env env = info.Env();
  if (rc < 0) throw SyscallError(env, rc, written < 0 ? "write" : "read");
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, static_cast<double>(written)));
  out.Set(1u, Napi::Number::New(env, static_cast<double>(got)));
  return out;
}

// One harmless call per syscall, with arguments the kernel answers without
// effect (EBADF, ESRCH, or success on an empty range). Another answer, such as
// EPERM or ENOSYS, means a seccomp filter or LSM stands in front of it.
int PolicyProbeShim(const std::string& name) {
  long r = -1;
  errno = ENOENT;  // an unknown name
  if (name == "execveat") {
    r = syscall(SYS_execveat, -1, "", nullptr, nullptr, AT_EMPTY_PATH);
  } else if (name == "ptrace") {
    r = ptrace(PTRACE_PEEKDATA, 0, nullptr, nullptr);
  } else if (name == "process_vm_readv") {
    r = syscall(SYS_process_vm_readv, 0, nullptr, 0, nullptr, 0, 0);
  } else if (name == "process_vm_writev") {
    r = syscall(SYS_process_vm_writev, 0, nullptr, 0, nullptr, 0, 0);
  } else if (name == "vmsplice") {
    r = syscall(SYS_vmsplice, -1, nullptr, 0, 0);
  } else if (name == "unshare") {
    r = unshare(0);
  } else if (name == "pkey_mprotect") {
    r = syscall(SYS_pkey_mprotect, 0, 0, PROT_NONE, -1);
  }
  return r < 0 ? errno : 0;
}

// policyProbe(name): the positive errno the probe call got, or 0.
Napi::Value PolicyProbe(const Napi::CallbackInfo& info) {
  static const char* usage =
      "policyProbe(name: 'execveat' | 'ptrace' | 'process_vm_readv' | 'process_vm_writev' | "
      "'vmsplice' | 'unshare' | 'pkey_mprotect')";
  ArgCount(info, 1, usage);
  if (!info[0].IsString()) Usage(info, usage);
  const int rc = PolicyProbeShim(info[0].As<Napi::String>().Utf8Value());
  if (rc == ENOENT) Usage(info, usage);
  return Napi::Number::New(info.Env(), rc);
}

#define EXPORT_CONSTANT(obj, name) \
  (obj).Set(#name, Napi::Number::New(env, static_cast<double>(name)))

Napi::Object ProcConstants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  EXPORT_CONSTANT(c, CLONE_NEWPID);
  EXPORT_CONSTANT(c, AT_FDCWD);
  EXPORT_CONSTANT(c, AT_EMPTY_PATH);
  EXPORT_CONSTANT(c, RLIMIT_MEMLOCK);
  EXPORT_CONSTANT(c, RLIMIT_CORE);
  EXPORT_CONSTANT(c, CAP_IPC_LOCK);
  EXPORT_CONSTANT(c, CAP_SYS_ADMIN);
  EXPORT_CONSTANT(c, FALLOC_FL_KEEP_SIZE);
  EXPORT_CONSTANT(c, FALLOC_FL_PUNCH_HOLE);
  c.Set("FORK_READ", Napi::Number::New(env, kOpRead));
  c.Set("FORK_WRITE", Napi::Number::New(env, kOpWrite));
  c.Set("FORK_MUNMAP", Napi::Number::New(env, kOpMunmap));
  c.Set("FORK_MPROTECT", Napi::Number::New(env, kOpMprotect));
  c.Set("FORK_VM_READ_PARENT", Napi::Number::New(env, kOpVmReadParent));
  c.Set("FORK_PEEK_PARENT", Napi::Number::New(env, kOpPeekParent));
  c.Freeze();
  return c;
}

}  // namespace

void InitProcs(Napi::Env env, Napi::Object exports) {
  exports.Set("forkProbe", Napi::Function::New(env, ForkProbe, "forkProbe"));
  exports.Set("forkExecveat", Napi::Function::New(env, ForkExecveat, "forkExecveat"));
  exports.Set("unshare", Napi::Function::New(env, Unshare, "unshare"));
  exports.Set("setrlimit", Napi::Function::New(env, Setrlimit, "setrlimit"));
  exports.Set("capDrop", Napi::Function::New(env, CapDrop, "capDrop"));
  exports.Set("vmsplice", Napi::Function::New(env, Vmsplice, "vmsplice"));
  exports.Set("pipeRoundTrip", Napi::Function::New(env, PipeRoundTrip, "pipeRoundTrip"));
  exports.Set("policyProbe", Napi::Function::New(env, PolicyProbe, "policyProbe"));
  exports.Set("procConstants", ProcConstants(env));
}

}  // namespace memseal
