// Pooling on the CPU: max-pool argmax indices, average pooling and its adjoint.
//
// Windows are separable: along each spatial dim, output position o reads the input positions
// first[o] + k * step[o] for k < count[o] (already clipped to the input). 1-D and 2-D pools run
// as 3-D ones with leading dims of size 1. Planes (n, c) are independent and split across the
// thread pool.
#include <algorithm>
#include <cstdint>
#include <vector>

#include <cstdlib>
#include <string>
#include <type_traits>

#include "../core/thread_pool.h"
#include "cpu_info.h"
#include "kernels.h"
#include "pool_kernels.h"

namespace kiln {
namespace cpu {
namespace {

int64_t floorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t ceilDiv(int64_t a, int64_t b) { return -floorDiv(-a, b); }

// One spatial dim's windows.
struct Windows {
  int64_t I = 1, O = 1;
  std::vector<int64_t> first, count, step;
  std::vector<int64_t> padded;  // the window's extent clipped to the padded input (avg divisor)
};

Windows windows(const PoolParams& p, int dim, int64_t I, int64_t O) {
  Windows w;
  w.I = I;
  w.O = O;
  w.first.resize(static_cast<size_t>(O));
  w.count.resize(static_cast<size_t>(O));
  w.step.resize(static_cast<size_t>(O));
  w.padded.resize(static_cast<size_t>(O));
  for (int64_t o = 0; o < O; o++) {
    if (dim < 0) {  // an added dim of size 1
      w.first[o] = 0, w.count[o] = 1, w.step[o] = 1, w.padded[o] = 1;
    } else if (p.adaptive) {
      const int64_t a = o * I / O, b = ((o + 1) * I + O - 1) / O;
      w.first[o] = a, w.count[o] = b - a, w.step[o] = 1, w.padded[o] = b - a;
    } else {
      const int64_t K = p.kernel[dim], d = p.dilation[dim];
      const int64_t start = o * p.stride[dim] - p.pad[dim];
      const int64_t kl = std::max<int64_t>(0, ceilDiv(-start, d));
      const int64_t kh = std::min(K, ceilDiv(I - start, d));
      w.first[o] = start + kl * d;
      w.count[o] = std::max<int64_t>(0, kh - kl);
      w.step[o] = d;
      w.padded[o] = std::min(start + K, I + p.pad[dim]) - start;
    }
  }
  return w;
}

struct Plan {
  Windows w[3];
  int64_t N, C, Isz, Osz;
  int64_t xs[5];  // strides of x: n, c, spatial (0 for added dims)
};

// x is the pooled input [N, C, *I] (any strides), y/index the pooled output [N, C, *O].
Plan plan(const View& x, const View& y, const PoolParams& p) {
  Plan pl;
  const int S = p.spatial;
  pl.N = x.size(0);
  pl.C = x.size(1);
  pl.xs[0] = x.stride(0);
  pl.xs[1] = x.stride(1);
  pl.Isz = pl.Osz = 1;
  for (int i = 0; i < 3; i++) {
    const int d = i - (3 - S);
    const int64_t I = d < 0 ? 1 : x.size(2 + d), O = d < 0 ? 1 : y.size(2 + d);
    pl.w[i] = windows(p, d, I, O);
    pl.xs[2 + i] = d < 0 ? 0 : x.stride(2 + d);
    pl.Isz *= I;
    pl.Osz *= O;
  }
  return pl;
}

// fn(plane, o (flat output index in the plane), o0, o1, o2) for every window, planes in parallel.
template <typename F>
void forWindows(const Plan& pl, F&& fn) {
  const int64_t planes = pl.N * pl.C;
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, pl.Osz));
  parallelFor(planes, grain, [&](int64_t b, int64_t e) {
    for (int64_t q = b; q < e; q++) {
      int64_t o = 0;
      for (int64_t o0 = 0; o0 < pl.w[0].O; o0++)
        for (int64_t o1 = 0; o1 < pl.w[1].O; o1++)
          for (int64_t o2 = 0; o2 < pl.w[2].O; o2++, o++) fn(q, o, o0, o1, o2);
    }
  });
}

// The SIMD 2 x 2 / stride 2 argmax this CPU runs (KILN_NN_ISA=portable|avx2 forces a lower one).
MaxPool2x2F32 maxPool2x2Kernel() {
  static const MaxPool2x2F32 k = [] {
    const Features& f = features();
    const char* env = std::getenv("KILN_NN_ISA");
    const std::string force = env ? env : "";
    MaxPool2x2F32 found = nullptr;
    if (force.empty() && f.avx512f && f.avx2) found = avx512MaxPool2x2F32();
    if (!found && (force.empty() || force == "avx2") && f.avx2) found = avx2MaxPool2x2F32();
    return found;
  }();
  return k;
}

// The first maximum wins; a NaN beats every number (and the first NaN stays). Written as a
// select: with random data a branch here mispredicts about every other window.
template <typename T>
inline bool beats(T v, T best) {
  return (v > best) | ((v != v) & (best == best));
}

// The argmax of every window, plane by plane (planes split across the pool): into `index`
// [N*C, Osz] when given, else into a per-thread buffer; then sink(q, plane of x, its Osz
// indices) runs on the same thread, while the plane is in cache. `outLike` is any view of the
// pooled shape [N, C, *O].
template <typename T, typename Sink>
void maxPoolPlanes(const View& xv, const View& outLike, const PoolParams& p, int32_t* index, Sink&& sink) {
  const Plan pl = plan(xv, outLike, p);
  const T* x = xv.at<T>();
  const Windows &w0 = pl.w[0], &w1 = pl.w[1], &w2 = pl.w[2];
  // Along the innermost dim, windows [lo2, hi2) are whole and evenly spaced (first = o*s - pad,
  // K elements d apart): there the loop runs across output positions, which vectorizes.
  int64_t lo2 = 0, hi2 = 0, s2 = 1, p2 = 0, K2 = 1, d2 = 1;
  if (!p.adaptive) {
    const int D = p.spatial - 1;
    s2 = p.stride[D], p2 = p.pad[D], K2 = p.kernel[D], d2 = p.dilation[D];
    lo2 = w2.O;
    for (int64_t o = 0; o < w2.O; o++) {
      const bool whole = w2.count[o] == K2 && w2.first[o] == o * s2 - p2;
      if (whole && lo2 == w2.O) lo2 = o;
      if (whole) hi2 = o + 1;
    }
    if (lo2 >= hi2) lo2 = hi2 = 0;
  }
  const int64_t xs2 = pl.xs[4];
  // 2 x 2 windows, stride 2, unit-stride rows: the SIMD kernel takes the whole windows of a row.
  const MaxPool2x2F32 simd2x2 =
      std::is_same_v<T, float> && !p.adaptive && K2 == 2 && s2 == 2 && d2 == 1 && xs2 == 1 ? maxPool2x2Kernel() : nullptr;
  const int64_t planes = pl.N * pl.C;
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, pl.Osz));
  // Every window 2 x 2 and whole (2-D pooling, stride 2, no padding): each output row is one
  // call of the SIMD kernel on two input rows, without the general loop's per-row bookkeeping
  // (which dominates on small planes such as LeNet's 8 x 8).
  bool whole2x2 = simd2x2 && w0.O == 1 && w0.count[0] == 1 && lo2 == 0 && hi2 == w2.O && p2 == 0;
  for (int64_t o = 0; whole2x2 && o < w1.O; o++)
    whole2x2 = w1.count[o] == 2 && w1.step[o] == 1 && w1.first[o] == 2 * o;
  parallelFor(planes, grain, [&](int64_t qb, int64_t qe) {
    std::vector<const T*> rows;
    std::vector<int64_t> rowAt;
    std::vector<int32_t> local(index ? 0 : static_cast<size_t>(pl.Osz));
    for (int64_t q = qb; q < qe; q++) {
      const T* plane = x + (q / pl.C) * pl.xs[0] + (q % pl.C) * pl.xs[1];
      int32_t* const planeIndex = index ? index + q * pl.Osz : local.data();
      int32_t* out = planeIndex;
      if constexpr (std::is_same_v<T, float>) {
        if (whole2x2) {
          for (int64_t o1 = 0; o1 < w1.O; o1++, out += w2.O) {
            const int64_t i1 = 2 * o1;
            simd2x2(plane + i1 * pl.xs[3], plane + (i1 + 1) * pl.xs[3], w2.O, static_cast<int32_t>(i1 * w2.I),
                    static_cast<int32_t>((i1 + 1) * w2.I), out);
          }
          sink(q, plane, planeIndex);
          continue;
        }
      }
      for (int64_t o0 = 0; o0 < w0.O; o0++)
        for (int64_t o1 = 0; o1 < w1.O; o1++, out += w2.O) {
          // The window's input rows, in order.
          rows.clear();
          rowAt.clear();
          for (int64_t a = 0; a < w0.count[o0]; a++)
            for (int64_t b = 0; b < w1.count[o1]; b++) {
              const int64_t i0 = w0.first[o0] + a * w0.step[o0], i1 = w1.first[o1] + b * w1.step[o1];
              rows.push_back(plane + i0 * pl.xs[2] + i1 * pl.xs[3]);
              rowAt.push_back((i0 * w1.I + i1) * w2.I);
            }
          const size_t nr = rows.size();
          // Edge windows, one at a time.
          for (int64_t o2 = 0; o2 < w2.O; o2++) {
            if (o2 == lo2 && hi2 > lo2) o2 = hi2;
            if (o2 >= w2.O) break;
            T best = T(0);
            int64_t at = -1;
            for (size_t r = 0; r < nr; r++)
              for (int64_t c = 0; c < w2.count[o2]; c++) {
                const int64_t i2 = w2.first[o2] + c * w2.step[o2];
                const T v = rows[r][i2 * xs2];
                const bool take = at < 0 || beats(v, best);
                best = take ? v : best;
                at = take ? rowAt[r] + i2 : at;
              }
            out[o2] = static_cast<int32_t>(at < 0 ? 0 : at);
          }
          if constexpr (std::is_same_v<T, float>) {
            if (simd2x2 && nr == 2 && hi2 > lo2) {
              const int64_t first = lo2 * 2 - p2;
              simd2x2(rows[0] + first, rows[1] + first, hi2 - lo2, static_cast<int32_t>(rowAt[0] + first),
                      static_cast<int32_t>(rowAt[1] + first), out + lo2);
              continue;
            }
          }
          // Whole windows, a chunk of output positions at a time.
          constexpr int64_t kChunk = 64;
          for (int64_t c0 = lo2; c0 < hi2; c0 += kChunk) {
            const int64_t n = std::min(kChunk, hi2 - c0);
            T best[kChunk];
            int32_t at[kChunk];
            for (size_t r = 0; r < nr; r++) {
              const T* row = rows[r];
              for (int64_t c = 0; c < K2; c++) {
                const int64_t off = c0 * s2 - p2 + c * d2;  // input position of chunk element 0
                const int32_t base = static_cast<int32_t>(rowAt[r] + off);
                const T* src = row + off * xs2;
                const int64_t step = s2 * xs2;
                if (r == 0 && c == 0) {
                  for (int64_t i = 0; i < n; i++) {
                    best[i] = src[i * step];
                    at[i] = base + static_cast<int32_t>(i * s2);
                  }
                  continue;
                }
                for (int64_t i = 0; i < n; i++) {
                  const T v = src[i * step];
                  const bool take = beats(v, best[i]);
                  best[i] = take ? v : best[i];
                  at[i] = take ? base + static_cast<int32_t>(i * s2) : at[i];
                }
              }
            }
            for (int64_t i = 0; i < n; i++) out[c0 + i] = at[i];
          }
        }
      sink(q, plane, planeIndex);
    }
  });
}

