// Element types the array machine knows. The numeric values are part of the N-API protocol:
// lib/backend/native.ts mirrors them.
#pragma once
#include <cstddef>
#include <cstdint>

namespace kiln {

enum class DType : int32_t { Float32 = 0, Float64 = 1, Int32 = 2, Bool = 3 };
constexpr int kNumDTypes = 4;

inline bool validDType(int64_t v) { return v >= 0 && v < kNumDTypes; }

inline size_t dtypeSize(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int32: return 4;
    case DType::Bool: return 1;
  }
  return 0;
}

inline const char* dtypeName(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int32: return "int32";
    case DType::Bool: return "bool";
  }
  return "?";
}

inline bool isFloating(DType t) { return t == DType::Float32 || t == DType::Float64; }

// Calls f with a value of the C++ type of `t` (only its type matters), e.g.
//   dispatchDType(t, [&](auto tag) { using T = decltype(tag); ... });
template <typename F>
decltype(auto) dispatchDType(DType t, F&& f) {
  switch (t) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Int32: return f(int32_t{});
    case DType::Bool: return f(bool{});
  }
  return f(float{});
}

}  // namespace kiln
