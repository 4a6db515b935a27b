// The one loop nest every CPU kernel uses to walk strided operands.
//
// StridedLoop<N> describes N operands that share one shape, each with its own strides (in
// elements; zero and negative allowed). It drops dims of size 1 and merges adjacent dims that
// are contiguous for every operand, so a contiguous tensor becomes a single dim of stride 1 and
// a broadcast row becomes two dims. forRange() then hands the kernel "runs": element offsets of
// every operand for the first element of a stretch along the innermost dim, plus its length.
// The kernel's inner loop is a tight loop over that run (with a fast path when the inner
// strides are 1), so no per-element index arithmetic is ever done.
//
// Element order is row-major over the loop's dims; ranges [begin, end) of that order are what
// parallelFor chunks. Kernels that write through strided views rely on the order being fixed
// (results never depend on the thread count).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "../core/layout.h"
#include "../core/thread_pool.h"

namespace kiln {
namespace cpu {

template <int N>
struct StridedLoop {
  int ndim = 0;  // after coalescing; 0 = a single element
  int64_t numel = 1;
  int64_t shape[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};

  StridedLoop() = default;

  // shape[ndim] shared by all operands; strides[k] points at operand k's ndim strides.
  // With sortByFirst, dims are reordered so operand 0's |strides| decrease (its memory order),
  // which makes writes through a permuted destination sequential.
  StridedLoop(int rank, const int64_t* shp, const int64_t* const* strd, bool sortByFirst = false) {
    init(rank, shp, strd, sortByFirst);
  }

  // All layouts must have the same shape (the first one's is used).
  explicit StridedLoop(const Layout* const (&ls)[N], bool sortByFirst = false) {
    const int64_t* s[N];
    for (int k = 0; k < N; k++) s[k] = ls[k]->strides;
    init(ls[0]->ndim, ls[0]->shape, s, sortByFirst);
  }

  int64_t inner() const { return ndim ? shape[ndim - 1] : 1; }
  int64_t innerStride(int k) const { return ndim ? strides[k][ndim - 1] : 0; }

  // fn(const int64_t* off, int64_t count) for every run covering elements [begin, end);
  // off[k] is operand k's element offset of the run's first element; successive elements of the
  // run are innerStride(k) apart.
  template <typename F>
  void forRange(int64_t begin, int64_t end, F&& fn) const {
    if (begin >= end) return;
    int64_t off[N];
    if (ndim == 0) {
      for (int k = 0; k < N; k++) off[k] = 0;
      fn(static_cast<const int64_t*>(off), int64_t{1});
      return;
    }
    const int last = ndim - 1;
    const int64_t n = shape[last];
    int64_t idx[kMaxDims];
    // Multi-index of `begin`.
    int64_t rest = begin / n, pos = begin % n;
    for (int d = last - 1; d >= 0; d--) {
      idx[d] = rest % shape[d];
      rest /= shape[d];
    }
    for (int k = 0; k < N; k++) {
      int64_t o = pos * strides[k][last];
      for (int d = 0; d < last; d++) o += idx[d] * strides[k][d];
      off[k] = o;
    }
    int64_t left = end - begin;
    for (;;) {
      int64_t count = std::min(n - pos, left);
      fn(static_cast<const int64_t*>(off), count);
      left -= count;
      if (left <= 0) return;
      // Next run: back to the row start, then odometer step over the outer dims.
      for (int k = 0; k < N; k++) off[k] -= pos * strides[k][last];
      pos = 0;
      for (int d = last - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) {
          for (int k = 0; k < N; k++) off[k] += strides[k][d];
          break;
        }
        idx[d] = 0;
        for (int k = 0; k < N; k++) off[k] -= (shape[d] - 1) * strides[k][d];
      }
    }
  }

  // Runs fn over all elements in parallel chunks of at least `grain` elements.
  template <typename F>
  void parallel(int64_t grain, F&& fn) const {
    parallelFor(numel, grain, [&](int64_t b, int64_t e) { forRange(b, e, fn); });
  }

 private:
  void init(int rank, const int64_t* shp, const int64_t* const* strd, bool sortByFirst) {
    int perm[kMaxDims];
    int m = 0;
    numel = 1;
    for (int d = 0; d < rank; d++) {
      numel *= shp[d];
      if (shp[d] != 1) perm[m++] = d;
    }
    if (numel == 0) {  // nothing to visit
      ndim = 1;
      shape[0] = 0;
      for (int k = 0; k < N; k++) strides[k][0] = 0;
      return;
    }
    if (sortByFirst)  // stable: ties (e.g. stride-0 dims) keep their order
      std::stable_sort(perm, perm + m, [&](int x, int y) {
        return std::llabs(strd[0][x]) > std::llabs(strd[0][y]);
      });
    ndim = 0;
    for (int i = 0; i < m; i++) {
      int d = perm[i];
      if (ndim > 0) {
        // Merge with the previous (outer) dim when contiguous for all operands.
        bool merge = true;
        for (int k = 0; k < N && merge; k++) merge = strides[k][ndim - 1] == strd[k][d] * shp[d];
        if (merge) {
          shape[ndim - 1] *= shp[d];
          for (int k = 0; k < N; k++) strides[k][ndim - 1] = strd[k][d];
          continue;
        }
      }
      shape[ndim] = shp[d];
      for (int k = 0; k < N; k++) strides[k][ndim] = strd[k][d];
      ndim++;
    }
  }
};

// True when no two elements of the view share a storage element (so writes through it from
// different threads never collide).
inline bool nonOverlapping(const Layout& l) {
  int64_t sizes[kMaxDims], strides[kMaxDims];
  int n = 0;
  for (int d = 0; d < l.ndim; d++) {
    if (l.shape[d] <= 1) continue;
    if (l.strides[d] == 0) return false;
    sizes[n] = l.shape[d];
    strides[n++] = std::llabs(l.strides[d]);
  }
  // Sort by stride (insertion sort: at most 16 dims); each stride must clear the span below it.
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && strides[j] < strides[j - 1]; j--) {
      std::swap(strides[j], strides[j - 1]);
      std::swap(sizes[j], sizes[j - 1]);
    }
  int64_t span = 0;  // largest offset reachable with the smaller dims
  for (int i = 0; i < n; i++) {
    if (strides[i] <= span) return false;
    span += (sizes[i] - 1) * strides[i];
  }
  return true;
}

// Calls f with a value of the C++ type kernels use to store `t` (only its type matters). Bool is
// handled as uint8_t: kernels read any nonzero byte as true and always write 0 or 1.
template <typename F>
decltype(auto) dispatchStorage(DType t, F&& f) {
  switch (t) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Int32: return f(int32_t{});
    case DType::Bool: return f(uint8_t{});
  }
  return f(float{});
}

// Calls f with an unsigned integer type of the element size of `t`: for kernels that only move
// bits (copy, gather, pad ...), so each width is compiled once.
template <typename F>
decltype(auto) dispatchBits(DType t, F&& f) {
  switch (dtypeSize(t)) {
    case 1: return f(uint8_t{});
    case 8: return f(uint64_t{});
    default: return f(uint32_t{});
  }
}

}  // namespace cpu
}  // namespace kiln
