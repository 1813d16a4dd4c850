#include "errors.h"

#include <uv.h>

#include <string>

#include "addon.h"

namespace memseal {

namespace {

// setErrorClass(SyscallError): called once per environment by lib/binding.ts.
Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsFunction()) {
    throw Napi::TypeError::New(env, "Usage: setErrorClass(SyscallErrorClass)");
  }
  GetAddonData(env)->syscall_error = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

}  // namespace

Napi::Error SyscallError(Napi::Env env, int err, const char* syscall) {
  const int e = err < 0 ? -err : err;
  const char* code = uv_err_name(-e);
  std::string message = std::string(code) + ": " + uv_strerror(-e) + ", " + syscall;
  AddonData* data = GetAddonData(env);
  if (data != nullptr && !data->syscall_error.IsEmpty()) {
    Napi::Object options = Napi::Object::New(env);
    options.Set("message", message);
    Napi::Object obj = data->syscall_error.New(
        {Napi::String::New(env, syscall), Napi::Number::New(env, -e), options});
    return Napi::Error(env, obj);
  }
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", code);
  error.Set("errno", Napi::Number::New(env, -e));
  error.Set("syscall", syscall);
  return error;
}

Napi::Error CodedError(Napi::Env env, const char* code, const char* message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", code);
  return error;
}

void InitErrors(Napi::Env env, Napi::Object exports) {
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
}

}  // namespace memseal
