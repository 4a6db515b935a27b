// Reductions over any set of dims (sum, prod, max, min, argmax, argmin) and cumsum.
//
// The input's dims are split into kept and reduced groups, each coalesced by StridedLoop. Three
// schedules, chosen from the shape alone so results never depend on the thread count:
// - split: few outputs, many reduced elements (a full sum): the reduced range is cut into fixed
//   blocks reduced in parallel, and the partial results are combined in block order;
// - columns: the innermost kept dim is contiguous in the input (e.g. sum over dim 0 of a
//   matrix): a block of adjacent outputs is accumulated at once, row after row;
// - rows: otherwise, each output reduces its own (strided) run of elements.
// float32 sums and products accumulate in double; int32 wraps around like PyTorch's int32
// results. max/min propagate NaN; argmax/argmin return the first occurrence, and a NaN wins.
//
// The loops live in reduce_impl.h, compiled here for the baseline ISA and in reduce_avx2.cpp /
// reduce_avx512.cpp for wider ones, picked at run time (simdLevel()).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "cpu_info.h"
#include "elementwise_simd.h"
#include "kernels.h"
#include "strided.h"

namespace kiln {
namespace cpu {
namespace reduce_base {
#include "reduce_impl.h"
}  // namespace reduce_base

#if defined(__x86_64__) || defined(_M_X64)
namespace reduce_avx2 {
void reduceImpl(ReduceOp op, const View& out, const View& a, uint32_t dimMask);
void cumsumImpl(const View& out, const View& a, int dim);
}  // namespace reduce_avx2
namespace reduce_avx512 {
void reduceImpl(ReduceOp op, const View& out, const View& a, uint32_t dimMask);
void cumsumImpl(const View& out, const View& a, int dim);
}  // namespace reduce_avx512
#endif

bool reduceSupports(ReduceOp op, DType t) {
  return op < ReduceOp::Count && (t == DType::Float32 || t == DType::Float64 || t == DType::Int32);
}

void reduce(ReduceOp op, const View& out, const View& a, uint32_t dimMask) {
#if defined(__x86_64__) || defined(_M_X64)
  if (simdLevel() == SimdLevel::Avx512) return reduce_avx512::reduceImpl(op, out, a, dimMask);
  if (simdLevel() == SimdLevel::Avx2) return reduce_avx2::reduceImpl(op, out, a, dimMask);
#endif
  reduce_base::reduceImpl(op, out, a, dimMask);
}

void cumsum(const View& out, const View& a, int dim) {
#if defined(__x86_64__) || defined(_M_X64)
  if (simdLevel() == SimdLevel::Avx512) return reduce_avx512::cumsumImpl(out, a, dim);
  if (simdLevel() == SimdLevel::Avx2) return reduce_avx2::cumsumImpl(out, a, dim);
#endif
  reduce_base::cumsumImpl(out, a, dim);
}

}  // namespace cpu
}  // namespace kiln
