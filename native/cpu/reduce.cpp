// Reductions over any set of dims (sum, prod, max, min, argmax, argmin) and cumsum.
//
// The input's dims are split into kept and reduced groups, each coalesced by StridedLoop. Three
// schedules, chosen from the shape alone so results never depend on the thread count:
// - split: few outputs, many reduced elements (a full sum): the reduced range is cut into fixed
//   blocks reduced in parallel, and the partial results are combined in block order;
// - columns: the innermost kept dim is contiguous in the input (e.g. sum over dim 0 of a
//   matrix): a block of adjacent outputs is accumulated at once, row after row;
// - rows: otherwise, each output reduces its own (strided) run of elements.
// float32 sums and products accumulate in double; int32 wraps around like PyTorch's int32
// results. max/min propagate NaN; argmax/argmin return the first occurrence, and a NaN wins.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "elementwise_simd.h"
#include "kernels.h"
#include "strided.h"

namespace kiln {
namespace cpu {
namespace {

constexpr int64_t kGrainElems = 32768;   // input elements per parallel chunk
constexpr int64_t kSplitBlock = 65536;   // reduced elements per block in the split schedule
constexpr int64_t kSplitMaxOutputs = 16;
constexpr int64_t kColumnBlock = 1024;   // most outputs accumulated together (column schedule)

// Columns per task in the column schedules: wide enough that each row visit streams whole pages,
// narrow enough that every thread gets some. Each output's own summation order never depends
// on it, so neither do the results.
int64_t columnBlock(int64_t L) {
  int64_t per = (L + numThreads() - 1) / numThreads();
  per = (per + 15) / 16 * 16;
  return std::max<int64_t>(16, std::min(kColumnBlock, per));
}

// The column schedule shared by reductions and cumsum: `loop` visits `count` outputs in rows of
// loop.inner() adjacent ones; each task takes a block of up to columnBlock() adjacent outputs and
// calls body(off, cn, acc) once with room for cn accumulators. `work` is the input elements per
// output, which sizes the parallel grain.
template <typename Acc, typename Loop, typename Body>
void forColumnBlocks(const Loop& loop, int64_t count, int64_t work, Body&& body) {
  const int64_t L = loop.inner();
  const int64_t cb = columnBlock(L);
  const int64_t colBlocks = (L + cb - 1) / cb;
  const int64_t grain = std::max<int64_t>(1, kGrainElems / (std::min(L, cb) * work));
  parallelFor((count / L) * colBlocks, grain, [&](int64_t t0, int64_t t1) {
    Acc acc[kColumnBlock];
    for (int64_t t = t0; t < t1; t++) {
      const int64_t row = t / colBlocks, c0 = (t % colBlocks) * cb;
      const int64_t cn = std::min(cb, L - c0);
      loop.forRange(row * L + c0, row * L + c0 + cn, [&](const int64_t* off, int64_t) { body(off, cn, acc); });
    }
  });
}

template <typename T>
using WideOf = typename std::conditional<std::is_integral<T>::value, uint64_t, double>::type;

template <typename T, typename A>
T narrow(A acc) {
  if constexpr (std::is_integral<T>::value)
    return static_cast<T>(static_cast<uint32_t>(acc));  // wraps (int32)
  else
    return static_cast<T>(acc);
}

template <typename T, typename A>
A widen(T x) {
  if constexpr (std::is_integral<T>::value)
    return static_cast<A>(static_cast<int64_t>(x));  // sign-extend, then modular
  else
    return static_cast<A>(x);
}

// Each reducer: Acc, init(), run(acc, p, n, stride, index of p[0]), combine(acc, later),
// column(acc[], p, L, index) for L adjacent outputs, finish(acc) -> Out.
template <typename T>
struct SumR {
  using Acc = WideOf<T>;
  using Out = T;
  static Acc init() { return Acc(0); }
  static void run(Acc& acc, const T* p, int64_t n, int64_t s, int64_t) {
    int64_t i = 0;
    if (s == 1) {
      Acc a[8] = {};
      for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) a[j] += widen<T, Acc>(p[i + j]);
      acc += ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
      for (; i < n; i++) acc += widen<T, Acc>(p[i]);
    } else {
      for (; i < n; i++) acc += widen<T, Acc>(p[i * s]);
    }
  }
  static void combine(Acc& acc, const Acc& b) { acc += b; }
  static void column(Acc* acc, const T* p, int64_t L, int64_t) {
    for (int64_t j = 0; j < L; j++) acc[j] += widen<T, Acc>(p[j]);
  }
  static Out finish(const Acc& acc) { return narrow<T>(acc); }
};

template <typename T>
struct ProdR {
  using Acc = WideOf<T>;
  using Out = T;
  static Acc init() { return Acc(1); }
  static void run(Acc& acc, const T* p, int64_t n, int64_t s, int64_t) {
    int64_t i = 0;
    if (s == 1) {
      Acc a[4] = {Acc(1), Acc(1), Acc(1), Acc(1)};
      for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++) a[j] *= widen<T, Acc>(p[i + j]);
      acc *= (a[0] * a[1]) * (a[2] * a[3]);
      for (; i < n; i++) acc *= widen<T, Acc>(p[i]);
    } else {
      for (; i < n; i++) acc *= widen<T, Acc>(p[i * s]);
    }
  }
  static void combine(Acc& acc, const Acc& b) { acc *= b; }
  static void column(Acc* acc, const T* p, int64_t L, int64_t) {
    for (int64_t j = 0; j < L; j++) acc[j] *= widen<T, Acc>(p[j]);
  }
  static Out finish(const Acc& acc) { return narrow<T>(acc); }
};

// max (IsMax) / min. NaN is sticky: once the accumulator is NaN nothing replaces it (x > NaN
// is false), and a NaN input always replaces it (x != x).
template <typename T, bool IsMax>
struct ExtremumR {
  using Acc = T;
  using Out = T;
  static T pick(T x, T acc) { return (IsMax ? x > acc : x < acc) ? x : acc; }  // maxps / minps
  static T better(T x, T acc) { return ((IsMax ? x > acc : x < acc) | (x != x)) ? x : acc; }
  static Acc init() {
    if constexpr (std::is_integral<T>::value)
      return IsMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
    else
      return IsMax ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
  }
  static void run(Acc& acc, const T* p, int64_t n, int64_t s, int64_t) {
    if constexpr (std::is_same<T, float>::value) {
      const simd::Kernels* k = simd::best();
      if (s == 1 && n >= 32 && k) {
        acc = better((IsMax ? k->max : k->min)(p, n), acc);
        return;
      }
    }
    // Compare-and-select only (no data-dependent branches); NaNs are tracked apart (nan[j]
    // turns NaN when one is seen), and eight independent lanes let the contiguous loop vectorize.
    int64_t i = 0;
    T m = acc, nan = acc;
    if (s == 1 && n >= 16) {
      T a[8], nn[8];
      for (int j = 0; j < 8; j++) a[j] = nn[j] = acc;
      for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) {
          T x = p[i + j];
          a[j] = pick(x, a[j]);
          nn[j] = x != x ? x : nn[j];
        }
      for (int j = 0; j < 8; j++) {
        m = pick(a[j], m);
        nan = nn[j] != nn[j] ? nn[j] : nan;
      }
    }
    for (; i < n; i++) {
      T x = p[i * s];
      m = pick(x, m);
      nan = x != x ? x : nan;
    }
    acc = better(nan, better(m, acc));
  }
  static void combine(Acc& acc, const Acc& b) { acc = better(b, acc); }
  static void column(Acc* acc, const T* p, int64_t L, int64_t) {
    for (int64_t j = 0; j < L; j++) acc[j] = better(p[j], acc[j]);
  }
  static Out finish(const Acc& acc) { return acc; }
};

