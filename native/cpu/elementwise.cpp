// Elementwise kernels: unary, binary, where. Each op is a scalar lambda mapped over the operands
// by one strided loop (strided.h) whose contiguous runs compile to vectorized loops; contiguous
// float32 runs of the common ops go to the AVX2 / AVX-512 kernels (elementwise_simd.h) when the
// CPU has them.
//
// Semantics follow PyTorch: maximum/minimum propagate NaN, relu and sign keep NaN, round is half
// to even, fmod takes the dividend's sign, int32 arithmetic wraps around (int32 fmod by zero and
// negative int32 powers throw, as in PyTorch).
#include <cmath>
#include <type_traits>

#include "../core/errors.h"
#include "cpu_info.h"
#include "elementwise_simd.h"
#include "kernels.h"
#include "strided.h"

namespace kiln {
namespace cpu {
namespace {

// Elements per parallel chunk: cheap ops are memory bound and only worth splitting when large.
constexpr int64_t kCheapGrain = 32768;
constexpr int64_t kCostlyGrain = 4096;
constexpr int64_t kVectorCostlyGrain = 16384;

// out = f(a)
template <typename O, typename A, typename F>
void map1(const View& out, const View& a, int64_t grain, F f, simd::UnaryF32 vec = nullptr) {
  const Layout* ls[2] = {&out.layout, &a.layout};
  StridedLoop<2> loop(ls);
  O* po = out.at<O>();
  const A* pa = a.at<A>();
  const int64_t so = loop.innerStride(0), sa = loop.innerStride(1);
  loop.parallel(grain, [&](const int64_t* off, int64_t n) {
    O* y = po + off[0];
    const A* x = pa + off[1];
    if (so == 1 && sa == 1) {
      if constexpr (std::is_same<O, float>::value && std::is_same<A, float>::value) {
        if (vec) return vec(x, y, n);
      }
      for (int64_t i = 0; i < n; i++) y[i] = f(x[i]);
    } else {
      for (int64_t i = 0; i < n; i++) y[i * so] = f(x[i * sa]);
    }
  });
}

// out = f(a, b); the common broadcast shapes (one operand constant along the run) get their own
// contiguous loops.
template <typename O, typename A, typename F>
void map2(const View& out, const View& a, const View& b, int64_t grain, F f, simd::BinaryF32 vec = nullptr) {
  const Layout* ls[3] = {&out.layout, &a.layout, &b.layout};
  StridedLoop<3> loop(ls);
  O* po = out.at<O>();
  const A* pa = a.at<A>();
  const A* pb = b.at<A>();
  const int64_t so = loop.innerStride(0), sa = loop.innerStride(1), sb = loop.innerStride(2);
  loop.parallel(grain, [&](const int64_t* off, int64_t n) {
    O* y = po + off[0];
    const A* x = pa + off[1];
    const A* z = pb + off[2];
    if (so == 1 && (sa | sb) >= 0 && (sa | sb) <= 1) {  // strides in {0, 1}
      if constexpr (std::is_same<O, float>::value && std::is_same<A, float>::value) {
        if (vec && (sa | sb) == 1) return vec(x, sa, z, sb, y, n);
      }
      if (sa == 1 && sb == 1) {
        for (int64_t i = 0; i < n; i++) y[i] = f(x[i], z[i]);
        return;
      }
      if (sa == 1 && sb == 0) {
        const A c = *z;
        for (int64_t i = 0; i < n; i++) y[i] = f(x[i], c);
        return;
      }
      if (sa == 0 && sb == 1) {
        const A c = *x;
        for (int64_t i = 0; i < n; i++) y[i] = f(c, z[i]);
        return;
      }
    }
    for (int64_t i = 0; i < n; i++) y[i * so] = f(x[i * sa], z[i * sb]);
  });
}

// ---------------------------------------------------------------- unary

template <typename T>
T signOf(T x) {
  return x > T(0) ? T(1) : (x < T(0) ? T(-1) : x);  // keeps 0, -0 and NaN
}

template <typename T>
void unaryFloat(UnaryOp op, const View& out, const View& a) {
  simd::UnaryF32 vec = nullptr;
  if (std::is_same<T, float>::value)
    if (const simd::Kernels* k = simd::best()) vec = k->unary[static_cast<int>(op)];
  const int64_t costly = vec ? kVectorCostlyGrain : kCostlyGrain;
  auto run = [&](int64_t grain, auto f) { map1<T, T>(out, a, grain, f, vec); };
  switch (op) {
    case UnaryOp::Neg: return run(kCheapGrain, [](T x) { return -x; });
    case UnaryOp::Exp: return run(costly, [](T x) { return std::exp(x); });
    case UnaryOp::Log: return run(costly, [](T x) { return std::log(x); });
    case UnaryOp::Sqrt: return run(kCheapGrain, [](T x) { return std::sqrt(x); });
    case UnaryOp::Rsqrt: return run(kCheapGrain, [](T x) { return T(1) / std::sqrt(x); });
    case UnaryOp::Tanh: return run(costly, [](T x) { return std::tanh(x); });
    case UnaryOp::Sigmoid:
      return run(costly, [](T x) {
        T e = std::exp(-std::fabs(x));  // never overflows
        T p = T(1) / (T(1) + e);
        return x < T(0) ? e * p : p;
      });
    case UnaryOp::Sin: return run(costly, [](T x) { return std::sin(x); });
    case UnaryOp::Cos: return run(costly, [](T x) { return std::cos(x); });
    case UnaryOp::Abs: return run(kCheapGrain, [](T x) { return std::fabs(x); });
    case UnaryOp::Sign: return run(kCheapGrain, [](T x) { return signOf(x); });
    case UnaryOp::Erf: return run(costly, [](T x) { return std::erf(x); });
    case UnaryOp::Reciprocal: return run(kCheapGrain, [](T x) { return T(1) / x; });
    case UnaryOp::Floor: return run(kCheapGrain, [](T x) { return std::floor(x); });
    case UnaryOp::Ceil: return run(kCheapGrain, [](T x) { return std::ceil(x); });
    case UnaryOp::Round: return run(kCheapGrain, [](T x) { return std::nearbyint(x); });  // half to even
    case UnaryOp::Log1p: return run(costly, [](T x) { return std::log1p(x); });
    case UnaryOp::Expm1: return run(costly, [](T x) { return std::expm1(x); });
    case UnaryOp::Relu: return run(kCheapGrain, [](T x) { return x < T(0) ? T(0) : x; });
    case UnaryOp::Square: return run(kCheapGrain, [](T x) { return x * x; });
    default: break;
  }
}

// int32 arithmetic goes through uint32 so overflow wraps instead of being undefined.
inline int32_t wrap(uint32_t v) { return static_cast<int32_t>(v); }

void unaryInt(UnaryOp op, const View& out, const View& a) {
  auto run = [&](auto f) { map1<int32_t, int32_t>(out, a, kCheapGrain, f); };
  switch (op) {
    case UnaryOp::Neg: return run([](int32_t x) { return wrap(0u - static_cast<uint32_t>(x)); });
    case UnaryOp::Abs:
      return run([](int32_t x) { return x < 0 ? wrap(0u - static_cast<uint32_t>(x)) : x; });
    case UnaryOp::Sign: return run([](int32_t x) { return static_cast<int32_t>((x > 0) - (x < 0)); });
    case UnaryOp::Relu: return run([](int32_t x) { return x < 0 ? 0 : x; });
    case UnaryOp::Square:
      return run([](int32_t x) { return wrap(static_cast<uint32_t>(x) * static_cast<uint32_t>(x)); });
    default: break;
  }
}

// ---------------------------------------------------------------- binary

template <typename T>
T maximumOf(T a, T b) {
  return a != a ? a : (b != b ? b : (a > b ? a : b));
}
template <typename T>
T minimumOf(T a, T b) {
  return a != a ? a : (b != b ? b : (a < b ? a : b));
}

template <typename T>
void binaryFloat(BinaryOp op, const View& out, const View& a, const View& b) {
  simd::BinaryF32 vec = nullptr;
  if (std::is_same<T, float>::value)
    if (const simd::Kernels* k = simd::best()) vec = k->binary[static_cast<int>(op)];
  auto run = [&](int64_t grain, auto f) { map2<T, T>(out, a, b, grain, f, vec); };
  switch (op) {
    case BinaryOp::Add: return run(kCheapGrain, [](T x, T y) { return x + y; });
    case BinaryOp::Sub: return run(kCheapGrain, [](T x, T y) { return x - y; });
    case BinaryOp::Mul: return run(kCheapGrain, [](T x, T y) { return x * y; });
    case BinaryOp::Div: return run(kCheapGrain, [](T x, T y) { return x / y; });
    case BinaryOp::Pow: return run(kCostlyGrain, [](T x, T y) { return std::pow(x, y); });
    case BinaryOp::Maximum: return run(kCheapGrain, [](T x, T y) { return maximumOf(x, y); });
    case BinaryOp::Minimum: return run(kCheapGrain, [](T x, T y) { return minimumOf(x, y); });
    case BinaryOp::Atan2: return run(kCostlyGrain, [](T x, T y) { return std::atan2(x, y); });
    case BinaryOp::Fmod: return run(kCostlyGrain, [](T x, T y) { return std::fmod(x, y); });
    default: break;
  }
}

void binaryInt(BinaryOp op, const View& out, const View& a, const View& b) {
  auto run = [&](auto f) { map2<int32_t, int32_t>(out, a, b, kCheapGrain, f); };
  using U = uint32_t;
  switch (op) {
    case BinaryOp::Add: return run([](int32_t x, int32_t y) { return wrap(U(x) + U(y)); });
    case BinaryOp::Sub: return run([](int32_t x, int32_t y) { return wrap(U(x) - U(y)); });
    case BinaryOp::Mul: return run([](int32_t x, int32_t y) { return wrap(U(x) * U(y)); });
    case BinaryOp::Maximum: return run([](int32_t x, int32_t y) { return x > y ? x : y; });
    case BinaryOp::Minimum: return run([](int32_t x, int32_t y) { return x < y ? x : y; });
    case BinaryOp::Fmod:  // C's %, the dividend's sign, like torch.fmod; exact at any magnitude
      return run([](int32_t x, int32_t y) {
        if (y == 0) fail(ErrorKind::Kiln, "fmod: integer division by zero");
        return y == -1 ? 0 : x % y;  // INT_MIN % -1 overflows in C++
      });
    case BinaryOp::Pow:  // exact (wrapping) by repeated squaring, like torch.pow on ints
      return run([](int32_t x, int32_t y) {
        if (y < 0) fail(ErrorKind::Kiln, "pow: integers to negative integer powers are not allowed");
        U r = 1, base = U(x);
        for (U e = U(y); e; e >>= 1) {
          if (e & 1) r *= base;
          base *= base;
        }
        return wrap(r);
      });
    default: break;
  }
}

// Comparisons write bool (0/1). Bool inputs compare as 0/1, whatever nonzero byte they hold.
template <typename T>
void compare(BinaryOp op, const View& out, const View& a, const View& b) {
  using K = typename std::conditional<std::is_same<T, uint8_t>::value, bool, T>::type;
  auto run = [&](auto f) {
    map2<uint8_t, T>(out, a, b, kCheapGrain, [f](T x, T y) { return static_cast<uint8_t>(f(K(x), K(y))); });
  };
  switch (op) {
    case BinaryOp::Eq: return run([](K x, K y) { return x == y; });
    case BinaryOp::Ne: return run([](K x, K y) { return x != y; });
    case BinaryOp::Lt: return run([](K x, K y) { return x < y; });
    case BinaryOp::Le: return run([](K x, K y) { return x <= y; });
    case BinaryOp::Gt: return run([](K x, K y) { return x > y; });
    case BinaryOp::Ge: return run([](K x, K y) { return x >= y; });
    default: break;
  }
}

void logical(BinaryOp op, const View& out, const View& a, const View& b) {
  auto run = [&](auto f) { map2<uint8_t, uint8_t>(out, a, b, kCheapGrain, f); };
  switch (op) {
    case BinaryOp::LogicalAnd: return run([](uint8_t x, uint8_t y) { return uint8_t((x != 0) & (y != 0)); });
    case BinaryOp::LogicalOr: return run([](uint8_t x, uint8_t y) { return uint8_t((x != 0) | (y != 0)); });
    case BinaryOp::LogicalXor: return run([](uint8_t x, uint8_t y) { return uint8_t((x != 0) ^ (y != 0)); });
    default: break;
  }
}

bool isComparison(BinaryOp op) { return op >= BinaryOp::Eq && op <= BinaryOp::Ge; }
bool isLogical(BinaryOp op) { return op >= BinaryOp::LogicalAnd && op < BinaryOp::Count; }

}  // namespace

const simd::Kernels* simd::best() {
  static const Kernels* k = []() -> const Kernels* {
#if defined(KILN_SIMD_X86)
    if (simdLevel() == SimdLevel::Avx512) return &avx512Kernels();
    if (simdLevel() == SimdLevel::Avx2) return &avx2Kernels();
#endif
    return nullptr;
  }();
  return k;
}

// ---------------------------------------------------------------- entry points

bool unarySupports(UnaryOp op, DType t) {
  switch (t) {
    case DType::Float32:
    case DType::Float64: return op != UnaryOp::LogicalNot && op < UnaryOp::Count;
    case DType::Int32:
      return op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Sign || op == UnaryOp::Relu ||
             op == UnaryOp::Square;
    case DType::Bool: return op == UnaryOp::LogicalNot;
  }
  return false;
}

bool binarySupports(BinaryOp op, DType t) {
  if (isComparison(op)) return true;
  if (isLogical(op)) return t == DType::Bool;
  switch (t) {
    case DType::Float32:
    case DType::Float64: return op < BinaryOp::Count;
    case DType::Int32:  // div and atan2 are float-only: the TS layer promotes for true division
      return op == BinaryOp::Add || op == BinaryOp::Sub || op == BinaryOp::Mul || op == BinaryOp::Maximum ||
             op == BinaryOp::Minimum || op == BinaryOp::Fmod || op == BinaryOp::Pow;
    case DType::Bool: return false;
  }
  return false;
}

void unary(UnaryOp op, const View& out, const View& a) {
  switch (a.dtype) {
    case DType::Float32: return unaryFloat<float>(op, out, a);
    case DType::Float64: return unaryFloat<double>(op, out, a);
    case DType::Int32: return unaryInt(op, out, a);
    case DType::Bool:
      return map1<uint8_t, uint8_t>(out, a, kCheapGrain, [](uint8_t x) { return uint8_t(x == 0); });
  }
}

void binary(BinaryOp op, const View& out, const View& a, const View& b) {
  if (isComparison(op)) return dispatchStorage(a.dtype, [&](auto tag) { compare<decltype(tag)>(op, out, a, b); });
  if (isLogical(op)) return logical(op, out, a, b);
  switch (a.dtype) {
    case DType::Float32: return binaryFloat<float>(op, out, a, b);
    case DType::Float64: return binaryFloat<double>(op, out, a, b);
    case DType::Int32: return binaryInt(op, out, a, b);
    case DType::Bool: break;
  }
}

void where(const View& out, const View& cond, const View& a, const View& b) {
  dispatchBits(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    const Layout* ls[4] = {&out.layout, &cond.layout, &a.layout, &b.layout};
    StridedLoop<4> loop(ls);
    T* po = out.at<T>();
    const uint8_t* pc = cond.at<uint8_t>();
    const T* pa = a.at<T>();
    const T* pb = b.at<T>();
    const int64_t so = loop.innerStride(0), sc = loop.innerStride(1), sa = loop.innerStride(2),
                  sb = loop.innerStride(3);
    loop.parallel(kCheapGrain, [&](const int64_t* off, int64_t n) {
      T* y = po + off[0];
      const uint8_t* c = pc + off[1];
      const T* x = pa + off[2];
      const T* z = pb + off[3];
      if (so == 1 && sc == 1 && sa == 1 && sb == 1) {
        for (int64_t i = 0; i < n; i++) y[i] = c[i] ? x[i] : z[i];
      } else {
        for (int64_t i = 0; i < n; i++) y[i * so] = c[i * sc] ? x[i * sa] : z[i * sb];
      }
    });
  });
}

// ReLU's VJP in one pass instead of compare, cast and multiply. A select, not g * (x > 0): an
// infinite or NaN g where x <= 0 gives 0, as PyTorch's threshold_backward.
void reluBackward(const View& out, const View& g, const View& x) {
  auto run = [&](auto tag) {
    using T = decltype(tag);
    map2<T, T>(out, g, x, kCheapGrain, [](T gi, T xi) { return xi > T(0) ? gi : T(0); });
  };
  if (out.dtype == DType::Float64) run(double{});
  else run(float{});
}

}  // namespace cpu
}  // namespace kiln
