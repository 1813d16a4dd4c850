// Per-environment state shared by the family files, and their init hooks.
#ifndef MEMSEAL_ADDON_H_
#define MEMSEAL_ADDON_H_

#include <napi.h>

#include <memory>

namespace memseal {

class EnvResources;

// One per environment: the main thread and each worker thread get their own.
struct AddonData {
  Napi::FunctionReference syscall_error;    // lib/errors.ts SyscallError
  Napi::FunctionReference region_class;     // native Region (region.cc)
  std::shared_ptr<EnvResources> resources;  // what it holds (lifetime.h)
};

inline AddonData* GetAddonData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

void InitErrors(Napi::Env env, Napi::Object exports);
void InitLifetime(Napi::Env env, Napi::Object exports);
void InitConstants(Napi::Env env, Napi::Object exports);
void InitMemfd(Napi::Env env, Napi::Object exports);
void InitSeals(Napi::Env env, Napi::Object exports);
void InitFileIo(Napi::Env env, Napi::Object exports);
void InitMman(Napi::Env env, Napi::Object exports);
void InitRegion(Napi::Env env, Napi::Object exports);
void InitSecretmem(Napi::Env env, Napi::Object exports);
void InitCopy(Napi::Env env, Napi::Object exports);
void InitProcs(Napi::Env env, Napi::Object exports);
void InitSplice(Napi::Env env, Napi::Object exports);
void InitFdpass(Napi::Env env, Napi::Object exports);
void InitXattr(Napi::Env env, Napi::Object exports);

}  // namespace memseal

#endif  // MEMSEAL_ADDON_H_
