// The one place a failed syscall becomes a JS error.
#ifndef MEMSEAL_ERRORS_H_
#define MEMSEAL_ERRORS_H_

#include <napi.h>

namespace memseal {

// Builds the JS SyscallError registered by lib/binding.ts (or, if none was
// registered, a plain Error with the same properties): message
// "<CODE>: <strerror>, <syscall>", code "EPERM", errno -1, syscall "mseal".
// `err` may be given as errno or as -errno.
Napi::Error SyscallError(Napi::Env env, int err, const char* syscall);

// An Error with a stable `code` for conditions that are not a syscall's
// (use of a released region, a runtime without external buffers).
Napi::Error CodedError(Napi::Env env, const char* code, const char* message);

}  // namespace memseal

#endif  // MEMSEAL_ERRORS_H_
