// Softmax and log-softmax over the last dim of x [M, D] (any strides), as the CPU computes them
// (native/cpu/norm.cpp): shift by the row maximum (by 0 when that is infinite or NaN), exp, sum,
// then exp * (1 / sum) or (x - shift) - log(sum). One warp per row for rows up to 1024 elements,
// one block per row above that; each row is read three times (max, sum, write), from cache
// after the first. Sums accumulate in double for both dtypes. Also here, with the same row
// walk: the softmax / log-softmax VJPs, and cross entropy and its gradient.
#include <cstdint>

#include "kernels.h"
#include "map.cuh"
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

// The VJP from the output y and the cotangent g (as native/cpu/norm.cpp): the row sum in double,
// rounded to T, then softmax dx = y (g - s) with s = sum(g y), log-softmax dx = g - exp(y) s with
// s = sum(g).
template <typename T, int Lanes>
__global__ void softmaxBackwardKernel(T* __restrict__ out, const T* __restrict__ y, const T* __restrict__ g, int64_t M,
                                      int64_t D, int64_t ys0, int64_t ys1, int64_t gs0, int64_t gs1, bool log) {
  __shared__ double sumShared[kNnThreads / kWarp];
  constexpr int kGroups = kNnThreads / Lanes;
  const int lane = threadIdx.x % Lanes;
  for (int64_t m = static_cast<int64_t>(blockIdx.x) * kGroups + threadIdx.x / Lanes; m < M;
       m += static_cast<int64_t>(gridDim.x) * kGroups) {
    const T* yr = y + m * ys0;
    const T* gr = g + m * gs0;
    T* o = out + m * D;
    double sum = 0;
    if (log) {
      for (int64_t i = lane; i < D; i += Lanes) sum += static_cast<double>(gr[i * gs1]);
    } else {
      for (int64_t i = lane; i < D; i += Lanes) sum += static_cast<double>(gr[i * gs1]) * static_cast<double>(yr[i * ys1]);
    }
    const T s = static_cast<T>(groupReduce<Lanes>(sum, SumOp{}, sumShared));
    if (log) {
      for (int64_t i = lane; i < D; i += Lanes) o[i] = gr[i * gs1] - nnm::exp(yr[i * ys1]) * s;
    } else {
      for (int64_t i = lane; i < D; i += Lanes) o[i] = yr[i * ys1] * (gr[i * gs1] - s);
    }
  }
}

template <typename T>
void softmaxBackwardImpl(Ctx& c, const View& out, const View& y, const View& g, bool log) {
  const int64_t M = y.size(0), D = y.size(1);
  if (M == 0 || D == 0) return;
  const int64_t lanes = D <= 1024 ? kWarp : kNnThreads;
  const int64_t groups = kNnThreads / lanes;
  const unsigned blocks = c.blocksFor((M + groups - 1) / groups * kNnThreads, kNnThreads);
  if (lanes == kWarp)
    softmaxBackwardKernel<T, kWarp><<<blocks, kNnThreads, 0, c.stream>>>(
        out.at<T>(), y.at<T>(), g.at<T>(), M, D, y.stride(0), y.stride(1), g.stride(0), g.stride(1), log);
  else
    softmaxBackwardKernel<T, kNnThreads><<<blocks, kNnThreads, 0, c.stream>>>(
        out.at<T>(), y.at<T>(), g.at<T>(), M, D, y.stride(0), y.stride(1), g.stride(0), g.stride(1), log);
  KILN_CHECK_LAUNCH();
}

// Cross entropy (as native/cpu/norm.cpp): each row's log-probability at its target, rounded to T
// as logSoftmax writes it ((x - shift) - log(sum)), into a double per row; a second kernel sums
// the rows in a fixed order and divides by M. A target outside [0, D) is flagged and counts 0.
template <typename T, int Lanes>
__global__ void crossEntropyRowsKernel(double* __restrict__ picked, const T* __restrict__ x, const int32_t* __restrict__ t,
                                       int64_t M, int64_t D, int64_t xs0, int64_t xs1, int64_t ts,
                                       KernelErrorFlag* flag) {
  __shared__ T maxShared[kNnThreads / kWarp];
  __shared__ double sumShared[kNnThreads / kWarp];
  constexpr int kGroups = kNnThreads / Lanes;
  const int lane = threadIdx.x % Lanes;
  for (int64_t m = static_cast<int64_t>(blockIdx.x) * kGroups + threadIdx.x / Lanes; m < M;
       m += static_cast<int64_t>(gridDim.x) * kGroups) {
    const T* row = x + m * xs0;
    T mx = row[0];
    for (int64_t i = lane; i < D; i += Lanes) mx = MaxNaNOp{}(mx, row[i * xs1]);
    mx = groupReduce<Lanes>(mx, MaxNaNOp{}, maxShared);
    const T shift = isfinite(mx) ? mx : T(0);
    double sum = 0;
    for (int64_t i = lane; i < D; i += Lanes) sum += static_cast<double>(nnm::exp(row[i * xs1] - shift));
    sum = groupReduce<Lanes>(sum, SumOp{}, sumShared);
    if (lane == 0) {
      const int64_t k = t[m * ts];
      if (k < 0 || k >= D) {
        flagKernelError(flag, kCrossEntropyTarget, 1, k, D);
        picked[m] = 0;
      } else {
        picked[m] = static_cast<double>((row[k * xs1] - shift) - static_cast<T>(::log(sum)));
      }
    }
  }
}

