// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), and the
// stream layout every backend follows so that the same seed and offset give bit-identical draws
// on CPU and CUDA. Compiles as host and device code.
//
// Stream layout: key = (seed & 0xffffffff, seed >> 32); block b is the counter
// (b & 0xffffffff, b >> 32, 0, 0) and yields four 32-bit words w0..w3.
// - 1 word per element ("lanes of 4"): float32 uniform, float32 normal (Box-Muller on lane pairs),
//   bernoulli, randint. Element i reads block offset + i/4, lane i%4.
// - float64 uniform and normal use 2 words per element: element i reads block offset + i/2,
//   lanes 2*(i%2) and 2*(i%2)+1 (normal: Box-Muller on the two uniforms of the block).
// A draw of n elements consumes blocksFor(n, wordsPerElement) blocks; the TypeScript side
// advances the global offset by that much after every random op.
//
// Words become values through the functions at the end of this file (uniformF32 ... randint),
// which every backend calls as they are. They use only IEEE-754 double +, -, *, / and sqrt,
// each correctly rounded and never fused into an FMA (CUDA: the __d*_rn intrinsics; host: FMA
// contraction switched off for that section), plus a log and a sin/cos built from those, so the
// results are the same bits on every device and compiler. Formulas (u: uniforms as defined
// below, exact in double):
// - uniform [a, b):  a + (b - a) * u, rounded to the output type; a result that rounds up to b
//   is replaced by the next value below it.
// - normal (mean a, std b): Box-Muller on a pair of uniforms, u1 in (0, 1] and u2 in [0, 1):
//   r = sqrt(-2 log u1), z0 = r cos(2 pi u2), z1 = r sin(2 pi u2); value = a + b * z, rounded
//   to the output type at the very end. float32: lanes (0,1) give elements 4k, 4k+1 and lanes
//   (2,3) give 4k+2, 4k+3, with u1 = uniform24Open(even lane), u2 = uniform24(odd lane).
//   float64: block k gives elements 2k (z0) and 2k+1 (z1) from u1 = uniform53Open(w0, w1),
//   u2 = uniform53(w2, w3).
// - bernoulli(p = a): 1 if uniform24(w) < p else 0 (p = 1 always gives 1, p = 0 never).
// - randint [a, b): a + floor(w * (b - a) / 2^32), exact in 64-bit integers.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define KILN_HD __host__ __device__ __forceinline__
#else
#define KILN_HD inline
#endif

