// What a Node environment (the main thread, each worker thread) holds, so
// that it is given back when the environment is torn down, whichever way it
// ends (a worker's terminate(), process.exit() or uncaught error; the main
// thread's end): descriptors lib/ adopted (memfds, sockets; a listener's
// socket path goes with its descriptor) and the Regions still mapped (wiped,
// then unmapped). exit(3) skips that teardown: at exit, memory still mapped
// is only wiped.
#ifndef MEMSEAL_LIFETIME_H_
#define MEMSEAL_LIFETIME_H_

#include <napi.h>

#include <mutex>
#include <string>
#include <unordered_map>

namespace memseal {

// How a Region's memory ends: kTeardown wipes it (if it holds secrets) and
// unmaps it, its environment is going; kExit only wipes it, the process is.
enum class Ending { kTeardown, kExit };
using RegionEnd = void (*)(void* region, Ending how);

class EnvResources {
 public:
  EnvResources();
  ~EnvResources();
  EnvResources(const EnvResources&) = delete;
  EnvResources& operator=(const EnvResources&) = delete;

  void AddRegion(void* region, RegionEnd end);
  void RemoveRegion(void* region);
  // An empty path: a descriptor only.
  void AddFd(int fd, std::string path);
  void ForgetFd(int fd);
  // end(kTeardown) for each region, then every descriptor closed and its
  // path removed. Idempotent.
  void Teardown();
  // end(kExit) for each region.
  void WipeAtExit();

 private:
  std::mutex mutex_;
  std::unordered_map<void*, RegionEnd> regions_;
  std::unordered_map<int, std::string> fds_;
};

// This environment's resources (set up by InitLifetime).
EnvResources* GetEnvResources(Napi::Env env);

}  // namespace memseal

#endif  // MEMSEAL_LIFETIME_H_
