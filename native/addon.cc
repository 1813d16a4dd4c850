// Assembles the families into one module. Policy lives in lib/, not here.
#include "addon.h"

namespace memseal {

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  InitErrors(env, exports);
  InitLifetime(env, exports);
  InitConstants(env, exports);
  InitMemfd(env, exports);
  InitSeals(env, exports);
  InitFileIo(env, exports);
  InitMman(env, exports);
  InitRegion(env, exports);
  InitSecretmem(env, exports);
  InitCopy(env, exports);
  InitProcs(env, exports);
  InitSplice(env, exports);
  InitFdpass(env, exports);
  InitXattr(env, exports);
  return exports;
}

}  // namespace memseal

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  return memseal::InitModule(env, exports);
}

NODE_API_MODULE(NODE_GYP_MODULE_NAME, Init)
