// Vector float32 math written once over a small vector type V, instantiated by
// elementwise_avx2.cpp (8 lanes) and elementwise_avx512.cpp (16 lanes). Include only from those
// files: everything here is a template on V, whose type lives in the ISA file's own namespace,
// so instantiations compiled with different instruction sets never share a symbol.
//
// V provides: static W, load, set1, store; + - * /, fmadd(a,b,c)=a*b+c, vmin/vmax (x86
// semantics: second operand when either is NaN), comparisons lt/le/gt/eq/isNan returning
// V::M, vselect(m, a, b) = m ? a : b, bitwise vand/vor/vxor, vabs, vsqrt, vfloor, vceil,
// vround (half to even); V::I is the int32 vector with roundToInt, toFloat, asInt, asFloat,
// + - & |, srai, slli, set1i; masks V::M combine with | and any(m) tells if a lane is set;
// hmax/hmin reduce the lanes of a NaN-free vector.
//
// Accuracy (checked against float64 over all float32 inputs of interest): exp, log ~1 ulp;
// tanh, sigmoid, erf ~2 ulp (relative error < 3e-7).
#pragma once
#include <cstdint>
#include <limits>

#include "elementwise_simd.h"

namespace kiln {
namespace cpu {
namespace simd {
namespace impl {

// ---------------------------------------------------------------- transcendental functions

// exp: Cephes expf. x = n ln2 + r with |r| <= ln2/2, e^r by a degree-7 polynomial, and 2^n
// applied as two factors so that results in the subnormal range round once, correctly.
template <class V>
V expV(V x) {
  using I = typename V::I;
  const typename V::M nan = isNan(x);
  V xc = vmin(vmax(x, V::set1(-104.0f)), V::set1(89.0f));  // beyond: 0 / inf after scaling
  V n = vround(xc * V::set1(1.44269504088896341f));
  V r = fmadd(n, V::set1(-0.693359375f), xc);  // ln2 split in two (Cody-Waite)
  r = fmadd(n, V::set1(2.12194440e-4f), r);
  V p = V::set1(1.9875691500e-4f);
  p = fmadd(p, r, V::set1(1.3981999507e-3f));
  p = fmadd(p, r, V::set1(8.3334519073e-3f));
  p = fmadd(p, r, V::set1(4.1665795894e-2f));
  p = fmadd(p, r, V::set1(1.6666665459e-1f));
  p = fmadd(p, r, V::set1(5.0000001201e-1f));
  p = fmadd(p, r * r, r) + V::set1(1.0f);
  I ni = I::roundToInt(n);  // n in [-150, 129]
  I n1 = srai(ni, 1);
  I n2 = ni - n1;
  V s1 = asFloat(slli(n1 + I::set1i(127), 23));
  V s2 = asFloat(slli(n2 + I::set1i(127), 23));
  return vselect(nan, x, p * s1 * s2);
}

// log: Cephes logf. x = m 2^e with m in [sqrt(1/2), sqrt(2)), log(m) = f - f^2/2 + f^3 P(f).
template <class V>
V logV(V x) {
  using I = typename V::I;
  const V zero = V::set1(0.0f);
  typename V::M isZero = eq(x, zero), isNeg = lt(x, zero), isInf = eq(x, V::set1(std::numeric_limits<float>::infinity()));
  typename V::M nanIn = isNan(x);
  // Subnormals: scale into the normal range first.
  typename V::M tiny = lt(x, V::set1(1.17549435e-38f));
  V xs = vselect(tiny, x * V::set1(8388608.0f), x);
  V ebias = vselect(tiny, V::set1(-23.0f), zero);
  I bits = asInt(xs);
  V e = toFloat(srai(bits, 23) - I::set1i(126)) + ebias;
  V m = asFloat((bits & I::set1i(0x007fffff)) | I::set1i(0x3f000000));  // [0.5, 1)
  typename V::M small = lt(m, V::set1(0.707106781186547524f));
  e = vselect(small, e - V::set1(1.0f), e);
  V f = vselect(small, m + m, m) - V::set1(1.0f);
  V z = f * f;
  V p = V::set1(7.0376836292e-2f);
  p = fmadd(p, f, V::set1(-1.1514610310e-1f));
  p = fmadd(p, f, V::set1(1.1676998740e-1f));
  p = fmadd(p, f, V::set1(-1.2420140846e-1f));
  p = fmadd(p, f, V::set1(1.4249322787e-1f));
  p = fmadd(p, f, V::set1(-1.6668057665e-1f));
  p = fmadd(p, f, V::set1(2.0000714765e-1f));
  p = fmadd(p, f, V::set1(-2.4999993993e-1f));
  p = fmadd(p, f, V::set1(3.3333331174e-1f));
  V y = p * f * z;
  y = fmadd(e, V::set1(-2.12194440e-4f), y);
  y = fmadd(z, V::set1(-0.5f), y);
  V res = f + y;
  res = fmadd(e, V::set1(0.693359375f), res);
  res = vselect(isZero, V::set1(-std::numeric_limits<float>::infinity()), res);
  res = vselect(isInf, x, res);
  res = vselect(isNeg, V::set1(std::numeric_limits<float>::quiet_NaN()), res);
  return vselect(nanIn, x, res);
}

// tanh: Cephes tanhf. |x| < 0.625: odd polynomial; else 1 - 2 / (e^{2|x|} + 1) with x's sign.
template <class V>
V tanhV(V x) {
  V ax = vabs(x);
  V z = x * x;
  V p = V::set1(-5.70498872745e-3f);
  p = fmadd(p, z, V::set1(2.06390887954e-2f));
  p = fmadd(p, z, V::set1(-5.37397155531e-2f));
  p = fmadd(p, z, V::set1(1.33314422036e-1f));
  p = fmadd(p, z, V::set1(-3.33332819422e-1f));
  V small = fmadd(p * z, x, x);
  V e = expV(ax + ax);
  V big = V::set1(1.0f) - V::set1(2.0f) / (e + V::set1(1.0f));
  big = vor(big, vand(x, V::set1(-0.0f)));  // copy the sign (big >= 0)
  return vselect(lt(ax, V::set1(0.625f)), small, big);
}

// sigmoid: with e = exp(-|x|) in (0, 1]: 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0, so
// neither side overflows and tiny results keep their relative accuracy.
template <class V>
V sigmoidV(V x) {
  V e = expV(V::set1(0.0f) - vabs(x));
  V pos = V::set1(1.0f) / (V::set1(1.0f) + e);
  return vselect(lt(x, V::set1(0.0f)), e * pos, pos);
}

// erf: |x| < 0.921875: x P(x^2) (relative minimax); else 1 - exp(Q(|x|)) with Q a minimax fit
// of log(erfc(t)) on [0.921875, 4] (weighted by erfc, i.e. absolute error of erf), sign copied.
// Beyond 4, erf rounds to 1 in float32.
template <class V>
V erfV(V x) {
  V ax = vabs(x);
  V s = x * x;
  V p = V::set1(-0.0005991071811877191f);
  p = fmadd(p, s, V::set1(0.004993231501430273f));
  p = fmadd(p, s, V::set1(-0.026766659691929817f));
  p = fmadd(p, s, V::set1(0.11281818151473999f));
  p = fmadd(p, s, V::set1(-0.37612494826316833f));
  p = fmadd(p, s, V::set1(1.1283791065216064f));
  V small = p * x;
  V t = vmin(ax, V::set1(4.0f));
  V q = V::set1(-2.1184370780247264e-05f);
  q = fmadd(q, t, V::set1(0.00043547924724407494f));
  q = fmadd(q, t, V::set1(-0.0041759079322218895f));
  q = fmadd(q, t, V::set1(0.025131965056061745f));
  q = fmadd(q, t, V::set1(-0.1082991287112236f));
  q = fmadd(q, t, V::set1(-0.6333299279212952f));
  q = fmadd(q, t, V::set1(-1.1295231580734253f));
  q = fmadd(q, t, V::set1(0.0001763636973919347f));
  V big = V::set1(1.0f) - expV(q);
  big = vor(big, vand(x, V::set1(-0.0f)));
  V r = vselect(lt(ax, V::set1(0.921875f)), small, big);
  return vselect(isNan(x), x, r);
}

// ---------------------------------------------------------------- op functors

struct ExpOp { template <class V> static V f(V x) { return expV(x); } };
struct LogOp { template <class V> static V f(V x) { return logV(x); } };
struct TanhOp { template <class V> static V f(V x) { return tanhV(x); } };
struct SigmoidOp { template <class V> static V f(V x) { return sigmoidV(x); } };
struct ErfOp { template <class V> static V f(V x) { return erfV(x); } };
struct NegOp { template <class V> static V f(V x) { return vxor(x, V::set1(-0.0f)); } };
struct AbsOp { template <class V> static V f(V x) { return vabs(x); } };
struct SqrtOp { template <class V> static V f(V x) { return vsqrt(x); } };
struct RsqrtOp { template <class V> static V f(V x) { return V::set1(1.0f) / vsqrt(x); } };
struct ReciprocalOp { template <class V> static V f(V x) { return V::set1(1.0f) / x; } };
struct FloorOp { template <class V> static V f(V x) { return vfloor(x); } };
struct CeilOp { template <class V> static V f(V x) { return vceil(x); } };
struct RoundOp { template <class V> static V f(V x) { return vround(x); } };
struct SquareOp { template <class V> static V f(V x) { return x * x; } };
// relu keeps NaN: x < 0 ? 0 : x
struct ReluOp { template <class V> static V f(V x) { return vselect(lt(x, V::set1(0.0f)), V::set1(0.0f), x); } };

struct AddOp { template <class V> static V f(V a, V b) { return a + b; } };
struct SubOp { template <class V> static V f(V a, V b) { return a - b; } };
struct MulOp { template <class V> static V f(V a, V b) { return a * b; } };
struct DivOp { template <class V> static V f(V a, V b) { return a / b; } };
// vmax returns b when either is NaN, so only a NaN in a needs fixing up.
struct MaximumOp { template <class V> static V f(V a, V b) { return vselect(isNan(a), a, vmax(a, b)); } };
struct MinimumOp { template <class V> static V f(V a, V b) { return vselect(isNan(a), a, vmin(a, b)); } };

// ---------------------------------------------------------------- loops

template <class V, class Op>
void unaryLoop(const float* x, float* y, int64_t n) {
  constexpr int W = V::W;
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    V a = V::load(x + i), b = V::load(x + i + W);
    Op::f(a).store(y + i);
    Op::f(b).store(y + i + W);
  }
  for (; i + W <= n; i += W) Op::f(V::load(x + i)).store(y + i);
  if (i < n) {
    alignas(64) float buf[W];
    int64_t rest = n - i;
    for (int k = 0; k < W; k++) buf[k] = k < rest ? x[i + k] : 0.0f;
    Op::f(V::load(buf)).store(buf);
    for (int64_t k = 0; k < rest; k++) y[i + k] = buf[k];
  }
}

template <class V, class Op>
void binaryLoop(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  constexpr int W = V::W;
  int64_t i = 0;
  if (sa == 1 && sb == 1) {
    for (; i + 2 * W <= n; i += 2 * W) {
      Op::f(V::load(a + i), V::load(b + i)).store(y + i);
      Op::f(V::load(a + i + W), V::load(b + i + W)).store(y + i + W);
    }
    for (; i + W <= n; i += W) Op::f(V::load(a + i), V::load(b + i)).store(y + i);
  } else if (sa == 1) {
    V vb = V::set1(b[0]);
    for (; i + W <= n; i += W) Op::f(V::load(a + i), vb).store(y + i);
  } else if (sb == 1) {
    V va = V::set1(a[0]);
    for (; i + W <= n; i += W) Op::f(va, V::load(b + i)).store(y + i);
  }
  if (i < n) {
    alignas(64) float ba[W], bb[W];
    int64_t rest = n - i;
    for (int k = 0; k < W; k++) {
      ba[k] = k < rest ? a[(i + k) * sa] : 0.0f;
      bb[k] = k < rest ? b[(i + k) * sb] : 1.0f;
    }
    Op::f(V::load(ba), V::load(bb)).store(ba);
    for (int64_t k = 0; k < rest; k++) y[i + k] = ba[k];
  }
}

template <class V, bool IsMax>
float extremumLoop(const float* p, int64_t n) {
  constexpr int W = V::W;
  const float init = IsMax ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
  // vmax(x, a) is x > a ? x : a, so a NaN x leaves a alone (a never turns NaN); NaNs are only
  // noted, in the mask nan.
  V a0 = V::set1(init), a1 = a0;
  typename V::M nan = isNan(a0);
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    V x0 = V::load(p + i), x1 = V::load(p + i + W);
    a0 = IsMax ? vmax(x0, a0) : vmin(x0, a0);
    a1 = IsMax ? vmax(x1, a1) : vmin(x1, a1);
    nan = nan | isNan(x0) | isNan(x1);
  }
  for (; i + W <= n; i += W) {
    V x = V::load(p + i);
    a0 = IsMax ? vmax(x, a0) : vmin(x, a0);
    nan = nan | isNan(x);
  }
  a0 = IsMax ? vmax(a1, a0) : vmin(a1, a0);
  float r = IsMax ? hmax(a0) : hmin(a0);
  bool anyNan = any(nan);
  for (; i < n; i++) {
    r = (IsMax ? p[i] > r : p[i] < r) ? p[i] : r;
    anyNan |= p[i] != p[i];
  }
  return anyNan ? std::numeric_limits<float>::quiet_NaN() : r;
}

template <class V>
Kernels makeKernels(const char* name) {
  Kernels k{};
  k.name = name;
  auto u = [&](UnaryOp op, UnaryF32 fn) { k.unary[static_cast<int>(op)] = fn; };
  u(UnaryOp::Exp, unaryLoop<V, ExpOp>);
  u(UnaryOp::Log, unaryLoop<V, LogOp>);
  u(UnaryOp::Tanh, unaryLoop<V, TanhOp>);
  u(UnaryOp::Sigmoid, unaryLoop<V, SigmoidOp>);
  u(UnaryOp::Erf, unaryLoop<V, ErfOp>);
  u(UnaryOp::Neg, unaryLoop<V, NegOp>);
  u(UnaryOp::Abs, unaryLoop<V, AbsOp>);
  u(UnaryOp::Sqrt, unaryLoop<V, SqrtOp>);
  u(UnaryOp::Rsqrt, unaryLoop<V, RsqrtOp>);
  u(UnaryOp::Reciprocal, unaryLoop<V, ReciprocalOp>);
  u(UnaryOp::Floor, unaryLoop<V, FloorOp>);
  u(UnaryOp::Ceil, unaryLoop<V, CeilOp>);
  u(UnaryOp::Round, unaryLoop<V, RoundOp>);
  u(UnaryOp::Square, unaryLoop<V, SquareOp>);
  u(UnaryOp::Relu, unaryLoop<V, ReluOp>);
  auto b = [&](BinaryOp op, BinaryF32 fn) { k.binary[static_cast<int>(op)] = fn; };
  b(BinaryOp::Add, binaryLoop<V, AddOp>);
  b(BinaryOp::Sub, binaryLoop<V, SubOp>);
  b(BinaryOp::Mul, binaryLoop<V, MulOp>);
  b(BinaryOp::Div, binaryLoop<V, DivOp>);
  b(BinaryOp::Maximum, binaryLoop<V, MaximumOp>);
  b(BinaryOp::Minimum, binaryLoop<V, MinimumOp>);
  k.max = extremumLoop<V, true>;
  k.min = extremumLoop<V, false>;
  return k;
}

}  // namespace impl
}  // namespace simd
}  // namespace cpu
}  // namespace kiln
