// Philox4x32-10 on 16 counters at once, and the normal transforms on 8 lanes, with AVX-512F
// (see random_simd.h).
#include "random_simd.h"

#if defined(__x86_64__) || defined(_M_X64)
#if defined(__GNUC__) && !defined(__clang__)
// GCC's vector intrinsics are plain vector arithmetic, which it would fuse into FMAs; the
// normal transforms must round every product and sum (before the intrinsics are included).
#pragma GCC optimize("fp-contract=off")
// GCC 12 flags the _mm512_undefined_*() inside its own intrinsics as uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

namespace kiln {
namespace cpu {
namespace simd {
namespace {

// Per 32-bit lane: hi and lo words of the 64-bit product m * x.
inline void mulhilo(__m512i m, __m512i x, __m512i* hi, __m512i* lo) {
  const __m512i even = _mm512_mul_epu32(m, x);                                             // lanes 0, 2, ...
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(m, 32), _mm512_srli_epi64(x, 32));  // lanes 1, 3, ...
  *lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
}

// The double vector of random_simd_impl.h.
struct U64 {
  __m512i v;
  static U64 set1(uint64_t x) { return {_mm512_set1_epi64(static_cast<long long>(x))}; }
  static U64 load(const uint32_t* p) { return {_mm512_loadu_si512(p)}; }
  // 64-bit pairs 0, 2, 4 ... (loadEven) or 1, 3, 5 ... (loadOdd) of the 16 pairs at p.
  static U64 loadEven(const uint32_t* p) {
    return {_mm512_permutex2var_epi64(_mm512_loadu_si512(p), _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14),
                                      _mm512_loadu_si512(p + 16))};
  }
  static U64 loadOdd(const uint32_t* p) {
    return {_mm512_permutex2var_epi64(_mm512_loadu_si512(p), _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15),
                                      _mm512_loadu_si512(p + 16))};
  }
};
inline U64 operator&(U64 a, U64 b) { return {_mm512_and_si512(a.v, b.v)}; }
inline U64 operator|(U64 a, U64 b) { return {_mm512_or_si512(a.v, b.v)}; }
inline U64 operator>>(U64 a, int n) { return {_mm512_srli_epi64(a.v, static_cast<unsigned>(n))}; }
struct DM {
  __mmask8 m;
};
inline DM operator|(DM a, DM b) { return {static_cast<__mmask8>(a.m | b.m)}; }
struct D {
  static constexpr int W = 8;
  using M = DM;
  using U = U64;
  __m512d v;
  static D set1(double x) { return {_mm512_set1_pd(x)}; }
};
inline D add(D a, D b) { return {_mm512_add_pd(a.v, b.v)}; }
inline D sub(D a, D b) { return {_mm512_sub_pd(a.v, b.v)}; }
inline D mul(D a, D b) { return {_mm512_mul_pd(a.v, b.v)}; }
inline D div(D a, D b) { return {_mm512_div_pd(a.v, b.v)}; }
inline D vsqrt(D a) { return {_mm512_sqrt_pd(a.v)}; }
inline D vtrunc(D a) { return {_mm512_roundscale_pd(a.v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC)}; }
inline DM gt(D a, D b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_GT_OQ)}; }
inline DM eq(D a, D b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_EQ_OQ)}; }
inline D vselect(DM m, D a, D b) { return {_mm512_mask_blend_pd(m.m, b.v, a.v)}; }
inline U64 asBits(D a) { return {_mm512_castpd_si512(a.v)}; }
inline D asDouble(U64 a) { return {_mm512_castsi512_pd(a.v)}; }
inline D neg(D a) {  // flips the sign bit, like unary minus (_mm512_xor_pd would need AVX512DQ)
  return {_mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(a.v), _mm512_set1_epi64(static_cast<long long>(0x8000000000000000ull))))};
}
inline void store(double* p, D a) { _mm512_store_pd(p, a.v); }

}  // namespace
}  // namespace simd
}  // namespace cpu
}  // namespace kiln

#include "random_simd_impl.h"

namespace kiln {
namespace cpu {
namespace simd {

void philoxAvx512(uint64_t seed, uint64_t counter, int64_t blocks, uint32_t* words) {
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m512i m1 = _mm512_set1_epi32(static_cast<int>(0xCD9E8D57u));
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  alignas(64) uint32_t out[4][16];
  for (int64_t k = 0; k < blocks; k += 16) {
    const uint64_t base = counter + static_cast<uint64_t>(k);
    // counter + lane as 64-bit: low words, and high words with the carry out of the low word.
    const __m512i lo0 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(base)));
    __m512i c0 = _mm512_add_epi32(lo0, lane);
    const __mmask16 carry = _mm512_cmplt_epu32_mask(c0, lo0);
    __m512i c1 = _mm512_mask_add_epi32(_mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(base >> 32))), carry,
                                       _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(base >> 32))),
                                       _mm512_set1_epi32(1));
    __m512i c2 = _mm512_setzero_si512(), c3 = _mm512_setzero_si512();
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < 10; round++) {
      __m512i hi0, lo0r, hi1, lo1;
      mulhilo(m0, c0, &hi0, &lo0r);
      mulhilo(m1, c2, &hi1, &lo1);
      const __m512i n0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32(static_cast<int>(k0)));
      const __m512i n2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32(static_cast<int>(k1)));
      c0 = n0;
      c1 = lo1;
      c2 = n2;
      c3 = lo0r;
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    _mm512_store_si512(reinterpret_cast<__m512i*>(out[0]), c0);
    _mm512_store_si512(reinterpret_cast<__m512i*>(out[1]), c1);
    _mm512_store_si512(reinterpret_cast<__m512i*>(out[2]), c2);
    _mm512_store_si512(reinterpret_cast<__m512i*>(out[3]), c3);
    const int64_t n = blocks - k < 16 ? blocks - k : 16;
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
int64_t normalF32Avx512(const uint32_t* w, int64_t pairs, double mean, double std, float* out) {
  return rimpl::normalF32Loop<D>(w, pairs, mean, std, out);
}
int64_t normalF64Avx512(const uint32_t* w, int64_t blocks, double mean, double std, double* out) {
  return rimpl::normalF64Loop<D>(w, blocks, mean, std, out);
}
}  // namespace

const RandomKernels& randomAvx512() {
  static const RandomKernels k{philoxAvx512, normalF32Avx512, normalF64Avx512};
  return k;
}

}  // namespace simd
}  // namespace cpu
}  // namespace kiln
#endif
