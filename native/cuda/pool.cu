// Pooling: max-pool argmax indices and values, max pooling's VJP (recomputing the argmax, or
// at given indices), average pooling and its adjoint, over 1..3 spatial dims (run as 3-D with
// leading dims of size 1), with the CPU's window rules (native/cpu/pool.cpp).
//
// Everything but maxPoolBackward is a gather, one thread per written element, so results are
// deterministic and match the CPU's bit for bit: a window is visited in the CPU's order
// (row-major over its elements), and the adjoints add each x position's contributions in the
// order the CPU's scatter adds them (output positions row-major), each y already divided by its
// window's divisor. maxPoolBackward has no geometry to gather with: it scatters atomically.
#include <cstdint>

#include "kernels.h"
#include "map.cuh"
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

// The first maximum of output element e's window: its flat position within the plane (0 for an
// empty window, which the dispatcher rules out) and its value in `best`.
template <typename T>
__device__ __forceinline__ int64_t windowArgmax(const Geometry& g, const T* x, int64_t e, T& best) {
  int64_t plane, o[3];
  split(g, e, plane, o);
  const T* xp = x + (plane / g.C) * g.st[0] + (plane % g.C) * g.st[1];
  const Window w0 = window(g, 0, o[0]), w1 = window(g, 1, o[1]), w2 = window(g, 2, o[2]);
  best = T(0);
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
  return at < 0 ? 0 : at;
}

template <typename T>
__global__ void maxPoolIndicesKernel(int32_t* __restrict__ index, const T* __restrict__ x, Geometry g, int64_t n) {
  for (int64_t e = globalIndex64(); e < n; e += gridStride64()) {
    T best;
    index[e] = static_cast<int32_t>(windowArgmax(g, x, e, best));
  }
}

