// Softmax and log-softmax over the last dim of x [M, D] (any strides), as the CPU computes them
// (native/cpu/norm.cpp): shift by the row maximum (by 0 when that is infinite or NaN), exp, sum,
// then exp * (1 / sum) or (x - shift) - log(sum). One warp per row for rows up to 1024 elements,
// one block per row above that; each row is read three times (max, sum, write), from cache
// after the first. Sums accumulate in double for both dtypes.
#include <cstdint>

#include "kernels.h"
#include "nn.cuh"

namespace kiln {
namespace cuda {
namespace {

struct MaxNaNOp {  // the maximum, NaN if any element is NaN
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const {
    if (a != a) return a;
    if (b != b) return b;
    return b > a ? b : a;
  }
};

template <typename T, int Lanes>
__global__ void softmaxKernel(T* __restrict__ out, const T* __restrict__ x, int64_t M, int64_t D, int64_t xs0,
                              int64_t xs1, bool log) {
  __shared__ T maxShared[kNnThreads / kWarp];
  __shared__ double sumShared[kNnThreads / kWarp];
  constexpr int kGroups = kNnThreads / Lanes;
  const int lane = threadIdx.x % Lanes;
  // Rows advance by whole groups, so every thread of a group (a block, when Lanes is the
  // block) runs the same iterations and reaches the same reductions.
  for (int64_t m = static_cast<int64_t>(blockIdx.x) * kGroups + threadIdx.x / Lanes; m < M;
       m += static_cast<int64_t>(gridDim.x) * kGroups) {
    const T* row = x + m * xs0;
    T* o = out + m * D;
    T mx = row[0];
    for (int64_t i = lane; i < D; i += Lanes) mx = MaxNaNOp{}(mx, row[i * xs1]);
    mx = groupReduce<Lanes>(mx, MaxNaNOp{}, maxShared);
    const T shift = isfinite(mx) ? mx : T(0);
    double sum = 0;
    for (int64_t i = lane; i < D; i += Lanes) sum += static_cast<double>(nnm::exp(row[i * xs1] - shift));
    sum = groupReduce<Lanes>(sum, SumOp{}, sumShared);
    if (log) {
      const T ls = static_cast<T>(::log(sum));
      for (int64_t i = lane; i < D; i += Lanes) o[i] = (row[i * xs1] - shift) - ls;
    } else {
      const T inv = static_cast<T>(1.0 / sum);
      for (int64_t i = lane; i < D; i += Lanes) o[i] = nnm::exp(row[i * xs1] - shift) * inv;
    }
  }
}

template <typename T>
void softmaxImpl(Ctx& c, const View& out, const View& x, bool log) {
  const int64_t M = x.size(0), D = x.size(1);
  if (M == 0 || D == 0) return;
  const int64_t lanes = D <= 1024 ? kWarp : kNnThreads;
  const int64_t groups = kNnThreads / lanes;
  const unsigned blocks = c.blocksFor((M + groups - 1) / groups * kNnThreads, kNnThreads);
  if (lanes == kWarp)
    softmaxKernel<T, kWarp><<<blocks, kNnThreads, 0, c.stream>>>(out.at<T>(), x.at<T>(), M, D, x.stride(0), x.stride(1), log);
  else
    softmaxKernel<T, kNnThreads><<<blocks, kNnThreads, 0, c.stream>>>(out.at<T>(), x.at<T>(), M, D, x.stride(0), x.stride(1), log);
  KILN_CHECK_LAUNCH();
}

}  // namespace

void softmax(Ctx& c, const View& out, const View& x, bool log) {
  if (x.dtype == DType::Float64) softmaxImpl<double>(c, out, x, log);
  else softmaxImpl<float>(c, out, x, log);
}

}  // namespace cuda
}  // namespace kiln
