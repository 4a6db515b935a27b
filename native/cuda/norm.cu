// Normalization over x [P, C, Q] (any strides) per channel c, over its P * Q elements, as the CPU
// computes it (native/cpu/norm.cpp): two passes, the mean and then the sum of squared
// deviations from the mean rounded to T, both accumulated in double, biased variance. One warp
// per channel for channels of up to 2048 elements (layer norm rows), one block per channel above
// that (batch norm); the reductions are fixed trees, so results are reproducible. Below them the
// fused layer norm over rows (forward with its statistics, and its VJP with the weight and bias
// gradients as column sums in a fixed order).
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

// ---------------------------------------------------------------- layer norm over rows of x [M, D]

struct RowGeometry {
  int64_t M, D;
  int64_t x0, x1;  // x's strides
  int64_t g0, g1;  // g's strides (backward)
  int64_t w, b;    // the weight's and the bias's strides
  int64_t s0, s1;  // the statistics' strides ([2, M])
};

// y = (x - mean) rstd w + b per row, and the row's (mean, rstd) into stats (fresh [2, M]); one
// group of Lanes threads (a warp, or the block) per row. Two passes in double, as normKernel.
template <typename T, int Lanes>
__global__ void layerNormKernel(T* __restrict__ y, T* __restrict__ stats, const T* __restrict__ x,
                                const T* __restrict__ w, const T* __restrict__ b, RowGeometry s, double eps) {
  __shared__ double shared[kNnThreads / kWarp];
  constexpr int kGroups = kNnThreads / Lanes;
  const int lane = threadIdx.x % Lanes;
  const double dn = static_cast<double>(s.D);
  for (int64_t m = static_cast<int64_t>(blockIdx.x) * kGroups + threadIdx.x / Lanes; m < s.M;
       m += static_cast<int64_t>(gridDim.x) * kGroups) {
    const T* row = x + m * s.x0;
    double sum = 0;
    for (int64_t k = lane; k < s.D; k += Lanes) sum += static_cast<double>(row[k * s.x1]);
    sum = groupReduce<Lanes>(sum, SumOp{}, shared);
    const T mu = static_cast<T>(s.D > 0 ? sum / dn : 0);
    double ss = 0;
    for (int64_t k = lane; k < s.D; k += Lanes) {
      const T d = row[k * s.x1] - mu;
      ss += static_cast<double>(d * d);
    }
    ss = groupReduce<Lanes>(ss, SumOp{}, shared);
    const T r = static_cast<T>(1.0 / ::sqrt((s.D > 0 ? ss / dn : 0) + eps));
    T* out = y + m * s.D;
    for (int64_t k = lane; k < s.D; k += Lanes) out[k] = (row[k * s.x1] - mu) * r * w[k * s.w] + b[k * s.b];
    if (lane == 0) {
      stats[m] = mu;
      stats[s.M + m] = r;
    }
  }
}

// dx = rstd (g w - mean(g w) - xhat mean(g w xhat)) per row, from the forward pass's statistics.
template <typename T, int Lanes>
__global__ void layerNormBackwardKernel(T* __restrict__ dx, const T* __restrict__ x, const T* __restrict__ w,
                                        const T* __restrict__ stats, const T* __restrict__ g, RowGeometry s) {
  __shared__ double shared[kNnThreads / kWarp];
  constexpr int kGroups = kNnThreads / Lanes;
  const int lane = threadIdx.x % Lanes;
  const double dn = static_cast<double>(s.D);
  for (int64_t m = static_cast<int64_t>(blockIdx.x) * kGroups + threadIdx.x / Lanes; m < s.M;
       m += static_cast<int64_t>(gridDim.x) * kGroups) {
    const T* xr = x + m * s.x0;
    const T* gr = g + m * s.g0;
    const T mu = stats[m * s.s1], r = stats[s.s0 + m * s.s1];
    double s1 = 0, s2 = 0;
    for (int64_t k = lane; k < s.D; k += Lanes) {
      const T gw = gr[k * s.g1] * w[k * s.w];
      s1 += static_cast<double>(gw);
      s2 += static_cast<double>(gw * ((xr[k * s.x1] - mu) * r));
    }
    s1 = groupReduce<Lanes>(s1, SumOp{}, shared);
    s2 = groupReduce<Lanes>(s2, SumOp{}, shared);
    const T a = static_cast<T>(s.D > 0 ? s1 / dn : 0), c = static_cast<T>(s.D > 0 ? s2 / dn : 0);
    T* out = dx + m * s.D;
    for (int64_t k = lane; k < s.D; k += Lanes) {
      const T xhat = (xr[k * s.x1] - mu) * r;
      out[k] = r * (gr[k * s.g1] * w[k * s.w] - a - xhat * c);
    }
  }
}

