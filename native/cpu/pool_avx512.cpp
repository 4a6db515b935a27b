// AVX-512F 2 x 2 / stride 2 max-pool argmax (pool_kernels.h): 16 outputs per step.
#include "pool_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

namespace kiln {
namespace cpu {
namespace {

// v beats best: greater, or NaN over a number.
inline __mmask16 beats(__m512 v, __m512 best) {
  return static_cast<__mmask16>(_mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |
                                (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q)));
}

// Sixteen consecutive 2 x 2 windows from output o on: their four corners (top-left v00,
// top-right v01, bottom-left v10, bottom-right v11), the masks of the valid outputs (m) and of
// the valid inputs in each row's two vectors (lo, hi). Lanes past the rows are never touched.
struct Windows {
  __m512 v00, v01, v10, v11;
  __mmask16 m, lo, hi;
};

inline Windows loadWindows(const float* r0, const float* r1, int64_t o, int64_t n) {
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odds = _mm512_add_epi32(evens, _mm512_set1_epi32(1));
  const int64_t left = n - o;
  Windows w;
  w.m = left >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u);
  // 32 inputs per row: two masked loads.
  w.lo = left >= 8 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (2 * left)) - 1u);
  w.hi = left >= 16 ? __mmask16(0xFFFF) : left <= 8 ? __mmask16(0) : static_cast<__mmask16>((1u << (2 * (left - 8))) - 1u);
  const __m512 a0 = _mm512_maskz_loadu_ps(w.lo, r0 + 2 * o), b0 = _mm512_maskz_loadu_ps(w.hi, r0 + 2 * o + 16);
  const __m512 a1 = _mm512_maskz_loadu_ps(w.lo, r1 + 2 * o), b1 = _mm512_maskz_loadu_ps(w.hi, r1 + 2 * o + 16);
  w.v00 = _mm512_permutex2var_ps(a0, evens, b0), w.v01 = _mm512_permutex2var_ps(a0, odds, b0);
  w.v10 = _mm512_permutex2var_ps(a1, evens, b1), w.v11 = _mm512_permutex2var_ps(a1, odds, b1);
  return w;
}

void maxPool2x2(const float* r0, const float* r1, int64_t n, int32_t at0, int32_t at1, int32_t* out) {
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (int64_t o = 0; o < n; o += 16) {
    const Windows w = loadWindows(r0, r1, o, n);
    const __m512 v00 = w.v00, v01 = w.v01, v10 = w.v10, v11 = w.v11;
    const __m512i pos = _mm512_add_epi32(evens, _mm512_set1_epi32(static_cast<int>(2 * o)));  // 2o per lane
    __m512 best = v00;
    __m512i at = _mm512_add_epi32(pos, _mm512_set1_epi32(at0));
    __mmask16 k = beats(v01, best);
    best = _mm512_mask_blend_ps(k, best, v01);
    at = _mm512_mask_blend_epi32(k, at, _mm512_add_epi32(pos, _mm512_set1_epi32(at0 + 1)));
    k = beats(v10, best);
    best = _mm512_mask_blend_ps(k, best, v10);
    at = _mm512_mask_blend_epi32(k, at, _mm512_add_epi32(pos, _mm512_set1_epi32(at1)));
    k = beats(v11, best);
    at = _mm512_mask_blend_epi32(k, at, _mm512_add_epi32(pos, _mm512_set1_epi32(at1 + 1)));
    _mm512_mask_storeu_epi32(out + o, w.m, at);
  }
}

// The same comparisons as maxPool2x2, keeping the value instead of the position.
void maxPool2x2Values(const float* r0, const float* r1, int64_t n, float* out) {
  for (int64_t o = 0; o < n; o += 16) {
    const Windows w = loadWindows(r0, r1, o, n);
    const __m512 v00 = w.v00, v01 = w.v01, v10 = w.v10, v11 = w.v11;
    __m512 best = v00;
    best = _mm512_mask_blend_ps(beats(v01, best), best, v01);
    best = _mm512_mask_blend_ps(beats(v10, best), best, v10);
    best = _mm512_mask_blend_ps(beats(v11, best), best, v11);
    _mm512_mask_storeu_ps(out + o, w.m, best);
  }
}

// The same comparisons as maxPool2x2; the winner's lane of g goes to its position, zeros to the
// other three, and the four position vectors are interleaved back into the two rows.
void maxPool2x2Grad(const float* r0, const float* r1, const float* g, int64_t n, float* d0, float* d1) {
  const __m512i zipLo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i zipHi = _mm512_add_epi32(zipLo, _mm512_set1_epi32(8));
  for (int64_t o = 0; o < n; o += 16) {
    const Windows w = loadWindows(r0, r1, o, n);
    const __m512 v00 = w.v00, v01 = w.v01, v10 = w.v10, v11 = w.v11;
    __m512 best = v00;
    const __mmask16 k1 = beats(v01, best);
    best = _mm512_mask_blend_ps(k1, best, v01);
    const __mmask16 k2 = beats(v10, best);
    best = _mm512_mask_blend_ps(k2, best, v10);
    const __mmask16 k3 = beats(v11, best);
    // The last window position that beat the running maximum is the first maximum.
    const __mmask16 w11 = k3, w10 = static_cast<__mmask16>(k2 & ~k3), w01 = static_cast<__mmask16>(k1 & ~k2 & ~k3);
    const __mmask16 w00 = static_cast<__mmask16>(~(k1 | k2 | k3));
    const __m512 gv = _mm512_maskz_loadu_ps(w.m, g + o);
    const __m512 e00 = _mm512_maskz_mov_ps(w00, gv), e01 = _mm512_maskz_mov_ps(w01, gv);
    const __m512 e10 = _mm512_maskz_mov_ps(w10, gv), e11 = _mm512_maskz_mov_ps(w11, gv);
    _mm512_mask_storeu_ps(d0 + 2 * o, w.lo, _mm512_permutex2var_ps(e00, zipLo, e01));
    _mm512_mask_storeu_ps(d0 + 2 * o + 16, w.hi, _mm512_permutex2var_ps(e00, zipHi, e01));
    _mm512_mask_storeu_ps(d1 + 2 * o, w.lo, _mm512_permutex2var_ps(e10, zipLo, e11));
    _mm512_mask_storeu_ps(d1 + 2 * o + 16, w.hi, _mm512_permutex2var_ps(e10, zipHi, e11));
  }
}

}  // namespace

MaxPool2x2F32 avx512MaxPool2x2F32() { return &maxPool2x2; }
MaxPool2x2GradF32 avx512MaxPool2x2GradF32() { return &maxPool2x2Grad; }
MaxPool2x2ValuesF32 avx512MaxPool2x2ValuesF32() { return &maxPool2x2Values; }

}  // namespace cpu
}  // namespace kiln

#else

namespace kiln {
namespace cpu {
MaxPool2x2F32 avx512MaxPool2x2F32() { return nullptr; }
MaxPool2x2GradF32 avx512MaxPool2x2GradF32() { return nullptr; }
MaxPool2x2ValuesF32 avx512MaxPool2x2ValuesF32() { return nullptr; }
}  // namespace cpu
}  // namespace kiln

#endif
