// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), and the
// stream layout every backend follows so that the same seed and offset give bit-identical draws
// on CPU and CUDA. Compiles as host and device code.
//
// Stream layout: key = (seed & 0xffffffff, seed >> 32); block b is the counter
// (b & 0xffffffff, b >> 32, 0, 0) and yields four 32-bit words w0..w3.
// - 1 word per element ("lanes of 4"): float32 uniform, float32 normal (Box-Muller on lane pairs),
//   bernoulli, randint. Element i reads block offset + i/4, lane i%4.
// - float64 uniform and normal use 2 words per element: element i reads block offset + i/2,
//   lanes 2*(i%2) and 2*(i%2)+1 (normal: Box-Muller on the two uniforms of the block).
// A draw of n elements consumes philoxBlocks(n, wordsPerElement) blocks; the TypeScript side
// advances the global offset by that much after every random op.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define KILN_HD __host__ __device__ __forceinline__
#else
#define KILN_HD inline
#endif

namespace kiln {
namespace philox {

struct Words { uint32_t w[4]; };

KILN_HD uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

KILN_HD Words block(uint64_t seed, uint64_t counter) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
  uint32_t c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; round++) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo(0xD2511F53u, c0, &hi0);
    uint32_t lo1 = mulhilo(0xCD9E8D57u, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Words{{c0, c1, c2, c3}};
}

inline uint64_t blocksFor(uint64_t n, int wordsPerElement) {
  uint64_t perBlock = 4 / wordsPerElement;
  return (n + perBlock - 1) / perBlock;
}

// [0, 1) with 24 random bits.
KILN_HD float uniform24(uint32_t w) { return static_cast<float>(w >> 8) * 5.9604644775390625e-8f; }
// (0, 1] with 24 random bits, safe for log().
KILN_HD float uniform24Open(uint32_t w) {
  return static_cast<float>((w >> 8) + 1) * 5.9604644775390625e-8f;
}
// [0, 1) with 53 random bits.
KILN_HD double uniform53(uint32_t hi, uint32_t lo) {
  uint64_t bits = (static_cast<uint64_t>(hi) << 21) ^ (lo >> 11);
  return static_cast<double>(bits) * 1.1102230246251565e-16;
}
KILN_HD double uniform53Open(uint32_t hi, uint32_t lo) {
  uint64_t bits = (static_cast<uint64_t>(hi) << 21) ^ (lo >> 11);
  return static_cast<double>(bits + 1) * 1.1102230246251565e-16;
}

// Box-Muller: lane pair (u1 in (0,1], u2 in [0,1)) -> two standard normals.
KILN_HD void boxMullerF(float u1, float u2, float* z0, float* z1) {
  float r = sqrtf(-2.0f * logf(u1));
  float theta = 6.2831853071795864769f * u2;
  *z0 = r * cosf(theta);
  *z1 = r * sinf(theta);
}
KILN_HD void boxMullerD(double u1, double u2, double* z0, double* z1) {
  double r = sqrt(-2.0 * log(u1));
  double theta = 6.2831853071795864769 * u2;
  *z0 = r * cos(theta);
  *z1 = r * sin(theta);
}

// [low, high) from one word without division: floor(w * range / 2^32).
KILN_HD int64_t randint(uint32_t w, int64_t low, uint64_t range) {
  return low + static_cast<int64_t>((static_cast<uint64_t>(w) * range) >> 32);
}

}  // namespace philox
}  // namespace kiln
