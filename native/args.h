// Argument checks for the raw binding. lib/ validates everything first and
// names the argument; these only make sure no JS value, however hostile, can
// reach a syscall as garbage or crash the process. Each throws a TypeError
// carrying the wrapper's "Usage: ..." line.
#ifndef MEMSEAL_ARGS_H_
#define MEMSEAL_ARGS_H_

#include <napi.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

namespace memseal {

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1

// Node's own codes, so a caller can tell argument errors from syscall errors.
inline void Usage(const Napi::CallbackInfo& info, const char* usage) {
  Napi::TypeError err = Napi::TypeError::New(info.Env(), std::string("Usage: ") + usage);
  err.Set("code", "ERR_INVALID_ARG_TYPE");
  throw err;
}

inline void ArgCount(const Napi::CallbackInfo& info, size_t n, const char* usage) {
  if (info.Length() != n) Usage(info, usage);
}

// An integer Number in [lo, hi].
inline int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, int64_t lo, int64_t hi,
                      const char* usage) {
  if (i >= info.Length() || !info[i].IsNumber()) Usage(info, usage);
  const double d = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::trunc(d) != d || d < static_cast<double>(lo) ||
      d > static_cast<double>(hi)) {
    Usage(info, usage);
  }
  return static_cast<int64_t>(d);
}

// A file descriptor: 0 .. INT32_MAX.
inline int ArgFd(const Napi::CallbackInfo& info, size_t i, const char* usage) {
  return static_cast<int>(ArgInt(info, i, 0, INT32_MAX, usage));
}

inline uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* usage) {
  return static_cast<uint32_t>(ArgInt(info, i, 0, UINT32_MAX, usage));
}

// An unsigned 64-bit value given as a safe-integer Number or a BigInt.
inline uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i, const char* usage) {
  if (i < info.Length() && info[i].IsBigInt()) {
    bool lossless = false;
    uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) Usage(info, usage);
    return v;
  }
  return static_cast<uint64_t>(ArgInt(info, i, 0, static_cast<int64_t>(kMaxSafeInteger), usage));
}

// A signed 64-bit value given as a safe-integer Number or a BigInt.
inline int64_t ArgI64(const Napi::CallbackInfo& info, size_t i, const char* usage) {
  if (i < info.Length() && info[i].IsBigInt()) {
    bool lossless = false;
    int64_t v = info[i].As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) Usage(info, usage);
    return v;
  }
  return ArgInt(info, i, -static_cast<int64_t>(kMaxSafeInteger),
                static_cast<int64_t>(kMaxSafeInteger), usage);
}

// A byte count or offset that fits the address space.
inline size_t ArgSize(const Napi::CallbackInfo& info, size_t i, const char* usage) {
  return static_cast<size_t>(ArgU64(info, i, usage));
}

inline uintptr_t ArgAddr(const Napi::CallbackInfo& info, size_t i, const char* usage) {
  return static_cast<uintptr_t>(ArgU64(info, i, usage));
}

// -1 (meaning "none") or an offset.
inline bool ArgOptionalOffset(const Napi::CallbackInfo& info, size_t i, int64_t* out,
                              const char* usage) {
  if (i < info.Length() && (info[i].IsNull() || info[i].IsUndefined())) return false;
  *out = ArgI64(info, i, usage);
  if (*out < 0) Usage(info, usage);
  return true;
}

// Any ArrayBuffer view or ArrayBuffer: its bytes. A detached buffer gives
// {nullptr, 0}, which every caller treats as zero bytes.
struct Bytes {
  uint8_t* data;
  size_t length;
};

inline size_t ElementSize(napi_typedarray_type type) {
  switch (type) {
    case napi_int16_array:
    case napi_uint16_array:
      return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array:
      return 4;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array:
      return 8;
    default:
      return 1;
  }
}

inline Bytes ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* usage) {
  if (i >= info.Length()) Usage(info, usage);
  napi_env env = info.Env();
  napi_value v = info[i];
  void* data = nullptr;
  size_t length = 0;
  napi_status status = napi_invalid_arg;
  if (info[i].IsTypedArray()) {
    napi_typedarray_type type;
    size_t count = 0;
    status = napi_get_typedarray_info(env, v, &type, &count, &data, nullptr, nullptr);
    length = count * ElementSize(type);
  } else if (info[i].IsDataView()) {
    status = napi_get_dataview_info(env, v, &length, &data, nullptr, nullptr);
  } else if (info[i].IsArrayBuffer()) {
    status = napi_get_arraybuffer_info(env, v, &data, &length);
  }
  if (status != napi_ok) Usage(info, usage);
  if (data == nullptr) length = 0;  // detached
  return {static_cast<uint8_t*>(data), length};
}

// [offset, offset + length) must lie inside a buffer of `size` bytes.
inline void CheckSpan(const Napi::CallbackInfo& info, size_t offset, size_t length, size_t size,
                      const char* usage) {
  if (offset > size || length > size - offset) {
    Napi::RangeError err = Napi::RangeError::New(info.Env(), std::string("Out of range: ") + usage);
    err.Set("code", "ERR_OUT_OF_RANGE");
    throw err;
  }
}

}  // namespace memseal

#endif  // MEMSEAL_ARGS_H_
