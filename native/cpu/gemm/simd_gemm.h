// Micro-kernel, packing and matrix-vector templates over a SIMD traits type, shared by the ISA
// files (gemm_avx512.cpp, gemm_avx2.cpp) that each define their own traits and compile this
// with their own instruction-set flags.
//
// Everything here has internal linkage on purpose: if the linker merged the AVX-512 and AVX2
// instantiations of one template, a CPU without AVX-512 could end up running the AVX-512 copy.
//
// A traits type S provides: T (element), V (vector), M (lane mask), I (gather index vector),
// L (lanes), and zero, set1, load, loadm (masked, zero fill), store, storem, fma (a*b+c), add,
// mask(n) (first n lanes, n may be <= 0 or >= L), iota(stride) (lane i -> i*stride),
// gather(base, idx, mask), prefetch.
#pragma once
#include <cstdint>

#include "kernels.h"

// KILN_UNROLL_ALL on the small constant loops over the register tile: unless they are fully
// unrolled, GCC keeps the accumulator array in memory (spilled around every tile).
#if defined(__clang__)
#define KILN_GEMM_UNROLL _Pragma("unroll 4")
#define KILN_UNROLL_ALL _Pragma("unroll")
#elif defined(__GNUC__)
#define KILN_GEMM_UNROLL _Pragma("GCC unroll 4")
#define KILN_UNROLL_ALL _Pragma("GCC unroll 64")
#else
#define KILN_GEMM_UNROLL
#define KILN_UNROLL_ALL
#endif

