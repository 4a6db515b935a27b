// Philox4x32-10 blocks with AVX2 / AVX-512 (random_avx2.cpp, random_avx512.cpp), chosen at run
// time by random.cpp. Same results as philox::block, bit for bit.
#pragma once
#include <cstdint>

namespace kiln {
namespace cpu {
namespace simd {

// words[4 * k + j] = word j of philox::block(seed, counter + k), for k < blocks.
using PhiloxFn = void (*)(uint64_t seed, uint64_t counter, int64_t blocks, uint32_t* words);

#if defined(__x86_64__) || defined(_M_X64)
void philoxAvx2(uint64_t seed, uint64_t counter, int64_t blocks, uint32_t* words);
void philoxAvx512(uint64_t seed, uint64_t counter, int64_t blocks, uint32_t* words);
#endif

}  // namespace simd
}  // namespace cpu
}  // namespace kiln