// argmax / argmin over one dim; index -1 marks "nothing seen yet".
template <typename T, bool IsMax>
struct ArgR {
  struct Acc {
    T v;
    int64_t i;
  };
  using Out = int32_t;
  // Does x (seen later) replace acc? Strictly better, or the first NaN.
  static bool replaces(T x, T v) { return (IsMax ? x > v : x < v) | ((x != x) & (v == v)); }
  static Acc init() { return Acc{T(0), -1}; }
  static void take(Acc& acc, T x, int64_t i) {
    if (acc.i < 0 || replaces(x, acc.v)) acc = Acc{x, i};
  }
  static void run(Acc& acc, const T* p, int64_t n, int64_t s, int64_t base) {
    if (n <= 0) return;
    if (s == 1 && n >= 16) {
      // Two vectorizable passes: the extremum (NaN if any), then its first position.
      T m = ExtremumR<T, IsMax>::init();
      ExtremumR<T, IsMax>::run(m, p, n, 1, 0);
      int64_t i = 0;
      if (m != m) {
        while (p[i] == p[i]) i++;
      } else {
        while (p[i] != m) i++;
      }
      take(acc, p[i], base + i);
      return;
    }
    // Short or strided runs: a branch-free scan (selects, no unpredictable jumps).
    T v = acc.v;
    int64_t best = acc.i, i = 0;
    if (best < 0) {
      v = p[0];
      best = base;
      i = 1;
    }
    for (; i < n; i++) {
      const T x = p[i * s];
      const bool t = replaces(x, v);
      v = t ? x : v;
      best = t ? base + i : best;
    }
    acc = Acc{v, best};
  }
  static void combine(Acc& acc, const Acc& b) {
    if (b.i >= 0) take(acc, b.v, b.i);
  }
  static void column(Acc* acc, const T* p, int64_t L, int64_t index) {
    for (int64_t j = 0; j < L; j++) {
      const T x = p[j];
      const bool t = (acc[j].i < 0) | replaces(x, acc[j].v);
      acc[j].v = t ? x : acc[j].v;
      acc[j].i = t ? index : acc[j].i;
    }
  }
  static Out finish(const Acc& acc) { return static_cast<int32_t>(acc.i < 0 ? 0 : acc.i); }
};