template <typename T>
void maxPoolIndicesImpl(const View& indexView, const View& xv, const PoolParams& p) {
  maxPoolPlanes<T>(xv, indexView, p, indexView.at<int32_t>(), [](int64_t, const T*, const int32_t*) {});
}

// Where flat position `at` within the spatial dims of x lies in memory, relative to its plane.
struct PlaneOffsets {
  int64_t I1, I2, s0, s1, s2;
  bool dense;
  PlaneOffsets(const View& x, int spatial) {
    int64_t I[3] = {1, 1, 1}, st[3] = {0, 0, 0};
    for (int d = 0; d < spatial; d++) I[3 - spatial + d] = x.size(2 + d), st[3 - spatial + d] = x.stride(2 + d);
    I1 = I[1], I2 = I[2], s0 = st[0], s1 = st[1], s2 = st[2];
    dense = (I2 == 1 || s2 == 1) && (I1 == 1 || s1 == I2) && (I[0] == 1 || s0 == I1 * I2);
  }
  int64_t operator()(int64_t at) const {
    if (dense) return at;
    return (at / (I1 * I2)) * s0 + ((at / I2) % I1) * s1 + (at % I2) * s2;
  }
};

// 2-D windows 2 x 2, stride 2, all whole, unit-stride rows of x: each output row from two input
// rows by the SIMD kernel, with no index array. Returns false when that does not apply.
bool maxPool2x2Values(const View& yv, const View& xv, const PoolParams& p) {
  static const MaxPool2x2ValuesF32 kernel = [] {
    const Features& f = features();
    return std::getenv("KILN_NN_ISA") == nullptr && f.avx512f && f.avx2 ? avx512MaxPool2x2ValuesF32() : nullptr;
  }();
  if (!kernel || xv.dtype != DType::Float32 || p.spatial != 2 || p.adaptive) return false;
  for (int d = 0; d < 2; d++)
    if (p.kernel[d] != 2 || p.stride[d] != 2 || p.pad[d] != 0 || p.dilation[d] != 1 || 2 * yv.size(2 + d) > xv.size(2 + d))
      return false;
  if (xv.stride(3) != 1) return false;
  const int64_t C = xv.size(1), O1 = yv.size(2), O2 = yv.size(3);
  const float* x = xv.at<float>();
  float* y = yv.at<float>();  // fresh, contiguous
  parallelFor(xv.size(0) * C, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, O1 * O2)), [&](int64_t b, int64_t e) {
    for (int64_t q = b; q < e; q++) {
      const float* xp = x + (q / C) * xv.stride(0) + (q % C) * xv.stride(1);
      for (int64_t o1 = 0; o1 < O1; o1++) {
        const float* r0 = xp + 2 * o1 * xv.stride(2);
        kernel(r0, r0 + xv.stride(2), O2, y + (q * O1 + o1) * O2);
      }
    }
  });
  return true;
}

