// Passing descriptors between processes: AF_UNIX SOCK_SEQPACKET sockets and
// sendmsg(2)/recvmsg(2) with SCM_RIGHTS (unix(7)). Every socket is made
// close-on-exec and non-blocking; waiting happens in pollFdAsync on the libuv
// thread pool, never on the event loop. Received descriptors are
// close-on-exec (MSG_CMSG_CLOEXEC); what to accept is lib/'s policy.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <vector>

#include "addon.h"
#include "args.h"
#include "errors.h"

namespace memseal {

namespace {

constexpr int kSocketFlags = SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK;
constexpr size_t kMaxFds = 253;  // SCM_MAX_FD

int SocketShim() {
  const int fd = socket(AF_UNIX, kSocketFlags, 0);
  return fd < 0 ? -errno : fd;
}

int SocketPairShim(int fds[2]) {
  return socketpair(AF_UNIX, kSocketFlags, 0, fds) < 0 ? -errno : 0;
}

// Fills `addr` for a filesystem path; -ENAMETOOLONG when it does not fit.
int UnixAddressShim(const std::string& path, struct sockaddr_un* addr) {
  if (path.empty() || path.size() >= sizeof(addr->sun_path)) return -ENAMETOOLONG;
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  memcpy(addr->sun_path, path.data(), path.size());
  return 0;
}

int BindShim(int fd, const std::string& path, int backlog) {
  struct sockaddr_un addr;
  const int rc = UnixAddressShim(path, &addr);
  if (rc < 0) return rc;
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) < 0) return -errno;
  return listen(fd, backlog) < 0 ? -errno : 0;
}

int ConnectShim(int fd, const std::string& path) {
  struct sockaddr_un addr;
  const int rc = UnixAddressShim(path, &addr);
  if (rc < 0) return rc;
  return connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) < 0 ? -errno : 0;
}

int AcceptShim(int fd) {
  const int conn = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  return conn < 0 ? -errno : conn;
}

// SO_TYPE of a socket, or -ENOTSOCK.
int SocketTypeShim(int fd) {
  int type = 0;
  socklen_t len = sizeof(type);
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ? -errno : type;
}

ssize_t SendFdsShim(int fd, const uint8_t* data, size_t length, const std::vector<int>& fds) {
  struct iovec iov = {const_cast<uint8_t*>(data), length};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  }
  const ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  return n < 0 ? -errno : n;
}

struct Received {
  ssize_t bytes = 0;
  int flags = 0;
  std::vector<int> fds;
};

// Every descriptor the kernel installed is collected, whatever else the
// message holds, so the caller can close the ones it does not want.
ssize_t RecvFdsShim(int fd, uint8_t* data, size_t length, size_t max_fds, Received* out) {
  struct iovec iov = {data, length};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * max_fds));
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  const ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (n < 0) return -errno;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int received;
      memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      out->fds.push_back(received);
    }
  }
  out->bytes = n;
  out->flags = msg.msg_flags;
  return n;
}

// revents, 0 on timeout.
int PollShim(int fd, short events, int timeout_ms) {
  struct pollfd p = {fd, events, 0};
  int rc;
  do {
    rc = poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return -errno;
  return rc == 0 ? 0 : p.revents;
}

std::string ArgPath(const Napi::CallbackInfo& info, size_t i, const char* usage) {
  if (i >= info.Length() || !info[i].IsString()) Usage(info, usage);
  return info[i].As<Napi::String>().Utf8Value();
}

// unixSocket(): number: an unbound SOCK_SEQPACKET socket.
Napi::Value UnixSocket(const Napi::CallbackInfo& info) {
  ArgCount(info, 0, "unixSocket()");
  const int fd = SocketShim();
  if (fd < 0) throw SyscallError(info.Env(), fd, "socket");
  return Napi::Number::New(info.Env(), fd);
}

// unixSocketPair(): [number, number]: two connected SOCK_SEQPACKET sockets.
Napi::Value UnixSocketPair(const Napi::CallbackInfo& info) {
  ArgCount(info, 0, "unixSocketPair()");
  int fds[2];
  const int rc = SocketPairShim(fds);
  if (rc < 0) throw SyscallError(info.Env(), rc, "socketpair");
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), fds[0]));
  out.Set(1u, Napi::Number::New(info.Env(), fds[1]));
  return out;
}

