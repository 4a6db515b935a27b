// Elementwise kernels: unary, binary, where. Each op is a small functor mapped over the operands
// by the kernels of map.cuh. Semantics follow the CPU kernels (native/cpu/elementwise.cpp):
// maximum/minimum propagate NaN, relu and sign keep NaN, round is half to even, fmod takes the
// dividend's sign, int32 arithmetic wraps around; an int32 fmod by zero or negative int32 power is
// flagged in the kernel and raised, as the CPU's error, at the next synchronization. Built without fast math, so division and
// sqrt are IEEE-rounded and exp/log/sin/... are CUDA's libdevice (within 2 ulp of glibc).
#include <cstdint>

#include "kernels.h"
#include "map.cuh"

namespace kiln {
namespace cuda {
namespace {

// float / double overloads of the math functions the functors use.
namespace m {
#define KILN_MATH1(name, f32, f64)                                         \
  __device__ __forceinline__ float name(float x) { return ::f32(x); }    \
  __device__ __forceinline__ double name(double x) { return ::f64(x); }
KILN_MATH1(exp, expf, exp)
KILN_MATH1(log, logf, log)
KILN_MATH1(sqrt, sqrtf, sqrt)
KILN_MATH1(tanh, tanhf, tanh)
KILN_MATH1(sin, sinf, sin)
KILN_MATH1(cos, cosf, cos)
KILN_MATH1(fabs, fabsf, fabs)
KILN_MATH1(erf, erff, erf)
KILN_MATH1(floor, floorf, floor)
KILN_MATH1(ceil, ceilf, ceil)
KILN_MATH1(rint, rintf, rint)
KILN_MATH1(log1p, log1pf, log1p)
KILN_MATH1(expm1, expm1f, expm1)
#undef KILN_MATH1
#define KILN_MATH2(name, f32, f64)                                                     \
  __device__ __forceinline__ float name(float x, float y) { return ::f32(x, y); }    \
  __device__ __forceinline__ double name(double x, double y) { return ::f64(x, y); }
KILN_MATH2(pow, powf, pow)
KILN_MATH2(atan2, atan2f, atan2)
KILN_MATH2(fmod, fmodf, fmod)
#undef KILN_MATH2
}  // namespace m

// One functor per op; T is deduced from the element.
#define KILN_UNARY(Name, expr)                                     \
  struct Name {                                                    \
    template <typename T>                                          \
    __device__ __forceinline__ T operator()(T x) const { return expr; } \
  };
KILN_UNARY(NegF, -x)
KILN_UNARY(ExpF, m::exp(x))
KILN_UNARY(LogF, m::log(x))
KILN_UNARY(SqrtF, m::sqrt(x))
KILN_UNARY(RsqrtF, T(1) / m::sqrt(x))
KILN_UNARY(TanhF, m::tanh(x))
KILN_UNARY(SinF, m::sin(x))
KILN_UNARY(CosF, m::cos(x))
KILN_UNARY(AbsF, m::fabs(x))
KILN_UNARY(SignF, x > T(0) ? T(1) : (x < T(0) ? T(-1) : x))  // keeps 0, -0 and NaN
KILN_UNARY(ErfF, m::erf(x))
KILN_UNARY(ReciprocalF, T(1) / x)
KILN_UNARY(FloorF, m::floor(x))
KILN_UNARY(CeilF, m::ceil(x))
KILN_UNARY(RoundF, m::rint(x))  // half to even
KILN_UNARY(Log1pF, m::log1p(x))
KILN_UNARY(Expm1F, m::expm1(x))
KILN_UNARY(ReluF, x < T(0) ? T(0) : x)
KILN_UNARY(SquareF, x * x)
#undef KILN_UNARY

struct SigmoidF {
  template <typename T>
  __device__ __forceinline__ T operator()(T x) const {
    T e = m::exp(-m::fabs(x));  // never overflows
    T p = T(1) / (T(1) + e);
    return x < T(0) ? e * p : p;
  }
};

// int32: arithmetic through uint32 so overflow wraps.
struct IntNegF {
  __device__ __forceinline__ int32_t operator()(int32_t x) const { return static_cast<int32_t>(0u - static_cast<uint32_t>(x)); }
};
struct IntAbsF {
  __device__ __forceinline__ int32_t operator()(int32_t x) const {
    return x < 0 ? static_cast<int32_t>(0u - static_cast<uint32_t>(x)) : x;
  }
};
struct IntSignF {
  __device__ __forceinline__ int32_t operator()(int32_t x) const { return (x > 0) - (x < 0); }
};
struct IntReluF {
  __device__ __forceinline__ int32_t operator()(int32_t x) const { return x < 0 ? 0 : x; }
};
struct IntSquareF {
  __device__ __forceinline__ int32_t operator()(int32_t x) const {
    return static_cast<int32_t>(static_cast<uint32_t>(x) * static_cast<uint32_t>(x));
  }
};
struct LogicalNotF {
  __device__ __forceinline__ uint8_t operator()(uint8_t x) const { return x == 0; }
};

#define KILN_BINARY(Name, expr)                                             \
  struct Name {                                                             \
    template <typename T>                                                   \
    __device__ __forceinline__ T operator()(T x, T y) const { return expr; } \
  };
KILN_BINARY(AddF, x + y)
KILN_BINARY(SubF, x - y)
KILN_BINARY(MulF, x * y)
KILN_BINARY(DivF, x / y)
KILN_BINARY(PowF, m::pow(x, y))
KILN_BINARY(MaximumF, x != x ? x : (y != y ? y : (x > y ? x : y)))
KILN_BINARY(MinimumF, x != x ? x : (y != y ? y : (x < y ? x : y)))
KILN_BINARY(Atan2F, m::atan2(x, y))
KILN_BINARY(FmodF, m::fmod(x, y))
#undef KILN_BINARY

struct IntAddF {
  __device__ __forceinline__ int32_t operator()(int32_t x, int32_t y) const {
    return static_cast<int32_t>(static_cast<uint32_t>(x) + static_cast<uint32_t>(y));
  }
};
struct IntSubF {
  __device__ __forceinline__ int32_t operator()(int32_t x, int32_t y) const {
    return static_cast<int32_t>(static_cast<uint32_t>(x) - static_cast<uint32_t>(y));
  }
};
struct IntMulF {
  __device__ __forceinline__ int32_t operator()(int32_t x, int32_t y) const {
    return static_cast<int32_t>(static_cast<uint32_t>(x) * static_cast<uint32_t>(y));
  }
};
// fmod: C's %, the dividend's sign (torch.fmod); a zero divisor is flagged and gives 0.
struct IntFmodF {
  KernelErrorFlag* flag;
  __device__ __forceinline__ int32_t operator()(int32_t x, int32_t y) const {
    if (y == 0) {
      flagKernelError(flag, kFmodByZero, 0, x, 0);
      return 0;
    }
    return y == -1 ? 0 : x % y;  // INT_MIN % -1 overflows
  }
};
// pow: exact (wrapping) by repeated squaring, like torch.pow on ints; a negative exponent is
// flagged and gives 0.
struct IntPowF {
  KernelErrorFlag* flag;
  __device__ __forceinline__ int32_t operator()(int32_t x, int32_t y) const {
    if (y < 0) {
      flagKernelError(flag, kPowNegative, 0, y, 0);
      return 0;
    }
    uint32_t r = 1, base = static_cast<uint32_t>(x);
    for (uint32_t e = static_cast<uint32_t>(y); e; e >>= 1) {
      if (e & 1) r *= base;
      base *= base;
    }
    return static_cast<int32_t>(r);
  }
};
struct IntMaxF {
  __device__ __forceinline__ int32_t operator()(int32_t x, int32_t y) const { return x > y ? x : y; }
};
struct IntMinF {
  __device__ __forceinline__ int32_t operator()(int32_t x, int32_t y) const { return x < y ? x : y; }
};

// Comparisons write bool; bool inputs compare as 0/1 whatever nonzero byte they hold.
template <typename T>
__device__ __forceinline__ T asKey(T x) { return x; }
__device__ __forceinline__ bool asKey(uint8_t x) { return x != 0; }

#define KILN_COMPARE(Name, op)                                                                      \
  struct Name {                                                                                     \
    template <typename T>                                                                           \
    __device__ __forceinline__ uint8_t operator()(T x, T y) const { return asKey(x) op asKey(y); } \
  };
KILN_COMPARE(EqF, ==)
KILN_COMPARE(NeF, !=)
KILN_COMPARE(LtF, <)
KILN_COMPARE(LeF, <=)
KILN_COMPARE(GtF, >)
KILN_COMPARE(GeF, >=)
#undef KILN_COMPARE

struct AndF {
  __device__ __forceinline__ uint8_t operator()(uint8_t x, uint8_t y) const { return (x != 0) & (y != 0); }
};
struct OrF {
  __device__ __forceinline__ uint8_t operator()(uint8_t x, uint8_t y) const { return (x != 0) | (y != 0); }
};
struct XorF {
  __device__ __forceinline__ uint8_t operator()(uint8_t x, uint8_t y) const { return (x != 0) ^ (y != 0); }
};

template <typename T>
void unaryFloat(Ctx& c, UnaryOp op, const View& out, const View& a) {
  switch (op) {
    case UnaryOp::Neg: return map1<T, T>(c, out, a, NegF{});
    case UnaryOp::Exp: return map1<T, T>(c, out, a, ExpF{});
    case UnaryOp::Log: return map1<T, T>(c, out, a, LogF{});
    case UnaryOp::Sqrt: return map1<T, T>(c, out, a, SqrtF{});
    case UnaryOp::Rsqrt: return map1<T, T>(c, out, a, RsqrtF{});
    case UnaryOp::Tanh: return map1<T, T>(c, out, a, TanhF{});
    case UnaryOp::Sigmoid: return map1<T, T>(c, out, a, SigmoidF{});
    case UnaryOp::Sin: return map1<T, T>(c, out, a, SinF{});
    case UnaryOp::Cos: return map1<T, T>(c, out, a, CosF{});
    case UnaryOp::Abs: return map1<T, T>(c, out, a, AbsF{});
    case UnaryOp::Sign: return map1<T, T>(c, out, a, SignF{});
    case UnaryOp::Erf: return map1<T, T>(c, out, a, ErfF{});
    case UnaryOp::Reciprocal: return map1<T, T>(c, out, a, ReciprocalF{});
    case UnaryOp::Floor: return map1<T, T>(c, out, a, FloorF{});
    case UnaryOp::Ceil: return map1<T, T>(c, out, a, CeilF{});
    case UnaryOp::Round: return map1<T, T>(c, out, a, RoundF{});
    case UnaryOp::Log1p: return map1<T, T>(c, out, a, Log1pF{});
    case UnaryOp::Expm1: return map1<T, T>(c, out, a, Expm1F{});
    case UnaryOp::Relu: return map1<T, T>(c, out, a, ReluF{});
    case UnaryOp::Square: return map1<T, T>(c, out, a, SquareF{});
    default: break;
  }
}

void unaryInt(Ctx& c, UnaryOp op, const View& out, const View& a) {
  switch (op) {
    case UnaryOp::Neg: return map1<int32_t, int32_t>(c, out, a, IntNegF{});
    case UnaryOp::Abs: return map1<int32_t, int32_t>(c, out, a, IntAbsF{});
    case UnaryOp::Sign: return map1<int32_t, int32_t>(c, out, a, IntSignF{});
    case UnaryOp::Relu: return map1<int32_t, int32_t>(c, out, a, IntReluF{});
    case UnaryOp::Square: return map1<int32_t, int32_t>(c, out, a, IntSquareF{});
    default: break;
  }
}

template <typename T>
void binaryFloat(Ctx& c, BinaryOp op, const View& out, const View& a, const View& b) {
  switch (op) {
    case BinaryOp::Add: return map2<T, T>(c, out, a, b, AddF{});
    case BinaryOp::Sub: return map2<T, T>(c, out, a, b, SubF{});
    case BinaryOp::Mul: return map2<T, T>(c, out, a, b, MulF{});
    case BinaryOp::Div: return map2<T, T>(c, out, a, b, DivF{});
    case BinaryOp::Pow: return map2<T, T>(c, out, a, b, PowF{});
    case BinaryOp::Maximum: return map2<T, T>(c, out, a, b, MaximumF{});
    case BinaryOp::Minimum: return map2<T, T>(c, out, a, b, MinimumF{});
    case BinaryOp::Atan2: return map2<T, T>(c, out, a, b, Atan2F{});
    case BinaryOp::Fmod: return map2<T, T>(c, out, a, b, FmodF{});
    default: break;
  }
}

void binaryInt(Ctx& c, BinaryOp op, const View& out, const View& a, const View& b) {
  switch (op) {
    case BinaryOp::Add: return map2<int32_t, int32_t>(c, out, a, b, IntAddF{});
    case BinaryOp::Sub: return map2<int32_t, int32_t>(c, out, a, b, IntSubF{});
    case BinaryOp::Mul: return map2<int32_t, int32_t>(c, out, a, b, IntMulF{});
    case BinaryOp::Maximum: return map2<int32_t, int32_t>(c, out, a, b, IntMaxF{});
    case BinaryOp::Minimum: return map2<int32_t, int32_t>(c, out, a, b, IntMinF{});
    case BinaryOp::Fmod: return map2<int32_t, int32_t>(c, out, a, b, IntFmodF{c.flagDevice});
    case BinaryOp::Pow: return map2<int32_t, int32_t>(c, out, a, b, IntPowF{c.flagDevice});
    default: break;
  }
}

template <typename T>
void compare(Ctx& c, BinaryOp op, const View& out, const View& a, const View& b) {
  switch (op) {
    case BinaryOp::Eq: return map2<uint8_t, T>(c, out, a, b, EqF{});
    case BinaryOp::Ne: return map2<uint8_t, T>(c, out, a, b, NeF{});
    case BinaryOp::Lt: return map2<uint8_t, T>(c, out, a, b, LtF{});
    case BinaryOp::Le: return map2<uint8_t, T>(c, out, a, b, LeF{});
    case BinaryOp::Gt: return map2<uint8_t, T>(c, out, a, b, GtF{});
    case BinaryOp::Ge: return map2<uint8_t, T>(c, out, a, b, GeF{});
    default: break;
  }
}

bool isComparison(BinaryOp op) { return op >= BinaryOp::Eq && op <= BinaryOp::Ge; }
bool isLogical(BinaryOp op) { return op >= BinaryOp::LogicalAnd && op < BinaryOp::Count; }

}  // namespace

void unary(Ctx& c, UnaryOp op, const View& out, const View& a) {
  switch (a.dtype) {
    case DType::Float32: return unaryFloat<float>(c, op, out, a);
    case DType::Float64: return unaryFloat<double>(c, op, out, a);
    case DType::Int32: return unaryInt(c, op, out, a);
    case DType::Bool: return map1<uint8_t, uint8_t>(c, out, a, LogicalNotF{});
  }
}

void binary(Ctx& c, BinaryOp op, const View& out, const View& a, const View& b) {
  if (isComparison(op)) return dispatchStorage(a.dtype, [&](auto tag) { compare<decltype(tag)>(c, op, out, a, b); });
  if (isLogical(op)) {
    switch (op) {
      case BinaryOp::LogicalAnd: return map2<uint8_t, uint8_t>(c, out, a, b, AndF{});
      case BinaryOp::LogicalOr: return map2<uint8_t, uint8_t>(c, out, a, b, OrF{});
      default: return map2<uint8_t, uint8_t>(c, out, a, b, XorF{});
    }
  }
  switch (a.dtype) {
    case DType::Float32: return binaryFloat<float>(c, op, out, a, b);
    case DType::Float64: return binaryFloat<double>(c, op, out, a, b);
    case DType::Int32: return binaryInt(c, op, out, a, b);
    case DType::Bool: break;
  }
}

void where(Ctx& c, const View& out, const View& cond, const View& a, const View& b) {
  dispatchBits(out.dtype, [&](auto tag) { select<decltype(tag)>(c, out, cond, a, b); });
}

// ReLU's VJP (native/cpu/elementwise.cpp): a select, so a NaN or infinite g where x <= 0 gives 0.
struct ReluBackwardF {
  template <typename T>
  __device__ __forceinline__ T operator()(T g, T x) const { return x > T(0) ? g : T(0); }
};

void reluBackward(Ctx& c, const View& out, const View& g, const View& x) {
  if (out.dtype == DType::Float64) map2<double, double>(c, out, g, x, ReluBackwardF{});
  else map2<float, float>(c, out, g, x, ReluBackwardF{});
}

}  // namespace cuda
}  // namespace kiln
