// Contiguous float32 elementwise kernels (and the max/min reductions) written with AVX2 / AVX-512 intrinsics, chosen at run
// time (elementwise.cpp asks features() once). Only elementwise_avx2.cpp and
// elementwise_avx512.cpp define these tables; everything strided stays in portable C++.
#pragma once
#include <cstdint>

#include "../core/backend.h"

namespace kiln {
namespace cpu {
namespace simd {

// y[i] = op(x[i]) for i < n; x and y may be the same array.
using UnaryF32 = void (*)(const float* x, float* y, int64_t n);
// y[i] = op(a[i * sa], b[i * sb]) with sa, sb in {0, 1} (0: a broadcast scalar).
using BinaryF32 = void (*)(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n);
// max / min of p[0..n), NaN if any element is NaN; +-inf when n == 0.
using ExtremumF32 = float (*)(const float* p, int64_t n);

struct Kernels {
  const char* name;
  UnaryF32 unary[static_cast<int>(UnaryOp::Count)];    // null: not provided, use the C++ loop
  BinaryF32 binary[static_cast<int>(BinaryOp::Count)];
  ExtremumF32 max;
  ExtremumF32 min;
};

// The widest table this CPU runs (null: portable C++ only). KILN_SIMD=avx2|portable narrows
// the choice, for tests. Defined in elementwise.cpp.
const Kernels* best();

#if defined(__x86_64__) || defined(_M_X64)
#define KILN_SIMD_X86 1
const Kernels& avx2Kernels();    // needs avx2 + fma
const Kernels& avx512Kernels();  // needs avx512f (+dq, bw, vl: same CPUs in practice)
#endif

}  // namespace simd
}  // namespace cpu
}  // namespace kiln
