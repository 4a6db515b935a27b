// Philox4x32-10 blocks and the normal transforms with AVX2 / AVX-512 (random_avx2.cpp,
// random_avx512.cpp), chosen at run time by random.cpp. Same results as native/core/philox.h,
// bit for bit.
#pragma once
#include <cstdint>

namespace kiln {
namespace cpu {
namespace simd {

// words[4 * k + j] = word j of philox::block(seed, counter + k), for k < blocks.
using PhiloxFn = void (*)(uint64_t seed, uint64_t counter, int64_t blocks, uint32_t* words);
// philox::normalF32 on the word pairs (w[2j], w[2j + 1]) -> out[2j], out[2j + 1]; returns how
// many pairs it did (the caller finishes the others).
using NormalF32Fn = int64_t (*)(const uint32_t* w, int64_t pairs, double mean, double std, float* out);
// philox::normalF64 on the blocks w[4k .. 4k + 3] -> out[2k], out[2k + 1]; returns the blocks done.
using NormalF64Fn = int64_t (*)(const uint32_t* w, int64_t blocks, double mean, double std, double* out);

struct RandomKernels {
  PhiloxFn philox;
  NormalF32Fn normalF32;  // null: scalar only
  NormalF64Fn normalF64;
};

#if defined(__x86_64__) || defined(_M_X64)
const RandomKernels& randomAvx2();    // needs avx2 + fma (the ISA file is built with both)
const RandomKernels& randomAvx512();  // needs avx512f
#endif

}  // namespace simd
}  // namespace cpu
}  // namespace kiln
