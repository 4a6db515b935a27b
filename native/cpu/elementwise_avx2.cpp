// AVX2 + FMA instantiation of the vector float32 kernels (elementwise_simd_impl.h).
#include "elementwise_simd.h"

#if defined(KILN_SIMD_X86)
#include <immintrin.h>

namespace kiln {
namespace cpu {
namespace simd {
namespace avx2 {

struct VI {
  __m256i v;
  static VI set1i(int32_t x) { return {_mm256_set1_epi32(x)}; }
};
inline VI operator+(VI a, VI b) { return {_mm256_add_epi32(a.v, b.v)}; }
inline VI operator-(VI a, VI b) { return {_mm256_sub_epi32(a.v, b.v)}; }
inline VI operator&(VI a, VI b) { return {_mm256_and_si256(a.v, b.v)}; }
inline VI operator|(VI a, VI b) { return {_mm256_or_si256(a.v, b.v)}; }
inline VI srai(VI a, int n) { return {_mm256_srai_epi32(a.v, n)}; }
inline VI slli(VI a, int n) { return {_mm256_slli_epi32(a.v, n)}; }

struct VM {
  __m256 m;
};
inline VM operator|(VM a, VM b) { return {_mm256_or_ps(a.m, b.m)}; }
inline bool any(VM a) { return _mm256_movemask_ps(a.m) != 0; }

struct V {
  static constexpr int W = 8;
  using M = VM;
  struct I : VI {
    I(VI x) : VI(x) {}
    static I set1i(int32_t x) { return VI::set1i(x); }
    static I roundToInt(V x) { return VI{_mm256_cvtps_epi32(x.v)}; }
  };
  __m256 v;
  static V load(const float* p) { return {_mm256_loadu_ps(p)}; }
  static V set1(float x) { return {_mm256_set1_ps(x)}; }
  void store(float* p) const { _mm256_storeu_ps(p, v); }
};
inline V operator+(V a, V b) { return {_mm256_add_ps(a.v, b.v)}; }
inline V operator-(V a, V b) { return {_mm256_sub_ps(a.v, b.v)}; }
inline V operator*(V a, V b) { return {_mm256_mul_ps(a.v, b.v)}; }
inline V operator/(V a, V b) { return {_mm256_div_ps(a.v, b.v)}; }
inline V fmadd(V a, V b, V c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
inline V vmin(V a, V b) { return {_mm256_min_ps(a.v, b.v)}; }
inline V vmax(V a, V b) { return {_mm256_max_ps(a.v, b.v)}; }
inline VM lt(V a, V b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)}; }
inline VM le(V a, V b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LE_OQ)}; }
inline VM gt(V a, V b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ)}; }
inline VM eq(V a, V b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_EQ_OQ)}; }
inline VM isNan(V a) { return {_mm256_cmp_ps(a.v, a.v, _CMP_UNORD_Q)}; }
inline V vselect(VM m, V a, V b) { return {_mm256_blendv_ps(b.v, a.v, m.m)}; }
inline V vand(V a, V b) { return {_mm256_and_ps(a.v, b.v)}; }
inline V vor(V a, V b) { return {_mm256_or_ps(a.v, b.v)}; }
inline V vxor(V a, V b) { return {_mm256_xor_ps(a.v, b.v)}; }
inline V vabs(V a) { return {_mm256_andnot_ps(_mm256_set1_ps(-0.0f), a.v)}; }
inline V vsqrt(V a) { return {_mm256_sqrt_ps(a.v)}; }
inline V vfloor(V a) { return {_mm256_round_ps(a.v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)}; }
inline V vceil(V a) { return {_mm256_round_ps(a.v, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC)}; }
inline V vround(V a) { return {_mm256_round_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
inline V asFloat(VI a) { return {_mm256_castsi256_ps(a.v)}; }
inline VI asInt(V a) { return {_mm256_castps_si256(a.v)}; }
inline V toFloat(VI a) { return {_mm256_cvtepi32_ps(a.v)}; }
inline float hmax(V a) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
}
inline float hmin(V a) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_min_ss(m, _mm_shuffle_ps(m, m, 1)));
}

}  // namespace avx2
}  // namespace simd
}  // namespace cpu
}  // namespace kiln

#include "elementwise_simd_impl.h"

namespace kiln {
namespace cpu {
namespace simd {

const Kernels& avx2Kernels() {
  static const Kernels k = impl::makeKernels<avx2::V>("avx2");
  return k;
}

}  // namespace simd
}  // namespace cpu
}  // namespace kiln
#endif
