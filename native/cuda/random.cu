// Random draws: one thread per Philox4x32-10 block, each block's words turned into values by the
// functions of native/core/philox.h, the same ones the CPU backend calls. Those use only
// correctly rounded double arithmetic (the __d*_rn intrinsics here), so the same seed and
// offset give bit-identical tensors on CPU and CUDA. Stream layout (see philox.h):
//   1 word per element (float32 uniform/normal, bernoulli, randint): element i = block i/4, lane i%4
//   2 words per element (float64 uniform/normal): element i = block i/2, lanes 2(i%2), 2(i%2)+1
#include <cstdint>

#include "../core/philox.h"
#include "kernels.h"
#include "map.cuh"

namespace kiln {
namespace cuda {
namespace {

// Writes the 4 (or fewer, at the end) elements of block k: f(words, lane) for each.
template <typename T, typename F>
__global__ void perWordKernel(T* y, int64_t n, uint64_t seed, uint64_t offset, F f) {
  const int64_t blocks = (n + 3) / 4;
  for (int64_t k = globalIndex64(); k < blocks; k += gridStride64()) {
    const philox::Words w = philox::block(seed, offset + static_cast<uint64_t>(k));
    const int64_t i0 = 4 * k;
#pragma unroll
    for (int lane = 0; lane < 4; lane++)
      if (i0 + lane < n) y[i0 + lane] = f(w.w[lane]);
  }
}

__global__ void uniformF64Kernel(double* y, int64_t n, uint64_t seed, uint64_t offset, double a, double b) {
  const int64_t blocks = (n + 1) / 2;
  for (int64_t k = globalIndex64(); k < blocks; k += gridStride64()) {
    const philox::Words w = philox::block(seed, offset + static_cast<uint64_t>(k));
    y[2 * k] = philox::uniformF64(w.w[0], w.w[1], a, b);
    if (2 * k + 1 < n) y[2 * k + 1] = philox::uniformF64(w.w[2], w.w[3], a, b);
  }
}

__global__ void normalF32Kernel(float* y, int64_t n, uint64_t seed, uint64_t offset, double mean, double std) {
  const int64_t blocks = (n + 3) / 4;
  for (int64_t k = globalIndex64(); k < blocks; k += gridStride64()) {
    const philox::Words w = philox::block(seed, offset + static_cast<uint64_t>(k));
    float z[4];
    philox::normalF32(w.w[0], w.w[1], mean, std, &z[0], &z[1]);
    if (4 * k + 2 < n) philox::normalF32(w.w[2], w.w[3], mean, std, &z[2], &z[3]);
#pragma unroll
    for (int lane = 0; lane < 4; lane++)
      if (4 * k + lane < n) y[4 * k + lane] = z[lane];
  }
}

__global__ void normalF64Kernel(double* y, int64_t n, uint64_t seed, uint64_t offset, double mean, double std) {
  const int64_t blocks = (n + 1) / 2;
  for (int64_t k = globalIndex64(); k < blocks; k += gridStride64()) {
    const philox::Words w = philox::block(seed, offset + static_cast<uint64_t>(k));
    double z0, z1;
    philox::normalF64(w, mean, std, &z0, &z1);
    y[2 * k] = z0;
    if (2 * k + 1 < n) y[2 * k + 1] = z1;
  }
}

struct UniformF32F {
  double a, b;
  __device__ __forceinline__ float operator()(uint32_t w) const { return philox::uniformF32(w, a, b); }
};
template <typename T>
struct BernoulliF {
  double p;
  __device__ __forceinline__ T operator()(uint32_t w) const { return philox::bernoulli(w, p) ? T(1) : T(0); }
};
template <typename T>
struct RandIntF {
  int64_t low;
  uint64_t range;
  __device__ __forceinline__ T operator()(uint32_t w) const { return static_cast<T>(philox::randint(w, low, range)); }
};

template <typename T, typename F>
void perWord(Ctx& c, const View& out, uint64_t seed, uint64_t offset, F f) {
  const int64_t n = out.numel();
  perWordKernel<T, F><<<c.blocksFor((n + 3) / 4, kThreads), kThreads, 0, c.stream>>>(out.at<T>(), n, seed, offset, f);
  KILN_CHECK_LAUNCH();
}

// Dropout over a contiguous x: thread k makes block offset + k and writes elements 4k .. 4k + 3,
// x * (bernoulli(word, keep) ? scale : 0), the mask of BernoulliF for the same stream (the test
// in integers: philox::bernoulliThreshold). Vec: both
// pointers are aligned for 4-element vector loads and stores.
template <typename T, bool Vec>
__global__ void dropoutContig(T* __restrict__ y, const T* __restrict__ x, int64_t n, uint64_t seed, uint64_t offset,
                              int32_t threshold, T scale) {
  const int64_t blocks = (n + 3) / 4;
  for (int64_t k = globalIndex64(); k < blocks; k += gridStride64()) {
    const philox::Words w = philox::block(seed, offset + static_cast<uint64_t>(k));
    const int64_t i0 = 4 * k;
    if (i0 + 4 <= n) {
      Pack<T, 4> v;
      if constexpr (Vec) {
        v = reinterpret_cast<const Pack<T, 4>*>(x)[k];
      } else {
#pragma unroll
        for (int lane = 0; lane < 4; lane++) v.v[lane] = x[i0 + lane];
      }
#pragma unroll
      for (int lane = 0; lane < 4; lane++) v.v[lane] *= static_cast<int32_t>(w.w[lane] >> 8) < threshold ? scale : T(0);
      if constexpr (Vec) {
        reinterpret_cast<Pack<T, 4>*>(y)[k] = v;
      } else {
#pragma unroll
        for (int lane = 0; lane < 4; lane++) y[i0 + lane] = v.v[lane];
      }
    } else {
      for (int lane = 0; i0 + lane < n; lane++)
        y[i0 + lane] = x[i0 + lane] * (static_cast<int32_t>(w.w[lane] >> 8) < threshold ? scale : T(0));
    }
  }
}

// Strided x: one thread per element; the contiguous output's offset is the element's row-major
// index (base + off[0]), which picks its block and lane.
template <typename T>
__global__ void dropoutStrided(T* y, const T* x, OffsetCalc<2> oc, uint32_t n, int64_t base, uint64_t seed,
                               uint64_t offset, int32_t threshold, T scale) {
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    int64_t off[2];
    oc.get(i, off);
    const int64_t e = base + off[0];
    const philox::Words w = philox::block(seed, offset + static_cast<uint64_t>(e / 4));
    y[off[0]] = x[off[1]] * (static_cast<int32_t>(w.w[e % 4] >> 8) < threshold ? scale : T(0));
  }
}

template <typename T>
void dropoutImpl(Ctx& c, const View& out, const View& x, uint64_t seed, uint64_t offset, double keep, double scale) {
  const int64_t n = out.numel();
  if (n == 0) return;
  T* y = out.at<T>();
  const T* xp = x.at<T>();
  const T s = static_cast<T>(scale);
  const int32_t threshold = philox::bernoulliThreshold(keep);  // the test of philox::bernoulli
  const int64_t* strides[2] = {out.layout.strides, x.layout.strides};
  const Coalesced<2> co = coalesce<2>(out.ndim(), out.layout.shape, strides);
  if (co.contiguous()) {
    const unsigned grid = c.blocksFor((n + 3) / 4, kThreads);
    if (alignedForPack(y) && alignedForPack(xp))
      dropoutContig<T, true><<<grid, kThreads, 0, c.stream>>>(y, xp, n, seed, offset, threshold, s);
    else
      dropoutContig<T, false><<<grid, kThreads, 0, c.stream>>>(y, xp, n, seed, offset, threshold, s);
    KILN_CHECK_LAUNCH();
    return;
  }
  forChunks(co, [&](const Coalesced<2>& p, const int64_t* b) {
    dropoutStrided<T><<<c.blocksFor(p.numel, kThreads), kThreads, 0, c.stream>>>(
        y + b[0], xp + b[1], OffsetCalc<2>(p), static_cast<uint32_t>(p.numel), b[0], seed, offset, threshold, s);
    KILN_CHECK_LAUNCH();
  });
}

}  // namespace

void dropout(Ctx& c, const View& out, const View& x, uint64_t seed, uint64_t offset, double keep, double scale) {
  if (out.dtype == DType::Float64) dropoutImpl<double>(c, out, x, seed, offset, keep, scale);
  else dropoutImpl<float>(c, out, x, seed, offset, keep, scale);
}

void random(Ctx& c, RandomOp op, const View& out, uint64_t seed, uint64_t offset, double a, double b) {
  const int64_t n = out.numel();  // out is fresh and contiguous
  if (n == 0) return;
  switch (op) {
    case RandomOp::Uniform:
      if (out.dtype == DType::Float32) return perWord<float>(c, out, seed, offset, UniformF32F{a, b});
      uniformF64Kernel<<<c.blocksFor((n + 1) / 2, kThreads), kThreads, 0, c.stream>>>(out.at<double>(), n, seed,
                                                                                     offset, a, b);
      KILN_CHECK_LAUNCH();
      return;
    case RandomOp::Normal:
      if (out.dtype == DType::Float32) {
        normalF32Kernel<<<c.blocksFor((n + 3) / 4, kThreads), kThreads, 0, c.stream>>>(out.at<float>(), n, seed,
                                                                                      offset, a, b);
      } else {
        normalF64Kernel<<<c.blocksFor((n + 1) / 2, kThreads), kThreads, 0, c.stream>>>(out.at<double>(), n, seed,
                                                                                      offset, a, b);
      }
      KILN_CHECK_LAUNCH();
      return;
    case RandomOp::Bernoulli:
      dispatchStorage(out.dtype, [&](auto tag) {
        using T = decltype(tag);
        perWord<T>(c, out, seed, offset, BernoulliF<T>{a});
      });
      return;
    case RandomOp::RandInt: {
      const int64_t low = static_cast<int64_t>(a);
      const uint64_t range = static_cast<uint64_t>(static_cast<int64_t>(b) - low);
      switch (out.dtype) {
        case DType::Int32: return perWord<int32_t>(c, out, seed, offset, RandIntF<int32_t>{low, range});
        case DType::Float32: return perWord<float>(c, out, seed, offset, RandIntF<float>{low, range});
        case DType::Float64: return perWord<double>(c, out, seed, offset, RandIntF<double>{low, range});
        case DType::Bool: return;  // rejected by the dispatcher
      }
      return;
    }
    default: return;
  }
}

}  // namespace cuda
}  // namespace kiln
