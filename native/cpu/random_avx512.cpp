// Philox4x32-10 on 16 counters at once with AVX-512F (see random_simd.h).
#include "random_simd.h"

#if defined(__x86_64__) || defined(_M_X64)
#if defined(__GNUC__) && !defined(__clang__)
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

}  // namespace

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

}  // namespace simd
}  // namespace cpu
}  // namespace kiln
#endif