// Column sums for dw = sum_m g xhat and db = sum_m g. Block (32, 8) covers 32 columns of one
// chunk of rows (blockIdx.y); its 8 row lanes are added in order in shared memory. With one chunk
// the block writes dw and db; else its partial sums go to `partial` [chunks, 2, D] (double) and
// layerNormColumnTotals adds the chunks in order. No atomics: the same result every run.
constexpr int kColumns = 32, kRowLanes = 8;

template <typename T>
__global__ void layerNormColumnKernel(double* __restrict__ partial, T* __restrict__ dw, T* __restrict__ db,
                                      const T* __restrict__ x, const T* __restrict__ stats, const T* __restrict__ g,
                                      RowGeometry s, int64_t rowsPerChunk) {
  __shared__ double sw[kRowLanes][kColumns], sb[kRowLanes][kColumns];
  const int64_t col = static_cast<int64_t>(blockIdx.x) * kColumns + threadIdx.x;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * rowsPerChunk;
  const int64_t r1 = r0 + rowsPerChunk < s.M ? r0 + rowsPerChunk : s.M;
  double aw = 0, ab = 0;
  if (col < s.D) {
    for (int64_t m = r0 + threadIdx.y; m < r1; m += kRowLanes) {
      const T gk = g[m * s.g0 + col * s.g1];
      const T xhat = (x[m * s.x0 + col * s.x1] - stats[m * s.s1]) * stats[s.s0 + m * s.s1];
      aw += static_cast<double>(gk * xhat);
      ab += static_cast<double>(gk);
    }
  }
  sw[threadIdx.y][threadIdx.x] = aw;
  sb[threadIdx.y][threadIdx.x] = ab;
  __syncthreads();
  if (threadIdx.y != 0 || col >= s.D) return;
  for (int l = 1; l < kRowLanes; l++) {
    aw += sw[l][threadIdx.x];
    ab += sb[l][threadIdx.x];
  }
  if (gridDim.y == 1) {
    dw[col] = static_cast<T>(aw);
    db[col] = static_cast<T>(ab);
  } else {
    partial[static_cast<int64_t>(blockIdx.y) * 2 * s.D + col] = aw;
    partial[static_cast<int64_t>(blockIdx.y) * 2 * s.D + s.D + col] = ab;
  }
}

template <typename T>
__global__ void layerNormColumnTotals(T* __restrict__ dw, T* __restrict__ db, const double* __restrict__ partial,
                                      int64_t D, int64_t chunks) {
  for (int64_t col = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; col < D;
       col += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    double aw = 0, ab = 0;
    for (int64_t k = 0; k < chunks; k++) {
      aw += partial[k * 2 * D + col];
      ab += partial[k * 2 * D + D + col];
    }
    dw[col] = static_cast<T>(aw);
    db[col] = static_cast<T>(ab);
  }
}

RowGeometry rowGeometry(const View& x, const View& w, const View* g, const View* stats) {
  RowGeometry s{x.size(0), x.size(1), x.stride(0), x.stride(1), 0, 0, w.stride(0), 0, 0, 0};
  if (g) s.g0 = g->stride(0), s.g1 = g->stride(1);
  if (stats) s.s0 = stats->stride(0), s.s1 = stats->stride(1);
  return s;
}

// One warp per row up to 1024 elements (PyTorch's layer norm rows), a block per row above.
constexpr int64_t kWarpRowLimit = 1024;

unsigned rowBlocks(Ctx& c, const RowGeometry& s, bool warp) {
  const int64_t groups = warp ? kNnThreads / kWarp : 1;
  return c.blocksFor((s.M + groups - 1) / groups * kNnThreads, kNnThreads);
}

