// Pooling: max-pool argmax indices, average pooling and its adjoint, over 1..3 spatial dims
// (run as 3-D with leading dims of size 1), with the CPU's window rules (native/cpu/pool.cpp).
//
// Everything is a gather, one thread per written element, so results are deterministic and match
// the CPU's bit for bit: a window is visited in the CPU's order (row-major over its elements),
// and the adjoint adds each x position's contributions in the order the CPU's scatter adds them
// (output positions row-major), each y already divided by its window's divisor.
#include <cstdint>

#include "kernels.h"
#include "nn.cuh"

namespace kiln {
namespace cuda {
namespace {

struct Geometry {
  bool adaptive, countIncludePad;
  int64_t divisor;
  int64_t I[3], O[3], K[3], s[3], pad[3], d[3];
  int64_t C;
  int64_t st[5];  // the strided operand's strides: n, c, then the three spatial dims (0 for added ones)
};

Geometry geometry(const PoolParams& p, const View& x, const View& y, const View& strided) {
  Geometry g{};
  g.adaptive = p.adaptive;
  g.countIncludePad = p.countIncludePad;
  g.divisor = p.divisor;
  g.C = x.size(1);
  g.st[0] = strided.stride(0);
  g.st[1] = strided.stride(1);
  for (int i = 0; i < 3; i++) {
    const int d = i - (3 - p.spatial);
    const bool real = d >= 0;
    // An added dim: one input and one output position, a window of one.
    g.I[i] = real ? x.size(2 + d) : 1;
    g.O[i] = real ? y.size(2 + d) : 1;
    g.K[i] = real ? p.kernel[d] : 1;
    g.s[i] = real ? p.stride[d] : 1;
    g.pad[i] = real ? p.pad[d] : 0;
    g.d[i] = real ? p.dilation[d] : 1;
    g.st[2 + i] = real ? strided.stride(2 + d) : 0;
  }
  return g;
}

__device__ __forceinline__ int64_t floorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
__device__ __forceinline__ int64_t ceilDiv(int64_t a, int64_t b) { return -floorDiv(-a, b); }

// Window o along dim i: input positions first + k * step for k < count (clipped to the input);
// padded: its extent clipped to the padded input (the countIncludePad divisor).
struct Window {
  int64_t first, count, step, padded;
};

__device__ __forceinline__ Window window(const Geometry& g, int i, int64_t o) {
  const int64_t I = g.I[i], O = g.O[i];
  if (g.adaptive) {
    const int64_t a = o * I / O, b = ((o + 1) * I + O - 1) / O;
    return {a, b - a, 1, b - a};
  }
  const int64_t K = g.K[i], d = g.d[i], start = o * g.s[i] - g.pad[i];
  const int64_t kl = max(int64_t{0}, ceilDiv(-start, d));
  const int64_t kh = min(K, ceilDiv(I - start, d));
  return {start + kl * d, max(int64_t{0}, kh - kl), d, min(start + K, I + g.pad[i]) - start};
}

template <typename T>
__device__ __forceinline__ T divisorOf(const Geometry& g, const Window& a, const Window& b, const Window& c) {
  if (g.divisor > 0) return T(g.divisor);
  if (g.countIncludePad && !g.adaptive) return T(a.padded * b.padded * c.padded);
  return T(a.count * b.count * c.count);
}

// Output element e (flat over [N, C, O0, O1, O2]) as its plane (n * C + c) and positions.
__device__ __forceinline__ void split(const Geometry& g, int64_t e, int64_t& plane, int64_t (&o)[3]) {
  o[2] = e % g.O[2];
  e /= g.O[2];
  o[1] = e % g.O[1];
  e /= g.O[1];
  o[0] = e % g.O[0];
  plane = e / g.O[0];
}

// The first maximum wins; a NaN beats every number (and the first NaN stays).
template <typename T>
__device__ __forceinline__ bool beats(T v, T best) {
  return v > best || (v != v && best == best);
}

template <typename T>
__global__ void maxPoolIndicesKernel(int32_t* __restrict__ index, const T* __restrict__ x, Geometry g, int64_t n) {
  for (int64_t e = globalIndex64(); e < n; e += gridStride64()) {
    int64_t plane, o[3];
    split(g, e, plane, o);
    const T* xp = x + (plane / g.C) * g.st[0] + (plane % g.C) * g.st[1];
    const Window w0 = window(g, 0, o[0]), w1 = window(g, 1, o[1]), w2 = window(g, 2, o[2]);
    T best = T(0);
    int64_t at = -1;
    for (int64_t a = 0; a < w0.count; a++) {
      const int64_t i0 = w0.first + a * w0.step;
      for (int64_t b = 0; b < w1.count; b++) {
        const int64_t i1 = w1.first + b * w1.step;
        const T* row = xp + i0 * g.st[2] + i1 * g.st[3];
        const int64_t rowAt = (i0 * g.I[1] + i1) * g.I[2];
        for (int64_t c = 0; c < w2.count; c++) {
          const int64_t i2 = w2.first + c * w2.step;
          const T v = row[i2 * g.st[4]];
          if (at < 0 || beats(v, best)) {
            best = v;
            at = rowAt + i2;
          }
        }
      }
    }
    index[e] = static_cast<int32_t>(at < 0 ? 0 : at);
  }
}

template <typename T>
__global__ void avgPoolKernel(T* __restrict__ y, const T* __restrict__ x, Geometry g, int64_t n) {
  for (int64_t e = globalIndex64(); e < n; e += gridStride64()) {
    int64_t plane, o[3];
    split(g, e, plane, o);
    const T* xp = x + (plane / g.C) * g.st[0] + (plane % g.C) * g.st[1];
    const Window w0 = window(g, 0, o[0]), w1 = window(g, 1, o[1]), w2 = window(g, 2, o[2]);
    T acc = T(0);
    for (int64_t a = 0; a < w0.count; a++) {
      const int64_t i0 = w0.first + a * w0.step;
      for (int64_t b = 0; b < w1.count; b++) {
        const int64_t i1 = w1.first + b * w1.step;
        const T* row = xp + i0 * g.st[2] + i1 * g.st[3] + w2.first * g.st[4];
        const int64_t step = w2.step * g.st[4];
        for (int64_t c = 0; c < w2.count; c++) acc += row[c * step];
      }
    }
    y[e] = acc / divisorOf<T>(g, w0, w1, w2);
  }
}

// The output positions along dim i whose windows hold input position x: a superset range
// [lo, hi]; the caller keeps those that `holds` accepts, in increasing order.
__device__ __forceinline__ void outputRange(const Geometry& g, int i, int64_t x, int64_t& lo, int64_t& hi) {
  const int64_t I = g.I[i], O = g.O[i];
  if (g.adaptive) {
    // floor(o I / O) <= x < ceil((o + 1) I / O)  <=>  floor(x O / I) <= o < ceil((x + 1) O / I)
    lo = x * O / I;
    hi = ((x + 1) * O + I - 1) / I - 1;
  } else {
    // x = o s - pad + k d for some k < K
    lo = ceilDiv(x + g.pad[i] - (g.K[i] - 1) * g.d[i], g.s[i]);
    hi = floorDiv(x + g.pad[i], g.s[i]);
  }
  lo = max(lo, int64_t{0});
  hi = min(hi, O - 1);
}

__device__ __forceinline__ bool holds(const Window& w, int64_t x) {
  if (x < w.first) return false;
  const int64_t k = (x - w.first) / w.step;
  return k < w.count && k * w.step == x - w.first;
}

template <typename T>
__global__ void avgPoolTransposeKernel(T* __restrict__ x, const T* __restrict__ y, Geometry g, int64_t n) {
  for (int64_t e = globalIndex64(); e < n; e += gridStride64()) {
    int64_t rest = e;
    int64_t i[3];
    i[2] = rest % g.I[2];
    rest /= g.I[2];
    i[1] = rest % g.I[1];
    rest /= g.I[1];
    i[0] = rest % g.I[0];
    const int64_t plane = rest / g.I[0];
    const T* yp = y + (plane / g.C) * g.st[0] + (plane % g.C) * g.st[1];
    int64_t lo[3], hi[3];
    for (int k = 0; k < 3; k++) outputRange(g, k, i[k], lo[k], hi[k]);
    T acc = T(0);
    for (int64_t o0 = lo[0]; o0 <= hi[0]; o0++) {
      const Window w0 = window(g, 0, o0);
      if (!holds(w0, i[0])) continue;
      for (int64_t o1 = lo[1]; o1 <= hi[1]; o1++) {
        const Window w1 = window(g, 1, o1);
        if (!holds(w1, i[1])) continue;
        for (int64_t o2 = lo[2]; o2 <= hi[2]; o2++) {
          const Window w2 = window(g, 2, o2);
          if (!holds(w2, i[2])) continue;
          acc += yp[o0 * g.st[2] + o1 * g.st[3] + o2 * g.st[4]] / divisorOf<T>(g, w0, w1, w2);
        }
      }
    }
    x[e] = acc;
  }
}

template <typename T>
void maxPoolIndicesImpl(Ctx& c, const View& index, const View& x, const PoolParams& p) {
  const int64_t n = index.numel();
  if (n == 0) return;
  const Geometry g = geometry(p, x, index, x);
  maxPoolIndicesKernel<T><<<c.blocksFor(n, kThreads), kThreads, 0, c.stream>>>(index.at<int32_t>(), x.at<T>(), g, n);
  KILN_CHECK_LAUNCH();
}

template <typename T>
void avgPoolImpl(Ctx& c, const View& y, const View& x, const PoolParams& p) {
  const int64_t n = y.numel();
  if (n == 0) return;
  const Geometry g = geometry(p, x, y, x);
  avgPoolKernel<T><<<c.blocksFor(n, kThreads), kThreads, 0, c.stream>>>(y.at<T>(), x.at<T>(), g, n);
  KILN_CHECK_LAUNCH();
}

template <typename T>
void avgPoolTransposeImpl(Ctx& c, const View& x, const View& y, const PoolParams& p) {
  const int64_t n = x.numel();
  if (n == 0) return;
  const Geometry g = geometry(p, x, y, y);
  avgPoolTransposeKernel<T><<<c.blocksFor(n, kThreads), kThreads, 0, c.stream>>>(x.at<T>(), y.at<T>(), g, n);
  KILN_CHECK_LAUNCH();
}

}  // namespace

void maxPoolIndices(Ctx& c, const View& index, const View& x, const PoolParams& p) {
  if (x.dtype == DType::Float64) maxPoolIndicesImpl<double>(c, index, x, p);
  else maxPoolIndicesImpl<float>(c, index, x, p);
}

void avgPool(Ctx& c, const View& y, const View& x, const PoolParams& p) {
  if (x.dtype == DType::Float64) avgPoolImpl<double>(c, y, x, p);
  else avgPoolImpl<float>(c, y, x, p);
}

void avgPoolTranspose(Ctx& c, const View& x, const View& y, const PoolParams& p) {
  if (y.dtype == DType::Float64) avgPoolTransposeImpl<double>(c, x, y, p);
  else avgPoolTransposeImpl<float>(c, x, y, p);
}

}  // namespace cuda
}  // namespace kiln
