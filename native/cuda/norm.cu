// Normalization over x [P, C, Q] (any strides) per channel c, over its P * Q elements, as the CPU
// computes it (native/cpu/norm.cpp): two passes, the mean and then the sum of squared
// deviations from the mean rounded to T, both accumulated in double, biased variance. One warp
// per channel for channels of up to 2048 elements (layer norm rows), one block per channel above
// that (batch norm); the reductions are fixed trees, so results are reproducible.
#include <cstdint>

#include "kernels.h"
#include "nn.cuh"

namespace kiln {
namespace cuda {
namespace {

struct Geometry {
  int64_t P, C, Q;
  int64_t s0, s1, s2;  // x's strides
  int64_t g0, g1, g2;  // g's strides (backward)
};

enum class Mode { Normalize, Backward, Moments };

// Element k < P * Q of channel c: its offset through strides (s0, s1, s2).
__device__ __forceinline__ int64_t at(int64_t k, int64_t c, int64_t Q, int64_t s0, int64_t s1, int64_t s2) {
  const int64_t p = k / Q;
  return p * s0 + c * s1 + (k - p * Q) * s2;
}

template <typename T, int Lanes, Mode kMode>
__global__ void normKernel(T* __restrict__ out, const T* __restrict__ x, const T* __restrict__ g, Geometry s,
                           double eps) {
  __shared__ double shared[kNnThreads / kWarp];
  constexpr int kGroups = kNnThreads / Lanes;
  const int lane = threadIdx.x % Lanes;
  const int64_t n = s.P * s.Q;
  const double dn = static_cast<double>(n);
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * kGroups + threadIdx.x / Lanes; c < s.C;
       c += static_cast<int64_t>(gridDim.x) * kGroups) {
    double sum = 0;
    for (int64_t k = lane; k < n; k += Lanes) sum += static_cast<double>(x[at(k, c, s.Q, s.s0, s.s1, s.s2)]);
    sum = groupReduce<Lanes>(sum, SumOp{}, shared);
    const double mean = n > 0 ? sum / dn : 0;
    const T m = static_cast<T>(mean);
    double ss = 0;
    for (int64_t k = lane; k < n; k += Lanes) {
      const T d = x[at(k, c, s.Q, s.s0, s.s1, s.s2)] - m;
      ss += static_cast<double>(d * d);
    }
    ss = groupReduce<Lanes>(ss, SumOp{}, shared);
    const double var = n > 0 ? ss / dn : 0;
    if constexpr (kMode == Mode::Moments) {
      if (lane == 0) {
        out[c] = static_cast<T>(mean);
        out[s.C + c] = static_cast<T>(var);
      }
    } else if constexpr (kMode == Mode::Normalize) {
      const T r = static_cast<T>(1.0 / ::sqrt(var + eps));
      for (int64_t k = lane; k < n; k += Lanes) {
        const int64_t p = k / s.Q, q = k - p * s.Q;
        out[(p * s.C + c) * s.Q + q] = (x[p * s.s0 + c * s.s1 + q * s.s2] - m) * r;
      }
    } else {
      // dx = rstd (g - mean(g)) - (x - mean) rstd^3 mean(g (x - mean))
      double sg = 0, sgx = 0;
      for (int64_t k = lane; k < n; k += Lanes) {
        const T gk = g[at(k, c, s.Q, s.g0, s.g1, s.g2)];
        sg += static_cast<double>(gk);
        sgx += static_cast<double>(gk * (x[at(k, c, s.Q, s.s0, s.s1, s.s2)] - m));
      }
      sg = groupReduce<Lanes>(sg, SumOp{}, shared);
      sgx = groupReduce<Lanes>(sgx, SumOp{}, shared);
      const double rstd = 1.0 / ::sqrt(var + eps);
      const T r = static_cast<T>(rstd), mg = static_cast<T>(sg / dn), kk = static_cast<T>(rstd * rstd * rstd * sgx / dn);
      for (int64_t k = lane; k < n; k += Lanes) {
        const int64_t p = k / s.Q, q = k - p * s.Q;
        const T xk = x[p * s.s0 + c * s.s1 + q * s.s2], gk = g[p * s.g0 + c * s.g1 + q * s.g2];
        out[(p * s.C + c) * s.Q + q] = r * (gk - mg) - (xk - m) * kk;
      }
    }
  }
}

template <typename T, Mode kMode>
void launch(Ctx& c, const View& out, const View& x, const View* g, double eps) {
  Geometry s{x.size(0), x.size(1), x.size(2), x.stride(0), x.stride(1), x.stride(2), 0, 0, 0};
  if (g) s.g0 = g->stride(0), s.g1 = g->stride(1), s.g2 = g->stride(2);
  if (s.C == 0) return;
  const T* gp = g ? g->at<T>() : nullptr;
  const bool warp = s.P * s.Q <= 2048;
  const int64_t groups = warp ? kNnThreads / kWarp : 1;
  const unsigned blocks = c.blocksFor((s.C + groups - 1) / groups * kNnThreads, kNnThreads);
  if (warp)
    normKernel<T, kWarp, kMode><<<blocks, kNnThreads, 0, c.stream>>>(out.at<T>(), x.at<T>(), gp, s, eps);
  else
    normKernel<T, kNnThreads, kMode><<<blocks, kNnThreads, 0, c.stream>>>(out.at<T>(), x.at<T>(), gp, s, eps);
  KILN_CHECK_LAUNCH();
}

}  // namespace

void normalize(Ctx& c, const View& out, const View& x, double eps) {
  if (x.dtype == DType::Float64) launch<double, Mode::Normalize>(c, out, x, nullptr, eps);
  else launch<float, Mode::Normalize>(c, out, x, nullptr, eps);
}

void normalizeBackward(Ctx& c, const View& out, const View& x, const View& g, double eps) {
  if (x.dtype == DType::Float64) launch<double, Mode::Backward>(c, out, x, &g, eps);
  else launch<float, Mode::Backward>(c, out, x, &g, eps);
}

void moments(Ctx& c, const View& out, const View& x) {
  if (x.dtype == DType::Float64) launch<double, Mode::Moments>(c, out, x, nullptr, 0);
  else launch<float, Mode::Moments>(c, out, x, nullptr, 0);
}

}  // namespace cuda
}  // namespace kiln
