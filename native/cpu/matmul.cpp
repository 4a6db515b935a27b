// Batched matmul: out[..., M, N] = a[..., M, K] @ b[..., K, N], one GEMM (gemm/gemm.h) per
// batch index. Batch dims are already broadcast to out's (stride 0 where broadcast), and every
// operand may have any strides, so transposed and flipped views need no copy.
#include <algorithm>
#include <cstdint>

#include "../core/thread_pool.h"
#include "gemm/gemm.h"
#include "kernels.h"

namespace kiln {
namespace cpu {

bool matmulSupports(DType t) { return t == DType::Float32 || t == DType::Float64 || t == DType::Int32; }

namespace {

// Dims [first, last] of `l` viewed as one dim, if their strides allow it (size-1 dims are
// ignored). On success *stride is the merged dim's stride.
bool mergeDims(const Layout& l, int first, int last, int64_t* stride) {
  int64_t inner = 0, innerSize = 1;
  bool any = false;
  for (int d = last; d >= first; d--) {
    if (l.shape[d] == 1) continue;
    if (any && l.strides[d] != inner * innerSize) return false;
    if (!any) *stride = l.strides[d];
    inner = l.strides[d];
    innerSize = l.shape[d];
    any = true;
  }
  if (!any) *stride = 0;
  return true;
}

template <typename T>
void matmulTyped(const View& out, const View& a, const View& b) {
  const int n = out.ndim(), nb = n - 2;
  const int64_t M = out.size(n - 2), N = out.size(n - 1), K = a.size(n - 1);
  int64_t batch = 1;
  for (int d = 0; d < nb; d++) batch *= out.size(d);
  if (batch == 0 || M == 0 || N == 0) return;

  const T* A = a.at<T>();
  const T* B = b.at<T>();
  T* C = out.at<T>();
  const int64_t rsA = a.stride(n - 2), csA = a.stride(n - 1);
  const int64_t rsB = b.stride(n - 2), csB = b.stride(n - 1);
  const int64_t rsC = out.stride(n - 2), csC = out.stride(n - 1);

  // b shared by every batch (a Linear layer on [batch, seq, features]) and a's batch dims
  // continuing its rows: one GEMM with batch*M rows instead of many small ones.
  bool bShared = true;
  for (int d = 0; d < nb; d++) bShared = bShared && (b.stride(d) == 0 || b.size(d) == 1);
  int64_t rowsA = 0, rowsC = 0;
  if (batch > 1 && bShared && mergeDims(a.layout, 0, n - 2, &rowsA) && mergeDims(out.layout, 0, n - 2, &rowsC)) {
    gemm<T>(batch * M, N, K, A, rowsA, csA, B, rsB, csB, C, rowsC, csC);
    return;
  }

  auto run = [&](int64_t bi, bool parallel) {
    int64_t offA = 0, offB = 0, offC = 0;
    for (int d = nb - 1; d >= 0; d--) {  // unravel bi over out's batch shape
      const int64_t i = bi % out.size(d);
      bi /= out.size(d);
      offA += i * a.stride(d);
      offB += i * b.stride(d);
      offC += i * out.stride(d);
    }
    gemm<T>(M, N, K, A + offA, rsA, csA, B + offB, rsB, csB, C + offC, rsC, csC, parallel);
  };

  // Many small products go one per thread; a few large ones each use every thread, which also
  // balances better when the batch count does not divide evenly.
  const int threads = numThreads();
  const double perProduct = double(M) * double(N) * double(K);
  if (batch == 1 || threads == 1 || (perProduct >= double(kGemmParallelWork) && batch < 4 * threads)) {
    for (int64_t bi = 0; bi < batch; bi++) run(bi, true);
    return;
  }
  parallelFor(batch, 1, [&](int64_t begin, int64_t end) {
    for (int64_t bi = begin; bi < end; bi++) run(bi, false);
  });
}

}  // namespace

void matmul(const View& out, const View& a, const View& b) {
  switch (out.dtype) {
    case DType::Float32: return matmulTyped<float>(out, a, b);
    case DType::Float64: return matmulTyped<double>(out, a, b);
    case DType::Int32: return matmulTyped<int32_t>(out, a, b);
    default: return;  // the dispatcher only sends dtypes matmulSupports() accepts
  }
}

}  // namespace cpu
}  // namespace kiln
