// The GEMM driver: picks an orientation and a path (matrix-vector or packed blocks), splits the
// work across the thread pool, and walks the cache blocks calling the ISA's kernels.
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <string>

#include "../../core/thread_pool.h"
#include "../cpu_info.h"
#include "kernels.h"
#include "scratch.h"

namespace kiln {
namespace cpu {
namespace {

// int32 sums wrap; computing them unsigned keeps that defined.
template <typename T> struct Wrap { using type = T; };
template <> struct Wrap<int32_t> { using type = uint32_t; };

template <typename T>
T addWrap(T x, T y) {
  using W = typename Wrap<T>::type;
  return static_cast<T>(W(x) + W(y));
}

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t roundUp(int64_t a, int64_t b) { return ceilDiv(a, b) * b; }

// Splits `total` into equal blocks of at most `limit` (a multiple of `unit`): 300 with a 256
// limit gives two blocks of 152 rather than 256 + 44.
int64_t evenBlock(int64_t total, int64_t limit, int64_t unit) {
  limit = std::max(unit, limit / unit * unit);
  int64_t blocks = ceilDiv(total, limit);
  return std::min(limit, roundUp(ceilDiv(total, blocks), unit));
}

// One product in the orientation the driver works on.
template <typename T>
struct Gemm {
  int64_t M, N, K;
  const T* A;
  int64_t rsA, csA;
  const T* B;
  int64_t rsB, csB;
  T* C;
  int64_t rsC, csC;

