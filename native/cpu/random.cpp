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
// result is independent of the thread count. Work goes in chunks: the chunk's words are made
// first (AVX-512 / AVX2 Philox when the CPU has it, random_simd.h), then turned into values by
// loops over them (normals: the vector transcription of philox.h's transforms, with the scalar
// functions for the leftovers). Outputs are fresh and contiguous.
//
// In element order the stream's words are simply words[4k + j] = word j of block offset + k, so
// a 1-word draw reads words[i], a float64 uniform reads words[2i], words[2i + 1] (hi, lo), and
// normals read consecutive pairs.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "../core/philox.h"
#include "cpu_info.h"
#include "kernels.h"
#include "random_simd.h"
#include "strided.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__FP_FAST_FMA)
// The same options as philox.h's transforms (FMA contraction off), so that they inline here.
#pragma GCC optimize("fp-contract=off")
#endif

namespace kiln {
namespace cpu {
namespace {

constexpr int64_t kChunkBlocks = 1024;  // blocks per work item: 16 KiB of words on the stack
constexpr int64_t kChunkGrain = 4;      // work items per parallel chunk

void philoxPortable(uint64_t seed, uint64_t counter, int64_t blocks, uint32_t* words) {
  for (int64_t k = 0; k < blocks; k++) {
    const philox::Words w = philox::block(seed, counter + static_cast<uint64_t>(k));
    for (int j = 0; j < 4; j++) words[4 * k + j] = w.w[j];
  }
}

// The widest kernels this CPU runs (simdLevel(): KILN_SIMD=avx2|portable narrows the choice).
const simd::RandomKernels& kernels() {
  static const simd::RandomKernels portable{philoxPortable, nullptr, nullptr};
  static const simd::RandomKernels* k = []() -> const simd::RandomKernels* {
#if defined(__x86_64__) || defined(_M_X64)
    if (simdLevel() == SimdLevel::Avx512) return &simd::randomAvx512();
    if (simdLevel() == SimdLevel::Avx2) return &simd::randomAvx2();
#endif
    return &portable;
  }();
  return *k;
}

// Calls put(k0, words, nb) for chunks of the `blocks` blocks of the draw: words holds the
// 4 * nb words of blocks offset + k0 ... offset + k0 + nb - 1.
template <typename F>
void forWords(int64_t blocks, uint64_t seed, uint64_t offset, F put) {
  const simd::PhiloxFn gen = kernels().philox;
  const int64_t chunks = (blocks + kChunkBlocks - 1) / kChunkBlocks;
  parallelFor(chunks, kChunkGrain, [&](int64_t b, int64_t e) {
    uint32_t words[4 * kChunkBlocks];
    for (int64_t c = b; c < e; c++) {
      const int64_t k0 = c * kChunkBlocks, nb = std::min(kChunkBlocks, blocks - k0);
      gen(seed, offset + static_cast<uint64_t>(k0), nb, words);
      put(k0, static_cast<const uint32_t*>(words), nb);
    }
  });
}

// One word per element: y[i] = f(words[i]).
template <typename T, typename F>
void perWord(const View& out, uint64_t seed, uint64_t offset, F f) {
  T* y = out.at<T>();
  const int64_t n = out.numel();
  forWords((n + 3) / 4, seed, offset, [&](int64_t k0, const uint32_t* w, int64_t nb) {
    T* dst = y + 4 * k0;
    const int64_t m = std::min(4 * nb, n - 4 * k0);
    for (int64_t i = 0; i < m; i++) dst[i] = f(w[i]);
  });
}

}  // namespace

void random(RandomOp op, const View& out, uint64_t seed, uint64_t offset, double a, double b) {
  const int64_t n = out.numel();
  if (n == 0) return;
  switch (op) {
    case RandomOp::Uniform:
      if (out.dtype == DType::Float32) {
        float* y = out.at<float>();
        const bool fixups = a < b && static_cast<double>(philox::uniformF32Rounded(0xffffffffu, a, b)) >= b;
        forWords((n + 3) / 4, seed, offset, [&](int64_t k0, const uint32_t* w, int64_t nb) {
          float* dst = y + 4 * k0;
          const int64_t m = std::min(4 * nb, n - 4 * k0);
          for (int64_t i = 0; i < m; i++) dst[i] = philox::uniformF32Rounded(w[i], a, b);
          // Values that rounded up to b take the exact function; only possible when the largest
          // draw (u = 1 - 2^-24, the value is monotone in u) rounds up to b.
          if (fixups)
            for (int64_t i = 0; i < m; i++)
              if (static_cast<double>(dst[i]) >= b) dst[i] = philox::uniformF32(w[i], a, b);
        });
      } else {
        double* y = out.at<double>();
        forWords((n + 1) / 2, seed, offset, [&](int64_t k0, const uint32_t* w, int64_t nb) {
          double* dst = y + 2 * k0;
          const int64_t m = std::min(2 * nb, n - 2 * k0);
          for (int64_t i = 0; i < m; i++) dst[i] = philox::uniformF64(w[2 * i], w[2 * i + 1], a, b);
        });
      }
      return;
    case RandomOp::Normal:
      if (out.dtype == DType::Float32) {
        float* y = out.at<float>();
        forWords((n + 3) / 4, seed, offset, [&](int64_t k0, const uint32_t* w, int64_t nb) {
          float* dst = y + 4 * k0;
          const int64_t m = std::min(4 * nb, n - 4 * k0), pairs = m / 2;
          const simd::NormalF32Fn vec = kernels().normalF32;
          for (int64_t j = vec ? vec(w, pairs, a, b, dst) : 0; j < pairs; j++)
            philox::normalF32(w[2 * j], w[2 * j + 1], a, b, &dst[2 * j], &dst[2 * j + 1]);
          if (m % 2) {
            float spare;
            philox::normalF32(w[m - 1], w[m], a, b, &dst[m - 1], &spare);
          }
        });
      } else {
        double* y = out.at<double>();
        forWords((n + 1) / 2, seed, offset, [&](int64_t k0, const uint32_t* w, int64_t nb) {
          double* dst = y + 2 * k0;
          const int64_t m = std::min(2 * nb, n - 2 * k0), whole = m / 2;
          const simd::NormalF64Fn vec = kernels().normalF64;
          for (int64_t k = vec ? vec(w, whole, a, b, dst) : 0; k < (m + 1) / 2; k++) {
            const philox::Words blk{{w[4 * k], w[4 * k + 1], w[4 * k + 2], w[4 * k + 3]}};
            double z0, z1;
            philox::normalF64(blk, a, b, &z0, &z1);
            dst[2 * k] = z0;
            if (2 * k + 1 < m) dst[2 * k + 1] = z1;
          }
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

namespace {

// Dropout: the bernoulli stream's words (one per element, in x's row-major order) select x * scale
// or x * 0, so the mask is the one RandomOp::Bernoulli writes for the same (seed, offset, keep).
template <typename T>
void dropoutImpl(const View& outView, const View& xView, uint64_t seed, uint64_t offset, double keep, double scale) {
  const int64_t n = outView.numel();
  std::vector<T> tmp;
  const T* x = xView.at<T>();
  if (!xView.isContiguous()) {
    tmp.resize(static_cast<size_t>(n));
    View c;
    c.data = tmp.data();
    c.dtype = xView.dtype;
    c.layout = Layout::contiguous(xView.ndim(), xView.layout.shape);
    copy(c, xView);
    x = tmp.data();
  }
  T* y = outView.at<T>();
  const T s = static_cast<T>(scale);
  const int32_t threshold = philox::bernoulliThreshold(keep);  // the test of philox::bernoulli
  forWords((n + 3) / 4, seed, offset, [x, y, n, s, threshold](int64_t k0, const uint32_t* __restrict w, int64_t nb) {
    const int64_t i0 = 4 * k0, m = std::min(4 * nb, n - i0);
    const T* __restrict src = x + i0;
    T* __restrict dst = y + i0;
    // 0 or 1 times scale (exact), as arithmetic rather than a select so that the loop vectorizes
    for (int64_t i = 0; i < m; i++)
      dst[i] = src[i] * (static_cast<T>(static_cast<int32_t>(static_cast<int32_t>(w[i] >> 8) < threshold)) * s);
  });
}

}  // namespace

void dropout(const View& out, const View& x, uint64_t seed, uint64_t offset, double keep, double scale) {
  if (out.numel() == 0) return;
  if (out.dtype == DType::Float64) dropoutImpl<double>(out, x, seed, offset, keep, scale);
  else dropoutImpl<float>(out, x, seed, offset, keep, scale);
}

}  // namespace cpu
}  // namespace kiln
