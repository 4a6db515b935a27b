// Philox4x32-10 on 8 counters at once with AVX2 (see random_simd.h).
#include "random_simd.h"

#if defined(__x86_64__) || defined(_M_X64)
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

}  // namespace

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

}  // namespace simd
}  // namespace cpu
}  // namespace kiln
#endif