  // C = A·B  <=>  Cᵀ = Bᵀ·Aᵀ: the same memory seen with rows and columns swapped.
  Gemm transposed() const { return {N, M, K, B, csB, rsB, A, csA, rsA, C, csC, rsC}; }
};

template <typename T>
void fillZero(const Gemm<T>& g) {
  for (int64_t i = 0; i < g.M; i++)
    for (int64_t j = 0; j < g.N; j++) g.C[i * g.rsC + j * g.csC] = T(0);
}

// ---------------------------------------------------------------- one row of output

// c[j] = sum_k a[k] b[k][j] for a single output row: streams B once, no packing.
template <typename T>
void gemvRow(const GemmKernels<T>& kr, const Gemm<T>& g, bool parallel) {
  const int64_t N = g.N, K = g.K;
  const T* a = g.A;
  if (g.csA != 1) {
    T* packed = scratch(ScratchSlot::Vector).get<T>(K);
    for (int64_t k = 0; k < K; k++) packed[k] = g.A[k * g.csA];
    a = packed;
  }
  T* c = g.csC == 1 ? g.C : scratch(ScratchSlot::Tile).get<T>(N);
  auto run = [&](int64_t j0, int64_t j1) {
    if (g.csB == 1) {
      kr.gemvRows(K, j1 - j0, a, g.B + j0, g.rsB, c + j0);
    } else if (g.rsB == 1) {
      kr.gemvCols(K, j1 - j0, a, g.B + j0 * g.csB, g.csB, c + j0);
    } else {
      using W = typename Wrap<T>::type;
      for (int64_t j = j0; j < j1; j++) {
        W s = W(0);
        for (int64_t k = 0; k < K; k++) s += W(a[k]) * W(g.B[k * g.rsB + j * g.csB]);
        c[j] = static_cast<T>(s);
      }
    }
  };
  constexpr int64_t kChunk = 64;  // whole cache lines of C per thread
  if (parallel && N * K >= kGemmParallelWork && N >= 2 * kChunk) {
    parallelFor(ceilDiv(N, kChunk), 1, [&](int64_t b, int64_t e) { run(b * kChunk, std::min(N, e * kChunk)); });
  } else {
    run(0, N);
  }
  if (c != g.C)
    for (int64_t j = 0; j < N; j++) g.C[j * g.csC] = c[j];
}

// ---------------------------------------------------------------- planning

double work(int64_t M, int64_t N, int64_t K) { return double(M) * double(N) * double(K); }

// Which operands the micro-kernel reads in place instead of from packed panels.
struct Direct {
  bool a = false, b = false;
};

// Packing pays when each packed element is reused many times. A row-major A is read in place
// always: its rows stream well and packing it means a transpose. B is packed unless the product
// has so few rows that each B panel serves only a handful of tiles.
template <typename T>
Direct chooseDirect(const GemmKernels<T>& kr, const Gemm<T>& g, const GemmForce& force) {
  Direct d;
  d.a = kr.inPlace && g.csA == 1 && g.rsA != 0;
  d.b = kr.inPlace && g.csB == 1 && (g.M <= 4 * kr.mr || work(g.M, g.N, g.K) <= double(1 << 19));
  if (force.directA >= 0) d.a = force.directA && g.csA == 1 && g.rsA != 0;
  if (force.directB >= 0) d.b = force.directB && g.csB == 1;
  return d;
}

// Rough cycles for one orientation: register tiles (a tile with fewer than 8 accumulators
// waits on the multiply-add latency), packing (transposing costs more than copying), and the
// scatter of tiles into a C without unit column stride. Also rates the blocks of a thread grid.
template <typename T>
double estimateCycles(const GemmKernels<T>& kr, const Gemm<T>& g, Direct d) {
  auto tileSteps = [&](int64_t mr, int64_t nr) {
    const int64_t vectors = ceilDiv(nr, kr.lanes);
    // narrower tiles spend relatively more on broadcasts and loads (measured ~8% per vector)
    const double narrow = 1.0 + 0.08 * double(ceilDiv(kr.nr, kr.lanes) - vectors);
    return double(std::max<int64_t>(mr * vectors, 8)) / 2 * narrow;
  };
  const int64_t fullM = g.M / kr.mr, remM = g.M % kr.mr, fullN = g.N / kr.nr, remN = g.N % kr.nr;
  double perStep = double(fullM) * double(fullN) * tileSteps(kr.mr, kr.nr);
  if (remN) perStep += double(fullM) * tileSteps(kr.mr, remN);
  if (remM) perStep += double(fullN) * tileSteps(remM, kr.nr) + (remN ? tileSteps(remM, remN) : 0.0);
  // Cycles per packed element, as measured with the source out in L3.
  auto packCost = [](int64_t rs, int64_t cs, bool panelRowsContiguous) {
    if (panelRowsContiguous) return 0.5;
    return (rs == 1 || cs == 1) ? 0.75 : 1.0;
  };
  // Each tile also loads and stores its piece of C once per depth block.
  const double tiles = double(ceilDiv(g.M, kr.mr)) * double(ceilDiv(g.N, kr.nr)) * double(ceilDiv(g.K, kr.kc));
  double cycles = perStep * double(g.K) + 60.0 * tiles;
  if (!d.a) cycles += double(g.M) * double(g.K) * packCost(g.rsA, g.csA, g.rsA == 1);
  if (!d.b) cycles += double(g.K) * double(g.N) * packCost(g.rsB, g.csB, g.csB == 1);
  if (g.csC != 1) cycles += 2.0 * double(g.M) * double(g.N);
  return cycles;
}

// ---------------------------------------------------------------- packed blocks

// Rows [m0, m1) x columns [n0, n1) of C on the calling thread, with its own packing buffers.
template <typename T>
void blocked(const GemmKernels<T>& kr, const Gemm<T>& g, Direct direct, int64_t m0, int64_t m1, int64_t n0,
             int64_t n1) {
  const int MR = kr.mr, NR = kr.nr;
  const int64_t M = m1 - m0, N = n1 - n0, K = g.K;
  if (M <= 0 || N <= 0) return;
  const int64_t kcBlock = evenBlock(K, kr.kc, 1);
  const int64_t mcBlock = evenBlock(M, kr.mc, MR);
  const int64_t ncBlock = evenBlock(N, kr.nc, NR);
  T* Ap = direct.a ? nullptr : scratch(ScratchSlot::PackA).get<T>(mcBlock * kcBlock);
  // In-place B still packs its ragged last panel: the kernel reads whole panel widths.
  T* Bp = scratch(ScratchSlot::PackB).get<T>((direct.b ? NR : ncBlock) * kcBlock);
  // A C without unit column stride gets each tile through a buffer (the micro-kernel stores rows).
  T* tile = g.csC == 1 ? nullptr : scratch(ScratchSlot::Tile).get<T>(static_cast<size_t>(MR) * NR);

  for (int64_t jc = 0; jc < N; jc += ncBlock) {
    const int64_t nc = std::min(ncBlock, N - jc);
    const T* Bblock = g.B + (n0 + jc) * g.csB;
    for (int64_t pc = 0; pc < K; pc += kcBlock) {
      const int64_t kc = std::min(kcBlock, K - pc);
      const bool accumulate = pc > 0;
      const int64_t ragged = nc % NR ? nc - nc % NR : nc;  // first column of a partial panel
      for (int64_t jp = direct.b ? ragged : 0; jp < nc; jp += NR)
        kr.packB(kc, static_cast<int>(std::min<int64_t>(NR, nc - jp)), Bblock + pc * g.rsB + jp * g.csB, g.rsB,
                 g.csB, direct.b ? Bp : Bp + jp * kc);
      for (int64_t ic = 0; ic < M; ic += mcBlock) {
        const int64_t mc = std::min(mcBlock, M - ic);
        const T* Ablock = g.A + (m0 + ic) * g.rsA + pc * g.csA;
        if (!direct.a)
          for (int64_t ip = 0; ip < mc; ip += MR)
            kr.packA(kc, static_cast<int>(std::min<int64_t>(MR, mc - ip)), Ablock + ip * g.rsA, g.rsA, g.csA,
                     Ap + ip * kc);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int nr = static_cast<int>(std::min<int64_t>(NR, nc - jr));
          const bool inPlaceB = direct.b && jr < ragged;
          const T* b = inPlaceB ? Bblock + pc * g.rsB + jr : (direct.b ? Bp : Bp + jr * kc);
          const int64_t ldb = inPlaceB ? g.rsB : NR;
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int mr = static_cast<int>(std::min<int64_t>(MR, mc - ir));
            const T* a = direct.a ? Ablock + ir * g.rsA : Ap + ir * kc;
            const int64_t lda = direct.a ? g.rsA : 0;
            T* c = g.C + (m0 + ic + ir) * g.rsC + (n0 + jc + jr) * g.csC;
            if (!tile) {
              kr.micro(kc, mr, nr, a, lda, b, ldb, c, g.rsC, accumulate);
              continue;
            }
            kr.micro(kc, mr, nr, a, lda, b, ldb, tile, NR, false);
            for (int i = 0; i < mr; i++)
              for (int j = 0; j < nr; j++) {
                T* p = c + i * g.rsC + j * g.csC;
                *p = accumulate ? addWrap(*p, tile[i * NR + j]) : tile[i * NR + j];
              }
          }
        }
      }
    }
  }
}

// How C is cut into blocks for the threads: gridM x gridN blocks, columns in units of unitN.
struct Grid {
  int64_t m = 1, n = 1, unitN = 1;
  double time = -1;  // estimated cycles on the busiest thread
};

// The grid that finishes first under the cost model: the rounds of blocks per thread plus a
// quarter block of tail. More blocks win unless they repeat too much packing (with A read in
// place, column blocks repeat none; row blocks each pack all of B). Rows split in whole
// register tiles, columns in whole tiles or in vectors (finer, at the price of a narrow tile
// per block).
template <typename T>
Grid planGrid(const GemmKernels<T>& kr, const Gemm<T>& g, Direct direct, int threads) {
  const int64_t unitM = kr.mr;
  const int64_t maxBlocks = 4 * int64_t(threads);
  Grid best;
  best.unitN = kr.nr;
  for (int64_t un : {int64_t(kr.nr), int64_t(kr.lanes)})
    for (int64_t bm = 1; bm <= std::min(ceilDiv(g.M, unitM), maxBlocks); bm++)
      for (int64_t bn = 1; bn <= std::min(ceilDiv(g.N, un), maxBlocks / bm); bn++) {
        Gemm<T> part = g;
        part.M = std::min(g.M, ceilDiv(ceilDiv(g.M, unitM), bm) * unitM);
        part.N = std::min(g.N, ceilDiv(ceilDiv(g.N, un), bn) * un);
        const double block = estimateCycles(kr, part, direct);
        const double time = double(ceilDiv(bm * bn, threads)) * block + 0.25 * block;
        if (best.time < 0 || time < best.time) best = {bm, bn, un, time};
      }
  return best;
}

// Runs C as the planned grid of blocks, each an independent product with its own packing: no
// synchronization inside the product, and a thread that is late (a pool worker waking up) or
// busy (another process) has its blocks taken over.
template <typename T>
void parallelBlocked(const GemmKernels<T>& kr, const Gemm<T>& g, Direct direct, const Grid& grid) {
  const int64_t unitM = kr.mr, unitN = grid.unitN, gridM = grid.m, gridN = grid.n;
  const int64_t unitsM = ceilDiv(g.M, unitM), unitsN = ceilDiv(g.N, unitN);
  const int64_t blocks = gridM * gridN;
  auto run = [&](int64_t t) {
    const int64_t bi = t / gridN, bj = t % gridN;  // neighbours share rows of A
    const int64_t m0 = std::min(g.M, unitsM * bi / gridM * unitM);
    const int64_t m1 = std::min(g.M, unitsM * (bi + 1) / gridM * unitM);
    const int64_t n0 = std::min(g.N, unitsN * bj / gridN * unitN);
    const int64_t n1 = std::min(g.N, unitsN * (bj + 1) / gridN * unitN);
    blocked(kr, g, direct, m0, m1, n0, n1);
  };
  // Each thread owns a contiguous run of blocks, so that from one call to the next the same
  // core writes the same part of C (it stays in that core's cache).
  parallelUnits(blocks, run);
}

template <typename T>
using KernelsFn = const GemmKernels<T>* (*)();

// An ISA's getter is called only once the CPU is known to run that ISA: its static initializer
// is compiled with the wider instruction set.
template <typename T>
const GemmKernels<T>& pick(KernelsFn<T> avx512, KernelsFn<T> avx2, KernelsFn<T> portable) {
  const Features& f = features();
  const char* env = std::getenv("KILN_GEMM_ISA");
  const std::string force = env ? env : "";
  const bool allow512 = force.empty() || force == "avx512";
  const bool allow2 = allow512 || force == "avx2";
  const GemmKernels<T>* k = nullptr;
  if (avx512 && allow512 && f.avx512f && f.avx2 && f.fma) k = avx512();
  if (!k && avx2 && allow2 && f.avx2 && f.fma) k = avx2();
  if (!k) k = portable();
  return *k;
}

}  // namespace

