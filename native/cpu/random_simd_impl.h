// The normal-distribution transforms of native/core/philox.h (exact::log, sinCos2Pi, boxMuller,
// normalF32, normalF64) written over a double vector type D, instantiated by random_avx2.cpp
// (4 lanes) and random_avx512.cpp (8 lanes). Every step is the same IEEE operation, in the same
// order, as the scalar code (vector mul/add/sub/div/sqrt are correctly rounded and never fused),
// so each lane gives the scalar result bit for bit; the random tests check it. Keep the two in
// step when either changes. Include only from those files: everything is a template on D, and
// nothing here calls philox.h (its inline functions must not be compiled with AVX flags).
//
// D provides: W, set1, + - * / (as add/sub/mul/div), vsqrt, lt/gt/eq masks (D::M, combined
// with |), vselect(m, a, b), neg (sign flip), vtrunc; and on 64-bit lanes D::U: loads of the
// word pairs, & | ^ >> <<, and asDouble/asBits.
#pragma once
#include <cstdint>

namespace kiln {
namespace cpu {
namespace simd {
namespace rimpl {

// A 64-bit lane holding an integer below 2^52, as a double (exact): the bits of 2^52 + v, minus 2^52.
template <class D>
D smallToDouble(typename D::U v) {
  using U = typename D::U;
  return sub(asDouble(v | U::set1(0x4330000000000000ull)), D::set1(4503599627370496.0));
}

template <class D>
D logV(D x) {
  using U = typename D::U;
  const U b = asBits(x);
  D m = asDouble((b & U::set1(0x000fffffffffffffull)) | U::set1(0x3ff0000000000000ull));
  const typename D::M high = gt(m, D::set1(1.4142135623730951));
  m = vselect(high, mul(m, D::set1(0.5)), m);
  // k = exponent field - 1023 (+1 when high), exact in double
  D dk = sub(smallToDouble<D>(b >> 52), D::set1(1023.0));
  dk = vselect(high, add(dk, D::set1(1.0)), dk);
  const D f = sub(m, D::set1(1.0));
  const D s = div(f, add(D::set1(2.0), f));
  const D z = mul(s, s), w = mul(z, z);
  const D t1 = mul(w, add(D::set1(3.999999999940941908e-01),
                          mul(w, add(D::set1(2.222219843214978396e-01), mul(w, D::set1(1.531383769920937332e-01))))));
  const D t2 = mul(z, add(D::set1(6.666666666666735130e-01),
                          mul(w, add(D::set1(2.857142874366239149e-01),
                                     mul(w, add(D::set1(1.818357216161805012e-01),
                                                mul(w, D::set1(1.479819860511658591e-01))))))));
  const D r = add(t2, t1);
  const D hfsq = mul(mul(D::set1(0.5), f), f);
  return sub(mul(dk, D::set1(6.93147180369123816490e-01)),
             sub(sub(hfsq, add(mul(s, add(hfsq, r)), mul(dk, D::set1(1.90821492927058770002e-10)))), f));
}

template <class D>
D sinKernelV(D x) {
  const D z = mul(x, x), v = mul(z, x);
  const D r = add(D::set1(8.33333333332248946124e-03),
                  mul(z, add(D::set1(-1.98412698298579493134e-04),
                             mul(z, add(D::set1(2.75573137070700676789e-06),
                                        mul(z, add(D::set1(-2.50507602534068634195e-08),
                                                   mul(z, D::set1(1.58969099521155010221e-10)))))))));
  return add(x, mul(v, add(D::set1(-1.66666666666666324348e-01), mul(z, r))));
}

template <class D>
D cosKernelV(D x) {
  const D z = mul(x, x);
  const D r = mul(z, add(D::set1(4.16666666666666019037e-02),
                         mul(z, add(D::set1(-1.38888888888741095749e-03),
                                    mul(z, add(D::set1(2.48015872894767294178e-05),
                                               mul(z, add(D::set1(-2.75573143513906633035e-07),
                                                          mul(z, add(D::set1(2.08757232129817482790e-09),
                                                                     mul(z, D::set1(-1.13596475577881948265e-11))))))))))));
  const D hz = mul(D::set1(0.5), z), w = sub(D::set1(1.0), hz);
  return add(w, add(sub(sub(D::set1(1.0), w), hz), mul(z, r)));
}

// (r cos 2 pi u2, r sin 2 pi u2) with r = sqrt(-2 log u1): philox::boxMuller per lane.
template <class D>
void boxMullerV(D u1, D u2, D* z0, D* z1) {
  const D rad = vsqrt(mul(D::set1(-2.0), logV(u1)));
  const D t = mul(u2, D::set1(4.0));
  D q = vtrunc(t);
  D r = sub(t, q);
  const typename D::M up = gt(r, D::set1(0.5));
  r = vselect(up, sub(r, D::set1(1.0)), r);
  q = vselect(up, add(q, D::set1(1.0)), q);
  const D x = mul(r, D::set1(1.57079632679489661923));
  const D sx = sinKernelV(x), cx = cosKernelV(x);
  // q in {0, ..., 4}: odd = q & 1, q & 2 = {2, 3}, (q + 1) & 2 = {1, 2}
  const typename D::M odd = eq(q, D::set1(1.0)) | eq(q, D::set1(3.0));
  const typename D::M negS = eq(q, D::set1(2.0)) | eq(q, D::set1(3.0));
  const typename D::M negC = eq(q, D::set1(1.0)) | eq(q, D::set1(2.0));
  const D a = vselect(odd, cx, sx), b = vselect(odd, sx, cx);
  const D s = vselect(negS, neg(a), a), c = vselect(negC, neg(b), b);
  *z0 = mul(rad, c);
  *z1 = mul(rad, s);
}

// float32 normals from word pairs: out[2j], out[2j + 1] from (w[2j], w[2j + 1]), j < pairs.
// Returns the pairs done (a multiple of W); the caller finishes the rest with philox::normalF32.
template <class D>
int64_t normalF32Loop(const uint32_t* w, int64_t pairs, double mean, double std, float* out) {
  using U = typename D::U;
  constexpr int W = D::W;
  const D m = D::set1(mean), sd = D::set1(std), scale = D::set1(5.9604644775390625e-8);
  alignas(64) double r0[W], r1[W];
  int64_t j = 0;
  for (; j + W <= pairs; j += W) {
    const U pair = U::load(w + 2 * j);  // lane j: w[2j] | w[2j + 1] << 32
    const U lo = (pair & U::set1(0xffffffffull)) >> 8, hi = pair >> 40;
    const D u1 = mul(add(smallToDouble<D>(lo), D::set1(1.0)), scale);  // uniform24Open
    const D u2 = mul(smallToDouble<D>(hi), scale);                     // uniform24
    D z0, z1;
    boxMullerV(u1, u2, &z0, &z1);
    store(r0, add(m, mul(sd, z0)));
    store(r1, add(m, mul(sd, z1)));
    for (int l = 0; l < W; l++) {
      out[2 * (j + l)] = static_cast<float>(r0[l]);
      out[2 * (j + l) + 1] = static_cast<float>(r1[l]);
    }
  }
  return j;
}

// float64 normals from whole blocks: out[2k], out[2k + 1] from words w[4k .. 4k + 3], k < blocks.
// Returns the blocks done (a multiple of W); the caller finishes the rest with philox::normalF64.
template <class D>
int64_t normalF64Loop(const uint32_t* w, int64_t blocks, double mean, double std, double* out) {
  using U = typename D::U;
  constexpr int W = D::W;
  const D m = D::set1(mean), sd = D::set1(std), scale = D::set1(1.1102230246251565e-16);
  alignas(64) double r0[W], r1[W];
  int64_t k = 0;
  for (; k + W <= blocks; k += W) {
    const U a = U::loadEven(w + 4 * k), b = U::loadOdd(w + 4 * k);  // w0 | w1 << 32, w2 | w3 << 32
    // uniform53(hi, lo) = ((hi << 21) ^ (lo >> 11)) 2^-53; the two parts do not overlap, so the
    // integer is hi 2^21 + (lo >> 11), and both parts convert exactly.
    const D bitsA = add(mul(smallToDouble<D>(a & U::set1(0xffffffffull)), D::set1(2097152.0)), smallToDouble<D>(a >> 43));
    const D bitsB = add(mul(smallToDouble<D>(b & U::set1(0xffffffffull)), D::set1(2097152.0)), smallToDouble<D>(b >> 43));
    const D u1 = mul(add(bitsA, D::set1(1.0)), scale);  // uniform53Open
    const D u2 = mul(bitsB, scale);                     // uniform53
    D z0, z1;
    boxMullerV(u1, u2, &z0, &z1);
    store(r0, add(m, mul(sd, z0)));
    store(r1, add(m, mul(sd, z1)));
    for (int l = 0; l < W; l++) {
      out[2 * (k + l)] = r0[l];
      out[2 * (k + l) + 1] = r1[l];
    }
  }
  return k;
}

}  // namespace rimpl
}  // namespace simd
}  // namespace cpu
}  // namespace kiln
