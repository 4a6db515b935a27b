// How kernels walk strided operands.
//
// On the host, coalesce() drops dims of size 1, optionally orders dims by the first operand's
// memory order, and merges neighbouring dims that are contiguous for every operand: a contiguous
// tensor becomes one dim of stride 1, a broadcast row two dims. A problem that ends up as one
// dim of stride 1 for all operands takes a kernel's contiguous fast path (plain pointers, vector
// loads); anything else goes through an OffsetCalc, which turns a linear element index into one
// element offset per operand with a multiply-shift division per dim.
//
// Strided kernels index with 32 bits (the divisions are the cost that matters). Problems of 2^31
// elements or more are cut into pieces along their outer dims by forChunks(), each piece a
// problem of its own with shifted base pointers, so no kernel ever sees a larger index.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "../core/layout.h"

namespace kiln {
namespace cuda {

constexpr int kThreads = 256;
constexpr int64_t kMaxChunk = (int64_t{1} << 31) - 1;

// n / d for n, d < 2^31 without a division instruction (Granlund & Montgomery, as in PyTorch's
// IntDivider): shift = ceil(log2 d), magic = floor(2^32 (2^shift - d) / d) + 1,
// n / d = (umulhi(n, magic) + n) >> shift; the sum cannot overflow because n < 2^31.
struct IntDivider {
  uint32_t divisor = 1;
  uint32_t magic = 1;
  uint32_t shift = 0;

  IntDivider() = default;
  explicit IntDivider(uint32_t d) : divisor(d) {
    // A dim of size 0 addresses nothing and is never divided by; keep the identity divider (and
    // no division by zero here).
    if (d == 0) {
      divisor = 1;
      return;
    }
    shift = 0;
    while (shift < 31 && (uint32_t{1} << shift) < d) shift++;
    uint64_t m = ((uint64_t{1} << 32) * ((uint64_t{1} << shift) - d)) / d + 1;
    magic = static_cast<uint32_t>(m);
  }
#if defined(__CUDACC__)
  __device__ __forceinline__ uint32_t div(uint32_t n) const { return (__umulhi(n, magic) + n) >> shift; }
#endif
};

// A problem after coalescing, dims in row-major order (outermost first).
template <int N>
struct Coalesced {
  int ndim = 0;
  int64_t numel = 1;
  int64_t shape[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};

  // One dim of stride 1 for every operand (or a single element).
  bool contiguous() const {
    if (ndim == 0) return true;
    if (ndim != 1) return false;
    for (int k = 0; k < N; k++)
      if (strides[k][0] != 1) return false;
    return true;
  }
};

// shape[rank] shared by all operands; strides[k] is operand k's. With sortByFirst, dims are
// ordered by operand 0's |stride| (decreasing, stable), so writes through a permuted
// destination are coalesced.
template <int N>
Coalesced<N> coalesce(int rank, const int64_t* shape, const int64_t* const* strides, bool sortByFirst = true) {
  Coalesced<N> c;
  int perm[kMaxDims];
  int m = 0;
  for (int d = 0; d < rank; d++) {
    c.numel *= shape[d];
    if (shape[d] != 1) perm[m++] = d;
  }
  if (c.numel == 0) {
    c.ndim = 1;
    c.shape[0] = 0;
    return c;
  }
  if (sortByFirst)
    std::stable_sort(perm, perm + m, [&](int x, int y) { return std::llabs(strides[0][x]) > std::llabs(strides[0][y]); });
  for (int i = 0; i < m; i++) {
    int d = perm[i];
    if (c.ndim > 0) {
      bool merge = true;
      for (int k = 0; k < N && merge; k++) merge = c.strides[k][c.ndim - 1] == strides[k][d] * shape[d];
      if (merge) {
        c.shape[c.ndim - 1] *= shape[d];
        for (int k = 0; k < N; k++) c.strides[k][c.ndim - 1] = strides[k][d];
        continue;
      }
    }
    c.shape[c.ndim] = shape[d];
    for (int k = 0; k < N; k++) c.strides[k][c.ndim] = strides[k][d];
    c.ndim++;
  }
  return c;
}

// The device side of a coalesced problem: dims innermost first.
template <int N>
struct OffsetCalc {
  int ndim = 0;
  IntDivider sizes[kMaxDims];
  int64_t strides[kMaxDims][N];

  OffsetCalc() = default;
  explicit OffsetCalc(const Coalesced<N>& c) : ndim(c.ndim) {
    for (int i = 0; i < c.ndim; i++) {
      int d = c.ndim - 1 - i;
      sizes[i] = IntDivider(static_cast<uint32_t>(c.shape[d]));
      for (int k = 0; k < N; k++) strides[i][k] = c.strides[k][d];
    }
  }

#if defined(__CUDACC__)
  __device__ __forceinline__ void get(uint32_t linear, int64_t (&off)[N]) const {
#pragma unroll
    for (int k = 0; k < N; k++) off[k] = 0;
#pragma unroll
    for (int i = 0; i < kMaxDims; i++) {
      if (i == ndim) break;
      uint32_t q = sizes[i].div(linear);
      uint32_t r = linear - q * sizes[i].divisor;
#pragma unroll
      for (int k = 0; k < N; k++) off[k] += static_cast<int64_t>(r) * strides[i][k];
      linear = q;
    }
  }
#endif
};

// Calls f(piece, base) for pieces of at most kMaxChunk elements covering the problem, in order;
// base[k] is the element offset of operand k's first element in the piece.
template <int N, typename F>
void forChunks(const Coalesced<N>& c, F&& f) {
  int64_t base[N] = {};
  struct Rec {
    static void run(const Coalesced<N>& c, const int64_t* base, F& f) {
      if (c.numel <= kMaxChunk) {
        f(c, base);
        return;
      }
      // Split the outermost dim; if one slice of it is still too large, recurse into the slices.
      Coalesced<N> piece = c;
      const int64_t inner = c.numel / c.shape[0];
      int64_t b[N];
      if (inner > kMaxChunk) {
        piece.ndim = c.ndim - 1;
        for (int d = 0; d < piece.ndim; d++) {
          piece.shape[d] = c.shape[d + 1];
          for (int k = 0; k < N; k++) piece.strides[k][d] = c.strides[k][d + 1];
        }
        piece.numel = inner;
        for (int64_t i = 0; i < c.shape[0]; i++) {
          for (int k = 0; k < N; k++) b[k] = base[k] + i * c.strides[k][0];
          run(piece, b, f);
        }
        return;
      }
      const int64_t per = kMaxChunk / inner;
      for (int64_t i = 0; i < c.shape[0]; i += per) {
        piece.shape[0] = std::min(per, c.shape[0] - i);
        piece.numel = piece.shape[0] * inner;
        for (int k = 0; k < N; k++) b[k] = base[k] + i * c.strides[k][0];
        f(static_cast<const Coalesced<N>&>(piece), static_cast<const int64_t*>(b));
      }
    }
  };
  Rec::run(c, base, f);
}

#if defined(__CUDACC__)
// Grid-stride loop indices.
__device__ __forceinline__ int64_t globalIndex64() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t gridStride64() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }
#endif

}  // namespace cuda
}  // namespace kiln
