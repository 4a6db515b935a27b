// Convolutions on the CPU: im2col (each input window unfolded into a column) and the kiln GEMM.
//
// The three ops are the partial derivatives of one trilinear form (see ConvParams):
//   conv            y  = W · im2col(x)                    per image and group
//   convTranspose   x  = col2im(Wᵀ · y)                   (conv's input gradient)
//   convWeightGrad  dW = Σ_images y · im2col(x)ᵀ          (conv's weight gradient)
// 1-D and 2-D geometries are run as 3-D ones with leading spatial dims of size 1.
//
// Threads: work is split over images (each image's GEMMs run on one thread) when there are at
// least as many work units as threads; otherwise the units run in turn with multithreaded
// GEMMs. Reductions over images (the weight gradient) sum fixed chunks in a fixed order, so the
// result does not depend on the thread count.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/thread_pool.h"
#include "conv_cols.h"
#include "cpu_info.h"
#include "elementwise_simd.h"
#include "gemm/gemm.h"
#include "gemm/kernels.h"
#include "gemm/scratch.h"
#include "kernels.h"

namespace kiln {
namespace cpu {
namespace {

// Bytes of unfolded columns a work unit builds at once: big enough for long GEMM rows, small
// enough to stay in L2 while the GEMM packs them.
constexpr int64_t kColumnBytes = int64_t{1} << 20;
constexpr int64_t kMinColumns = 256;

struct Geometry {
  int64_t N, Cin, Cout, G, cin, cout;  // cin, cout: channels per group
  int64_t I[3], K[3], O[3], s[3], p[3], d[3];
  int64_t Isz, Ksz, Osz;
  int64_t rows;  // cin * Ksz: rows of one group's column matrix
  bool pointwise;  // 1x1 kernel, stride 1, no padding, O == I: the columns are the input itself
};

// Strides of an [N, C, *spatial] operand in the canonical 3-D form (0 for added dims).
struct Strides5 {
  int64_t n, c, sp[3];
};

Strides5 strides5(const View& v, int spatial) {
  Strides5 s{v.stride(0), v.stride(1), {0, 0, 0}};
  for (int i = 0; i < spatial; i++) s.sp[3 - spatial + i] = v.stride(2 + i);
  return s;
}

Geometry geometry(const View& x, const View& w, const View& y, const ConvParams& p) {
  Geometry g;
  const int S = p.spatial;
  g.N = x.size(0);
  g.Cin = x.size(1);
  g.Cout = w.size(0);
  g.G = p.groups;
  g.cin = g.Cin / g.G;
  g.cout = g.Cout / g.G;
  g.pointwise = true;
  for (int i = 0; i < 3; i++) {
    const int d = i - (3 - S);  // index among the views' spatial dims; < 0 for an added dim
    g.I[i] = d < 0 ? 1 : x.size(2 + d);
    g.K[i] = d < 0 ? 1 : w.size(2 + d);
    g.O[i] = d < 0 ? 1 : y.size(2 + d);
    g.s[i] = d < 0 ? 1 : p.stride[d];
    g.p[i] = d < 0 ? 0 : p.pad[d];
    g.d[i] = d < 0 ? 1 : p.dilation[d];
    if (g.K[i] != 1 || g.s[i] != 1 || g.p[i] != 0 || g.O[i] != g.I[i]) g.pointwise = false;
  }
  g.Isz = g.I[0] * g.I[1] * g.I[2];
  g.Ksz = g.K[0] * g.K[1] * g.K[2];
  g.Osz = g.O[0] * g.O[1] * g.O[2];
  g.rows = g.cin * g.Ksz;
  return g;
}

// If dims [from, ndim) of `l` walk memory with one stride (row-major), returns it in `stride`.
bool flatStride(const Layout& l, int from, int64_t& stride) {
  bool have = false;
  int64_t st = 1, span = 1;
  for (int d = l.ndim - 1; d >= from; d--) {
    if (l.shape[d] == 1) continue;
    if (!have) {
      st = l.strides[d];
      span = l.shape[d];
      have = true;
    } else {
      if (l.strides[d] != st * span) return false;
      span *= l.shape[d];
    }
  }
  stride = st;
  return true;
}

// A view whose trailing dims (from `from`) walk memory with one stride; strided operands that
// do not are first copied into `tmp` (contiguous).
template <typename T>
struct Flat {
  const T* base;  // element [0, 0, ...]
  int64_t s0, s1;  // strides of dims 0 and 1 (s1 unused when from == 1)
  int64_t inner;   // stride of the flattened trailing dims
};

template <typename T>
Flat<T> flatten(const View& v, int from, std::vector<T>& tmp) {
  int64_t inner;
  if (flatStride(v.layout, from, inner)) {
    return {v.at<T>(), v.stride(0), from > 1 ? v.stride(1) : 0, inner};
  }
  tmp.resize(static_cast<size_t>(v.numel()));
  View c;
  c.data = tmp.data();
  c.dtype = v.dtype;
  c.layout = Layout::contiguous(v.ndim(), v.layout.shape);
  copy(c, v);
  return {tmp.data(), c.stride(0), from > 1 ? c.stride(1) : 0, 1};
}

int64_t floorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t ceilDiv(int64_t a, int64_t b) { return -floorDiv(-a, b); }

// For kernel offset k along the innermost dim: output positions [lo, hi) read inside the input.
struct InnerRange {
  std::vector<int64_t> lo, hi;
  InnerRange(const Geometry& g) : lo(static_cast<size_t>(g.K[2])), hi(static_cast<size_t>(g.K[2])) {
    for (int64_t k = 0; k < g.K[2]; k++) {
      const int64_t off = k * g.d[2] - g.p[2];  // input position of output 0
      lo[k] = std::min(g.O[2], std::max<int64_t>(0, ceilDiv(-off, g.s[2])));
      hi[k] = std::min(g.O[2], std::max(lo[k], ceilDiv(g.I[2] - off, g.s[2])));
    }
  }
};

// The runs covering output columns [j0, j1), in a per-thread buffer.
const std::vector<ColRun>& segments(const Geometry& g, int64_t j0, int64_t j1) {
  thread_local std::vector<ColRun> segs;
  segs.clear();
  int64_t o2 = j0 % g.O[2], o01 = j0 / g.O[2];
  int64_t o1 = o01 % g.O[1], o0 = o01 / g.O[1];
  for (int64_t j = j0, c = 0; j < j1;) {
    const int64_t len = std::min(g.O[2] - o2, j1 - j);
    segs.push_back({c, o2, len, o0 * g.s[0] - g.p[0], o1 * g.s[1] - g.p[1]});
    j += len;
    c += len;
    o2 = 0;
    if (++o1 == g.O[1]) {
      o1 = 0;
      o0++;
    }
  }
  return segs;
}

// The SIMD unfold/fold this CPU runs (KILN_NN_ISA=portable|avx2 forces a lower one), or null.
const ColKernelsF32* colKernels() {
  static const ColKernelsF32* k = [] {
    const Features& f = features();
    const char* env = std::getenv("KILN_NN_ISA");
    const std::string force = env ? env : "";
    const ColKernelsF32* found = nullptr;
    if (force.empty() && f.avx512f && f.avx2) found = avx512ColKernelsF32();
    if (!found && (force.empty() || force == "avx2") && f.avx2) found = avx2ColKernelsF32();
    return found;
  }();
  return k;
}

// The SIMD kernels' view of one image and group's fold/unfold, when they apply: float32, stride
// 1 and a unit input stride along the innermost dim.
template <typename T>
bool simdColArgs(const Geometry& g, const Strides5& xs, const std::vector<ColRun>& runs, const InnerRange& ir, T* col,
                 int64_t ld, ColGeometry& cg, ColArgs<float>& a) {
  if constexpr (!std::is_same_v<T, float>) {
    return false;
  } else {
    if (!colKernels() || g.s[2] != 1 || xs.sp[2] != 1) return false;
    cg.cin = g.cin;
    for (int i = 0; i < 3; i++) {
      cg.I[i] = g.I[i], cg.K[i] = g.K[i], cg.O[i] = g.O[i];
      cg.s[i] = g.s[i], cg.p[i] = g.p[i], cg.d[i] = g.d[i];
    }
    a = {&cg, xs.c, xs.sp[0], xs.sp[1], ir.lo.data(), ir.hi.data(), runs.data(), static_cast<int64_t>(runs.size()), col, ld};
    return true;
  }
}

// Calls fn(r, seg, row, a, b, srcAt) for every row r = (ci, k0, k1, k2) of one image and group's
// column matrix and every run: `row` is the input row the run reads (null when it lies outside
// the input); run positions [a, b) read row[(srcAt + (o - a) * s2) * sp2], the others zero.
// The innermost loop runs over k2, which reads the same input row at shifted positions.
template <typename P, typename Fn>
void walkColumns(const Geometry& g, P xg, const Strides5& xs, int64_t j0, int64_t j1, const InnerRange& ir, Fn&& fn) {
  const std::vector<ColRun>& segs = segments(g, j0, j1);
  const int64_t K2 = g.K[2];
  int64_t r0 = 0;  // row of (ci, k0, k1, 0)
  for (int64_t ci = 0; ci < g.cin; ci++)
    for (int64_t k0 = 0; k0 < g.K[0]; k0++)
      for (int64_t k1 = 0; k1 < g.K[1]; k1++, r0 += K2) {
        const int64_t di0 = k0 * g.d[0], di1 = k1 * g.d[1];
        for (const ColRun& sg : segs) {
          const int64_t i0 = sg.i0 + di0, i1 = sg.i1 + di1;
          const bool inside = i0 >= 0 && i0 < g.I[0] && i1 >= 0 && i1 < g.I[1];
          P row = inside ? xg + (ci * xs.c + i0 * xs.sp[0] + i1 * xs.sp[1]) : nullptr;
          for (int64_t k2 = 0; k2 < K2; k2++) {
            const int64_t a = std::max(ir.lo[k2], sg.o2), b = std::min(ir.hi[k2], sg.o2 + sg.len);
            fn(r0 + k2, sg, row, a, b, a * g.s[2] + k2 * g.d[2] - g.p[2]);
          }
        }
      }
}

template <typename T>
inline void zeroFill(T* p, int64_t n) {
  for (int64_t i = 0; i < n; i++) p[i] = T(0);
}

// col[r * ld + c] for the block's columns [j0, j1) of one image and group.
template <typename T>
void im2col(const Geometry& g, const T* xg, const Strides5& xs, int64_t j0, int64_t j1, const InnerRange& ir, T* col,
            int64_t ld) {
  ColGeometry cg;
  ColArgs<float> args;
  if (simdColArgs(g, xs, segments(g, j0, j1), ir, col, ld, cg, args)) {
    if constexpr (std::is_same_v<T, float>) colKernels()->unfold(args, xg);
    return;
  }
  const int64_t step = g.s[2] * xs.sp[2], sp2 = xs.sp[2];
  walkColumns(g, xg, xs, j0, j1, ir, [&](int64_t r, const ColRun& sg, const T* row, int64_t a, int64_t b, int64_t at) {
    T* dst = col + r * ld + sg.c;  // dst[i] is output position sg.o2 + i
    if (!row || a >= b) {
      zeroFill(dst, sg.len);
      return;
    }
    const T* src = row + at * sp2;
    const int64_t n = b - a;
    if (n == sg.len) {  // the whole run inside the input: the common case
      if (step == 1) {
        for (int64_t i = 0; i < n; i++) dst[i] = src[i];
      } else {
        for (int64_t i = 0; i < n; i++) dst[i] = src[i * step];
      }
      return;
    }
    zeroFill(dst, a - sg.o2);
    T* out = dst + (a - sg.o2);
    if (step == 1) {
      for (int64_t i = 0; i < n; i++) out[i] = src[i];
    } else {
      for (int64_t i = 0; i < n; i++) out[i] = src[i * step];
    }
    zeroFill(out + n, sg.o2 + sg.len - b);
  });
}

// The adjoint of im2col: x[window] += col, for one image and group. Runs are visited k2-major
// (consecutive runs add into different input rows): walking k2 innermost would add shifted,
// overlapping ranges of one row back to back, which stalls on store-to-load forwarding.
template <typename T>
void col2im(const Geometry& g, T* xg, const Strides5& xs, int64_t j0, int64_t j1, const InnerRange& ir, const T* col,
            int64_t ld) {
  const std::vector<ColRun>& segs = segments(g, j0, j1);
  ColGeometry cg;
  ColArgs<float> args;
  if (simdColArgs(g, xs, segs, ir, const_cast<T*>(col), ld, cg, args)) {
    if constexpr (std::is_same_v<T, float>) colKernels()->fold(args, xg);
    return;
  }
  const int64_t step = g.s[2] * xs.sp[2], sp2 = xs.sp[2];
  int64_t r = 0;
  for (int64_t ci = 0; ci < g.cin; ci++)
    for (int64_t k0 = 0; k0 < g.K[0]; k0++)
      for (int64_t k1 = 0; k1 < g.K[1]; k1++)
        for (int64_t k2 = 0; k2 < g.K[2]; k2++, r++) {
          const int64_t di0 = k0 * g.d[0], di1 = k1 * g.d[1], off2 = k2 * g.d[2] - g.p[2];
          const int64_t lo = ir.lo[k2], hi = ir.hi[k2];
          const T* colRow = col + r * ld;
          for (const ColRun& sg : segs) {
            const int64_t i0 = sg.i0 + di0, i1 = sg.i1 + di1;
            if (i0 < 0 || i0 >= g.I[0] || i1 < 0 || i1 >= g.I[1]) continue;
            const int64_t a = std::max(lo, sg.o2), b = std::min(hi, sg.o2 + sg.len);
            if (a >= b) continue;
            T* dst = xg + (ci * xs.c + i0 * xs.sp[0] + i1 * xs.sp[1]) + (a * g.s[2] + off2) * sp2;
            const T* from = colRow + sg.c + (a - sg.o2);
            const int64_t n = b - a;
            if (step == 1) {
              for (int64_t i = 0; i < n; i++) dst[i] += from[i];
            } else {
              for (int64_t i = 0; i < n; i++) dst[i * step] += from[i];
            }
          }
        }
}

Scratch& columnScratch() {
  thread_local Scratch s;
  return s;
}
Scratch& tileScratch() {
  thread_local Scratch s;
  return s;
}

// Columns per block for a column matrix of `rows` rows, at most `total`: about kColumnBytes of
// columns, but at least kMinColumns so that the GEMM's rows are long enough to run at speed.
int64_t blockColumns(int64_t rows, int64_t total, size_t elem) {
  int64_t cols = kColumnBytes / std::max<int64_t>(1, rows * static_cast<int64_t>(elem));
  return std::max<int64_t>(1, std::min(total, std::max(kMinColumns, cols)));
}

// Images per block, at most maxImages and at least half that: the count whose blocks deal out to
// `workers` in the fewest images per worker, then the largest. 64 images in blocks of 5 make 13
// blocks, and on 2 threads the 13th runs alone while the other thread waits; blocks of 4 make 16.
int64_t balancedImages(int64_t N, int64_t maxImages, int64_t workers) {
  int64_t best = std::max<int64_t>(1, maxImages), bestLoad = -1;
  for (int64_t p = best; p >= std::max<int64_t>(1, maxImages / 2); p--) {
    const int64_t blocks = (N + p - 1) / p;
    const int64_t load = (blocks + workers - 1) / workers * p;
    if (bestLoad < 0 || load < bestLoad) best = p, bestLoad = load;
  }
  return best;
}

// Runs units [0, n): across the pool with single-threaded GEMMs when there is one unit per
// thread at least, else one after another with multithreaded GEMMs. Each thread owns a run of
// consecutive units (images 0..31 of 64 on the caller, as in the elementwise ops before and
// after) and takes over others' units when it runs out.
template <typename F>
void forUnits(int64_t n, F&& unit) {
  const int threads = numThreads();
  if (n >= threads && n > 1) {
    parallelUnits(n, [&](int64_t u) { unit(u, false); });
  } else {
    for (int64_t u = 0; u < n; u++) unit(u, true);
  }
}

// The columns of a group are the flat (image, output position) space [0, N * Osz); a block
// [j0, j1) of it is visited image by image: fn(n, o0, o1, at) for positions [o0, o1) of image n,
// which sit at block column `at`.
template <typename F>
void forImages(int64_t Osz, int64_t j0, int64_t j1, F&& fn) {
  for (int64_t j = j0; j < j1;) {
    const int64_t n = j / Osz, o0 = j % Osz, o1 = std::min(Osz, o0 + (j1 - j));
    fn(n, o0, o1, j - j0);
    j += o1 - o0;
  }
}

// ---------------------------------------------------------------- conv

// C [M, len] = A [M, K] · col [K, len] (col row-major, row stride len). With few rows of A
// (LeNet's 64 output channels) the driver would pack col into panels that serve only M / mr
// tiles each; reading it in place is faster while its rows are short (measured on LeNet's
// conv2: 1.57 -> 1.42 ms). Long rows (a large image's columns) keep the packing: rows that are
// 4 KB apart thrash the cache sets.
template <typename T>
void columnsGemm(int64_t M, int64_t len, int64_t K, const T* A, int64_t rsA, int64_t csA, const T* col, T* C,
                 int64_t ldc, bool parallel) {
  const GemmKernels<T>& kr = gemmKernels<T>();
  GemmForce force;
  if (kr.inPlace && M > 4 * kr.mr && M <= 8 * kr.mr && len <= 512) force.directB = 1;
  gemmWith<T>(kr, M, len, K, A, rsA, csA, col, len, 1, C, ldc, 1, parallel, force);
}

// row[0, n) += b, with the SIMD elementwise kernels for float32 (this file is compiled for the
// baseline instruction set).
template <typename T>
void addScalar(T* row, T b, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    const simd::Kernels* k = simd::best();
    if (k && k->binary[static_cast<int>(BinaryOp::Add)]) {
      k->binary[static_cast<int>(BinaryOp::Add)](row, 1, &b, 0, row, n);
      return;
    }
  }
  for (int64_t j = 0; j < n; j++) row[j] += b;
}

template <typename T>
void convImpl(const View& yv, const View& xv, const View& wv, const View* bv, const ConvParams& p) {
  const Geometry g = geometry(xv, wv, yv, p);
  T* y = yv.at<T>();  // fresh, contiguous [N, Cout, Osz]
  if (yv.numel() == 0) return;
  std::vector<T> wTmp;
  const Flat<T> w = flatten<T>(wv, 1, wTmp);  // [Cout, rows]
  const T* bias = bv ? bv->at<T>() : nullptr;
  const int64_t bStride = bv ? bv->stride(0) : 0;
  const Strides5 xs = strides5(xv, p.spatial);
  const T* x = xv.at<T>();
  int64_t xInner = 0;
  const bool pointwise = g.pointwise && flatStride(xv.layout, 2, xInner);
  const InnerRange ir(g);
  // Blocks of the flat (image, position) space; small images are batched into one product.
  const int64_t total = g.N * g.Osz;
  // Several blocks per thread (for balance) unless that makes them too narrow for the GEMM.
  int64_t cols = std::min(blockColumns(g.rows, total, sizeof(T)),
                          std::max(kMinColumns, (total + 4 * numThreads() - 1) / (4 * numThreads())));
  // Images with enough positions for a full-speed product get one block each: written straight
  // into y. Smaller ones are batched (through a buffer) into wider blocks of whole images.
  if (cols > g.Osz) cols = g.Osz >= kMinColumns ? g.Osz : balancedImages(g.N, cols / g.Osz, numThreads()) * g.Osz;
  const int64_t blocks = (total + cols - 1) / cols;

  forUnits(blocks, [&](int64_t u, bool parallelGemm) {
    const int64_t j0 = u * cols, j1 = std::min(total, j0 + cols), len = j1 - j0;
    const int64_t n0 = j0 / g.Osz;
    const bool single = (j1 - 1) / g.Osz == n0;  // the block lies in one image
    T* col = nullptr;
    T* tmp = nullptr;
    if (!(pointwise && single)) col = columnScratch().get<T>(static_cast<size_t>(g.rows * len));
    if (!single) tmp = tileScratch().get<T>(static_cast<size_t>(g.cout * len));
    for (int64_t grp = 0; grp < g.G; grp++) {
      const T* xg = x + grp * g.cin * xs.c;
      const T* A = w.base + grp * g.cout * w.s0;
      // C: straight into y when the block is one image, else a [cout, len] buffer.
      T* C = single ? y + (n0 * g.Cout + grp * g.cout) * g.Osz + j0 % g.Osz : tmp;
      const int64_t ldc = single ? g.Osz : len;
      if (g.rows == 0) {
        for (int64_t co = 0; co < g.cout; co++) std::fill(C + co * ldc, C + co * ldc + len, T(0));
      } else if (pointwise && single) {
        gemm<T>(g.cout, len, g.rows, A, w.s0, w.inner, xg + n0 * xs.n + (j0 % g.Osz) * xInner, xs.c, xInner, C, ldc, 1,
                parallelGemm);
      } else {
        forImages(g.Osz, j0, j1, [&](int64_t n, int64_t o0, int64_t o1, int64_t at) {
          im2col<T>(g, xg + n * xs.n, xs, o0, o1, ir, col + at, len);
        });
        columnsGemm<T>(g.cout, len, g.rows, A, w.s0, w.inner, col, C, ldc, parallelGemm);
      }
      if (single) {
        if (bias)
          for (int64_t co = 0; co < g.cout; co++) addScalar(C + co * ldc, bias[(grp * g.cout + co) * bStride], len);
        continue;
      }
      forImages(g.Osz, j0, j1, [&](int64_t n, int64_t o0, int64_t o1, int64_t at) {
        for (int64_t co = 0; co < g.cout; co++) {
          const T b = bias ? bias[(grp * g.cout + co) * bStride] : T(0);
          const T* src = tmp + co * len + at;
          T* dst = y + (n * g.Cout + grp * g.cout + co) * g.Osz + o0;
          for (int64_t j = 0; j < o1 - o0; j++) dst[j] = src[j] + b;
        }
      });
    }
  });
}

// ---------------------------------------------------------------- convTranspose

template <typename T>
void convTransposeImpl(const View& xv, const View& yv, const View& wv, const ConvParams& p) {
  const Geometry g = geometry(xv, wv, yv, p);
  T* x = xv.at<T>();  // fresh, contiguous [N, Cin, Isz]
  if (xv.numel() == 0) return;
  std::vector<T> wTmp, yTmp;
  const Flat<T> w = flatten<T>(wv, 1, wTmp);  // [Cout, rows]
  const Flat<T> y = flatten<T>(yv, 2, yTmp);  // [N, Cout, Osz]
  Strides5 xs{g.Cin * g.Isz, g.Isz, {g.I[1] * g.I[2], g.I[2], 1}};
  const InnerRange ir(g);
  const int64_t total = g.N * g.Osz;
  int64_t cols = total == 0 ? 1 : blockColumns(g.rows, total, sizeof(T));
  if (cols > g.Osz) cols = cols / g.Osz * g.Osz;  // whole images
  // Units own whole images (windows of one image's columns overlap in x); inside a unit the
  // columns run in blocks of whole images (or fixed pieces of one), so how images are dealt to
  // units (which follows the thread count, for balance) never changes the arithmetic.
  const int64_t imagesPerBlock = std::max<int64_t>(1, cols / std::max<int64_t>(1, g.Osz));
  const int64_t perUnit = balancedImages(
      g.N, std::max<int64_t>(1, std::min(imagesPerBlock, (g.N + 4 * numThreads() - 1) / (4 * numThreads()))), numThreads());
  const int64_t units = (g.N + perUnit - 1) / perUnit;

  forUnits(units, [&](int64_t u, bool parallelGemm) {
    const int64_t n0 = u * perUnit, n1 = std::min(g.N, n0 + perUnit);
    std::fill(x + n0 * xs.n, x + n1 * xs.n, T(0));
    if (g.Cout == 0 || g.Osz == 0) return;
    for (int64_t grp = 0; grp < g.G; grp++) {
      T* xg = x + grp * g.cin * xs.c;
      const T* A = w.base + grp * g.cout * w.s0;  // A = W_grpᵀ: A[r][co] = w[grp*cout + co][r]
      for (int64_t j0 = n0 * g.Osz; j0 < n1 * g.Osz; j0 += cols) {
        const int64_t j1 = std::min(n1 * g.Osz, j0 + cols), len = j1 - j0;
        const int64_t nb = j0 / g.Osz;
        const bool single = (j1 - 1) / g.Osz == nb;
        // B: y's columns of the block, straight from y when they lie in one image.
        const T* B;
        int64_t rsB, csB;
        if (single) {
          B = y.base + nb * y.s0 + grp * g.cout * y.s1 + (j0 % g.Osz) * y.inner;
          rsB = y.s1;
          csB = y.inner;
        } else {
          T* gy = tileScratch().get<T>(static_cast<size_t>(g.cout * len));
          forImages(g.Osz, j0, j1, [&](int64_t n, int64_t o0, int64_t o1, int64_t at) {
            const T* ys = y.base + n * y.s0 + grp * g.cout * y.s1;
            for (int64_t co = 0; co < g.cout; co++)
              for (int64_t o = o0; o < o1; o++) gy[co * len + at + (o - o0)] = ys[co * y.s1 + o * y.inner];
          });
          B = gy;
          rsB = len;
          csB = 1;
        }
        if (g.pointwise && single) {
          gemm<T>(g.rows, len, g.cout, A, w.inner, w.s0, B, rsB, csB, xg + nb * xs.n + j0 % g.Osz, g.Isz, 1,
                  parallelGemm);
          continue;
        }
        T* col = columnScratch().get<T>(static_cast<size_t>(g.rows * len));
        gemm<T>(g.rows, len, g.cout, A, w.inner, w.s0, B, rsB, csB, col, len, 1, parallelGemm);
        forImages(g.Osz, j0, j1, [&](int64_t n, int64_t o0, int64_t o1, int64_t at) {
          col2im<T>(g, xg + n * xs.n, xs, o0, o1, ir, col + at, len);
        });
      }
    }
  });
}

// ---------------------------------------------------------------- convWeightGrad

template <typename T>
void convWeightGradImpl(const View& wv, const View& xv, const View& yv, const ConvParams& p) {
  const Geometry g = geometry(xv, wv, yv, p);
  T* dw = wv.at<T>();  // fresh, contiguous [Cout, rows]
  const int64_t wsize = g.Cout * g.rows;
  if (wsize == 0) return;
  std::vector<T> yTmp;
  const Flat<T> y = flatten<T>(yv, 2, yTmp);
  const Strides5 xs = strides5(xv, p.spatial);
  const T* x = xv.at<T>();
  const InnerRange ir(g);
  // The reduction runs over the N * Osz columns (image, output position) of every group.
  const int64_t total = g.N * g.Osz;
  if (total == 0) {
    std::fill(dw, dw + wsize, T(0));
    return;
  }
  // Chunks are summed in `parts` fixed groups (independent of the thread count), each into its
  // own partial; the partials are added in order at the end.
  constexpr int64_t kParts = 16;
  int64_t cols = blockColumns(g.rows, total, sizeof(T));
  if (cols > g.Osz && g.Osz >= kMinColumns) cols = g.Osz;  // one image per chunk: y read in place
  // Small images: whole images per chunk, as many chunks as parts if that can be (equal parts
  // keep the threads equally busy); never dependent on the thread count.
  else if (cols > g.Osz) cols = balancedImages(g.N, cols / g.Osz, kParts) * g.Osz;
  const int64_t chunks = (total + cols - 1) / cols;
  const int64_t parts = std::min<int64_t>(chunks, kParts);
  // Partials are kept transposed, [group][rows][cout]: the product then runs with the unfolded
  // columns as its A, read in place, and a C of unit column stride (dW itself would have a
  // C of stride `rows` in that orientation, written through a tile buffer).
  std::unique_ptr<T[]> partials(new T[static_cast<size_t>(parts * wsize)]);

  forUnits(parts, [&](int64_t part, bool parallelGemm) {
    T* P = partials.get() + part * wsize;
    const int64_t c0 = chunks * part / parts, c1 = chunks * (part + 1) / parts;
    for (int64_t c = c0; c < c1; c++) {
      const int64_t j0 = c * cols, j1 = std::min(total, j0 + cols), len = j1 - j0;
      T* col = columnScratch().get<T>(static_cast<size_t>(g.rows * len + g.cout * len));
      T* gy = col + g.rows * len;  // the chunk's y columns [cout, len]
      T* out = c == c0 ? nullptr : tileScratch().get<T>(static_cast<size_t>(g.cout * g.rows));
      for (int64_t grp = 0; grp < g.G; grp++) {
        // Unfold the chunk's columns image by image; y's columns are read in place when the chunk
        // lies in one image, else gathered into gy.
        const bool single = (j1 - 1) / g.Osz == j0 / g.Osz;
        const T* B = gy;
        int64_t rsB = 1, csB = len;  // B[j][co] = y[co][j]
        for (int64_t j = j0; j < j1;) {
          const int64_t n = j / g.Osz, o0 = j % g.Osz, o1 = std::min(g.Osz, o0 + (j1 - j));
          const int64_t at = j - j0;
          im2col<T>(g, x + n * xs.n + grp * g.cin * xs.c, xs, o0, o1, ir, col + at, len);
          const T* ys = y.base + n * y.s0 + grp * g.cout * y.s1;
          if (single) {
            B = ys + o0 * y.inner, rsB = y.inner, csB = y.s1;
          } else {
            for (int64_t co = 0; co < g.cout; co++)
              for (int64_t o = o0; o < o1; o++) gy[co * len + at + (o - o0)] = ys[co * y.s1 + o * y.inner];
          }
          j += o1 - o0;
        }
        // dW_grpᵀ[r][co] (+)= sum_j col[r][j] y[co][j]
        T* Pg = P + grp * g.cout * g.rows;
        if (!out) {
          gemm<T>(g.rows, g.cout, len, col, len, 1, B, rsB, csB, Pg, g.cout, 1, parallelGemm);
        } else {
          gemm<T>(g.rows, g.cout, len, col, len, 1, B, rsB, csB, out, g.cout, 1, parallelGemm);
          for (int64_t i = 0; i < g.cout * g.rows; i++) Pg[i] += out[i];
        }
      }
    }
  });
  // dW = the partials added in part order, transposed back to [cout, rows]; the rows of every
  // group are shared out among the threads (each element's sum still runs over the parts in
  // order, so the result does not depend on the split).
  const int64_t groupRows = g.G * g.rows;
  parallelFor(groupRows, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, g.cout * parts)), [&](int64_t b, int64_t e) {
    std::vector<T> sum(static_cast<size_t>(g.cout));
    for (int64_t gr = b; gr < e; gr++) {
      const int64_t grp = gr / g.rows, r = gr % g.rows;
      const int64_t at = grp * g.cout * g.rows + r * g.cout;  // partial [grp][r][0]
      const T* first = partials.get() + at;
      for (int64_t co = 0; co < g.cout; co++) sum[static_cast<size_t>(co)] = first[co];
      for (int64_t part = 1; part < parts; part++) {
        const T* src = partials.get() + part * wsize + at;
        for (int64_t co = 0; co < g.cout; co++) sum[static_cast<size_t>(co)] += src[co];
      }
      T* W = dw + grp * g.cout * g.rows + r;
      for (int64_t co = 0; co < g.cout; co++) W[co * g.rows] = sum[static_cast<size_t>(co)];
    }
  });
}

}  // namespace

void conv(const View& y, const View& x, const View& w, const View* bias, const ConvParams& p) {
  if (x.dtype == DType::Float64) convImpl<double>(y, x, w, bias, p);
  else convImpl<float>(y, x, w, bias, p);
}

void convTranspose(const View& x, const View& y, const View& w, const ConvParams& p) {
  if (y.dtype == DType::Float64) convTransposeImpl<double>(x, y, w, p);
  else convTransposeImpl<float>(x, y, w, p);
}

void convWeightGrad(const View& w, const View& x, const View& y, const ConvParams& p) {
  if (x.dtype == DType::Float64) convWeightGradImpl<double>(w, x, y, p);
  else convWeightGradImpl<float>(w, x, y, p);
}

}  // namespace cpu
}  // namespace kiln