template <typename T>
__global__ void crossEntropyMeanKernel(T* out, const double* picked, int64_t M) {
  __shared__ double sumShared[kNnThreads / kWarp];
  double s = 0;
  for (int64_t m = threadIdx.x; m < M; m += kNnThreads) s -= picked[m];
  s = groupReduce<kNnThreads>(s, SumOp{}, sumShared);
  if (threadIdx.x == 0) *out = static_cast<T>(M ? s / static_cast<double>(M) : nan(""));
}

// Its VJP: out = softmax(x) * s - (d == t ? s : 0) with s = g / M rounded to T, as the CPU's
// softmax rows scaled in place and the target element then lowered by s.
template <typename T, int Lanes>
__global__ void crossEntropyBackwardKernel(T* __restrict__ out, const T* __restrict__ x, const int32_t* __restrict__ t,
                                           const T* __restrict__ g, int64_t M, int64_t D, int64_t xs0, int64_t xs1,
                                           int64_t ts, KernelErrorFlag* flag) {
  __shared__ T maxShared[kNnThreads / kWarp];
  __shared__ double sumShared[kNnThreads / kWarp];
  constexpr int kGroups = kNnThreads / Lanes;
  const int lane = threadIdx.x % Lanes;
  const T s = static_cast<T>(static_cast<double>(*g) / static_cast<double>(M > 1 ? M : 1));
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
    const T inv = static_cast<T>(1.0 / sum);
    const int64_t k = t[m * ts];
    if (lane == 0 && (k < 0 || k >= D)) flagKernelError(flag, kCrossEntropyTarget, 1, k, D);
    for (int64_t i = lane; i < D; i += Lanes) {
      const T p = (nnm::exp(row[i * xs1] - shift) * inv) * s;
      o[i] = i == k ? p - s : p;
    }
  }
}

// Rows without classes have no valid target (the CPU's check on the host says the same).
void requireClasses(int64_t M, int64_t D) {
  if (M > 0 && D == 0) fail(ErrorKind::Index, "crossEntropy: the targets are out of bounds for 0 classes");
}

template <typename T>
void crossEntropyImpl(Ctx& c, const View& out, const View& x, const View& target) {
  const int64_t M = x.size(0), D = x.size(1);
  requireClasses(M, D);
  Scratch picked(c, static_cast<size_t>(M) * sizeof(double));
  if (M > 0 && D > 0) {
    const int64_t lanes = D <= 1024 ? kWarp : kNnThreads;
    const int64_t groups = kNnThreads / lanes;
    const unsigned blocks = c.blocksFor((M + groups - 1) / groups * kNnThreads, kNnThreads);
    if (lanes == kWarp)
      crossEntropyRowsKernel<T, kWarp><<<blocks, kNnThreads, 0, c.stream>>>(
          picked.as<double>(), x.at<T>(), target.at<int32_t>(), M, D, x.stride(0), x.stride(1), target.stride(0),
          c.flagDevice);
    else
      crossEntropyRowsKernel<T, kNnThreads><<<blocks, kNnThreads, 0, c.stream>>>(
          picked.as<double>(), x.at<T>(), target.at<int32_t>(), M, D, x.stride(0), x.stride(1), target.stride(0),
          c.flagDevice);
    KILN_CHECK_LAUNCH();
  }
  crossEntropyMeanKernel<T><<<1, kNnThreads, 0, c.stream>>>(out.at<T>(), picked.as<double>(), M);
  KILN_CHECK_LAUNCH();
}

template <typename T>
void crossEntropyBackwardImpl(Ctx& c, const View& out, const View& x, const View& target, const View& g) {
  const int64_t M = x.size(0), D = x.size(1);
  requireClasses(M, D);
  if (M == 0 || D == 0) return;
  const int64_t lanes = D <= 1024 ? kWarp : kNnThreads;
  const int64_t groups = kNnThreads / lanes;
  const unsigned blocks = c.blocksFor((M + groups - 1) / groups * kNnThreads, kNnThreads);
  if (lanes == kWarp)
    crossEntropyBackwardKernel<T, kWarp><<<blocks, kNnThreads, 0, c.stream>>>(
        out.at<T>(), x.at<T>(), target.at<int32_t>(), g.at<T>(), M, D, x.stride(0), x.stride(1), target.stride(0),
        c.flagDevice);
  else
    crossEntropyBackwardKernel<T, kNnThreads><<<blocks, kNnThreads, 0, c.stream>>>(
        out.at<T>(), x.at<T>(), target.at<int32_t>(), g.at<T>(), M, D, x.stride(0), x.stride(1), target.stride(0),
        c.flagDevice);
  KILN_CHECK_LAUNCH();
}

}  // namespace

void softmax(Ctx& c, const View& out, const View& x, bool log) {
  if (x.dtype == DType::Float64) softmaxImpl<double>(c, out, x, log);
  else softmaxImpl<float>(c, out, x, log);
}

void softmaxBackward(Ctx& c, const View& out, const View& y, const View& g, bool log) {
  if (y.dtype == DType::Float64) softmaxBackwardImpl<double>(c, out, y, g, log);
  else softmaxBackwardImpl<float>(c, out, y, g, log);
}

void crossEntropy(Ctx& c, const View& out, const View& x, const View& target) {
  if (x.dtype == DType::Float64) crossEntropyImpl<double>(c, out, x, target);
  else crossEntropyImpl<float>(c, out, x, target);
}

void crossEntropyBackward(Ctx& c, const View& out, const View& x, const View& target, const View& g) {
  if (x.dtype == DType::Float64) crossEntropyBackwardImpl<double>(c, out, x, target, g);
  else crossEntropyBackwardImpl<float>(c, out, x, target, g);
}

}  // namespace cuda
}  // namespace kiln