// unixListen(fd, path, backlog): bind(2) to a filesystem path, then listen(2).
Napi::Value UnixListen(const Napi::CallbackInfo& info) {
  static const char* usage = "unixListen(fd: number, path: string, backlog: number)";
  ArgCount(info, 3, usage);
  const int rc = BindShim(ArgFd(info, 0, usage), ArgPath(info, 1, usage),
                          static_cast<int>(ArgInt(info, 2, 1, 4096, usage)));
  if (rc < 0) throw SyscallError(info.Env(), rc, "bind");
  return info.Env().Undefined();
}

// unixConnect(fd, path): connect(2); a listener with a full backlog gives EAGAIN.
Napi::Value UnixConnect(const Napi::CallbackInfo& info) {
  static const char* usage = "unixConnect(fd: number, path: string)";
  ArgCount(info, 2, usage);
  const int rc = ConnectShim(ArgFd(info, 0, usage), ArgPath(info, 1, usage));
  if (rc < 0) throw SyscallError(info.Env(), rc, "connect");
  return info.Env().Undefined();
}

// unixAccept(fd): number: accept4(2); EAGAIN when nobody is waiting.
Napi::Value UnixAccept(const Napi::CallbackInfo& info) {
  static const char* usage = "unixAccept(fd: number)";
  ArgCount(info, 1, usage);
  const int rc = AcceptShim(ArgFd(info, 0, usage));
  if (rc < 0) throw SyscallError(info.Env(), rc, "accept4");
  return Napi::Number::New(info.Env(), rc);
}

// socketType(fd): number: SO_TYPE (SOCK_STREAM, SOCK_SEQPACKET, ...).
Napi::Value SocketType(const Napi::CallbackInfo& info) {
  static const char* usage = "socketType(fd: number)";
  ArgCount(info, 1, usage);
  const int rc = SocketTypeShim(ArgFd(info, 0, usage));
  if (rc < 0) throw SyscallError(info.Env(), rc, "getsockopt");
  return Napi::Number::New(info.Env(), rc);
}

// sendFds(fd, data, fds): number: one message carrying `fds` (SCM_RIGHTS).
Napi::Value SendFds(const Napi::CallbackInfo& info) {
  static const char* usage = "sendFds(fd: number, data: ArrayBufferView, fds: number[])";
  ArgCount(info, 3, usage);
  const int fd = ArgFd(info, 0, usage);
  const Bytes data = ArgBytes(info, 1, usage);
  if (!info[2].IsArray()) Usage(info, usage);
  Napi::Array list = info[2].As<Napi::Array>();
  if (list.Length() > kMaxFds) Usage(info, usage);
  std::vector<int> fds;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    if (!v.IsNumber()) Usage(info, usage);
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= INT32_MAX) || static_cast<double>(static_cast<int>(d)) != d)
      Usage(info, usage);
    fds.push_back(static_cast<int>(d));
  }
  const ssize_t n = SendFdsShim(fd, data.data, data.length, fds);
  if (n < 0) throw SyscallError(info.Env(), static_cast<int>(n), "sendmsg");
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// recvFds(fd, buffer, maxFds): { bytes, fds, flags }: one message into
// `buffer`; room for `maxFds` descriptors (more sets MSG_CTRUNC in flags).
Napi::Value RecvFds(const Napi::CallbackInfo& info) {
  static const char* usage = "recvFds(fd: number, buffer: ArrayBufferView, maxFds: number)";
  ArgCount(info, 3, usage);
  const int fd = ArgFd(info, 0, usage);
  const Bytes buffer = ArgBytes(info, 1, usage);
  const size_t max_fds = static_cast<size_t>(ArgInt(info, 2, 1, kMaxFds, usage));
  Received r;
  const ssize_t n = RecvFdsShim(fd, buffer.data, buffer.length, max_fds, &r);
  Napi::Env env = info.Env();
  if (n < 0) throw SyscallError(env, static_cast<int>(n), "recvmsg");
  Napi::Array fds = Napi::Array::New(env, r.fds.size());
  for (size_t i = 0; i < r.fds.size(); i++)
    fds.Set(static_cast<uint32_t>(i), Napi::Number::New(env, r.fds[i]));
  Napi::Object out = Napi::Object::New(env);
  out.Set("bytes", Napi::Number::New(env, static_cast<double>(r.bytes)));
  out.Set("fds", fds);
  out.Set("flags", Napi::Number::New(env, r.flags));
  return out;
}