namespace kiln {
namespace cpu {
namespace {

// ---------------------------------------------------------------- micro-kernel

// One MR x (NV*L) tile of C. A is either a packed panel (DirectA = false: element [i][k] at
// a[k*MR + i]) or read in place from a row-major matrix (DirectA: a[i*lda + k]; its MR rows
// stream well, so a row-major A is never packed). B rows are ldb apart, NV*L valid columns.
template <class S, int MR, int NV, bool DirectA>
void microTile(int64_t kc, const typename S::T* a, int64_t lda, const typename S::T* b, int64_t ldb,
               typename S::T* c, int64_t ldc, int nr, bool accumulate) {
  using T = typename S::T;
  using V = typename S::V;
  // C is read and written only after the loop; fetching every line of the tile now hides that
  // latency behind the multiply-adds (C is usually out in L3 between depth blocks).
  KILN_UNROLL_ALL
  for (int i = 0; i < MR; i++) {
    S::prefetch(c + i * ldc);
    S::prefetch(c + i * ldc + NV * S::L - 1);
  }
  V acc[MR][NV];
  KILN_UNROLL_ALL
  for (int i = 0; i < MR; i++) {
    KILN_UNROLL_ALL
    for (int j = 0; j < NV; j++) acc[i][j] = S::zero();
  }
  const T* rows[MR];
  KILN_UNROLL_ALL
  for (int i = 0; i < MR; i++) rows[i] = a + (DirectA ? i * lda : i);
  constexpr int64_t aStep = DirectA ? 1 : MR;
  // Unrolled so the pointer and counter updates, which compete with the multiply-adds for
  // execution ports, happen once per several steps.
  KILN_GEMM_UNROLL
  for (int64_t k = 0; k < kc; k++) {
    V bv[NV];
    KILN_UNROLL_ALL
    for (int j = 0; j < NV; j++) bv[j] = S::load(b + j * S::L);
    KILN_UNROLL_ALL
    for (int i = 0; i < MR; i++) {
      V av = S::set1(rows[i][k * aStep]);
      KILN_UNROLL_ALL
      for (int j = 0; j < NV; j++) acc[i][j] = S::fma(av, bv[j], acc[i][j]);
    }
    b += ldb;
  }
  if (nr == NV * S::L) {
    KILN_UNROLL_ALL
    for (int i = 0; i < MR; i++) {
      KILN_UNROLL_ALL
      for (int j = 0; j < NV; j++) {
        T* p = c + i * ldc + j * S::L;
        S::store(p, accumulate ? S::add(acc[i][j], S::load(p)) : acc[i][j]);
      }
    }
  } else {
    KILN_UNROLL_ALL
    for (int i = 0; i < MR; i++) {
      KILN_UNROLL_ALL
      for (int j = 0; j < NV; j++) {
        typename S::M m = S::mask(nr - j * S::L);
        T* p = c + i * ldc + j * S::L;
        S::storem(p, accumulate ? S::add(acc[i][j], S::loadm(p, m)) : acc[i][j], m);
      }
    }
  }
}

// Picks the instantiation for the tile's real height (mr <= MR) and width (fewest vectors).
template <class S, int MR, int NV, bool DirectA>
void microDispatch(int64_t kc, int mr, int nr, const typename S::T* a, int64_t lda, const typename S::T* b,
                   int64_t ldb, typename S::T* c, int64_t ldc, bool accumulate) {
  if constexpr (NV > 1) {
    if (nr <= (NV - 1) * S::L)
      return microDispatch<S, MR, NV - 1, DirectA>(kc, mr, nr, a, lda, b, ldb, c, ldc, accumulate);
  }
  if constexpr (MR > 1) {
    if (mr < MR) return microDispatch<S, MR - 1, NV, DirectA>(kc, mr, nr, a, lda, b, ldb, c, ldc, accumulate);
  }
  microTile<S, MR, NV, DirectA>(kc, a, lda, b, ldb, c, ldc, nr, accumulate);
}

template <class S, int MR, int NV>
void micro(int64_t kc, int mr, int nr, const typename S::T* a, int64_t lda, const typename S::T* b, int64_t ldb,
           typename S::T* c, int64_t ldc, bool accumulate) {
  if (lda == 0)
    microDispatch<S, MR, NV, false>(kc, mr, nr, a, 0, b, ldb, c, ldc, accumulate);
  else
    microDispatch<S, MR, NV, true>(kc, mr, nr, a, lda, b, ldb, c, ldc, accumulate);
}

// ---------------------------------------------------------------- packing

// Gathers use 32-bit lane offsets; wider strides take the scalar path.
inline bool fitsGather(int64_t stride, int lanes) {
  int64_t span = stride * lanes;
  return span < (int64_t{1} << 30) && span > -(int64_t{1} << 30);
}

template <class S, int MRMAX>
void packA(int64_t kc, int mr, const typename S::T* a, int64_t rs, int64_t cs, typename S::T* dst) {
  constexpr int NV = (MRMAX + S::L - 1) / S::L;
  typename S::M m[NV];
  for (int v = 0; v < NV; v++) m[v] = S::mask(mr - v * S::L);
  if (rs == 1) {  // the panel's columns are contiguous: a straight copy per k
    for (int64_t k = 0; k < kc; k++, dst += mr)
      for (int v = 0; v < NV && v * S::L < mr; v++)
        S::storem(dst + v * S::L, S::loadm(a + k * cs + v * S::L, m[v]), m[v]);
  } else if (fitsGather(rs, S::L * NV)) {
    typename S::I idx = S::iota(rs);
    for (int64_t k = 0; k < kc; k++, dst += mr)
      for (int v = 0; v < NV && v * S::L < mr; v++)
        S::storem(dst + v * S::L, S::gather(a + k * cs + v * S::L * rs, idx, m[v]), m[v]);
  } else {
    for (int64_t k = 0; k < kc; k++, dst += mr)
      for (int i = 0; i < mr; i++) dst[i] = a[i * rs + k * cs];
  }
}

template <class S, int NV>
void packB(int64_t kc, int nr, const typename S::T* b, int64_t rs, int64_t cs, typename S::T* dst) {
  constexpr int NR = NV * S::L;
  typename S::M m[NV];
  for (int v = 0; v < NV; v++) m[v] = S::mask(nr - v * S::L);
  if (cs == 1) {
    for (int64_t k = 0; k < kc; k++, dst += NR)
      for (int v = 0; v < NV; v++)
        S::store(dst + v * S::L, v * S::L < nr ? S::loadm(b + k * rs + v * S::L, m[v]) : S::zero());
  } else if (fitsGather(cs, NR)) {
    typename S::I idx = S::iota(cs);
    for (int64_t k = 0; k < kc; k++, dst += NR)
      for (int v = 0; v < NV; v++)
        S::store(dst + v * S::L, v * S::L < nr ? S::gather(b + k * rs + v * S::L * cs, idx, m[v]) : S::zero());
  } else {
    for (int64_t k = 0; k < kc; k++, dst += NR)
      for (int j = 0; j < NR; j++) dst[j] = j < nr ? b[k * rs + j * cs] : typename S::T(0);
  }
}

// ---------------------------------------------------------------- matrix-vector

// c[0:n] = sum_k a[k] * b[k*ld + 0:n] for n <= NV*L; two accumulator sets keep enough
// multiply-adds in flight when the row is narrow.
template <class S, int NV>
void gemvRowsBlock(int64_t K, int n, const typename S::T* a, const typename S::T* b, int64_t ld, typename S::T* c) {
  using V = typename S::V;
  typename S::M m[NV];
  for (int j = 0; j < NV; j++) m[j] = S::mask(n - j * S::L);
  bool full = n == NV * S::L;
  V acc0[NV], acc1[NV];
  for (int j = 0; j < NV; j++) acc0[j] = acc1[j] = S::zero();
  int64_t k = 0;
  if (full) {
    for (; k + 1 < K; k += 2) {
      V a0 = S::set1(a[k]), a1 = S::set1(a[k + 1]);
      const typename S::T* b0 = b + k * ld;
      const typename S::T* b1 = b0 + ld;
      for (int j = 0; j < NV; j++) {
        acc0[j] = S::fma(a0, S::load(b0 + j * S::L), acc0[j]);
        acc1[j] = S::fma(a1, S::load(b1 + j * S::L), acc1[j]);
      }
    }
  } else {
    for (; k + 1 < K; k += 2) {
      V a0 = S::set1(a[k]), a1 = S::set1(a[k + 1]);
      const typename S::T* b0 = b + k * ld;
      const typename S::T* b1 = b0 + ld;
      for (int j = 0; j < NV; j++) {
        acc0[j] = S::fma(a0, S::loadm(b0 + j * S::L, m[j]), acc0[j]);
        acc1[j] = S::fma(a1, S::loadm(b1 + j * S::L, m[j]), acc1[j]);
      }
    }
  }
  if (k < K) {
    V a0 = S::set1(a[k]);
    for (int j = 0; j < NV; j++) acc0[j] = S::fma(a0, S::loadm(b + k * ld + j * S::L, m[j]), acc0[j]);
  }
  for (int j = 0; j < NV; j++) S::storem(c + j * S::L, S::add(acc0[j], acc1[j]), m[j]);
}

template <class S, int NV>
void gemvRowsTail(int64_t K, int n, const typename S::T* a, const typename S::T* b, int64_t ld, typename S::T* c) {
  if constexpr (NV > 1) {
    if (n <= (NV - 1) * S::L) return gemvRowsTail<S, NV - 1>(K, n, a, b, ld, c);
  }
  gemvRowsBlock<S, NV>(K, n, a, b, ld, c);
}

template <class S>
void gemvRows(int64_t K, int64_t N, const typename S::T* a, const typename S::T* b, int64_t ld, typename S::T* c) {
  constexpr int NV = 8;
  constexpr int W = NV * S::L;
  int64_t j = 0;
  for (; j + W <= N; j += W) gemvRowsBlock<S, NV>(K, W, a, b + j, ld, c + j);
  if (j < N) gemvRowsTail<S, NV>(K, static_cast<int>(N - j), a, b + j, ld, c + j);
}

// Sums the lanes through memory: once per dot product, and GCC 12's in-register reductions
// (_mm512_reduce_add_*, extract/shuffle) trip -Wuninitialized inside its own headers.
template <class S>
typename S::T hsum(typename S::V v) {
  alignas(64) typename S::T lanes[S::L];
  S::store(lanes, v);
  typename S::T s = 0;
  for (int i = 0; i < S::L; i++) s += lanes[i];
  return s;
}

// COLS dot products at once, each over two vector accumulators.
template <class S, int COLS>
void gemvColsBlock(int64_t K, const typename S::T* a, const typename S::T* b, int64_t ld, typename S::T* c) {
  using V = typename S::V;
  V acc0[COLS], acc1[COLS];
  for (int j = 0; j < COLS; j++) acc0[j] = acc1[j] = S::zero();
  int64_t k = 0;
  for (; k + 2 * S::L <= K; k += 2 * S::L) {
    V a0 = S::load(a + k), a1 = S::load(a + k + S::L);
    for (int j = 0; j < COLS; j++) {
      acc0[j] = S::fma(a0, S::load(b + j * ld + k), acc0[j]);
      acc1[j] = S::fma(a1, S::load(b + j * ld + k + S::L), acc1[j]);
    }
  }
  for (; k < K; k += S::L) {
    typename S::M m = S::mask(static_cast<int>(K - k));
    V a0 = S::loadm(a + k, m);
    for (int j = 0; j < COLS; j++) acc0[j] = S::fma(a0, S::loadm(b + j * ld + k, m), acc0[j]);
  }
  for (int j = 0; j < COLS; j++) c[j] = hsum<S>(S::add(acc0[j], acc1[j]));
}

template <class S>
void gemvCols(int64_t K, int64_t N, const typename S::T* a, const typename S::T* b, int64_t ld, typename S::T* c) {
  int64_t j = 0;
  for (; j + 4 <= N; j += 4) gemvColsBlock<S, 4>(K, a, b + j * ld, ld, c + j);
  for (; j < N; j++) gemvColsBlock<S, 1>(K, a, b + j * ld, ld, c + j);
}

// ---------------------------------------------------------------- the set

template <class S, int MR, int NV>
GemmKernels<typename S::T> makeKernels(const char* name, int kc, int mc, int nc) {
  GemmKernels<typename S::T> k;
  k.name = name;
  k.mr = MR;
  k.nr = NV * S::L;
  k.lanes = S::L;
  k.inPlace = true;
  k.kc = kc;
  k.mc = mc;
  k.nc = nc;
  k.micro = &micro<S, MR, NV>;
  k.packA = &packA<S, MR>;
  k.packB = &packB<S, NV>;
  k.gemvRows = &gemvRows<S>;
  k.gemvCols = &gemvCols<S>;
  return k;
}

}  // namespace
}  // namespace cpu
}  // namespace kiln
