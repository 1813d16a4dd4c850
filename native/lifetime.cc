// Teardown of what an environment holds (lifetime.h), and the exit handler.
#include "lifetime.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <set>
#include <utility>

#include "addon.h"
#include "args.h"
#include "errors.h"

namespace memseal {

namespace {

// Every environment's resources, for the exit handler. Never destroyed: the
// handler may run after static destructors.
std::mutex& AllLock() {
  static auto* mutex = new std::mutex();
  return *mutex;
}

std::set<EnvResources*>& All() {
  static auto* all = new std::set<EnvResources*>();
  return *all;
}

pid_t exit_pid = 0;

// exit(3) of this process, which runs no environment teardown (process.exit()
// in the main thread): wipe the secrets still mapped. Not in a child forked
// from native code, where secret memory is not even mapped (MADV_DONTFORK).
void WipeAllAtExit() {
  if (getpid() != exit_pid) return;
  std::lock_guard<std::mutex> guard(AllLock());
  for (EnvResources* resources : All()) resources->WipeAtExit();
}

void ReleaseFdShim(int fd, const std::string& path) {
  close(fd);
  if (!path.empty()) unlink(path.c_str());
}

// The environment is being torn down: whatever ended it, no JS runs now.
void TeardownHook(std::shared_ptr<EnvResources>* held) {
  (*held)->Teardown();
  delete held;
}

// ownFd(fd[, path]): this environment closes `fd` (and removes the socket
// file at `path`) when it is torn down, unless close(fd) comes first.
Napi::Value OwnFd(const Napi::CallbackInfo& info) {
  static const char* usage = "ownFd(fd: number[, path: string])";
  if (info.Length() != 1) ArgCount(info, 2, usage);
  const int fd = ArgFd(info, 0, usage);
  std::string path;
  if (info.Length() == 2) {
    if (!info[1].IsString()) Usage(info, usage);
    path = info[1].As<Napi::String>().Utf8Value();
    if (path.empty() || path.find('\0') != std::string::npos) Usage(info, usage);
  }
  if (fcntl(fd, F_GETFD) < 0) throw SyscallError(info.Env(), errno, "fcntl");
  GetEnvResources(info.Env())->AddFd(fd, std::move(path));
  return info.Env().Undefined();
}

}  // namespace

EnvResources::EnvResources() {
  std::lock_guard<std::mutex> guard(AllLock());
  All().insert(this);
}

EnvResources::~EnvResources() {
  std::lock_guard<std::mutex> guard(AllLock());
  All().erase(this);
}

void EnvResources::AddRegion(void* region, RegionEnd end) {
  std::lock_guard<std::mutex> guard(mutex_);
  regions_[region] = end;
}

void EnvResources::RemoveRegion(void* region) {
  std::lock_guard<std::mutex> guard(mutex_);
  regions_.erase(region);
}

void EnvResources::AddFd(int fd, std::string path) {
  std::lock_guard<std::mutex> guard(mutex_);
  fds_[fd] = std::move(path);
}

void EnvResources::ForgetFd(int fd) {
  std::lock_guard<std::mutex> guard(mutex_);
  fds_.erase(fd);
}

void EnvResources::Teardown() {
  std::unordered_map<void*, RegionEnd> regions;
  std::unordered_map<int, std::string> fds;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    regions.swap(regions_);
    fds.swap(fds_);
  }
  for (const auto& [region, end] : regions) end(region, Ending::kTeardown);
  for (const auto& [fd, path] : fds) ReleaseFdShim(fd, path);
}

void EnvResources::WipeAtExit() {
  std::lock_guard<std::mutex> guard(mutex_);
  for (const auto& [region, end] : regions_) end(region, Ending::kExit);
}

EnvResources* GetEnvResources(Napi::Env env) { return GetAddonData(env)->resources.get(); }

void InitLifetime(Napi::Env env, Napi::Object exports) {
  auto resources = std::make_shared<EnvResources>();
  GetAddonData(env)->resources = resources;
  // The hook keeps them alive until it has run, whenever the instance data goes.
  env.AddCleanupHook(TeardownHook, new std::shared_ptr<EnvResources>(resources));
  static std::once_flag once;
  std::call_once(once, [] {
    exit_pid = getpid();
    std::atexit(WipeAllAtExit);
  });
  exports.Set("ownFd", Napi::Function::New(env, OwnFd, "ownFd"));
}

}  // namespace memseal