template <typename T>
void layerNormLaunch(Ctx& c, const View& y, const View& stats, const View& x, const View& w, const View& b,
                     double eps) {
  RowGeometry s = rowGeometry(x, w, nullptr, nullptr);
  s.b = b.stride(0);
  if (s.M == 0) return;
  const bool warp = s.D <= kWarpRowLimit;
  const unsigned blocks = rowBlocks(c, s, warp);
  if (warp)
    layerNormKernel<T, kWarp><<<blocks, kNnThreads, 0, c.stream>>>(y.at<T>(), stats.at<T>(), x.at<T>(), w.at<T>(),
                                                                    b.at<T>(), s, eps);
  else
    layerNormKernel<T, kNnThreads><<<blocks, kNnThreads, 0, c.stream>>>(y.at<T>(), stats.at<T>(), x.at<T>(),
                                                                         w.at<T>(), b.at<T>(), s, eps);
  KILN_CHECK_LAUNCH();
}

template <typename T>
void layerNormBackwardLaunch(Ctx& c, const View& dx, const View& dw, const View& db, const View& x, const View& w,
                             const View& stats, const View& g) {
  const RowGeometry s = rowGeometry(x, w, &g, &stats);
  if (s.D == 0) return;
  if (s.M == 0) {
    fill(c, dw, 0);
    fill(c, db, 0);
    return;
  }
  const bool warp = s.D <= kWarpRowLimit;
  const unsigned blocks = rowBlocks(c, s, warp);
  if (warp)
    layerNormBackwardKernel<T, kWarp><<<blocks, kNnThreads, 0, c.stream>>>(dx.at<T>(), x.at<T>(), w.at<T>(),
                                                                            stats.at<T>(), g.at<T>(), s);
  else
    layerNormBackwardKernel<T, kNnThreads><<<blocks, kNnThreads, 0, c.stream>>>(dx.at<T>(), x.at<T>(), w.at<T>(),
                                                                                 stats.at<T>(), g.at<T>(), s);
  KILN_CHECK_LAUNCH();
  // Chunks of at least 64 rows, at most 1024 chunks.
  int64_t rowsPerChunk = 64;
  if ((s.M + rowsPerChunk - 1) / rowsPerChunk > 1024) rowsPerChunk = (s.M + 1023) / 1024;
  const int64_t chunks = (s.M + rowsPerChunk - 1) / rowsPerChunk;
  const dim3 grid(static_cast<unsigned>((s.D + kColumns - 1) / kColumns), static_cast<unsigned>(chunks));
  const dim3 block(kColumns, kRowLanes);
  Scratch partial(c, chunks > 1 ? static_cast<size_t>(chunks * 2 * s.D) * sizeof(double) : 0);
  layerNormColumnKernel<T><<<grid, block, 0, c.stream>>>(partial.as<double>(), dw.at<T>(), db.at<T>(), x.at<T>(),
                                                          stats.at<T>(), g.at<T>(), s, rowsPerChunk);
  KILN_CHECK_LAUNCH();
  if (chunks > 1) {
    layerNormColumnTotals<T><<<c.blocksFor(s.D, kNnThreads), kNnThreads, 0, c.stream>>>(
        dw.at<T>(), db.at<T>(), partial.as<double>(), s.D, chunks);
    KILN_CHECK_LAUNCH();
  }
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

void layerNorm(Ctx& c, const View& y, const View& stats, const View& x, const View& w, const View& b, double eps) {
  if (x.dtype == DType::Float64) layerNormLaunch<double>(c, y, stats, x, w, b, eps);
  else layerNormLaunch<float>(c, y, stats, x, w, b, eps);
}

void layerNormBackward(Ctx& c, const View& dx, const View& dw, const View& db, const View& x, const View& w,
                       const View& stats, const View& g) {
  if (x.dtype == DType::Float64) layerNormBackwardLaunch<double>(c, dx, dw, db, x, w, stats, g);
  else layerNormBackwardLaunch<float>(c, dx, dw, db, x, w, stats, g);
}

}  // namespace cuda
}  // namespace kiln
