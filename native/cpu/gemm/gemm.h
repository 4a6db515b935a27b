// General matrix multiply for the CPU backend: C = A·B (C is overwritten, never read first).
//
// Every operand is addressed by element strides (rows, columns), any sign, so transposed or
// flipped operands cost nothing extra: packing absorbs the strides. Instantiated for float,
// double and int32_t (int32 wraps on overflow, like two's-complement hardware).
#pragma once
#include <cstdint>

namespace kiln {
namespace cpu {

// `parallel` = false keeps the whole product on the calling thread; callers that already
// parallelize over independent products (batched matmul) use it.
template <typename T>
void gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t rsA, int64_t csA, const T* B, int64_t rsB,
          int64_t csB, T* C, int64_t rsC, int64_t csC, bool parallel = true);

// Multiply-adds (about 20 us on one core) above which a product is split across the thread
// pool; below it waking a worker and sharing out blocks costs more than it saves.
constexpr int64_t kGemmParallelWork = int64_t{1} << 22;

}  // namespace cpu
}  // namespace kiln