// y = the values at the argmax positions (the same values as maxPoolIndices then a gather).
template <typename T>
void maxPoolImpl(const View& yv, const View& xv, const PoolParams& p) {
  T* y = yv.at<T>();  // fresh, contiguous
  int64_t Osz = 1;
  for (int d = 0; d < p.spatial; d++) Osz *= yv.size(2 + d);
  const PlaneOffsets off(xv, p.spatial);
  maxPoolPlanes<T>(xv, yv, p, nullptr, [&](int64_t q, const T* plane, const int32_t* idx) {
    T* out = y + q * Osz;
    if (off.dense) {
      for (int64_t o = 0; o < Osz; o++) out[o] = plane[idx[o]];
    } else {
      for (int64_t o = 0; o < Osz; o++) out[o] = plane[off(idx[o])];
    }
  });
}

// The SIMD 2 x 2 gradient this CPU runs (KILN_NN_ISA=portable|avx2 turns it off), or null.
MaxPool2x2GradF32 maxPool2x2GradKernel() {
  static const MaxPool2x2GradF32 k = [] {
    const Features& f = features();
    const char* env = std::getenv("KILN_NN_ISA");
    return env == nullptr && f.avx512f && f.avx2 ? avx512MaxPool2x2GradF32() : nullptr;
  }();
  return k;
}

