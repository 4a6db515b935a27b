// Portable GEMM kernels in plain C++: the fallback for CPUs without AVX2 (and for arm64, where
// the compiler vectorizes them with NEON), and the only kernels for int32.
#include <cstdint>

#include "kernels.h"

namespace kiln {
namespace cpu {
namespace {

constexpr int kMR = 4;
constexpr int kNR = 8;

// int32 products wrap; unsigned arithmetic gives that without signed-overflow UB.
template <typename T> struct Acc { using type = T; };
template <> struct Acc<int32_t> { using type = uint32_t; };

// acc[i][0:kNR] += a(i, k) * b[k][0:kNR] over kc steps for a packed A panel of kMR rows and a
// packed B panel. Every stride is constant and each row of b is copied into a local first:
// that is what makes GCC vectorize along j (otherwise it vectorizes along k, with a gather and
// shuffles per step, at a quarter of the speed).
template <typename A, typename T>
void accumulatePacked(int64_t kc, const T* a, const T* b, A acc[kMR][kNR]) {
  for (int64_t k = 0; k < kc; k++, a += kMR, b += kNR) {
    A bk[kNR];
    for (int j = 0; j < kNR; j++) bk[j] = A(b[j]);
    for (int i = 0; i < kMR; i++) {
      const A av = A(a[i]);
      for (int j = 0; j < kNR; j++) acc[i][j] += av * bk[j];
    }
  }
}

// Any other tile: a(i, k) at a[i*rs + k*cs], b rows ldb apart.
template <typename A, typename T>
void accumulateAny(int64_t kc, int mr, const T* a, int64_t rs, int64_t cs, const T* b, int64_t ldb,
                   A acc[kMR][kNR]) {
  for (int64_t k = 0; k < kc; k++, b += ldb)
    for (int i = 0; i < mr; i++) {
      const A av = A(a[i * rs + k * cs]);
      for (int j = 0; j < kNR; j++) acc[i][j] += av * A(b[j]);
    }
}

template <typename T>
void micro(int64_t kc, int mr, int nr, const T* a, int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc,
           bool accumulateC) {
  using A = typename Acc<T>::type;
  A acc[kMR][kNR] = {};
  // Packed: element [i][k] at a[k*mr + i]; in place: at a[i*lda + k].
  if (!lda && mr == kMR && ldb == kNR)
    accumulatePacked<A, T>(kc, a, b, acc);
  else
    accumulateAny<A, T>(kc, mr, a, lda ? lda : 1, lda ? 1 : mr, b, ldb, acc);
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++) {
      T* p = c + i * ldc + j;
      *p = static_cast<T>(accumulateC ? A(*p) + acc[i][j] : acc[i][j]);
    }
}

template <typename T>
void packA(int64_t kc, int mr, const T* a, int64_t rs, int64_t cs, T* dst) {
  for (int64_t k = 0; k < kc; k++, dst += mr)
    for (int i = 0; i < mr; i++) dst[i] = a[i * rs + k * cs];
}

template <typename T>
void packB(int64_t kc, int nr, const T* b, int64_t rs, int64_t cs, T* dst) {
  for (int64_t k = 0; k < kc; k++, dst += kNR)
    for (int j = 0; j < kNR; j++) dst[j] = j < nr ? b[k * rs + j * cs] : T(0);
}

template <typename T>
void gemvRows(int64_t K, int64_t N, const T* a, const T* b, int64_t ld, T* c) {
  using A = typename Acc<T>::type;
  for (int64_t j = 0; j < N; j++) c[j] = T(0);
  for (int64_t k = 0; k < K; k++) {
    const T* row = b + k * ld;
    A ak = A(a[k]);
    for (int64_t j = 0; j < N; j++) c[j] = static_cast<T>(A(c[j]) + ak * A(row[j]));
  }
}

template <typename T>
void gemvCols(int64_t K, int64_t N, const T* a, const T* b, int64_t ld, T* c) {
  using A = typename Acc<T>::type;
  for (int64_t j = 0; j < N; j++) {
    const T* col = b + j * ld;
    A s = A(0);
    for (int64_t k = 0; k < K; k++) s += A(a[k]) * A(col[k]);
    c[j] = static_cast<T>(s);
  }
}

template <typename T>
GemmKernels<T> make(const char* name) {
  GemmKernels<T> k{};
  k.name = name;
  k.mr = kMR;
  k.nr = kNR;
  k.lanes = 16 / int(sizeof(T));  // what auto-vectorization of the 8-wide rows gets (SSE2, NEON)
  k.inPlace = false;              // only the all-packed tile vectorizes well
  k.kc = 256;
  k.mc = 128;
  k.nc = 1024;
  k.micro = &micro<T>;
  k.packA = &packA<T>;
  k.packB = &packB<T>;
  k.gemvRows = &gemvRows<T>;
  k.gemvCols = &gemvCols<T>;
  return k;
}

}  // namespace

const GemmKernels<float>* portableKernelsF32() {
  static const GemmKernels<float> k = make<float>("portable f32 4x8");
  return &k;
}
const GemmKernels<double>* portableKernelsF64() {
  static const GemmKernels<double> k = make<double>("portable f64 4x8");
  return &k;
}
const GemmKernels<int32_t>* portableKernelsI32() {
  static const GemmKernels<int32_t> k = make<int32_t>("portable i32 4x8");
  return &k;
}

}  // namespace cpu
}  // namespace kiln
