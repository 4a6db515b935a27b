// Random draws: Philox4x32-10 blocks turned into values by the transforms of
// native/core/philox.h, which is the single source of truth for the stream layout and the
// formulas (the CUDA backend calls the same functions). In short, with block k = offset + k:
//
//   uniform   f32: element i = uniformF32(w[i%4] of block i/4, a, b)      a + (b-a) u24, < b
//             f64: element i = uniformF64(w[2(i%2)], w[2(i%2)+1] of block i/2, a, b)
//   normal    f32: elements 4k..4k+3 = normalF32(w0, w1), normalF32(w2, w3) of block k
//                  (u1 = uniform24Open(even), u2 = uniform24(odd), Box-Muller, a + b z)
//             f64: elements 2k, 2k+1 = normalF64(block k): u1 = uniform53Open(w0, w1),
//                  u2 = uniform53(w2, w3), z0 -> 2k, z1 -> 2k+1
//   bernoulli:     element i = uniform24(w[i%4] of block i/4) < a ? 1 : 0  (any output dtype)
//   randint:       element i = a + floor(w[i%4] * (b - a) / 2^32)          (int32 or float)
//
// Every element depends only on (seed, offset, i), so blocks are generated in parallel and the
// result is independent of the thread count. Outputs are fresh and contiguous.
#include <cstdint>

#include "../core/philox.h"
#include "kernels.h"
#include "strided.h"

namespace kiln {
namespace cpu {
namespace {

constexpr int64_t kBlockGrain = 2048;

// Calls put(i, words) for every block i covering n elements at `perBlock` elements per block.
template <typename F>
void forBlocks(int64_t n, int perBlock, uint64_t seed, uint64_t offset, F put) {
  const int64_t blocks = (n + perBlock - 1) / perBlock;
  parallelFor(blocks, kBlockGrain, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; k++) put(k, philox::block(seed, offset + static_cast<uint64_t>(k)));
  });
}

// One word per element: y[i] = f(w[i % 4] of block i / 4).
template <typename T, typename F>
void perWord(const View& out, uint64_t seed, uint64_t offset, F f) {
  T* y = out.at<T>();
  const int64_t n = out.numel();
  forBlocks(n, 4, seed, offset, [&](int64_t k, const philox::Words& w) {
    const int64_t i0 = 4 * k;
    for (int lane = 0; lane < 4 && i0 + lane < n; lane++) y[i0 + lane] = f(w.w[lane]);
  });
}

}  // namespace

void random(RandomOp op, const View& out, uint64_t seed, uint64_t offset, double a, double b) {
  const int64_t n = out.numel();
  if (n == 0) return;
  switch (op) {
    case RandomOp::Uniform:
      if (out.dtype == DType::Float32) {
        perWord<float>(out, seed, offset, [=](uint32_t w) { return philox::uniformF32(w, a, b); });
      } else {
        double* y = out.at<double>();
        forBlocks(n, 2, seed, offset, [&](int64_t k, const philox::Words& w) {
          y[2 * k] = philox::uniformF64(w.w[0], w.w[1], a, b);
          if (2 * k + 1 < n) y[2 * k + 1] = philox::uniformF64(w.w[2], w.w[3], a, b);
        });
      }
      return;
    case RandomOp::Normal:
      if (out.dtype == DType::Float32) {
        float* y = out.at<float>();
        forBlocks(n, 4, seed, offset, [&](int64_t k, const philox::Words& w) {
          float z[4];
          philox::normalF32(w.w[0], w.w[1], a, b, &z[0], &z[1]);
          if (4 * k + 2 < n) philox::normalF32(w.w[2], w.w[3], a, b, &z[2], &z[3]);
          for (int lane = 0; lane < 4 && 4 * k + lane < n; lane++) y[4 * k + lane] = z[lane];
        });
      } else {
        double* y = out.at<double>();
        forBlocks(n, 2, seed, offset, [&](int64_t k, const philox::Words& w) {
          double z0, z1;
          philox::normalF64(w, a, b, &z0, &z1);
          y[2 * k] = z0;
          if (2 * k + 1 < n) y[2 * k + 1] = z1;
        });
      }
      return;
    case RandomOp::Bernoulli:
      dispatchStorage(out.dtype, [&](auto tag) {
        using T = decltype(tag);
        perWord<T>(out, seed, offset, [=](uint32_t w) { return philox::bernoulli(w, a) ? T(1) : T(0); });
      });
      return;
    case RandomOp::RandInt: {
      const int64_t low = static_cast<int64_t>(a);
      const uint64_t range = static_cast<uint64_t>(static_cast<int64_t>(b) - low);
      switch (out.dtype) {
        case DType::Int32:
          perWord<int32_t>(out, seed, offset,
                           [=](uint32_t w) { return static_cast<int32_t>(philox::randint(w, low, range)); });
          return;
        case DType::Float32:
          perWord<float>(out, seed, offset,
                         [=](uint32_t w) { return static_cast<float>(philox::randint(w, low, range)); });
          return;
        case DType::Float64:
          perWord<double>(out, seed, offset,
                          [=](uint32_t w) { return static_cast<double>(philox::randint(w, low, range)); });
          return;
        case DType::Bool: return;  // rejected by the dispatcher
      }
      return;
    }
    default: return;
  }
}

}  // namespace cpu
}  // namespace kiln