// 2-D windows 2 x 2, stride 2, tiling x exactly (each input position in one window), with
// unit-stride rows of x and gy: the gradient rows are written densely in one pass, no zero fill
// and no scatter. Returns false when that does not apply.
bool maxPoolGrad2x2(const View& dxv, const View& xv, const View& gyv, const PoolParams& p) {
  const MaxPool2x2GradF32 kernel = maxPool2x2GradKernel();
  if (!kernel || xv.dtype != DType::Float32 || p.spatial != 2 || p.adaptive) return false;
  for (int d = 0; d < 2; d++)
    if (p.kernel[d] != 2 || p.stride[d] != 2 || p.pad[d] != 0 || p.dilation[d] != 1 || xv.size(2 + d) != 2 * gyv.size(2 + d))
      return false;
  if (xv.stride(3) != 1 || gyv.stride(3) != 1) return false;
  const int64_t C = xv.size(1), I1 = xv.size(2), I2 = xv.size(3), O1 = gyv.size(2), O2 = gyv.size(3);
  const float* x = xv.at<float>();
  const float* gy = gyv.at<float>();
  float* dx = dxv.at<float>();  // fresh, contiguous
  const int64_t planes = xv.size(0) * C;
  parallelFor(planes, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, O1 * O2)), [&](int64_t b, int64_t e) {
    for (int64_t q = b; q < e; q++) {
      const float* xp = x + (q / C) * xv.stride(0) + (q % C) * xv.stride(1);
      const float* gp = gy + (q / C) * gyv.stride(0) + (q % C) * gyv.stride(1);
      float* dp = dx + q * I1 * I2;
      for (int64_t o1 = 0; o1 < O1; o1++) {
        const float* r0 = xp + 2 * o1 * xv.stride(2);
        kernel(r0, r0 + xv.stride(2), gp + o1 * gyv.stride(2), O2, dp + 2 * o1 * I2, dp + (2 * o1 + 1) * I2);
      }
    }
  });
  return true;
}

