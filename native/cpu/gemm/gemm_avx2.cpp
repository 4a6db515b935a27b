// AVX2 + FMA GEMM kernels: float32, float64 and int32, 6 x 2-vector register tiles (12 of the 16 ymm
// registers accumulate; the rest hold two B vectors and the broadcast A element).
#include "kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "simd_gemm.h"

namespace kiln {
namespace cpu {
namespace {

inline int clampLanes(int n, int lanes) { return n < 0 ? 0 : n > lanes ? lanes : n; }

struct F32x8 {
  using T = float;
  using V = __m256;
  using M = __m256i;  // lane i enabled when its sign bit is set
  using I = __m256i;
  static constexpr int L = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(T x) { return _mm256_set1_ps(x); }
  static V load(const T* p) { return _mm256_loadu_ps(p); }
  static V loadm(const T* p, M m) { return _mm256_maskload_ps(p, m); }
  static void store(T* p, V v) { _mm256_storeu_ps(p, v); }
  static void storem(T* p, V v, M m) { _mm256_maskstore_ps(p, m, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static M mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(clampLanes(n, 8)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static I iota(int64_t s) {
    return _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(static_cast<int>(s)));
  }
  static V gather(const T* base, I idx, M m) {
    return _mm256_mask_i32gather_ps(zero(), base, idx, _mm256_castsi256_ps(m), 4);
  }
  static void prefetch(const T* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
};

struct F64x4 {
  using T = double;
  using V = __m256d;
  using M = __m256i;
  using I = __m128i;
  static constexpr int L = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V set1(T x) { return _mm256_set1_pd(x); }
  static V load(const T* p) { return _mm256_loadu_pd(p); }
  static V loadm(const T* p, M m) { return _mm256_maskload_pd(p, m); }
  static void store(T* p, V v) { _mm256_storeu_pd(p, v); }
  static void storem(T* p, V v, M m) { _mm256_maskstore_pd(p, m, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static M mask(int n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(clampLanes(n, 4)), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  static I iota(int64_t s) { return _mm_mullo_epi32(_mm_setr_epi32(0, 1, 2, 3), _mm_set1_epi32(static_cast<int>(s))); }
  static V gather(const T* base, I idx, M m) {
    return _mm256_mask_i32gather_pd(zero(), base, idx, _mm256_castsi256_pd(m), 8);
  }
  static void prefetch(const T* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
};

// int32 products wrap, as vpmulld / vpaddd do.
struct I32x8 {
  using T = int32_t;
  using V = __m256i;
  using M = __m256i;
  using I = __m256i;
  static constexpr int L = 8;
  static V zero() { return _mm256_setzero_si256(); }
  static V set1(T x) { return _mm256_set1_epi32(x); }
  static V load(const T* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static V loadm(const T* p, M m) { return _mm256_maskload_epi32(p, m); }
  static void store(T* p, V v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static void storem(T* p, V v, M m) { _mm256_maskstore_epi32(p, m, v); }
  static V fma(V a, V b, V c) { return _mm256_add_epi32(_mm256_mullo_epi32(a, b), c); }
  static V add(V a, V b) { return _mm256_add_epi32(a, b); }
  static M mask(int n) { return F32x8::mask(n); }
  static I iota(int64_t s) { return F32x8::iota(s); }
  static V gather(const T* base, I idx, M m) { return _mm256_mask_i32gather_epi32(zero(), base, idx, m, 4); }
  static void prefetch(const T* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
};

}  // namespace

const GemmKernels<float>* avx2KernelsF32() {
  static const GemmKernels<float> k = makeKernels<F32x8, 6, 2>("avx2 f32 6x16", 256, 96, 2048);
  return &k;
}
const GemmKernels<double>* avx2KernelsF64() {
  static const GemmKernels<double> k = makeKernels<F64x4, 6, 2>("avx2 f64 6x8", 256, 96, 1024);
  return &k;
}

const GemmKernels<int32_t>* avx2KernelsI32() {
  static const GemmKernels<int32_t> k = makeKernels<I32x8, 6, 2>("avx2 i32 6x16", 256, 96, 2048);
  return &k;
}

}  // namespace cpu
}  // namespace kiln

#else

namespace kiln {
namespace cpu {
const GemmKernels<float>* avx2KernelsF32() { return nullptr; }
const GemmKernels<double>* avx2KernelsF64() { return nullptr; }
const GemmKernels<int32_t>* avx2KernelsI32() { return nullptr; }
}  // namespace cpu
}  // namespace kiln

#endif