// The values at the argmax positions (maxPoolIndices then a gather, in one pass).
template <typename T>
__global__ void maxPoolKernel(T* __restrict__ y, const T* __restrict__ x, Geometry g, int64_t n) {
  for (int64_t e = globalIndex64(); e < n; e += gridStride64()) {
    T best;
    windowArgmax(g, x, e, best);
    y[e] = best;
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

// maxPoolGrad as a gather: input position i of plane q sums gy over the output positions whose
// window's argmax (index, from maxPoolIndicesKernel) is i, in increasing output order, the order
// in which the CPU's scatter adds them (bit for bit the CPU's result). g's strides are gy's.
template <typename T>
__global__ void maxPoolGradKernel(T* __restrict__ dx, const int32_t* __restrict__ index, const T* __restrict__ gy,
                                  Geometry g, int64_t n) {
  const int64_t Osz = g.O[0] * g.O[1] * g.O[2];
  for (int64_t e = globalIndex64(); e < n; e += gridStride64()) {
    int64_t rest = e;
    int64_t i[3];
    i[2] = rest % g.I[2];
    rest /= g.I[2];
    i[1] = rest % g.I[1];
    rest /= g.I[1];
    i[0] = rest % g.I[0];
    const int64_t plane = rest / g.I[0];
    const int64_t at = (i[0] * g.I[1] + i[1]) * g.I[2] + i[2];
    const int32_t* ip = index + plane * Osz;
    const T* gp = gy + (plane / g.C) * g.st[0] + (plane % g.C) * g.st[1];
    int64_t lo[3], hi[3];
    for (int k = 0; k < 3; k++) outputRange(g, k, i[k], lo[k], hi[k]);
    T acc = T(0);
    for (int64_t o0 = lo[0]; o0 <= hi[0]; o0++)
      for (int64_t o1 = lo[1]; o1 <= hi[1]; o1++)
        for (int64_t o2 = lo[2]; o2 <= hi[2]; o2++)
          if (ip[(o0 * g.O[1] + o1) * g.O[2] + o2] == at) acc += gp[o0 * g.st[2] + o1 * g.st[3] + o2 * g.st[4]];
    dx[e] = acc;
  }
}

// maxPoolGrad where windows cannot overlap (each stride at least the window's dilated extent,
// not adaptive): an input position gets gy from one window at most, so one thread per output
// element writes its gradient at the window's argmax into the zeroed dx. One pass over the
// outputs instead of a gather that searches the windows around every input position, and still
// the CPU's result bit for bit (nothing is summed). gx's strides are x's, gg's are gy's.
template <typename T>
__global__ void maxPoolGradDisjointKernel(T* __restrict__ dx, const T* __restrict__ x, const T* __restrict__ gy,
                                          Geometry gx, Geometry gg, int64_t n) {
  const int64_t Isz = gx.I[0] * gx.I[1] * gx.I[2];
  for (int64_t e = globalIndex64(); e < n; e += gridStride64()) {
    T best;
    const int64_t at = windowArgmax(gx, x, e, best);
    int64_t plane, o[3];
    split(gg, e, plane, o);
    dx[plane * Isz + at] = gy[(plane / gg.C) * gg.st[0] + (plane % gg.C) * gg.st[1] + o[0] * gg.st[2] +
                              o[1] * gg.st[3] + o[2] * gg.st[4]];
  }
}

bool windowsDisjoint(const PoolParams& p) {
  if (p.adaptive) return false;
  for (int d = 0; d < p.spatial; d++)
    if (p.stride[d] < (p.kernel[d] - 1) * p.dilation[d] + 1) return false;
  return true;
}

// maxPoolBackward: x (zeroed first) [plane, index] += y, one thread per output element with an
// atomic add (as scatterAdd: where windows overlap, sums may round differently from the CPU's
// ordered ones; without overlap every position receives at most one value, exactly). An index
// outside the plane is flagged and skipped. Geometry: O[] and C; st[] are y's strides, ist[]
// the index's.
struct ScatterGeometry {
  int64_t C, Isz, O[3], yst[5], ist[5];
};

__device__ __forceinline__ void atomicAddTo(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomicAddTo(double* p, double v) { atomicAdd(p, v); }

template <typename T>
__global__ void maxPoolBackwardKernel(T* __restrict__ x, const T* __restrict__ y, const int32_t* __restrict__ index,
                                      ScatterGeometry g, int64_t n, KernelErrorFlag* flag) {
  for (int64_t e = globalIndex64(); e < n; e += gridStride64()) {
    int64_t rest = e, o[3];
    o[2] = rest % g.O[2];
    rest /= g.O[2];
    o[1] = rest % g.O[1];
    rest /= g.O[1];
    o[0] = rest % g.O[0];
    const int64_t plane = rest / g.O[0], nn = plane / g.C, cc = plane % g.C;
    const int64_t k = index[nn * g.ist[0] + cc * g.ist[1] + o[0] * g.ist[2] + o[1] * g.ist[3] + o[2] * g.ist[4]];
    if (k < 0 || k >= g.Isz) {
      flagKernelError(flag, kMaxPoolIndex, 2, k, g.Isz);
      continue;
    }
    atomicAddTo(x + plane * g.Isz + k, y[nn * g.yst[0] + cc * g.yst[1] + o[0] * g.yst[2] + o[1] * g.yst[3] + o[2] * g.yst[4]]);
  }
}

// ---------------------------------------------------------------- max pooling, 32-bit fast path
// Windows without dilation (not adaptive) over fewer than 2^31 outputs and input positions: the
// same windows, visited in the same order, as windowArgmax, but with 32-bit index arithmetic.
// 64-bit integer division is slow on the GPU and dominated these kernels. Offsets into the
// operands stay 64-bit (products, not divisions).
struct Dense32 {
  int I[3], O[3], K[3], s[3], pad[3];
  int C;
  int64_t st[5];  // the strided operand's strides, as Geometry::st
};

Dense32 dense32(const Geometry& g) {
  Dense32 d{};
  for (int i = 0; i < 3; i++) {
    d.I[i] = static_cast<int>(g.I[i]);
    d.O[i] = static_cast<int>(g.O[i]);
    d.K[i] = static_cast<int>(g.K[i]);
    d.s[i] = static_cast<int>(g.s[i]);
    d.pad[i] = static_cast<int>(g.pad[i]);
  }
  d.C = static_cast<int>(g.C);
  for (int i = 0; i < 5; i++) d.st[i] = g.st[i];
  return d;
}

bool fits32(const PoolParams& p, const View& x, const View& y) {
  if (p.adaptive) return false;
  for (int d = 0; d < p.spatial; d++)
    if (p.dilation[d] != 1) return false;
  constexpr int64_t kMax = int64_t{1} << 30;  // headroom for start + K and (i0 * I1 + i1) * I2
  if (x.numel() >= kMax || y.numel() >= kMax) return false;
  for (int d = 0; d < p.spatial; d++)
    if (p.kernel[d] >= kMax || p.stride[d] >= kMax || p.pad[d] >= kMax) return false;
  return true;
}

// Output element e as (plane, o), and its window's first maximum (flat position in the plane).
template <typename T>
__device__ __forceinline__ int windowArgmax32(const Dense32& g, const T* x, int e, int& plane, int (&o)[3], T& best) {
  o[2] = e % g.O[2];
  e /= g.O[2];
  o[1] = e % g.O[1];
  e /= g.O[1];
  o[0] = e % g.O[0];
  plane = e / g.O[0];
  const T* xp = x + static_cast<int64_t>(plane / g.C) * g.st[0] + static_cast<int64_t>(plane % g.C) * g.st[1];
  int lo[3], hi[3];
  for (int k = 0; k < 3; k++) {
    const int start = o[k] * g.s[k] - g.pad[k];
    lo[k] = max(start, 0);
    hi[k] = min(start + g.K[k], g.I[k]);
  }
  best = T(0);
  int at = -1;
  for (int i0 = lo[0]; i0 < hi[0]; i0++) {
    for (int i1 = lo[1]; i1 < hi[1]; i1++) {
      const T* row = xp + i0 * g.st[2] + i1 * g.st[3];
      const int rowAt = (i0 * g.I[1] + i1) * g.I[2];
      for (int i2 = lo[2]; i2 < hi[2]; i2++) {
        const T v = row[i2 * g.st[4]];
        if (at < 0 || beats(v, best)) {
          best = v;
          at = rowAt + i2;
        }
      }
    }
  }
  return at < 0 ? 0 : at;
}

template <typename T>
__global__ void maxPool32Kernel(T* __restrict__ y, const T* __restrict__ x, Dense32 g, int n) {
  for (int64_t e = globalIndex64(); e < n; e += gridStride64()) {
    int plane, o[3];
    T best;
    windowArgmax32(g, x, static_cast<int>(e), plane, o, best);
    y[e] = best;
  }
}

template <typename T>
__global__ void maxPoolIndices32Kernel(int32_t* __restrict__ index, const T* __restrict__ x, Dense32 g, int n) {
  for (int64_t e = globalIndex64(); e < n; e += gridStride64()) {
    int plane, o[3];
    T best;
    index[e] = windowArgmax32(g, x, static_cast<int>(e), plane, o, best);
  }
}

// maxPoolGradDisjointKernel with 32-bit index arithmetic; gx's strides are x's, gyst gy's.
template <typename T>
__global__ void maxPoolGradDisjoint32Kernel(T* __restrict__ dx, const T* __restrict__ x, const T* __restrict__ gy,
                                            Dense32 gx, Dense32 gg, int n) {
  const int64_t Isz = static_cast<int64_t>(gx.I[0]) * gx.I[1] * gx.I[2];
  for (int64_t e = globalIndex64(); e < n; e += gridStride64()) {
    int plane, o[3];
    T best;
    const int at = windowArgmax32(gx, x, static_cast<int>(e), plane, o, best);
    dx[plane * Isz + at] = gy[static_cast<int64_t>(plane / gg.C) * gg.st[0] + static_cast<int64_t>(plane % gg.C) * gg.st[1] +
                              o[0] * gg.st[2] + o[1] * gg.st[3] + o[2] * gg.st[4]];
  }
}

template <typename T>
void maxPoolImpl(Ctx& c, const View& y, const View& x, const PoolParams& p) {
  const int64_t n = y.numel();
  if (n == 0) return;
  const Geometry g = geometry(p, x, y, x);
  if (fits32(p, x, y)) {
    maxPool32Kernel<T><<<c.blocksFor(n, kThreads), kThreads, 0, c.stream>>>(y.at<T>(), x.at<T>(), dense32(g),
                                                                         static_cast<int>(n));
  } else {
    maxPoolKernel<T><<<c.blocksFor(n, kThreads), kThreads, 0, c.stream>>>(y.at<T>(), x.at<T>(), g, n);
  }
  KILN_CHECK_LAUNCH();
}

template <typename T>
void maxPoolGradImpl(Ctx& c, const View& dx, const View& x, const View& gy, const PoolParams& p) {
  const int64_t n = dx.numel(), no = gy.numel();
  if (n == 0) return;
  if (windowsDisjoint(p)) {
    KILN_CUDA_CHECK(cudaMemsetAsync(dx.at<T>(), 0, static_cast<size_t>(n) * sizeof(T), c.stream));  // dx is fresh
    if (no == 0) return;
    const Geometry gx = geometry(p, x, gy, x), gg = geometry(p, x, gy, gy);
    if (fits32(p, x, gy)) {
      maxPoolGradDisjoint32Kernel<T><<<c.blocksFor(no, kThreads), kThreads, 0, c.stream>>>(
          dx.at<T>(), x.at<T>(), gy.at<T>(), dense32(gx), dense32(gg), static_cast<int>(no));
    } else {
      maxPoolGradDisjointKernel<T><<<c.blocksFor(no, kThreads), kThreads, 0, c.stream>>>(dx.at<T>(), x.at<T>(),
                                                                                        gy.at<T>(), gx, gg, no);
    }
    KILN_CHECK_LAUNCH();
    return;
  }
  Scratch index(c, static_cast<size_t>(no) * sizeof(int32_t));
  if (no > 0) {
    const Geometry gx = geometry(p, x, gy, x);
    maxPoolIndicesKernel<T><<<c.blocksFor(no, kThreads), kThreads, 0, c.stream>>>(index.as<int32_t>(), x.at<T>(), gx, no);
    KILN_CHECK_LAUNCH();
  }
  const Geometry gg = geometry(p, x, gy, gy);
  maxPoolGradKernel<T><<<c.blocksFor(n, kThreads), kThreads, 0, c.stream>>>(dx.at<T>(), index.as<int32_t>(),
                                                                          gy.at<T>(), gg, n);
  KILN_CHECK_LAUNCH();
}

template <typename T>
void maxPoolBackwardImpl(Ctx& c, const View& x, const View& y, const View& index) {
  const int64_t nx = x.numel(), n = y.numel();
  if (nx == 0) return;
  KILN_CUDA_CHECK(cudaMemsetAsync(x.at<T>(), 0, static_cast<size_t>(nx) * sizeof(T), c.stream));  // x is fresh
  if (n == 0) return;
  const int S = x.ndim() - 2;
  ScatterGeometry g{};
  g.C = x.size(1);
  g.Isz = 1;
  for (int d = 0; d < S; d++) g.Isz *= x.size(2 + d);
  g.yst[0] = y.stride(0), g.yst[1] = y.stride(1);
  g.ist[0] = index.stride(0), g.ist[1] = index.stride(1);
  for (int i = 0; i < 3; i++) {
    const int d = i - (3 - S);
    g.O[i] = d >= 0 ? y.size(2 + d) : 1;
    g.yst[2 + i] = d >= 0 ? y.stride(2 + d) : 0;
    g.ist[2 + i] = d >= 0 ? index.stride(2 + d) : 0;
  }
  maxPoolBackwardKernel<T><<<c.blocksFor(n, kThreads), kThreads, 0, c.stream>>>(
      x.at<T>(), y.at<T>(), index.at<int32_t>(), g, n, c.flagDevice);
  KILN_CHECK_LAUNCH();
}

template <typename T>
void maxPoolIndicesImpl(Ctx& c, const View& index, const View& x, const PoolParams& p) {
  const int64_t n = index.numel();
  if (n == 0) return;
  const Geometry g = geometry(p, x, index, x);
  if (fits32(p, x, index)) {
    maxPoolIndices32Kernel<T><<<c.blocksFor(n, kThreads), kThreads, 0, c.stream>>>(index.at<int32_t>(), x.at<T>(),
                                                                                dense32(g), static_cast<int>(n));
  } else {
    maxPoolIndicesKernel<T><<<c.blocksFor(n, kThreads), kThreads, 0, c.stream>>>(index.at<int32_t>(), x.at<T>(), g, n);
  }
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

void maxPool(Ctx& c, const View& y, const View& x, const PoolParams& p) {
  if (x.dtype == DType::Float64) maxPoolImpl<double>(c, y, x, p);
  else maxPoolImpl<float>(c, y, x, p);
}

void maxPoolGrad(Ctx& c, const View& dx, const View& x, const View& gy, const PoolParams& p) {
  if (x.dtype == DType::Float64) maxPoolGradImpl<double>(c, dx, x, gy, p);
  else maxPoolGradImpl<float>(c, dx, x, gy, p);
}

void maxPoolBackward(Ctx& c, const View& x, const View& y, const View& index) {
  if (x.dtype == DType::Float64) maxPoolBackwardImpl<double>(c, x, y, index);
  else maxPoolBackwardImpl<float>(c, x, y, index);
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