// dx = max pooling's VJP at x for gy: each plane zeroed, then gy added at the argmax positions
// in output order (as a scatterAdd would), recomputed here instead of kept from the forward.
template <typename T>
void maxPoolGradImpl(const View& dxv, const View& xv, const View& gyv, const PoolParams& p) {
  T* dx = dxv.at<T>();  // fresh, contiguous [N, C, *I]
  const T* gy = gyv.at<T>();
  const int S = p.spatial;
  int64_t Isz = 1, O[3] = {1, 1, 1}, gs[3] = {0, 0, 0};
  for (int d = 0; d < S; d++) {
    Isz *= xv.size(2 + d);
    O[3 - S + d] = gyv.size(2 + d);
    gs[3 - S + d] = gyv.stride(2 + d);
  }
  const int64_t C = xv.size(1);
  const bool denseRows = O[2] == 1 || gs[2] == 1;
  maxPoolPlanes<T>(xv, gyv, p, nullptr, [&](int64_t q, const T*, const int32_t* idx) {
    T* plane = dx + q * Isz;
    std::fill(plane, plane + Isz, T(0));
    const T* gp = gy + (q / C) * gyv.stride(0) + (q % C) * gyv.stride(1);
    for (int64_t o0 = 0; o0 < O[0]; o0++)
      for (int64_t o1 = 0; o1 < O[1]; o1++, idx += O[2]) {
        const T* gr = gp + o0 * gs[0] + o1 * gs[1];
        if (denseRows) {
          for (int64_t o2 = 0; o2 < O[2]; o2++) plane[idx[o2]] += gr[o2];
        } else {
          for (int64_t o2 = 0; o2 < O[2]; o2++) plane[idx[o2]] += gr[o2 * gs[2]];
        }
      }
  });
}