template <typename R, typename T>
void reduceWith(const View& out, const View& a, uint32_t mask) {
  using Acc = typename R::Acc;
  using O = typename R::Out;
  O* po = out.at<O>();
  const T* pa = a.at<T>();

  int64_t kShape[kMaxDims] = {}, kOut[kMaxDims] = {}, kIn[kMaxDims] = {}, rShape[kMaxDims] = {}, rIn[kMaxDims] = {};
  int nk = 0, nr = 0;
  for (int d = 0; d < a.ndim(); d++) {
    if ((mask >> d) & 1) {
      rShape[nr] = a.size(d);
      rIn[nr++] = a.stride(d);
    } else {
      kShape[nk] = a.size(d);
      kOut[nk] = out.stride(d);
      kIn[nk++] = a.stride(d);
    }
  }
  const int64_t* ks[2] = {kOut, kIn};
  const int64_t* rs[1] = {rIn};
  const StridedLoop<2> kept(nk, kShape, ks);
  const StridedLoop<1> red(nr, rShape, rs);
  const int64_t nOut = kept.numel, nRed = red.numel;
  if (nOut == 0) return;
  const int64_t rStride = red.innerStride(0);

  // Reduces the reduced-range [b, e) of the input slice at offset `at` into acc.
  auto reduceRange = [&](Acc& acc, int64_t at, int64_t b, int64_t e) {
    int64_t index = b;
    red.forRange(b, e, [&](const int64_t* off, int64_t n) {
      R::run(acc, pa + at + off[0], n, rStride, index);
      index += n;
    });
  };

  if (nRed >= 2 * kSplitBlock && nOut <= kSplitMaxOutputs) {
    const int64_t blocks = (nRed + kSplitBlock - 1) / kSplitBlock;
    std::vector<Acc> partial(static_cast<size_t>(nOut * blocks), R::init());
    parallelFor(nOut * blocks, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; t++) {
        int64_t o = t / blocks, blk = t % blocks;
        kept.forRange(o, o + 1, [&](const int64_t* off, int64_t) {
          reduceRange(partial[static_cast<size_t>(t)], off[1], blk * kSplitBlock,
                      std::min(nRed, (blk + 1) * kSplitBlock));
        });
      }
    });
    // Outputs are visited in order, so the t-th output's partials start at t * blocks.
    int64_t t = 0;
    kept.forRange(0, nOut, [&](const int64_t* off, int64_t n) {
      for (int64_t j = 0; j < n; j++, t++) {
        Acc acc = partial[static_cast<size_t>(t * blocks)];
        for (int64_t blk = 1; blk < blocks; blk++) R::combine(acc, partial[static_cast<size_t>(t * blocks + blk)]);
        po[off[0] + j * kept.innerStride(0)] = R::finish(acc);
      }
    });
    return;
  }

  if (kept.ndim > 0 && kept.innerStride(1) == 1 && nRed > 1) {
    forColumnBlocks<Acc>(kept, nOut, nRed, [&](const int64_t* off, int64_t cn, Acc* acc) {
      for (int64_t j = 0; j < cn; j++) acc[j] = R::init();
      int64_t index = 0;
      const T* base = pa + off[1];
      red.forRange(0, nRed, [&](const int64_t* roff, int64_t n) {
        for (int64_t r = 0; r < n; r++) R::column(acc, base + roff[0] + r * rStride, cn, index + r);
        index += n;
      });
      O* y = po + off[0];
      const int64_t so = kept.innerStride(0);
      for (int64_t j = 0; j < cn; j++) y[j * so] = R::finish(acc[j]);
    });
    return;
  }

  const int64_t grain = std::max<int64_t>(1, kGrainElems / std::max<int64_t>(nRed, 1));
  const int64_t so = kept.innerStride(0), sa = kept.innerStride(1);
  const bool oneRun = red.ndim <= 1;  // each output's elements are one (strided) run

  // Outputs whose elements are R1 contiguous runs, one per step of an outer reduced dim, that sit
  // between the other outputs' runs (a conv bias gradient: sum over N, H, W of [N, C, H, W]).
  // Visiting one output at a time jumps across memory; taking a block of outputs' r-th runs
  // together reads it in order. Each output still gets the same runs in the same order, so the
  // results are unchanged.
  if (kept.ndim == 1 && red.ndim == 2 && rStride == 1 && red.shape[1] < kGrainElems) {
    const int64_t R1 = red.shape[0], R2 = red.shape[1], r1Stride = red.strides[0][0];
    parallelFor(nOut, grain, [&](int64_t b, int64_t e) {
      std::vector<Acc> acc(static_cast<size_t>(e - b), R::init());
      for (int64_t r1 = 0; r1 < R1; r1++)
        for (int64_t j = b; j < e; j++) R::run(acc[static_cast<size_t>(j - b)], pa + j * sa + r1 * r1Stride, R2, 1, r1 * R2);
      for (int64_t j = b; j < e; j++) po[j * so] = R::finish(acc[static_cast<size_t>(j - b)]);
    });
    return;
  }
  parallelFor(nOut, grain, [&](int64_t b, int64_t e) {
    kept.forRange(b, e, [&](const int64_t* off, int64_t n) {
      for (int64_t j = 0; j < n; j++) {
        Acc acc = R::init();
        if (oneRun)
          R::run(acc, pa + off[1] + j * sa, nRed, rStride, 0);
        else
          reduceRange(acc, off[1] + j * sa, 0, nRed);
        po[off[0] + j * so] = R::finish(acc);
      }
    });
  });
}

