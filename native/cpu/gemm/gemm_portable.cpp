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

template <typename T>
void micro(int64_t kc, int mr, int nr, const T* a, int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc,
           bool accumulate) {
  using A = typename Acc<T>::type;
  A acc[kMR][kNR] = {};
  // Packed: element [i][k] at a[k*mr + i]; direct: at a[i*lda + k].
  const int64_t rs = lda ? lda : 1, cs = lda ? 1 : mr;
  if (mr == kMR) {  // the common full-height tile, with constant bounds the compiler can unroll
    for (int64_t k = 0; k < kc; k++, b += ldb)
      for (int i = 0; i < kMR; i++)
        for (int j = 0; j < kNR; j++) acc[i][j] += A(a[i * rs + k * cs]) * A(b[j]);
  } else {
    for (int64_t k = 0; k < kc; k++, b += ldb)
      for (int i = 0; i < mr; i++)
        for (int j = 0; j < kNR; j++) acc[i][j] += A(a[i * rs + k * cs]) * A(b[j]);
  }
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++) {
      T* p = c + i * ldc + j;
      *p = static_cast<T>(accumulate ? A(*p) + acc[i][j] : acc[i][j]);
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
  // lanes: what a compiler's auto-vectorization of the 8-wide rows typically gets (SSE2, NEON)
  return GemmKernels<T>{name,      kMR,       kNR,          16 / int(sizeof(T)), 256,         128, 1024,
                        &micro<T>, &packA<T>, &packB<T>, &gemvRows<T>,         &gemvCols<T>};
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