template <typename T>
T divisorOf(const Plan& pl, const PoolParams& p, int64_t o0, int64_t o1, int64_t o2) {
  if (p.divisor > 0) return T(p.divisor);
  if (p.countIncludePad && !p.adaptive)
    return T(pl.w[0].padded[o0] * pl.w[1].padded[o1] * pl.w[2].padded[o2]);
  return T(pl.w[0].count[o0] * pl.w[1].count[o1] * pl.w[2].count[o2]);
}

template <typename T>
void avgPoolImpl(const View& yv, const View& xv, const PoolParams& p) {
  const Plan pl = plan(xv, yv, p);
  const T* x = xv.at<T>();
  T* y = yv.at<T>();
  const Windows &w0 = pl.w[0], &w1 = pl.w[1], &w2 = pl.w[2];
  forWindows(pl, [&](int64_t q, int64_t o, int64_t o0, int64_t o1, int64_t o2) {
    const T* plane = x + (q / pl.C) * pl.xs[0] + (q % pl.C) * pl.xs[1];
    T acc = T(0);
    for (int64_t a = 0; a < w0.count[o0]; a++) {
      const int64_t i0 = w0.first[o0] + a * w0.step[o0];
      for (int64_t b = 0; b < w1.count[o1]; b++) {
        const int64_t i1 = w1.first[o1] + b * w1.step[o1];
        const T* row = plane + i0 * pl.xs[2] + i1 * pl.xs[3] + w2.first[o2] * pl.xs[4];
        const int64_t s = w2.step[o2] * pl.xs[4];
        for (int64_t c = 0; c < w2.count[o2]; c++) acc += row[c * s];
      }
    }
    y[q * pl.Osz + o] = acc / divisorOf<T>(pl, p, o0, o1, o2);
  });
}

template <typename T>
void avgPoolTransposeImpl(const View& xv, const View& yv, const PoolParams& p) {
  const Plan pl = plan(xv, yv, p);  // x: fresh, contiguous
  T* x = xv.at<T>();
  const T* y = yv.at<T>();
  const int64_t ys0 = yv.stride(0), ys1 = yv.stride(1);
  // y's spatial strides in the canonical 3-D form
  int64_t yss[3] = {0, 0, 0};
  for (int i = 0; i < p.spatial; i++) yss[3 - p.spatial + i] = yv.stride(2 + i);
  const Windows &w0 = pl.w[0], &w1 = pl.w[1], &w2 = pl.w[2];
  // Planes are zeroed and filled by the thread that owns them.
  const int64_t planes = pl.N * pl.C;
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, pl.Osz + pl.Isz));
  parallelFor(planes, grain, [&](int64_t b, int64_t e) {
    for (int64_t q = b; q < e; q++) {
      T* plane = x + q * pl.Isz;
      std::fill(plane, plane + pl.Isz, T(0));
      const T* yp = y + (q / pl.C) * ys0 + (q % pl.C) * ys1;
      for (int64_t o0 = 0; o0 < w0.O; o0++)
        for (int64_t o1 = 0; o1 < w1.O; o1++)
          for (int64_t o2 = 0; o2 < w2.O; o2++) {
            const T v = yp[o0 * yss[0] + o1 * yss[1] + o2 * yss[2]] / divisorOf<T>(pl, p, o0, o1, o2);
            for (int64_t a = 0; a < w0.count[o0]; a++) {
              const int64_t i0 = w0.first[o0] + a * w0.step[o0];
              for (int64_t bb = 0; bb < w1.count[o1]; bb++) {
                const int64_t i1 = w1.first[o1] + bb * w1.step[o1];
                T* row = plane + (i0 * w1.I + i1) * w2.I + w2.first[o2];
                for (int64_t c = 0; c < w2.count[o2]; c++) row[c * w2.step[o2]] += v;
              }
            }
          }
    }
  });
}

