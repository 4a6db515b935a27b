// The pieces the GEMM driver (gemm.cpp) assembles: one set per ISA and dtype.
//
// The driver packs A into row panels of `mr` rows (element [i][k] at k*mr + i) unless it can
// read a row-major A in place, and B into column panels of `nr` columns (element [k][j] at
// k*nr + j, zero padded to nr) unless the product is small, then calls the micro-kernel on one
// mr x nr tile of C at a time. Each ISA file fills a GemmKernels for the types it accelerates;
// the driver picks one at run time from cpu::features().
#pragma once
#include <cstdint>

namespace kiln {
namespace cpu {

template <typename T>
struct GemmKernels {
  const char* name;
  int mr, nr;      // register tile: rows of A, columns of B
  int lanes;       // elements per vector register (the cost model counts partial vectors)
  bool inPlace;    // the micro-kernel runs as fast on row-major operands read in place
  int kc, mc, nc;  // cache blocks: depth, rows of A per packed block, columns of B per packed block

  // c[0:mr, 0:nr] = (accumulate ? c : 0) + a·b over kc steps. a: a packed panel of mr rows when
  // lda == 0, else a row-major block with row stride lda. b: rows ldb apart, each with nr valid
  // columns and readable up to the set's nr (packed panels are zero padded). c: row stride
  // ldc, unit column stride.
  void (*micro)(int64_t kc, int mr, int nr, const T* a, int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc,
                bool accumulate);
  // dst[k*mr + i] = a[i*rs + k*cs] for i < mr (<= the set's mr), k < kc.
  void (*packA)(int64_t kc, int mr, const T* a, int64_t rs, int64_t cs, T* dst);
  // dst[k*NR + j] = b[k*rs + j*cs] for j < nr, and 0 for nr <= j < NR (the set's nr).
  void (*packB)(int64_t kc, int nr, const T* b, int64_t rs, int64_t cs, T* dst);
  // Matrix-vector products for a single row of output, c[j] = sum_k a[k] * b[k][j], j < n,
  // a and c contiguous. Rows: b[k][j] = b[k*ld + j]. Cols: b[k][j] = b[j*ld + k].
  void (*gemvRows)(int64_t k, int64_t n, const T* a, const T* b, int64_t ld, T* c);
  void (*gemvCols)(int64_t k, int64_t n, const T* a, const T* b, int64_t ld, T* c);
};

// Each returns nullptr when the ISA file was not compiled for this architecture. Call an ISA's
// getter only on a CPU that runs the ISA (its initializer is compiled with it).
const GemmKernels<float>* avx512KernelsF32();
const GemmKernels<double>* avx512KernelsF64();
const GemmKernels<float>* avx2KernelsF32();
const GemmKernels<double>* avx2KernelsF64();
const GemmKernels<int32_t>* avx512KernelsI32();
const GemmKernels<int32_t>* avx2KernelsI32();
const GemmKernels<float>* portableKernelsF32();
const GemmKernels<double>* portableKernelsF64();
const GemmKernels<int32_t>* portableKernelsI32();

// The best set this CPU runs (honours KILN_GEMM_ISA=portable|avx2|avx512 to force a lower one).
template <typename T>
const GemmKernels<T>& gemmKernels();

// Choices the driver normally makes itself, forced so that tests reach every path (and by
// callers that know their operands better, e.g. conv.cpp's short unfolded columns): -1 leaves
// the choice to the driver, 0/1 forces it off/on (reading an operand in place still needs a
// unit column stride). Forcing the orientation also skips the matrix-vector path.
struct GemmForce {
  int directA = -1, directB = -1, transposed = -1;
};

// The driver on an explicit kernel set: tests compare every ISA on one machine with it.
template <typename T>
void gemmWith(const GemmKernels<T>& kernels, int64_t M, int64_t N, int64_t K, const T* A, int64_t rsA,
              int64_t csA, const T* B, int64_t rsB, int64_t csB, T* C, int64_t rsC, int64_t csC, bool parallel,
              const GemmForce& force);

}  // namespace cpu
}  // namespace kiln