// Polls a duplicate, so closing the caller's number cannot redirect the wait.
class PollWorker : public Napi::AsyncWorker {
 public:
  PollWorker(Napi::Env env, int fd, short events, int timeout_ms)
      : Napi::AsyncWorker(env, "memseal:pollFd"),
        deferred_(Napi::Promise::Deferred::New(env)),
        fd_(fd),
        events_(events),
        timeout_ms_(timeout_ms) {}
  ~PollWorker() override { close(fd_); }
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    result_ = PollShim(fd_, events_, timeout_ms_);
    if (result_ < 0) SetError("poll");
  }
  void OnOK() override { deferred_.Resolve(Napi::Number::New(Env(), result_)); }
  void OnError(const Napi::Error&) override {
    deferred_.Reject(SyscallError(Env(), result_, "poll").Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  int fd_;
  short events_;
  int timeout_ms_;
  int result_ = 0;
};

// pollFdAsync(fd, events, timeoutMs): Promise<revents>, 0 on timeout.
Napi::Value PollFdAsync(const Napi::CallbackInfo& info) {
  static const char* usage = "pollFdAsync(fd: number, events: number, timeoutMs: number)";
  ArgCount(info, 3, usage);
  const int fd = ArgFd(info, 0, usage);
  const short events = static_cast<short>(ArgInt(info, 1, 0, 0x7fff, usage));
  const int timeout_ms = static_cast<int>(ArgInt(info, 2, 0, INT32_MAX, usage));
  const int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) throw SyscallError(info.Env(), -errno, "fcntl");
  PollWorker* worker = new PollWorker(info.Env(), dup, events, timeout_ms);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace

void InitFdpass(Napi::Env env, Napi::Object exports) {
  Napi::Object c = Napi::Object::New(env);
  c.Set("SOCK_SEQPACKET", Napi::Number::New(env, SOCK_SEQPACKET));
  c.Set("POLLIN", Napi::Number::New(env, POLLIN));
  c.Set("POLLOUT", Napi::Number::New(env, POLLOUT));
  c.Set("POLLHUP", Napi::Number::New(env, POLLHUP));
  c.Set("POLLERR", Napi::Number::New(env, POLLERR));
  c.Set("MSG_TRUNC", Napi::Number::New(env, MSG_TRUNC));
  c.Set("MSG_CTRUNC", Napi::Number::New(env, MSG_CTRUNC));
  c.Set("SCM_MAX_FD", Napi::Number::New(env, static_cast<double>(kMaxFds)));
  exports.Set("socketConstants", c);
  exports.Set("unixSocket", Napi::Function::New(env, UnixSocket, "unixSocket"));
  exports.Set("unixSocketPair", Napi::Function::New(env, UnixSocketPair, "unixSocketPair"));
  exports.Set("unixListen", Napi::Function::New(env, UnixListen, "unixListen"));
  exports.Set("unixConnect", Napi::Function::New(env, UnixConnect, "unixConnect"));
  exports.Set("unixAccept", Napi::Function::New(env, UnixAccept, "unixAccept"));
  exports.Set("socketType", Napi::Function::New(env, SocketType, "socketType"));
  exports.Set("sendFds", Napi::Function::New(env, SendFds, "sendFds"));
  exports.Set("recvFds", Napi::Function::New(env, RecvFds, "recvFds"));
  exports.Set("pollFdAsync", Napi::Function::New(env, PollFdAsync, "pollFdAsync"));
}

}  // namespace memseal