// Each plane of x is zeroed and then receives its outputs' gradients in order, by the thread that
// owns the plane (so in cache between the two), which adds in the same order as a serial
// scatterAdd: bit for bit the same sums where windows overlap.
template <typename T>
void maxPoolBackwardImpl(const View& xv, const View& yv, const View& iv) {
  const int S = xv.ndim() - 2;
  const int64_t N = xv.size(0), C = xv.size(1);
  int64_t Isz = 1;
  for (int d = 0; d < S; d++) Isz *= xv.size(2 + d);
  // y's and index's spatial dims in a canonical 3-D form (leading dims of size 1)
  int64_t O[3] = {1, 1, 1}, ys[3] = {0, 0, 0}, is[3] = {0, 0, 0};
  for (int d = 0; d < S; d++) {
    O[3 - S + d] = yv.size(2 + d);
    ys[3 - S + d] = yv.stride(2 + d);
    is[3 - S + d] = iv.stride(2 + d);
  }
  const int64_t Osz = O[0] * O[1] * O[2];
  T* x = xv.at<T>();
  const T* y = yv.at<T>();
  const int32_t* index = iv.at<int32_t>();
  const bool dense = O[2] == 1 || (ys[2] == 1 && is[2] == 1);
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, Isz + Osz));
  parallelFor(N * C, grain, [&](int64_t b, int64_t e) {
    for (int64_t q = b; q < e; q++) {
      T* plane = x + q * Isz;
      std::fill(plane, plane + Isz, T(0));
      const int64_t n = q / C, c = q % C;
      const T* yp = y + n * yv.stride(0) + c * yv.stride(1);
      const int32_t* ip = index + n * iv.stride(0) + c * iv.stride(1);
      for (int64_t o0 = 0; o0 < O[0]; o0++)
        for (int64_t o1 = 0; o1 < O[1]; o1++) {
          const T* yr = yp + o0 * ys[0] + o1 * ys[1];
          const int32_t* ir = ip + o0 * is[0] + o1 * is[1];
          if (dense) {
            for (int64_t o2 = 0; o2 < O[2]; o2++) plane[ir[o2]] += yr[o2];
          } else {
            for (int64_t o2 = 0; o2 < O[2]; o2++) plane[ir[o2 * is[2]]] += yr[o2 * ys[2]];
          }
        }
    }
  });
}

}  // namespace

void maxPoolBackward(const View& x, const View& y, const View& index) {
  if (x.dtype == DType::Float64) maxPoolBackwardImpl<double>(x, y, index);
  else maxPoolBackwardImpl<float>(x, y, index);
}

void maxPool(const View& y, const View& x, const PoolParams& p) {
  if (maxPool2x2Values(y, x, p)) return;
  if (x.dtype == DType::Float64) maxPoolImpl<double>(y, x, p);
  else maxPoolImpl<float>(y, x, p);
}

void maxPoolGrad(const View& dx, const View& x, const View& gy, const PoolParams& p) {
  if (maxPoolGrad2x2(dx, x, gy, p)) return;
  if (x.dtype == DType::Float64) maxPoolGradImpl<double>(dx, x, gy, p);
  else maxPoolGradImpl<float>(dx, x, gy, p);
}

void maxPoolIndices(const View& index, const View& x, const PoolParams& p) {
  if (x.dtype == DType::Float64) maxPoolIndicesImpl<double>(index, x, p);
  else maxPoolIndicesImpl<float>(index, x, p);
}

void avgPool(const View& y, const View& x, const PoolParams& p) {
  if (x.dtype == DType::Float64) avgPoolImpl<double>(y, x, p);
  else avgPoolImpl<float>(y, x, p);
}

void avgPoolTranspose(const View& x, const View& y, const PoolParams& p) {
  if (y.dtype == DType::Float64) avgPoolTransposeImpl<double>(x, y, p);
  else avgPoolTransposeImpl<float>(x, y, p);
}

}  // namespace cpu
}  // namespace kiln
