// AVX-512F instantiation of the vector float32 kernels (elementwise_simd_impl.h). Uses only
// AVX-512F instructions, so any CPU that reports avx512f runs it.
#include "elementwise_simd.h"

#if defined(KILN_SIMD_X86)
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 flags the _mm512_undefined_*() inside its own intrinsics as uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

namespace kiln {
namespace cpu {
namespace simd {
namespace avx512 {

struct VI {
  __m512i v;
  static VI set1i(int32_t x) { return {_mm512_set1_epi32(x)}; }
};
inline VI operator+(VI a, VI b) { return {_mm512_add_epi32(a.v, b.v)}; }
inline VI operator-(VI a, VI b) { return {_mm512_sub_epi32(a.v, b.v)}; }
inline VI operator&(VI a, VI b) { return {_mm512_and_si512(a.v, b.v)}; }
inline VI operator|(VI a, VI b) { return {_mm512_or_si512(a.v, b.v)}; }
inline VI srai(VI a, int n) { return {_mm512_srai_epi32(a.v, static_cast<unsigned>(n))}; }
inline VI slli(VI a, int n) { return {_mm512_slli_epi32(a.v, static_cast<unsigned>(n))}; }

struct VM {
  __mmask16 m;
};
inline VM operator|(VM a, VM b) { return {static_cast<__mmask16>(a.m | b.m)}; }
inline bool any(VM a) { return a.m != 0; }

struct V {
  static constexpr int W = 16;
  using M = VM;
  struct I : VI {
    I(VI x) : VI(x) {}
    static I set1i(int32_t x) { return VI::set1i(x); }
    static I roundToInt(V x) { return VI{_mm512_cvtps_epi32(x.v)}; }
  };
  __m512 v;
  static V load(const float* p) { return {_mm512_loadu_ps(p)}; }
  static V set1(float x) { return {_mm512_set1_ps(x)}; }
  void store(float* p) const { _mm512_storeu_ps(p, v); }
};
inline __m512 bits(__m512i x) { return _mm512_castsi512_ps(x); }
inline __m512i ibits(__m512 x) { return _mm512_castps_si512(x); }
inline V operator+(V a, V b) { return {_mm512_add_ps(a.v, b.v)}; }
inline V operator-(V a, V b) { return {_mm512_sub_ps(a.v, b.v)}; }
inline V operator*(V a, V b) { return {_mm512_mul_ps(a.v, b.v)}; }
inline V operator/(V a, V b) { return {_mm512_div_ps(a.v, b.v)}; }
inline V fmadd(V a, V b, V c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
inline V vmin(V a, V b) { return {_mm512_min_ps(a.v, b.v)}; }
inline V vmax(V a, V b) { return {_mm512_max_ps(a.v, b.v)}; }
inline VM lt(V a, V b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ)}; }
inline VM le(V a, V b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LE_OQ)}; }
inline VM gt(V a, V b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ)}; }
inline VM eq(V a, V b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_EQ_OQ)}; }
inline VM isNan(V a) { return {_mm512_cmp_ps_mask(a.v, a.v, _CMP_UNORD_Q)}; }
inline V vselect(VM m, V a, V b) { return {_mm512_mask_blend_ps(m.m, b.v, a.v)}; }
// Bitwise float ops through the integer unit: _mm512_and_ps etc. would need AVX512DQ.
inline V vand(V a, V b) { return {bits(_mm512_and_si512(ibits(a.v), ibits(b.v)))}; }
inline V vor(V a, V b) { return {bits(_mm512_or_si512(ibits(a.v), ibits(b.v)))}; }
inline V vxor(V a, V b) { return {bits(_mm512_xor_si512(ibits(a.v), ibits(b.v)))}; }
inline V vabs(V a) { return {bits(_mm512_and_si512(ibits(a.v), _mm512_set1_epi32(0x7fffffff)))}; }
inline V vsqrt(V a) { return {_mm512_sqrt_ps(a.v)}; }
inline V vfloor(V a) { return {_mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)}; }
inline V vceil(V a) { return {_mm512_roundscale_ps(a.v, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC)}; }
inline V vround(V a) { return {_mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
inline V asFloat(VI a) { return {bits(a.v)}; }
inline VI asInt(V a) { return {ibits(a.v)}; }
inline V toFloat(VI a) { return {_mm512_cvtepi32_ps(a.v)}; }
inline __m256 upper(__m512 a) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)); }
inline float hmax(V a) {
  __m256 h = _mm256_max_ps(_mm512_castps512_ps256(a.v), upper(a.v));
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
}
inline float hmin(V a) {
  __m256 h = _mm256_min_ps(_mm512_castps512_ps256(a.v), upper(a.v));
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_min_ss(m, _mm_shuffle_ps(m, m, 1)));
}

}  // namespace avx512
}  // namespace simd
}  // namespace cpu
}  // namespace kiln

#include "elementwise_simd_impl.h"

namespace kiln {
namespace cpu {
namespace simd {

const Kernels& avx512Kernels() {
  static const Kernels k = impl::makeKernels<avx512::V>("avx512");
  return k;
}

}  // namespace simd
}  // namespace cpu
}  // namespace kiln
#endif