template <>
const GemmKernels<float>& gemmKernels<float>() {
  static const GemmKernels<float>& k = pick<float>(&avx512KernelsF32, &avx2KernelsF32, &portableKernelsF32);
  return k;
}
template <>
const GemmKernels<double>& gemmKernels<double>() {
  static const GemmKernels<double>& k = pick<double>(&avx512KernelsF64, &avx2KernelsF64, &portableKernelsF64);
  return k;
}
template <>
const GemmKernels<int32_t>& gemmKernels<int32_t>() {
  static const GemmKernels<int32_t>& k = pick<int32_t>(&avx512KernelsI32, &avx2KernelsI32, &portableKernelsI32);
  return k;
}

const char* gemmKernelName() { return gemmKernels<float>().name; }

template <typename T>
void gemmWith(const GemmKernels<T>& kr, int64_t M, int64_t N, int64_t K, const T* A, int64_t rsA, int64_t csA,
              const T* B, int64_t rsB, int64_t csB, T* C, int64_t rsC, int64_t csC, bool parallel,
              const GemmForce& force) {
  if (M <= 0 || N <= 0) return;
  Gemm<T> g{M, N, K, A, rsA, csA, B, rsB, csB, C, rsC, csC};
  if (K <= 0) return fillZero(g);
  if (force.transposed < 0) {
    if (M == 1) return gemvRow(kr, g, parallel);
    if (N == 1) return gemvRow(kr, g.transposed(), parallel);
  }
  // Either orientation computes the same C; take the one the cost model finds cheaper (N = 10
  // would fill a fifth of a 48-wide tile, but transposed, A might need a transposing pack).
  // Split across threads, each orientation is rated with its best grid: rated whole, an MLP's
  // x·Wᵀ (128 x 784 x 256) looked cheaper transposed, but its grid then gave every thread all
  // of W, and the Adam update that follows, writing W in halves, ran twice as slow.
  const Gemm<T> t = g.transposed();
  const Direct dAsIs = chooseDirect(kr, g, force), dFlipped = chooseDirect(kr, t, force);
  const int threads = parallel ? numThreads() : 1;
  if (threads > 1 && work(M, N, K) >= double(kGemmParallelWork)) {
    const Grid asIs = planGrid(kr, g, dAsIs, threads), flipped = planGrid(kr, t, dFlipped, threads);
    const bool flip = force.transposed >= 0 ? force.transposed == 1 : flipped.time < asIs.time;
    return flip ? parallelBlocked(kr, t, dFlipped, flipped) : parallelBlocked(kr, g, dAsIs, asIs);
  }
  const double asIs = estimateCycles(kr, g, dAsIs), flipped = estimateCycles(kr, t, dFlipped);
  const bool flip = force.transposed >= 0 ? force.transposed == 1 : flipped < asIs;
  if (flip)
    blocked(kr, t, dFlipped, 0, t.M, 0, t.N);
  else
    blocked(kr, g, dAsIs, 0, g.M, 0, g.N);
}

template <typename T>
void gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t rsA, int64_t csA, const T* B, int64_t rsB,
          int64_t csB, T* C, int64_t rsC, int64_t csC, bool parallel) {
  gemmWith(gemmKernels<T>(), M, N, K, A, rsA, csA, B, rsB, csB, C, rsC, csC, parallel, GemmForce{});
}

#define KILN_GEMM_INSTANTIATE(T)                                                                                \
  template void gemm<T>(int64_t, int64_t, int64_t, const T*, int64_t, int64_t, const T*, int64_t, int64_t, T*, \
                        int64_t, int64_t, bool);                                                                \
  template void gemmWith<T>(const GemmKernels<T>&, int64_t, int64_t, int64_t, const T*, int64_t, int64_t,      \
                            const T*, int64_t, int64_t, T*, int64_t, int64_t, bool, const GemmForce&);
KILN_GEMM_INSTANTIATE(float)
KILN_GEMM_INSTANTIATE(double)
KILN_GEMM_INSTANTIATE(int32_t)
#undef KILN_GEMM_INSTANTIATE

}  // namespace cpu
}  // namespace kiln
