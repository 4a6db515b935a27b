// AVX-512F unfold/fold for the CPU convolutions (conv_cols_simd.h): 16 float lanes.
#include "conv_cols.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "conv_cols_simd.h"

namespace kiln {
namespace cpu {
namespace {

struct F32x16 {
  using V = __m512;
  using M = __mmask16;
  static constexpr int64_t L = 16;
  static M range(int64_t lo, int64_t hi) {
    lo = std::max<int64_t>(lo, 0);
    hi = std::min<int64_t>(hi, 16);
    if (lo >= hi) return 0;
    return static_cast<M>(((1u << (hi - lo)) - 1u) << lo);
  }
  static V zero() { return _mm512_setzero_ps(); }
  static V loadz(const float* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
  static V merge(V v, const float* p, M m) { return _mm512_mask_loadu_ps(v, m, p); }
  static void store(float* p, V v, M m) { _mm512_mask_storeu_ps(p, m, v); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
};

}  // namespace

const ColKernelsF32* avx512ColKernelsF32() { return makeColKernels<F32x16>(); }

}  // namespace cpu
}  // namespace kiln

#else

namespace kiln {
namespace cpu {
const ColKernelsF32* avx512ColKernelsF32() { return nullptr; }
}  // namespace cpu
}  // namespace kiln

#endif