namespace kiln {
namespace philox {

struct Words { uint32_t w[4]; };

KILN_HD uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

KILN_HD Words block(uint64_t seed, uint64_t counter) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
  uint32_t c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; round++) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo(0xD2511F53u, c0, &hi0);
    uint32_t lo1 = mulhilo(0xCD9E8D57u, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Words{{c0, c1, c2, c3}};
}

inline uint64_t blocksFor(uint64_t n, int wordsPerElement) {
  uint64_t perBlock = 4 / wordsPerElement;
  return (n + perBlock - 1) / perBlock;
}

// [0, 1) with 24 random bits.
// (The int32 casts change nothing, w >> 8 < 2^24, but let loops over lanes vectorize.)
KILN_HD float uniform24(uint32_t w) { return static_cast<float>(static_cast<int32_t>(w >> 8)) * 5.9604644775390625e-8f; }
// (0, 1] with 24 random bits, safe for log().
KILN_HD float uniform24Open(uint32_t w) {
  return static_cast<float>(static_cast<int32_t>((w >> 8) + 1)) * 5.9604644775390625e-8f;
}
// [0, 1) with 53 random bits.
KILN_HD double uniform53(uint32_t hi, uint32_t lo) {
  uint64_t bits = (static_cast<uint64_t>(hi) << 21) ^ (lo >> 11);
  return static_cast<double>(bits) * 1.1102230246251565e-16;
}
KILN_HD double uniform53Open(uint32_t hi, uint32_t lo) {
  uint64_t bits = (static_cast<uint64_t>(hi) << 21) ^ (lo >> 11);
  return static_cast<double>(bits + 1) * 1.1102230246251565e-16;
}

// [low, high) from one word without division: floor(w * range / 2^32).
KILN_HD int64_t randint(uint32_t w, int64_t low, uint64_t range) {
  return low + static_cast<int64_t>((static_cast<uint64_t>(w) * range) >> 32);
}

// ---------------------------------------------------------------- reproducible transforms
// Everything below must give the same bits on every backend: see the header comment.
#if !defined(__CUDACC__) && defined(__GNUC__) && !defined(__clang__) && defined(__FP_FAST_FMA)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

namespace exact {
#if defined(__CUDA_ARCH__)
KILN_HD double add(double a, double b) { return __dadd_rn(a, b); }
KILN_HD double sub(double a, double b) { return __dsub_rn(a, b); }
KILN_HD double mul(double a, double b) { return __dmul_rn(a, b); }
KILN_HD double div(double a, double b) { return __ddiv_rn(a, b); }
KILN_HD double sqrt(double a) { return __dsqrt_rn(a); }
KILN_HD uint64_t bitsOf(double x) { return static_cast<uint64_t>(__double_as_longlong(x)); }
KILN_HD double fromBits(uint64_t b) { return __longlong_as_double(static_cast<long long>(b)); }
KILN_HD uint32_t bitsOf(float x) { return static_cast<uint32_t>(__float_as_int(x)); }
KILN_HD float fromBits32(uint32_t b) { return __int_as_float(static_cast<int>(b)); }
#else
// Separate functions (with contraction off under GCC) so that no a * b + c becomes an FMA.
inline double add(double a, double b) { return a + b; }
inline double sub(double a, double b) { return a - b; }
inline double mul(double a, double b) { return a * b; }
inline double div(double a, double b) { return a / b; }
inline double sqrt(double a) { return std::sqrt(a); }
inline uint64_t bitsOf(double x) { uint64_t b; std::memcpy(&b, &x, 8); return b; }
inline double fromBits(uint64_t b) { double x; std::memcpy(&x, &b, 8); return x; }
inline uint32_t bitsOf(float x) { uint32_t b; std::memcpy(&b, &x, 4); return b; }
inline float fromBits32(uint32_t b) { float x; std::memcpy(&x, &b, 4); return x; }
#endif

// Natural log of a positive normal double (fdlibm e_log.c, < 1 ulp): x = 2^k (1 + f) with
// sqrt(2)/2 < 1 + f < sqrt(2), log(1 + f) = 2 atanh(s), s = f / (2 + f).
KILN_HD double log(double x) {
  uint64_t b = bitsOf(x);
  int k = static_cast<int>((b >> 52) & 0x7ff) - 1023;
  double m = fromBits((b & 0x000fffffffffffffull) | 0x3ff0000000000000ull);  // [1, 2)
  const bool high = m > 1.4142135623730951;  // selects, not branches: loops over lanes vectorize
  m = high ? mul(m, 0.5) : m;
  k += high ? 1 : 0;
  const double f = sub(m, 1.0);  // exact (Sterbenz)
  const double dk = static_cast<double>(k);
  const double s = div(f, add(2.0, f));
  const double z = mul(s, s), w = mul(z, z);
  const double t1 = mul(w, add(3.999999999940941908e-01, mul(w, add(2.222219843214978396e-01,
                                                                      mul(w, 1.531383769920937332e-01)))));
  const double t2 = mul(z, add(6.666666666666735130e-01,
                               mul(w, add(2.857142874366239149e-01,
                                          mul(w, add(1.818357216161805012e-01, mul(w, 1.479819860511658591e-01)))))));
  const double r = add(t2, t1);
  const double hfsq = mul(mul(0.5, f), f);
  // k ln2_hi - ((hfsq - (s (hfsq + R) + k ln2_lo)) - f)
  return sub(mul(dk, 6.93147180369123816490e-01),
             sub(sub(hfsq, add(mul(s, add(hfsq, r)), mul(dk, 1.90821492927058770002e-10))), f));
}

// sin and cos of x in [-pi/4, pi/4] (fdlibm __kernel_sin / __kernel_cos with y = 0).
KILN_HD double sinKernel(double x) {
  const double z = mul(x, x), v = mul(z, x);
  const double r = add(8.33333333332248946124e-03,
                       mul(z, add(-1.98412698298579493134e-04,
                                  mul(z, add(2.75573137070700676789e-06,
                                             mul(z, add(-2.50507602534068634195e-08,
                                                        mul(z, 1.58969099521155010221e-10))))))));
  return add(x, mul(v, add(-1.66666666666666324348e-01, mul(z, r))));
}
KILN_HD double cosKernel(double x) {
  const double z = mul(x, x);
  const double r = mul(z, add(4.16666666666666019037e-02,
                              mul(z, add(-1.38888888888741095749e-03,
                                         mul(z, add(2.48015872894767294178e-05,
                                                    mul(z, add(-2.75573143513906633035e-07,
                                                               mul(z, add(2.08757232129817482790e-09,
                                                                          mul(z, -1.13596475577881948265e-11)))))))))));
  const double hz = mul(0.5, z), w = sub(1.0, hz);
  return add(w, add(sub(sub(1.0, w), hz), mul(z, r)));
}

// sin(2 pi u) and cos(2 pi u) for u in [0, 1): the turn is split into quarter turns exactly
// (4u = q + r, |r| <= 1/2), so only r pi/2 in [-pi/4, pi/4] goes through the kernels.
KILN_HD void sinCos2Pi(double u, double* s, double* c) {
  const double t = mul(u, 4.0);  // exact
  int q = static_cast<int>(t);  // floor, t >= 0
  double r = sub(t, static_cast<double>(q));  // exact, [0, 1)
  const bool up = r > 0.5;
  r = up ? sub(r, 1.0) : r;
  q += up ? 1 : 0;
  const double x = mul(r, 1.57079632679489661923);
  const double sx = sinKernel(x), cx = cosKernel(x);
  // Rotate by q quarter turns: q = 0: (sx, cx), 1: (cx, -sx), 2: (-sx, -cx), 3: (-cx, sx).
  const double a = (q & 1) ? cx : sx, b = (q & 1) ? sx : cx;
  *s = (q & 2) ? -a : a;
  *c = ((q + 1) & 2) ? -b : b;
}

// The representable value just below x (x finite, not the most negative).
KILN_HD float below(float x) {
  uint32_t b = bitsOf(x);
  if (x > 0.0f) return fromBits32(b - 1);
  if (x == 0.0f) return -fromBits32(1u);
  return fromBits32(b + 1);
}
KILN_HD double below(double x) {
  uint64_t b = bitsOf(x);
  if (x > 0.0) return fromBits(b - 1);
  if (x == 0.0) return -fromBits(uint64_t{1});
  return fromBits(b + 1);
}
}  // namespace exact

// Box-Muller on one pair of uniforms, u1 in (0, 1], u2 in [0, 1): (r cos, r sin) in double.
// native/cpu/random_simd_impl.h transcribes log, sinCos2Pi and this function lane for lane for
// the CPU's vector units: change them together (the random tests compare the bits).
KILN_HD void boxMuller(double u1, double u2, double* z0, double* z1) {
  const double r = exact::sqrt(exact::mul(-2.0, exact::log(u1)));
  double s, c;
  exact::sinCos2Pi(u2, &s, &c);
  *z0 = exact::mul(r, c);
  *z1 = exact::mul(r, s);
}

// uniform [a, b) from one word (float32) or two (float64: hi, lo). uniformF32Rounded is the
// value before the "< b" fix-up, for loops that do the (rare) fix-up apart.
KILN_HD float uniformF32Rounded(uint32_t w, double a, double b) {
  return static_cast<float>(exact::add(a, exact::mul(exact::sub(b, a), static_cast<double>(uniform24(w)))));
}
KILN_HD float uniformF32(uint32_t w, double a, double b) {
  float f = uniformF32Rounded(w, a, b);
  while (a < b && static_cast<double>(f) >= b) f = exact::below(f);
  return f;
}
KILN_HD double uniformF64(uint32_t hi, uint32_t lo, double a, double b) {
  double v = exact::add(a, exact::mul(exact::sub(b, a), uniform53(hi, lo)));
  while (a < b && v >= b) v = exact::below(v);
  return v;
}

// normal(mean, std): two float32 values from the lane pair (w0, w1) ...
KILN_HD void normalF32(uint32_t w0, uint32_t w1, double mean, double std, float* out0, float* out1) {
  double z0, z1;
  boxMuller(static_cast<double>(uniform24Open(w0)), static_cast<double>(uniform24(w1)), &z0, &z1);
  *out0 = static_cast<float>(exact::add(mean, exact::mul(std, z0)));
  *out1 = static_cast<float>(exact::add(mean, exact::mul(std, z1)));
}
// ... or two float64 values from a whole block.
KILN_HD void normalF64(const Words& w, double mean, double std, double* out0, double* out1) {
  double z0, z1;
  boxMuller(uniform53Open(w.w[0], w.w[1]), uniform53(w.w[2], w.w[3]), &z0, &z1);
  *out0 = exact::add(mean, exact::mul(std, z0));
  *out1 = exact::add(mean, exact::mul(std, z1));
}

KILN_HD bool bernoulli(uint32_t w, double p) { return static_cast<double>(uniform24(w)) < p; }
// The same test in integers, for loops that vectorize: bernoulli(w, p) == (w >> 8) < threshold
// for p in [0, 1], since uniform24(w) = m 2^-24 exactly (m = w >> 8), and for an integer m,
// m 2^-24 < p <=> m < p 2^24 (exact: a power-of-two scaling) <=> m < ceil(p 2^24) <= 2^24.
KILN_HD int32_t bernoulliThreshold(double p) { return static_cast<int32_t>(ceil(exact::mul(p, 16777216.0))); }

#if !defined(__CUDACC__) && defined(__GNUC__) && !defined(__clang__) && defined(__FP_FAST_FMA)
#pragma GCC pop_options
#endif

}  // namespace philox
}  // namespace kiln
