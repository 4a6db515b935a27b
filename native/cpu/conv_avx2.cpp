// AVX2 unfold/fold for the CPU convolutions (conv_cols_simd.h): 8 float lanes, masks as vectors.
#include "conv_cols.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "conv_cols_simd.h"

namespace kiln {
namespace cpu {
namespace {

struct F32x8 {
  using V = __m256;
  using M = __m256i;  // lane enabled when its sign bit is set
  static constexpr int64_t L = 8;
  static M range(int64_t lo, int64_t hi) {
    const int l = static_cast<int>(std::max<int64_t>(-1, std::min<int64_t>(lo, 8)));
    const int h = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(hi, 8)));
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    // lane i on when l <= i < h: (i > l - 1) and (h > i)
    return _mm256_and_si256(_mm256_cmpgt_epi32(iota, _mm256_set1_epi32(l - 1)), _mm256_cmpgt_epi32(_mm256_set1_epi32(h), iota));
  }
  static V zero() { return _mm256_setzero_ps(); }
  static V loadz(const float* p, M m) { return _mm256_maskload_ps(p, m); }
  static V merge(V v, const float* p, M m) { return _mm256_blendv_ps(v, _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m)); }
  static void store(float* p, V v, M m) { _mm256_maskstore_ps(p, m, v); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
};

}  // namespace

const ColKernelsF32* avx2ColKernelsF32() { return makeColKernels<F32x8>(); }

}  // namespace cpu
}  // namespace kiln

#else

namespace kiln {
namespace cpu {
const ColKernelsF32* avx2ColKernelsF32() { return nullptr; }
}  // namespace cpu
}  // namespace kiln

#endif
