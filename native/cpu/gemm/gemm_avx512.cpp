// AVX-512 GEMM kernels: float32, float64 (and int32) with 8 x 3-vector register tiles (8x48 floats,
// 8x24 doubles): 24 of the 32 zmm registers accumulate, three hold B and one the broadcast A
// element. Rows of 8 keep typical batch sizes free of ragged edge tiles. A transposed B is
// packed through in-register transposes instead of gathers (a row-major A needs no packing:
// the driver reads it in place).
#include "kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "simd_gemm.h"

namespace kiln {
namespace cpu {
namespace {

inline __mmask16 mask16(int n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}
inline __mmask8 mask8(int n) { return n >= 8 ? __mmask8(0xFF) : n <= 0 ? __mmask8(0) : __mmask8((1u << n) - 1); }

struct F32x16 {
  using T = float;
  using V = __m512;
  using M = __mmask16;
  using I = __m512i;
  static constexpr int L = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(T x) { return _mm512_set1_ps(x); }
  static V load(const T* p) { return _mm512_loadu_ps(p); }
  static V loadm(const T* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(T* p, V v) { _mm512_storeu_ps(p, v); }
  static void storem(T* p, V v, M m) { _mm512_mask_storeu_ps(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static M mask(int n) { return mask16(n); }
  static I iota(int64_t s) {
    return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                              _mm512_set1_epi32(static_cast<int>(s)));
  }
  static V gather(const T* base, I idx, M m) { return _mm512_mask_i32gather_ps(zero(), m, idx, base, 4); }
  static void prefetch(const T* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
};

struct F64x8 {
  using T = double;
  using V = __m512d;
  using M = __mmask8;
  using I = __m256i;
  static constexpr int L = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V set1(T x) { return _mm512_set1_pd(x); }
  static V load(const T* p) { return _mm512_loadu_pd(p); }
  static V loadm(const T* p, M m) { return _mm512_maskz_loadu_pd(m, p); }
  static void store(T* p, V v) { _mm512_storeu_pd(p, v); }
  static void storem(T* p, V v, M m) { _mm512_mask_storeu_pd(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static M mask(int n) { return mask8(n); }
  static I iota(int64_t s) {
    return _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(static_cast<int>(s)));
  }
  static V gather(const T* base, I idx, M m) { return _mm512_mask_i32gather_pd(zero(), m, idx, base, 8); }
  static void prefetch(const T* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
};

// int32 products wrap, as vpmulld / vpaddd do.
struct I32x16 {
  using T = int32_t;
  using V = __m512i;
  using M = __mmask16;
  using I = __m512i;
  static constexpr int L = 16;
  static V zero() { return _mm512_setzero_si512(); }
  static V set1(T x) { return _mm512_set1_epi32(x); }
  static V load(const T* p) { return _mm512_loadu_si512(p); }
  static V loadm(const T* p, M m) { return _mm512_maskz_loadu_epi32(m, p); }
  static void store(T* p, V v) { _mm512_storeu_si512(p, v); }
  static void storem(T* p, V v, M m) { _mm512_mask_storeu_epi32(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_add_epi32(_mm512_mullo_epi32(a, b), c); }
  static V add(V a, V b) { return _mm512_add_epi32(a, b); }
  static M mask(int n) { return mask16(n); }
  static I iota(int64_t s) { return F32x16::iota(s); }
  static V gather(const T* base, I idx, M m) { return _mm512_mask_i32gather_epi32(zero(), m, idx, base, 4); }
  static void prefetch(const T* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
};

// ---------------------------------------------------------------- transposes
// Built from two-source permutes (vpermt2ps/pd) only: GCC 12's unpack/shuffle intrinsics trip
// -Wuninitialized inside its own headers.

inline __m512 perm(__m512 a, __m512i idx, __m512 b) { return _mm512_permutex2var_ps(a, idx, b); }
inline __m512d perm(__m512d a, __m512i idx, __m512d b) { return _mm512_permutex2var_pd(a, idx, b); }
inline __m512 perm64(__m512 a, __m512i idx, __m512 b) {
  return _mm512_castpd_ps(_mm512_permutex2var_pd(_mm512_castps_pd(a), idx, _mm512_castps_pd(b)));
}

struct TransposeIdx {
  __m512i lo32 = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  __m512i hi32 = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  __m512i lo64 = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
  __m512i hi64 = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
  __m512i lo128 = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  __m512i hi128 = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  __m512i lo256 = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  __m512i hi256 = _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  // the same lane moves counted in doubles
  __m512i lo128d = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
  __m512i hi128d = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
  __m512i lo256d = _mm512_setr_epi64(0, 1, 2, 3, 8, 9, 10, 11);
  __m512i hi256d = _mm512_setr_epi64(4, 5, 6, 7, 12, 13, 14, 15);
};

// 16 rows of 16 floats -> out[c] = column c.
inline void transpose16x16(const TransposeIdx& x, const __m512 r[16], __m512 out[16]) {
  __m512 p[16], q[16], w[16];
  for (int h = 0; h < 8; h++) {
    p[2 * h] = perm(r[2 * h], x.lo32, r[2 * h + 1]);
    p[2 * h + 1] = perm(r[2 * h], x.hi32, r[2 * h + 1]);
  }
  for (int g = 0; g < 4; g++)  // q[4g + s]: rows 4g..4g+3, columns 4s..4s+3
    for (int h = 0; h < 2; h++) {
      q[4 * g + 2 * h] = perm64(p[4 * g + h], x.lo64, p[4 * g + 2 + h]);
      q[4 * g + 2 * h + 1] = perm64(p[4 * g + h], x.hi64, p[4 * g + 2 + h]);
    }
  for (int h = 0; h < 2; h++)  // w[8h + 2s + y]: rows 8h..8h+7, columns 4s+2y and 4s+2y+1
    for (int s = 0; s < 4; s++) {
      w[8 * h + 2 * s] = perm(q[8 * h + s], x.lo128, q[8 * h + 4 + s]);
      w[8 * h + 2 * s + 1] = perm(q[8 * h + s], x.hi128, q[8 * h + 4 + s]);
    }
  for (int t = 0; t < 8; t++) {
    out[2 * t] = perm(w[t], x.lo256, w[8 + t]);
    out[2 * t + 1] = perm(w[t], x.hi256, w[8 + t]);
  }
}

// 8 rows of 8 doubles -> out[c] = column c.
inline void transpose8x8(const TransposeIdx& x, const __m512d r[8], __m512d out[8]) {
  __m512d p[8], q[8];
  for (int h = 0; h < 4; h++) {
    p[2 * h] = perm(r[2 * h], x.lo64, r[2 * h + 1]);
    p[2 * h + 1] = perm(r[2 * h], x.hi64, r[2 * h + 1]);
  }
  for (int g = 0; g < 2; g++)  // q[4g + s]: rows 4g..4g+3, columns 2s and 2s+1
    for (int h = 0; h < 2; h++) {
      q[4 * g + 2 * h] = perm(p[4 * g + h], x.lo128d, p[4 * g + 2 + h]);
      q[4 * g + 2 * h + 1] = perm(p[4 * g + h], x.hi128d, p[4 * g + 2 + h]);
    }
  for (int s = 0; s < 4; s++) {
    out[2 * s] = perm(q[s], x.lo256d, q[4 + s]);
    out[2 * s + 1] = perm(q[s], x.hi256d, q[4 + s]);
  }
}

// ---------------------------------------------------------------- packing fast paths

constexpr int kMR = 8;
constexpr int kNV = 3;

// B with unit row stride (a transposed operand): 16 x 16 blocks transposed in registers.
void packBF32(int64_t kc, int nr, const float* b, int64_t rs, int64_t cs, float* dst) {
  constexpr int NR = kNV * 16;
  if (rs != 1 || cs == 1) return packB<F32x16, kNV>(kc, nr, b, rs, cs, dst);
  const TransposeIdx x;
  for (int64_t k = 0; k < kc; k += 16) {
    const int n = kc - k < 16 ? static_cast<int>(kc - k) : 16;
    const __mmask16 m = mask16(n);
    for (int g = 0; g < kNV; g++) {
      const int rows = nr - 16 * g;
      float* d = dst + k * NR + 16 * g;
      if (rows <= 0) {
        for (int kk = 0; kk < n; kk++) _mm512_storeu_ps(d + kk * NR, _mm512_setzero_ps());
        continue;
      }
      __m512 r[16], out[16];
      for (int j = 0; j < 16; j++)
        r[j] = j < rows ? _mm512_maskz_loadu_ps(m, b + (16 * g + j) * cs + k) : _mm512_setzero_ps();
      transpose16x16(x, r, out);
      for (int kk = 0; kk < n; kk++) _mm512_storeu_ps(d + kk * NR, out[kk]);
    }
  }
}

void packBF64(int64_t kc, int nr, const double* b, int64_t rs, int64_t cs, double* dst) {
  constexpr int NR = kNV * 8;
  if (rs != 1 || cs == 1) return packB<F64x8, kNV>(kc, nr, b, rs, cs, dst);
  const TransposeIdx x;
  for (int64_t k = 0; k < kc; k += 8) {
    const int n = kc - k < 8 ? static_cast<int>(kc - k) : 8;
    const __mmask8 m = mask8(n);
    for (int g = 0; g < kNV; g++) {
      const int rows = nr - 8 * g;
      double* d = dst + k * NR + 8 * g;
      if (rows <= 0) {
        for (int kk = 0; kk < n; kk++) _mm512_storeu_pd(d + kk * NR, _mm512_setzero_pd());
        continue;
      }
      __m512d r[8], out[8];
      for (int j = 0; j < 8; j++)
        r[j] = j < rows ? _mm512_maskz_loadu_pd(m, b + (8 * g + j) * cs + k) : _mm512_setzero_pd();
      transpose8x8(x, r, out);
      for (int kk = 0; kk < n; kk++) _mm512_storeu_pd(d + kk * NR, out[kk]);
    }
  }
}

}  // namespace

const GemmKernels<float>* avx512KernelsF32() {
  static const GemmKernels<float> k = [] {
    GemmKernels<float> s = makeKernels<F32x16, kMR, kNV>("avx512 f32 8x48", 384, 192, 3072);
    s.packB = &packBF32;
    return s;
  }();
  return &k;
}
const GemmKernels<double>* avx512KernelsF64() {
  static const GemmKernels<double> k = [] {
    GemmKernels<double> s = makeKernels<F64x8, kMR, kNV>("avx512 f64 8x24", 256, 192, 1536);
    s.packB = &packBF64;
    return s;
  }();
  return &k;
}

const GemmKernels<int32_t>* avx512KernelsI32() {
  static const GemmKernels<int32_t> k = makeKernels<I32x16, kMR, kNV>("avx512 i32 8x48", 384, 192, 3072);
  return &k;
}

}  // namespace cpu
}  // namespace kiln

#else

namespace kiln {
namespace cpu {
const GemmKernels<float>* avx512KernelsF32() { return nullptr; }
const GemmKernels<double>* avx512KernelsF64() { return nullptr; }
const GemmKernels<int32_t>* avx512KernelsI32() { return nullptr; }
}  // namespace cpu
}  // namespace kiln

#endif