template <typename T>
void reduceTyped(ReduceOp op, const View& out, const View& a, uint32_t mask) {
  switch (op) {
    case ReduceOp::Sum: return reduceWith<SumR<T>, T>(out, a, mask);
    case ReduceOp::Prod: return reduceWith<ProdR<T>, T>(out, a, mask);
    case ReduceOp::Max: return reduceWith<ExtremumR<T, true>, T>(out, a, mask);
    case ReduceOp::Min: return reduceWith<ExtremumR<T, false>, T>(out, a, mask);
    case ReduceOp::ArgMax: return reduceWith<ArgR<T, true>, T>(out, a, mask);
    case ReduceOp::ArgMin: return reduceWith<ArgR<T, false>, T>(out, a, mask);
    default: break;
  }
}

// ---------------------------------------------------------------- cumsum

template <typename T>
void cumsumTyped(const View& out, const View& a, int dim) {
  using Acc = WideOf<T>;
  T* po = out.at<T>();
  const T* pa = a.at<T>();
  const int64_t n = a.size(dim), sIn = a.stride(dim), sOut = out.stride(dim);
  int64_t shape[kMaxDims], oStr[kMaxDims], iStr[kMaxDims];
  int m = 0;
  for (int d = 0; d < a.ndim(); d++) {
    if (d == dim) continue;
    shape[m] = a.size(d);
    oStr[m] = out.stride(d);
    iStr[m++] = a.stride(d);
  }
  const int64_t* ss[2] = {oStr, iStr};
  const StridedLoop<2> lines(m, shape, ss);
  const int64_t nLines = lines.numel;
  if (nLines == 0 || n == 0) return;

  if (lines.ndim > 0 && lines.innerStride(0) == 1 && lines.innerStride(1) == 1 && n > 1) {
    // Adjacent lines are adjacent in memory: run them side by side, one slice of dim at a time.
    forColumnBlocks<Acc>(lines, nLines, n, [&](const int64_t* off, int64_t cn, Acc* acc) {
      for (int64_t j = 0; j < cn; j++) acc[j] = Acc(0);
      for (int64_t k = 0; k < n; k++) {
        const T* x = pa + off[1] + k * sIn;
        T* y = po + off[0] + k * sOut;
        for (int64_t j = 0; j < cn; j++) {
          acc[j] += widen<T, Acc>(x[j]);
          y[j] = narrow<T>(acc[j]);
        }
      }
    });
    return;
  }

  const int64_t grain = std::max<int64_t>(1, kGrainElems / n);
  const int64_t so = lines.innerStride(0), si = lines.innerStride(1);
  parallelFor(nLines, grain, [&](int64_t b, int64_t e) {
    lines.forRange(b, e, [&](const int64_t* off, int64_t cnt) {
      int64_t j = 0;
      // Four lines at a time: their running sums are independent dependency chains.
      for (; j + 4 <= cnt; j += 4) {
        const T* x = pa + off[1] + j * si;
        T* y = po + off[0] + j * so;
        Acc acc[4] = {Acc(0), Acc(0), Acc(0), Acc(0)};
        for (int64_t k = 0; k < n; k++)
          for (int l = 0; l < 4; l++) {
            acc[l] += widen<T, Acc>(x[l * si + k * sIn]);
            y[l * so + k * sOut] = narrow<T>(acc[l]);
          }
      }
      for (; j < cnt; j++) {
        const T* x = pa + off[1] + j * si;
        T* y = po + off[0] + j * so;
        Acc acc = Acc(0);
        for (int64_t k = 0; k < n; k++) {
          acc += widen<T, Acc>(x[k * sIn]);
          y[k * sOut] = narrow<T>(acc);
        }
      }
    });
  });
}

}  // namespace

bool reduceSupports(ReduceOp op, DType t) {
  return op < ReduceOp::Count && (t == DType::Float32 || t == DType::Float64 || t == DType::Int32);
}

void reduce(ReduceOp op, const View& out, const View& a, uint32_t dimMask) {
  switch (a.dtype) {
    case DType::Float32: return reduceTyped<float>(op, out, a, dimMask);
    case DType::Float64: return reduceTyped<double>(op, out, a, dimMask);
    case DType::Int32: return reduceTyped<int32_t>(op, out, a, dimMask);
    case DType::Bool: break;
  }
}

void cumsum(const View& out, const View& a, int dim) {
  switch (a.dtype) {
    case DType::Float32: return cumsumTyped<float>(out, a, dim);
    case DType::Float64: return cumsumTyped<double>(out, a, dim);
    case DType::Int32: return cumsumTyped<int32_t>(out, a, dim);
    case DType::Bool: break;
  }
}

}  // namespace cpu
}  // namespace kiln
