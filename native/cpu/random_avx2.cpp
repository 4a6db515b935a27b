// Philox4x32-10 on 8 counters at once, and the normal transforms on 4 lanes, with AVX2
// (see random_simd.h).
#include "random_simd.h"

#if defined(__x86_64__) || defined(_M_X64)
#if defined(__GNUC__) && !defined(__clang__)
// GCC's vector intrinsics are plain vector arithmetic, which it would fuse into FMAs (-mfma);
// the normal transforms must round every product and sum (before the intrinsics are included).
#pragma GCC optimize("fp-contract=off")
#endif
#include <immintrin.h>

namespace kiln {
namespace cpu {
namespace simd {
namespace {

// Per 32-bit lane: hi and lo words of the 64-bit product m * x.
inline void mulhilo(__m256i m, __m256i x, __m256i* hi, __m256i* lo) {
  const __m256i even = _mm256_mul_epu32(m, x);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(m, 32), _mm256_srli_epi64(x, 32));
  *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

// The double vector of random_simd_impl.h.
struct U64 {
  __m256i v;
  static U64 set1(uint64_t x) { return {_mm256_set1_epi64x(static_cast<long long>(x))}; }
  static U64 load(const uint32_t* p) { return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))}; }
  // 64-bit pairs 0, 2, 4, 6 (loadEven) or 1, 3, 5, 7 (loadOdd) of the 8 pairs at p.
  static U64 loadEven(const uint32_t* p) {
    const __m256i a = load(p).v, b = load(p + 8).v;
    return {_mm256_permute4x64_epi64(_mm256_unpacklo_epi64(a, b), 0xD8)};
  }
  static U64 loadOdd(const uint32_t* p) {
    const __m256i a = load(p).v, b = load(p + 8).v;
    return {_mm256_permute4x64_epi64(_mm256_unpackhi_epi64(a, b), 0xD8)};
  }
};
inline U64 operator&(U64 a, U64 b) { return {_mm256_and_si256(a.v, b.v)}; }
inline U64 operator|(U64 a, U64 b) { return {_mm256_or_si256(a.v, b.v)}; }
inline U64 operator>>(U64 a, int n) { return {_mm256_srli_epi64(a.v, n)}; }
struct DM {
  __m256d m;
};
inline DM operator|(DM a, DM b) { return {_mm256_or_pd(a.m, b.m)}; }
struct D {
  static constexpr int W = 4;
  using M = DM;
  using U = U64;
  __m256d v;
  static D set1(double x) { return {_mm256_set1_pd(x)}; }
};
inline D add(D a, D b) { return {_mm256_add_pd(a.v, b.v)}; }
inline D sub(D a, D b) { return {_mm256_sub_pd(a.v, b.v)}; }
inline D mul(D a, D b) { return {_mm256_mul_pd(a.v, b.v)}; }
inline D div(D a, D b) { return {_mm256_div_pd(a.v, b.v)}; }
inline D vsqrt(D a) { return {_mm256_sqrt_pd(a.v)}; }
inline D vtrunc(D a) { return {_mm256_round_pd(a.v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC)}; }
inline DM gt(D a, D b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_GT_OQ)}; }
inline DM eq(D a, D b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_EQ_OQ)}; }
inline D vselect(DM m, D a, D b) { return {_mm256_blendv_pd(b.v, a.v, m.m)}; }
inline U64 asBits(D a) { return {_mm256_castpd_si256(a.v)}; }
inline D asDouble(U64 a) { return {_mm256_castsi256_pd(a.v)}; }
inline D neg(D a) { return {_mm256_xor_pd(a.v, _mm256_set1_pd(-0.0))}; }  // flips the sign bit
inline void store(double* p, D a) { _mm256_store_pd(p, a.v); }

}  // namespace
}  // namespace simd
}  // namespace cpu
}  // namespace kiln

#include "random_simd_impl.h"

namespace kiln {
namespace cpu {
namespace simd {

void philoxAvx2(uint64_t seed, uint64_t counter, int64_t blocks, uint32_t* words) {
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  alignas(32) uint32_t out[4][8];
  alignas(32) uint32_t lo[8], hi[8];
  for (int64_t k = 0; k < blocks; k += 8) {
    for (int l = 0; l < 8; l++) {
      const uint64_t c = counter + static_cast<uint64_t>(k + l);
      lo[l] = static_cast<uint32_t>(c);
      hi[l] = static_cast<uint32_t>(c >> 32);
    }
    __m256i c0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(lo));
    __m256i c1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(hi));
    __m256i c2 = _mm256_setzero_si256(), c3 = _mm256_setzero_si256();
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < 10; round++) {
      __m256i hi0, lo0, hi1, lo1;
      mulhilo(m0, c0, &hi0, &lo0);
      mulhilo(m1, c2, &hi1, &lo1);
      const __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
      const __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
      c0 = n0;
      c1 = lo1;
      c2 = n2;
      c3 = lo0;
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    _mm256_store_si256(reinterpret_cast<__m256i*>(out[0]), c0);
    _mm256_store_si256(reinterpret_cast<__m256i*>(out[1]), c1);
    _mm256_store_si256(reinterpret_cast<__m256i*>(out[2]), c2);
    _mm256_store_si256(reinterpret_cast<__m256i*>(out[3]), c3);
    const int64_t n = blocks - k < 8 ? blocks - k : 8;
    uint32_t* w = words + 4 * k;
    for (int64_t l = 0; l < n; l++) {
      w[4 * l] = out[0][l];
      w[4 * l + 1] = out[1][l];
      w[4 * l + 2] = out[2][l];
      w[4 * l + 3] = out[3][l];
    }
  }
}

namespace {
int64_t normalF32Avx2(const uint32_t* w, int64_t pairs, double mean, double std, float* out) {
  return rimpl::normalF32Loop<D>(w, pairs, mean, std, out);
}
int64_t normalF64Avx2(const uint32_t* w, int64_t blocks, double mean, double std, double* out) {
  return rimpl::normalF64Loop<D>(w, blocks, mean, std, out);
}
}  // namespace

const RandomKernels& randomAvx2() {
  static const RandomKernels k{philoxAvx2, normalF32Avx2, normalF64Avx2};
  return k;
}

}  // namespace simd
}  // namespace cpu
}  // namespace kiln
#endif
