// AVX2 2 x 2 / stride 2 max-pool argmax (pool_kernels.h): 8 outputs per step.
#include "pool_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

namespace kiln {
namespace cpu {
namespace {

// v beats best: greater, or NaN over a number (all-ones lanes).
inline __m256 beats(__m256 v, __m256 best) {
  return _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), _mm256_cmp_ps(best, best, _CMP_ORD_Q)));
}

// Lanes i < n on.
inline __m256i firstLanes(int64_t n) {
  const int k = static_cast<int>(n < 0 ? 0 : n > 8 ? 8 : n);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Even and odd elements of the 16 floats at p (n of them valid): [p0 p2 .. p14], [p1 p3 .. p15].
inline void deinterleave(const float* p, int64_t n, __m256& even, __m256& odd) {
  const __m256 a = _mm256_maskload_ps(p, firstLanes(n)), b = _mm256_maskload_ps(p + 8, firstLanes(n - 8));
  const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  // a0 a2 b0 b2 | a4 a6 b4 b6
  const __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
}

void maxPool2x2(const float* r0, const float* r1, int64_t n, int32_t at0, int32_t at1, int32_t* out) {
  const __m256i twice = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  for (int64_t o = 0; o < n; o += 8) {
    const int64_t left = n - o;
    __m256 v00, v01, v10, v11;
    deinterleave(r0 + 2 * o, 2 * left, v00, v01);
    deinterleave(r1 + 2 * o, 2 * left, v10, v11);
    const __m256i pos = _mm256_add_epi32(twice, _mm256_set1_epi32(static_cast<int>(2 * o)));
    __m256 best = v00;
    __m256i at = _mm256_add_epi32(pos, _mm256_set1_epi32(at0));
    __m256 k = beats(v01, best);
    best = _mm256_blendv_ps(best, v01, k);
    at = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(at), _mm256_castsi256_ps(_mm256_add_epi32(pos, _mm256_set1_epi32(at0 + 1))), k));
    k = beats(v10, best);
    best = _mm256_blendv_ps(best, v10, k);
    at = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(at), _mm256_castsi256_ps(_mm256_add_epi32(pos, _mm256_set1_epi32(at1))), k));
    k = beats(v11, best);
    at = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(at), _mm256_castsi256_ps(_mm256_add_epi32(pos, _mm256_set1_epi32(at1 + 1))), k));
    _mm256_maskstore_epi32(out + o, firstLanes(left), at);
  }
}

}  // namespace

MaxPool2x2F32 avx2MaxPool2x2F32() { return &maxPool2x2; }

}  // namespace cpu
}  // namespace kiln

#else

namespace kiln {
namespace cpu {
MaxPool2x2F32 avx2MaxPool2x2F32() { return nullptr; }
}  // namespace cpu
}  // namespace kiln

#endif
