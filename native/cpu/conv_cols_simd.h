// SIMD unfold/fold over a traits type S (conv_cols.h), for stride 1 along the innermost dim.
// Included by conv_avx512.cpp and conv_avx2.cpp, each compiled with its own instruction set;
// everything here has internal linkage so the two instantiations never merge.
//
// S provides: V (vector), M (lane mask), L (lanes), range(lo, hi) (lanes lo <= i < hi, any ints),
// loadz(p, m) (masked lanes read as zero and are never touched), merge(v, p, m) (lanes in m
// loaded from p, the others kept from v), store(p, v, m), add(a, b), zero().
//
// Both kernels address memory a few elements before a row through masked-off lanes only.
#pragma once
#include <algorithm>
#include <cstdint>

#include "conv_cols.h"

namespace kiln {
namespace cpu {
namespace {

// col[r0 + k2][run] = x[row][o + k2*d2 - p2] for each run and k2: one masked load and store per
// L positions, the zeros outside the input coming from the mask.
template <class S>
void unfoldSimd(const ColArgs<float>& a, const float* x) {
  const ColGeometry& g = *a.g;
  const int64_t K2 = g.K[2], L = S::L;
  // Output positions whose whole window row lies inside the input along the innermost dim.
  int64_t inLo = 0, inHi = g.O[2];
  for (int64_t k2 = 0; k2 < K2; k2++) inLo = std::max(inLo, a.lo[k2]), inHi = std::min(inHi, a.hi[k2]);
  int64_t r0 = 0;
  for (int64_t ci = 0; ci < g.cin; ci++)
    for (int64_t k0 = 0; k0 < g.K[0]; k0++)
      for (int64_t k1 = 0; k1 < g.K[1]; k1++, r0 += K2) {
        const int64_t di0 = k0 * g.d[0], di1 = k1 * g.d[1];
        float* dst0 = a.col + r0 * a.ld;
        for (int64_t q = 0; q < a.nRuns; q++) {
          const ColRun& run = a.runs[q];
          const int64_t i0 = run.i0 + di0, i1 = run.i1 + di1;
          const bool inside = i0 >= 0 && i0 < g.I[0] && i1 >= 0 && i1 < g.I[1];
          const float* row = x + ci * a.xc + i0 * a.x0 + i1 * a.x1;
          const int64_t end = run.o2 + run.len;
          if (inside && 2 * run.len <= L && run.o2 >= inLo && end <= inHi && q + 1 < a.nRuns) {
            // Short runs (small images): two neighbouring runs share one vector when the next
            // one is whole and inside too; they are adjacent in the column block.
            const ColRun& next = a.runs[q + 1];
            const int64_t j0 = next.i0 + di0, j1 = next.i1 + di1;
            if (next.len == run.len && next.o2 == run.o2 && j0 >= 0 && j0 < g.I[0] && j1 >= 0 && j1 < g.I[1]) {
              const typename S::M lo = S::range(0, run.len), both = S::range(0, 2 * run.len);
              const typename S::M hi = S::range(run.len, 2 * run.len);
              const float* srcA = row + run.o2 - g.p[2];
              const float* srcB = x + ci * a.xc + j0 * a.x0 + j1 * a.x1 + next.o2 - g.p[2] - run.len;
              float* dst = dst0 + run.c;
              for (int64_t k2 = 0; k2 < K2; k2++, srcA += g.d[2], srcB += g.d[2], dst += a.ld)
                S::store(dst, S::merge(S::loadz(srcA, lo), srcB, hi), both);
              q++;
              continue;
            }
          }
          if (inside && run.len <= L && run.o2 >= inLo && end <= inHi) {
            // The common case: one masked load and store per k2.
            const typename S::M m = S::range(0, run.len);
            const float* src = row + run.o2 - g.p[2];
            float* dst = dst0 + run.c;
            for (int64_t k2 = 0; k2 < K2; k2++, src += g.d[2], dst += a.ld) S::store(dst, S::loadz(src, m), m);
            continue;
          }
          if (inside && run.o2 >= inLo && end <= inHi) {
            // A long run inside the input (LeNet's conv1: rows of 24): straight copies, whole
            // vectors and a masked tail, with none of the clipping below.
            const int64_t full = run.len / L * L;
            const typename S::M all = S::range(0, L), tail = S::range(0, run.len - full);
            const float* src = row + run.o2 - g.p[2];
            float* dst = dst0 + run.c;
            for (int64_t k2 = 0; k2 < K2; k2++, src += g.d[2], dst += a.ld) {
              for (int64_t i = 0; i < full; i += L) S::store(dst + i, S::loadz(src + i, all), all);
              if (full < run.len) S::store(dst + full, S::loadz(src + full, tail), tail);
            }
            continue;
          }
          for (int64_t k2 = 0; k2 < K2; k2++) {
            float* dst = dst0 + k2 * a.ld + run.c;
            // Output position o reads row[o + shift].
            const int64_t shift = k2 * g.d[2] - g.p[2];
            const int64_t lo = inside ? std::max(a.lo[k2], run.o2) : 0, hi = inside ? std::min(a.hi[k2], end) : 0;
            for (int64_t o = run.o2; o < end; o += L) {
              const int64_t n = std::min(L, end - o);
              typename S::V v = S::zero();
              if (lo < hi) v = S::loadz(row + (o + shift), S::range(lo - o, hi - o));
              S::store(dst + (o - run.o2), v, S::range(0, n));
            }
          }
        }
      }
}

// x[row][o + k2*d2 - p2] += col[r0 + k2][run] for each run: the window's row is loaded once, the
// K2 shifted column rows added in registers, and the row stored once.
template <class S>
void foldSimd(const ColArgs<float>& a, float* x) {
  const ColGeometry& g = *a.g;
  const int64_t K2 = g.K[2], L = S::L;
  int64_t inLo = 0, inHi = g.O[2];
  for (int64_t k2 = 0; k2 < K2; k2++) inLo = std::max(inLo, a.lo[k2]), inHi = std::min(inHi, a.hi[k2]);
  // Masks of the common case (an inside run of length `maskLen` whose window row fits one
  // vector, so K2 <= L): lanes [k2*d2, k2*d2 + len) for each k2, and the whole row.
  typename S::M masks[S::L];
  typename S::M rowMask = S::range(0, 0);
  int64_t maskLen = -1;
  int64_t r0 = 0;
  for (int64_t ci = 0; ci < g.cin; ci++)
    for (int64_t k0 = 0; k0 < g.K[0]; k0++)
      for (int64_t k1 = 0; k1 < g.K[1]; k1++, r0 += K2) {
        const int64_t di0 = k0 * g.d[0], di1 = k1 * g.d[1];
        const float* col0 = a.col + r0 * a.ld;
        // Even runs, then odd ones. Consecutive runs update consecutive input rows, and a short
        // row's vector reaches into the next row's memory: the load of the next row then waits
        // until the masked store before it has left the core (masked stores do not forward), a
        // stall that took 40% of the fold of LeNet's second convolution.
        for (int64_t visit = 0; visit < a.nRuns; visit++) {
          const int64_t q = visit < (a.nRuns + 1) / 2 ? 2 * visit : 2 * (visit - (a.nRuns + 1) / 2) + 1;
          const ColRun& run = a.runs[q];
          const int64_t i0 = run.i0 + di0, i1 = run.i1 + di1;
          if (i0 < 0 || i0 >= g.I[0] || i1 < 0 || i1 >= g.I[1]) continue;
          float* row = x + ci * a.xc + i0 * a.x0 + i1 * a.x1;
          const int64_t end = run.o2 + run.len, span = run.len + (K2 - 1) * g.d[2];
          if (run.o2 >= inLo && end <= inHi && span <= L) {
            // The common case: the row loaded once, K2 shifted column rows added, stored once.
            if (run.len != maskLen) {
              maskLen = run.len;
              for (int64_t k2 = 0; k2 < K2; k2++) masks[k2] = S::range(k2 * g.d[2], k2 * g.d[2] + run.len);
              rowMask = S::range(0, span);
            }
            float* dst = row + run.o2 - g.p[2];
            typename S::V acc = S::loadz(dst, rowMask);
            const float* src = col0 + run.c;
            for (int64_t k2 = 0; k2 < K2; k2++, src += a.ld) acc = S::add(acc, S::loadz(src - k2 * g.d[2], masks[k2]));
            S::store(dst, acc, rowMask);
            continue;
          }
          // Input positions the run touches: o + shift for o in the run, over all k2.
          const int64_t first = std::max<int64_t>(0, run.o2 - g.p[2]);
          const int64_t last = std::min(g.I[2], end + (K2 - 1) * g.d[2] - g.p[2]);
          for (int64_t i = first; i < last; i += L) {
            const int64_t n = std::min(L, last - i);
            const typename S::M m = S::range(0, n);
            typename S::V acc = S::loadz(row + i, m);
            for (int64_t k2 = 0; k2 < K2; k2++) {
              const int64_t shift = k2 * g.d[2] - g.p[2];
              // lane l is input position i + l, output position i + l - shift
              const int64_t lo = std::max(a.lo[k2], run.o2) + shift - i, hi = std::min(a.hi[k2], end) + shift - i;
              if (lo >= hi || lo >= n || hi <= 0) continue;
              const float* src = col0 + k2 * a.ld + run.c - run.o2 + (i - shift);
              acc = S::add(acc, S::loadz(src, S::range(lo, hi)));
            }
            S::store(row + i, acc, m);
          }
        }
      }
}

template <class S>
const ColKernelsF32* makeColKernels() {
  static const ColKernelsF32 k{&unfoldSimd<S>, &foldSimd<S>};
  return &k;
}

}  // namespace
}  // namespace cpu
}  // namespace kiln
