// Validation rules and backend calls for every op. Shapes are computed in TypeScript; this file
// re-checks everything a kernel relies on, so no call from JS can read or write out of bounds.
#include "ops.h"

#include <atomic>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <sstream>

#include "errors.h"

namespace kiln {

double OpCall::attr(int i) const {
  if (i >= nAttrs) fail(ErrorKind::Kiln, "missing attribute #", i, " (got ", nAttrs, ")");
  return attrs[i];
}

int64_t OpCall::intAttr(int i) const {
  double v = attr(i);
  if (!std::isfinite(v) || std::floor(v) != v || std::fabs(v) > 9007199254740992.0)
    fail(ErrorKind::Kiln, "attribute #", i, " must be an integer, got ", v);
  return static_cast<int64_t>(v);
}

namespace {

std::string shapeStr(const Layout& l) {
  std::ostringstream os;
  os << '[';
  for (int i = 0; i < l.ndim; i++) os << (i ? "," : "") << l.shape[i];
  os << ']';
  return os.str();
}

void requireSameShape(const OpDef& op, const View& a, const View& b, const char* what) {
  if (!a.layout.sameShape(b.layout))
    fail(ErrorKind::Shape, op.name, ": ", what, " shapes differ: ", shapeStr(a.layout), " vs ",
         shapeStr(b.layout));
}

void requireDType(const OpDef& op, const View& v, DType t, const char* what) {
  if (v.dtype != t)
    fail(ErrorKind::DType, op.name, ": ", what, " must be ", dtypeName(t), ", got ", dtypeName(v.dtype));
}

void requireSupported(const OpDef& op, const Backend& b, DType t) {
  // The answer depends only on (op, device type, dtype), and backends answer by comparing names:
  // ask once per triple and remember (0 = not asked yet, 1 = supported, 2 = not).
  constexpr size_t kMaxOps = 512;
  static std::atomic<int8_t> cache[2][kMaxOps][kNumDTypes];
  size_t index = static_cast<size_t>(&op - opTable().data());
  int device = b.deviceType() == DeviceType::CUDA ? 1 : 0;
  int8_t known = 0;
  if (index < kMaxOps) known = cache[device][index][static_cast<int>(t)].load(std::memory_order_relaxed);
  if (known == 0) {
    known = b.supports(op.name.c_str(), t) ? 1 : 2;
    if (index < kMaxOps) cache[device][index][static_cast<int>(t)].store(known, std::memory_order_relaxed);
  }
  if (known != 1) fail(ErrorKind::DType, op.name, ": dtype ", dtypeName(t), " is not supported");
}

int checkDim(const OpDef& op, int64_t dim, int ndim) {
  if (dim < 0 || dim >= ndim) fail(ErrorKind::Index, op.name, ": dim ", dim, " out of range for rank ", ndim);
  return static_cast<int>(dim);
}

// ---------------------------------------------------------------- elementwise

const char* kUnaryNames[] = {"neg", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "sin", "cos",
                             "abs", "sign", "erf", "reciprocal", "floor", "ceil", "round", "log1p",
                             "expm1", "relu", "square", "logicalNot"};
const char* kBinaryNames[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "atan2", "fmod",
                              "eq", "ne", "lt", "le", "gt", "ge", "logicalAnd", "logicalOr", "logicalXor"};
static_assert(sizeof(kUnaryNames) / sizeof(kUnaryNames[0]) == static_cast<int>(UnaryOp::Count), "unary names");
static_assert(sizeof(kBinaryNames) / sizeof(kBinaryNames[0]) == static_cast<int>(BinaryOp::Count), "binary names");


bool isComparison(BinaryOp op) { return op >= BinaryOp::Eq && op <= BinaryOp::Ge; }

void checkUnary(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &out = c.outs[0], &a = c.ins[0];
  requireSameShape(op, out, a, "output and input");
  requireSupported(op, b, a.dtype);
  requireDType(op, out, a.dtype, "output");
}

void checkBinary(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &out = c.outs[0], &x = c.ins[0], &y = c.ins[1];
  requireSameShape(op, x, y, "input");
  requireSameShape(op, out, x, "output and input");
  if (x.dtype != y.dtype)
    fail(ErrorKind::DType, op.name, ": input dtypes differ: ", dtypeName(x.dtype), " vs ", dtypeName(y.dtype));
  requireSupported(op, b, x.dtype);
  BinaryOp k = static_cast<BinaryOp>(op.sub);
  requireDType(op, out, isComparison(k) ? DType::Bool : x.dtype, "output");
}

void runUnary(const OpDef& op, Backend& b, const OpCall& c) { b.unary(static_cast<UnaryOp>(op.sub), c.outs[0], c.ins[0]); }
void runBinary(const OpDef& op, Backend& b, const OpCall& c) {
  b.binary(static_cast<BinaryOp>(op.sub), c.outs[0], c.ins[0], c.ins[1]);
}

void checkWhere(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &out = c.outs[0], &cond = c.ins[0], &x = c.ins[1], &y = c.ins[2];
  requireDType(op, cond, DType::Bool, "condition");
  requireSameShape(op, cond, x, "condition and input");
  requireSameShape(op, x, y, "input");
  requireSameShape(op, out, x, "output and input");
  if (x.dtype != y.dtype)
    fail(ErrorKind::DType, op.name, ": input dtypes differ: ", dtypeName(x.dtype), " vs ", dtypeName(y.dtype));
  requireDType(op, out, x.dtype, "output");
  requireSupported(op, b, x.dtype);
}
void runWhere(const OpDef&, Backend& b, const OpCall& c) { b.where(c.outs[0], c.ins[0], c.ins[1], c.ins[2]); }

// ---------------------------------------------------------------- reductions

// attrs: dimMask
void checkReduce(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &out = c.outs[0], &a = c.ins[0];
  int64_t mask = c.intAttr(0);
  if (mask < 0 || mask >= (int64_t{1} << a.ndim()))
    fail(ErrorKind::Index, op.name, ": dim mask ", mask, " out of range for rank ", a.ndim());
  if (out.ndim() != a.ndim())
    fail(ErrorKind::Shape, op.name, ": output rank ", out.ndim(), " != input rank ", a.ndim());
  int reduced = 0;
  for (int d = 0; d < a.ndim(); d++) {
    bool r = (mask >> d) & 1;
    reduced += r;
    int64_t want = r ? 1 : a.size(d);
    if (out.size(d) != want)
      fail(ErrorKind::Shape, op.name, ": output shape ", shapeStr(out.layout), " does not match input ",
           shapeStr(a.layout), " reduced over mask ", mask);
    if (r && a.size(d) == 0 && (op.name == "max" || op.name == "min" || op.name == "argmax" || op.name == "argmin"))
      fail(ErrorKind::Shape, op.name, ": cannot reduce over an empty dimension ", d, " of ", shapeStr(a.layout));
  }
  requireSupported(op, b, a.dtype);
  ReduceOp k = static_cast<ReduceOp>(op.sub);
  if (k == ReduceOp::ArgMax || k == ReduceOp::ArgMin) {
    if (reduced != 1) fail(ErrorKind::Shape, op.name, ": exactly one dim must be reduced, got ", reduced);
    requireDType(op, out, DType::Int32, "output");
  } else {
    requireDType(op, out, a.dtype, "output");
  }
}
void runReduce(const OpDef& op, Backend& b, const OpCall& c) {
  b.reduce(static_cast<ReduceOp>(op.sub), c.outs[0], c.ins[0], static_cast<uint32_t>(c.intAttr(0)));
}

// attrs: dim
void checkCumsum(const OpDef& op, const OpCall& c, const Backend& b) {
  requireSameShape(op, c.outs[0], c.ins[0], "output and input");
  requireDType(op, c.outs[0], c.ins[0].dtype, "output");
  requireSupported(op, b, c.ins[0].dtype);
  checkDim(op, c.intAttr(0), c.ins[0].ndim());
}
void runCumsum(const OpDef&, Backend& b, const OpCall& c) { b.cumsum(c.outs[0], c.ins[0], static_cast<int>(c.intAttr(0))); }

// ---------------------------------------------------------------- matmul

void checkMatmul(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &out = c.outs[0], &x = c.ins[0], &y = c.ins[1];
  int n = out.ndim();
  if (n < 2 || x.ndim() != n || y.ndim() != n)
    fail(ErrorKind::Shape, op.name, ": operands must have equal rank >= 2 (batch dims expanded), got ",
         shapeStr(x.layout), " and ", shapeStr(y.layout));
  for (int d = 0; d < n - 2; d++)
    if (x.size(d) != out.size(d) || y.size(d) != out.size(d))
      fail(ErrorKind::Shape, op.name, ": batch dims differ: ", shapeStr(x.layout), ", ", shapeStr(y.layout),
           " -> ", shapeStr(out.layout));
  if (x.size(n - 1) != y.size(n - 2))
    fail(ErrorKind::Shape, op.name, ": shapes ", shapeStr(x.layout), " and ", shapeStr(y.layout),
         " cannot be multiplied (", x.size(n - 1), " != ", y.size(n - 2), ")");
  if (out.size(n - 2) != x.size(n - 2) || out.size(n - 1) != y.size(n - 1))
    fail(ErrorKind::Shape, op.name, ": output shape ", shapeStr(out.layout), " does not match");
  if (x.dtype != y.dtype) fail(ErrorKind::DType, op.name, ": dtypes differ: ", dtypeName(x.dtype), " vs ", dtypeName(y.dtype));
  requireDType(op, out, x.dtype, "output");
  requireSupported(op, b, x.dtype);
}
void runMatmul(const OpDef&, Backend& b, const OpCall& c) { b.matmul(c.outs[0], c.ins[0], c.ins[1]); }

// matmulBias: out = x @ y + bias, bias [N] added to every row (a linear layer's forward in one
// call: one dispatch from JS instead of two). Backend::matmulBias composes it from matmul and an
// add unless the backend fuses the two (CUDA: cuBLASLt's bias epilogue).
void checkMatmulBias(const OpDef& op, const OpCall& c, const Backend& b) {
  checkMatmul(op, c, b);
  const View &out = c.outs[0], &bias = c.ins[2];
  if (bias.ndim() != 1 || bias.size(0) != out.size(out.ndim() - 1))
    fail(ErrorKind::Shape, op.name, ": bias ", shapeStr(bias.layout), " must be [", out.size(out.ndim() - 1), "]");
  requireDType(op, bias, out.dtype, "bias");
}
void runMatmulBias(const OpDef&, Backend& b, const OpCall& c) {
  b.matmulBias(c.outs[0], c.ins[0], c.ins[1], c.ins[2]);
}

// ---------------------------------------------------------------- indexing

// Index values are checked here, on the host, before any kernel runs. For device memory the
// backend would check them itself; the CPU index views are directly readable.
void checkIndexValues(const OpDef& op, const View& index, int64_t limit, const Backend& b) {
  if (b.deviceType() != DeviceType::CPU) return;
  // Only dims that move through memory: along a stride-0 (expanded) dim the values repeat, and
  // walking them could take forever (an index expanded to 2^40 elements).
  Layout l;
  l.offset = index.layout.offset;
  for (int d = 0; d < index.layout.ndim; d++) {
    if (index.layout.shape[d] == 0) return;  // no elements
    if (index.layout.shape[d] == 1 || index.layout.strides[d] == 0) continue;
    l.shape[l.ndim] = index.layout.shape[d];
    l.strides[l.ndim++] = index.layout.strides[d];
  }
  int64_t n = l.numel();
  int64_t idx[kMaxDims] = {};
  const int32_t* base = static_cast<const int32_t*>(index.data);
  if (l.isContiguous()) {
    // One pass for the range (vectorizes), a second only to name the offending value.
    const int32_t* p = base + l.offset;
    int32_t lo = p[0], hi = p[0];
    for (int64_t k = 1; k < n; k++) {
      lo = std::min(lo, p[k]);
      hi = std::max(hi, p[k]);
    }
    if (lo >= 0 && hi < limit) return;
  }
  for (int64_t k = 0; k < n; k++) {
    int64_t off = l.offset;
    for (int d = 0; d < l.ndim; d++) off += idx[d] * l.strides[d];
    int32_t v = base[off];
    if (v < 0 || v >= limit)
      fail(ErrorKind::Index, op.name, ": index ", v, " is out of bounds for dimension of size ", limit);
    for (int d = l.ndim - 1; d >= 0; d--) {
      if (++idx[d] < l.shape[d]) break;
      idx[d] = 0;
    }
  }
}

// gather: out = src.gather(dim, index); attrs: dim
void checkGather(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &out = c.outs[0], &src = c.ins[0], &index = c.ins[1];
  int dim = checkDim(op, c.intAttr(0), src.ndim());
  requireDType(op, index, DType::Int32, "index");
  if (index.ndim() != src.ndim())
    fail(ErrorKind::Shape, op.name, ": index rank ", index.ndim(), " != input rank ", src.ndim());
  for (int d = 0; d < src.ndim(); d++)
    if (d != dim && index.size(d) > src.size(d))
      fail(ErrorKind::Shape, op.name, ": index shape ", shapeStr(index.layout), " exceeds input shape ",
           shapeStr(src.layout), " at dim ", d);
  requireSameShape(op, out, index, "output and index");
  requireDType(op, out, src.dtype, "output");
  requireSupported(op, b, src.dtype);
  checkIndexValues(op, index, src.size(dim), b);
}
void runGather(const OpDef&, Backend& b, const OpCall& c) { b.gather(c.outs[0], c.ins[0], c.ins[1], static_cast<int>(c.intAttr(0))); }

// scatterAdd: out (in place) [index] += src; attrs: dim
void checkScatterAdd(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &out = c.outs[0], &index = c.ins[0], &src = c.ins[1];
  int dim = checkDim(op, c.intAttr(0), out.ndim());
  requireDType(op, index, DType::Int32, "index");
  requireSameShape(op, index, src, "index and source");
  if (index.ndim() != out.ndim())
    fail(ErrorKind::Shape, op.name, ": index rank ", index.ndim(), " != output rank ", out.ndim());
  for (int d = 0; d < out.ndim(); d++)
    if (d != dim && index.size(d) > out.size(d))
      fail(ErrorKind::Shape, op.name, ": index shape ", shapeStr(index.layout), " exceeds output shape ",
           shapeStr(out.layout), " at dim ", d);
  requireDType(op, src, out.dtype, "source");
  requireSupported(op, b, out.dtype);
  checkIndexValues(op, index, out.size(dim), b);
}
void runScatterAdd(const OpDef&, Backend& b, const OpCall& c) {
  b.scatterAdd(c.outs[0], c.ins[0], c.ins[1], static_cast<int>(c.intAttr(0)));
}

// indexSelect: attrs: dim; index is 1-D
void checkIndexSelect(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &out = c.outs[0], &src = c.ins[0], &index = c.ins[1];
  int dim = checkDim(op, c.intAttr(0), src.ndim());
  requireDType(op, index, DType::Int32, "index");
  if (index.ndim() != 1) fail(ErrorKind::Shape, op.name, ": index must be 1-D, got ", shapeStr(index.layout));
  if (out.ndim() != src.ndim()) fail(ErrorKind::Shape, op.name, ": output rank mismatch");
  for (int d = 0; d < src.ndim(); d++) {
    int64_t want = d == dim ? index.size(0) : src.size(d);
    if (out.size(d) != want)
      fail(ErrorKind::Shape, op.name, ": output shape ", shapeStr(out.layout), " does not match input ",
           shapeStr(src.layout), " with ", index.size(0), " indices on dim ", dim);
  }
  requireDType(op, out, src.dtype, "output");
  requireSupported(op, b, src.dtype);
  checkIndexValues(op, index, src.size(dim), b);
}
void runIndexSelect(const OpDef&, Backend& b, const OpCall& c) {
  b.indexSelect(c.outs[0], c.ins[0], c.ins[1], static_cast<int>(c.intAttr(0)));
}

// pad: attrs: value, before[0..ndim)   (after is implied by the output shape)
void checkPad(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &out = c.outs[0], &a = c.ins[0];
  if (out.ndim() != a.ndim()) fail(ErrorKind::Shape, op.name, ": output rank mismatch");
  if (c.nAttrs != 1 + a.ndim()) fail(ErrorKind::Kiln, op.name, ": expected ", 1 + a.ndim(), " attributes, got ", c.nAttrs);
  for (int d = 0; d < a.ndim(); d++) {
    int64_t before = c.intAttr(1 + d);
    if (before < 0 || before + a.size(d) > out.size(d))
      fail(ErrorKind::Shape, op.name, ": padding ", before, " on dim ", d, " does not fit input ", shapeStr(a.layout),
           " into output ", shapeStr(out.layout));
  }
  requireDType(op, out, a.dtype, "output");
  requireSupported(op, b, a.dtype);
}
void runPad(const OpDef&, Backend& b, const OpCall& c) {
  int64_t before[kMaxDims];
  for (int d = 0; d < c.ins[0].ndim(); d++) before[d] = c.intAttr(1 + d);
  b.pad(c.outs[0], c.ins[0], before, c.attr(0));
}

// ---------------------------------------------------------------- copies and creation

void checkCast(const OpDef& op, const OpCall& c, const Backend& b) {
  requireSameShape(op, c.outs[0], c.ins[0], "output and input");
  requireSupported(op, b, c.ins[0].dtype);
  requireSupported(op, b, c.outs[0].dtype);
}
void runCast(const OpDef&, Backend& b, const OpCall& c) { b.cast(c.outs[0], c.ins[0]); }

void checkCopy(const OpDef& op, const OpCall& c, const Backend& b) {
  requireSameShape(op, c.outs[0], c.ins[0], "destination and source");
  requireDType(op, c.ins[0], c.outs[0].dtype, "source");
  requireSupported(op, b, c.outs[0].dtype);
}
void runCopy(const OpDef&, Backend& b, const OpCall& c) { b.copy(c.outs[0], c.ins[0]); }

void checkFill(const OpDef& op, const OpCall& c, const Backend& b) {
  c.attr(0);
  requireSupported(op, b, c.outs[0].dtype);
}
void runFill(const OpDef&, Backend& b, const OpCall& c) { b.fill(c.outs[0], c.attr(0)); }

// empty: a fresh output left uninitialized, for callers that write every element next (cat).
void checkEmpty(const OpDef&, const OpCall&, const Backend&) {}
void runEmpty(const OpDef&, Backend&, const OpCall&) {}

void checkArange(const OpDef& op, const OpCall& c, const Backend& b) {
  if (c.outs[0].ndim() != 1) fail(ErrorKind::Shape, op.name, ": output must be 1-D");
  c.attr(1);
  requireSupported(op, b, c.outs[0].dtype);
}
void runArange(const OpDef&, Backend& b, const OpCall& c) { b.arange(c.outs[0], c.attr(0), c.attr(1)); }

// random ops: attrs: seedLo, seedHi, offsetLo, offsetHi, a, b
uint64_t u64Attr(const OpCall& c, int lo) {
  int64_t l = c.intAttr(lo), h = c.intAttr(lo + 1);
  if (l < 0 || l > 0xffffffffLL || h < 0 || h > 0xffffffffLL)
    fail(ErrorKind::Kiln, "random: seed/offset words must be uint32");
  return (static_cast<uint64_t>(h) << 32) | static_cast<uint64_t>(l);
}
void checkRandom(const OpDef& op, const OpCall& c, const Backend& b) {
  u64Attr(c, 0);
  u64Attr(c, 2);
  double lo = c.attr(4), hi = c.attr(5);
  RandomOp k = static_cast<RandomOp>(op.sub);
  DType t = c.outs[0].dtype;
  if ((k == RandomOp::Uniform || k == RandomOp::Normal) && !isFloating(t))
    fail(ErrorKind::DType, op.name, ": output must be float32 or float64, got ", dtypeName(t));
  if (k == RandomOp::Bernoulli && !(lo >= 0 && lo <= 1))
    fail(ErrorKind::Kiln, op.name, ": probability must be in [0, 1], got ", lo);
  if (k == RandomOp::RandInt) {
    if (!(hi > lo) || std::floor(lo) != lo || std::floor(hi) != hi || hi - lo > 4294967296.0)
      fail(ErrorKind::Kiln, op.name, ": need integers low < high with high - low <= 2^32, got [", lo, ", ", hi, ")");
    if (t == DType::Bool) fail(ErrorKind::DType, op.name, ": output cannot be bool");
    if (t == DType::Int32 && (lo < -2147483648.0 || hi > 2147483648.0))
      fail(ErrorKind::Kiln, op.name, ": [", lo, ", ", hi, ") does not fit int32");
  }
  if (k == RandomOp::Normal && !(hi >= 0)) fail(ErrorKind::Kiln, op.name, ": std must be >= 0, got ", hi);
  requireSupported(op, b, t);
}
void runRandom(const OpDef& op, Backend& b, const OpCall& c) {
  b.random(static_cast<RandomOp>(op.sub), c.outs[0], u64Attr(c, 0), u64Attr(c, 2), c.attr(4), c.attr(5));
}

// ---------------------------------------------------------------- convolution and pooling

// Geometry attributes are bounded, and spans (o * stride + k * dilation + pad) are checked
// against 2^61, so the kernels' int64 index arithmetic cannot overflow.
constexpr int64_t kMaxGeometry = int64_t{1} << 31;
constexpr double kMaxSpan = 2305843009213693952.0;  // 2^61

int64_t geometryAttr(const OpDef& op, const OpCall& c, int i, const char* what, int64_t lo) {
  int64_t v = c.intAttr(i);
  if (v < lo || v > kMaxGeometry)
    fail(ErrorKind::Kiln, op.name, ": ", what, " must be an integer in [", lo, ", ", kMaxGeometry, "], got ", v);
  return v;
}

int spatialAttr(const OpDef& op, const OpCall& c) {
  int64_t s = c.intAttr(0);
  if (s < 1 || s > 3) fail(ErrorKind::Kiln, op.name, ": 1 to 3 spatial dims are supported, got ", s);
  return static_cast<int>(s);
}

void requireFloatOperands(const OpDef& op, const Backend& b, std::initializer_list<const View*> vs) {
  const View& first = **vs.begin();
  if (!isFloating(first.dtype))
    fail(ErrorKind::DType, op.name, ": expects float32 or float64 tensors, got ", dtypeName(first.dtype));
  for (const View* v : vs)
    if (v->dtype != first.dtype)
      fail(ErrorKind::DType, op.name, ": dtypes differ: ", dtypeName(first.dtype), " vs ", dtypeName(v->dtype));
  requireSupported(op, b, first.dtype);
}

// attrs: spatial S, stride[S], pad[S], dilation[S], groups
ConvParams convParams(const OpDef& op, const OpCall& c) {
  ConvParams p;
  p.spatial = spatialAttr(op, c);
  const int S = p.spatial;
  if (c.nAttrs != 2 + 3 * S) fail(ErrorKind::Kiln, op.name, ": expected ", 2 + 3 * S, " attributes, got ", c.nAttrs);
  for (int i = 0; i < S; i++) {
    p.stride[i] = geometryAttr(op, c, 1 + i, "stride", 1);
    p.pad[i] = geometryAttr(op, c, 1 + S + i, "padding", 0);
    p.dilation[i] = geometryAttr(op, c, 1 + 2 * S + i, "dilation", 1);
  }
  p.groups = geometryAttr(op, c, 1 + 3 * S, "groups", 1);
  return p;
}

// x [N, Cin, *I], w [Cout, Cin/groups, *K], y [N, Cout, *O], bias [Cout] (or null).
void checkConvOperands(const OpDef& op, const Backend& b, const ConvParams& p, const View& x, const View& w,
                       const View& y, const View* bias) {
  const int n = p.spatial + 2;
  if (x.ndim() != n || w.ndim() != n || y.ndim() != n)
    fail(ErrorKind::Shape, op.name, ": input ", shapeStr(x.layout), ", weight ", shapeStr(w.layout), " and output ",
         shapeStr(y.layout), " must have rank ", n, " for ", p.spatial, " spatial dims");
  if (bias) requireFloatOperands(op, b, {&x, &w, &y, bias});
  else requireFloatOperands(op, b, {&x, &w, &y});
  const int64_t G = p.groups, Cin = x.size(1), Cout = w.size(0);
  if (Cin % G != 0 || Cout % G != 0)
    fail(ErrorKind::Shape, op.name, ": input channels ", Cin, " and output channels ", Cout,
         " must both be divisible by groups ", G);
  if (w.size(1) * G != Cin)
    fail(ErrorKind::Shape, op.name, ": weight ", shapeStr(w.layout), " with groups ", G, " expects ", w.size(1) * G,
         " input channels, input ", shapeStr(x.layout), " has ", Cin);
  if (y.size(0) != x.size(0) || y.size(1) != Cout)
    fail(ErrorKind::Shape, op.name, ": output ", shapeStr(y.layout), " does not match input ", shapeStr(x.layout),
         " and weight ", shapeStr(w.layout));
  for (int d = 0; d < p.spatial; d++) {
    const int64_t I = x.size(2 + d), K = w.size(2 + d), O = y.size(2 + d);
    if (K < 1) fail(ErrorKind::Shape, op.name, ": kernel ", shapeStr(w.layout), " has an empty spatial dim");
    const double span = double(O) * double(p.stride[d]) + double(K) * double(p.dilation[d]) + double(p.pad[d]) + double(I);
    if (span > kMaxSpan) fail(ErrorKind::Shape, op.name, ": geometry too large on spatial dim ", d);
  }
  if (bias && (bias->ndim() != 1 || bias->size(0) != Cout))
    fail(ErrorKind::Shape, op.name, ": bias ", shapeStr(bias->layout), " must have shape [", Cout, "]");
}

// conv / convBias: y = conv(x, w) (+ bias)
void checkConv(const OpDef& op, const OpCall& c, const Backend& b) {
  const ConvParams p = convParams(op, c);
  checkConvOperands(op, b, p, c.ins[0], c.ins[1], c.outs[0], c.ins.size() > 2 ? &c.ins[2] : nullptr);
}
void runConv(const OpDef& op, Backend& b, const OpCall& c) {
  b.conv(c.outs[0], c.ins[0], c.ins[1], c.ins.size() > 2 ? &c.ins[2] : nullptr, convParams(op, c));
}

// convTranspose: x = the adjoint of conv in x applied to y; ins: y, w
void checkConvTranspose(const OpDef& op, const OpCall& c, const Backend& b) {
  checkConvOperands(op, b, convParams(op, c), c.outs[0], c.ins[1], c.ins[0], nullptr);
}
void runConvTranspose(const OpDef& op, Backend& b, const OpCall& c) {
  b.convTranspose(c.outs[0], c.ins[0], c.ins[1], convParams(op, c));
}

// convWeightGrad: w = the adjoint of conv in w; ins: x, y
void checkConvWeightGrad(const OpDef& op, const OpCall& c, const Backend& b) {
  checkConvOperands(op, b, convParams(op, c), c.ins[0], c.outs[0], c.ins[1], nullptr);
}
void runConvWeightGrad(const OpDef& op, Backend& b, const OpCall& c) {
  b.convWeightGrad(c.outs[0], c.ins[0], c.ins[1], convParams(op, c));
}

// attrs: spatial S, adaptive, kernel[S], stride[S], pad[S], dilation[S], countIncludePad, divisor
PoolParams poolParams(const OpDef& op, const OpCall& c) {
  PoolParams p;
  p.spatial = spatialAttr(op, c);
  const int S = p.spatial;
  if (c.nAttrs != 4 + 4 * S) fail(ErrorKind::Kiln, op.name, ": expected ", 4 + 4 * S, " attributes, got ", c.nAttrs);
  p.adaptive = geometryAttr(op, c, 1, "adaptive flag", 0) != 0;
  for (int i = 0; i < S; i++) {
    p.kernel[i] = geometryAttr(op, c, 2 + i, "kernel size", 1);
    p.stride[i] = geometryAttr(op, c, 2 + S + i, "stride", 1);
    p.pad[i] = geometryAttr(op, c, 2 + 2 * S + i, "padding", 0);
    p.dilation[i] = geometryAttr(op, c, 2 + 3 * S + i, "dilation", 1);
  }
  p.countIncludePad = geometryAttr(op, c, 2 + 4 * S, "countIncludePad flag", 0) != 0;
  p.divisor = geometryAttr(op, c, 3 + 4 * S, "divisor", 0);
  return p;
}

int64_t floorDivide(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// x: the pooled input [N, C, *I]; y: the pooled side [N, C, *O] (output or adjoint input).
// Every window must hold at least one input element.
void checkPoolOperands(const OpDef& op, const PoolParams& p, const View& x, const View& y) {
  const int n = p.spatial + 2;
  if (x.ndim() != n || y.ndim() != n)
    fail(ErrorKind::Shape, op.name, ": input ", shapeStr(x.layout), " and output ", shapeStr(y.layout),
         " must have rank ", n, " for ", p.spatial, " spatial dims");
  if (x.size(0) != y.size(0) || x.size(1) != y.size(1))
    fail(ErrorKind::Shape, op.name, ": output ", shapeStr(y.layout), " does not match input ", shapeStr(x.layout),
         " in its batch and channel dims");
  for (int d = 0; d < p.spatial; d++) {
    const int64_t I = x.size(2 + d), O = y.size(2 + d);
    if (O == 0) continue;
    if (p.adaptive) {
      if (I == 0 || double(I) * double(O + 1) > kMaxSpan)
        fail(ErrorKind::Shape, op.name, ": cannot pool input ", shapeStr(x.layout), " adaptively to ", shapeStr(y.layout));
      continue;
    }
    const int64_t s = p.stride[d], pad = p.pad[d], K = p.kernel[d], dil = p.dilation[d];
    if (double(O) * double(s) + double(K) * double(dil) + double(pad) + double(I) > kMaxSpan)
      fail(ErrorKind::Shape, op.name, ": geometry too large on spatial dim ", d);
    for (int64_t o = 0; o < O; o++) {
      const int64_t start = o * s - pad;
      const int64_t kl = std::max<int64_t>(0, -floorDivide(start, dil));  // ceil(-start / dil)
      const int64_t kh = std::min(K, -floorDivide(start - I, dil));       // ceil((I - start) / dil)
      if (kl >= kh)
        fail(ErrorKind::Shape, op.name, ": pooling window ", o, " on spatial dim ", d, " of input ",
             shapeStr(x.layout), " holds no input element (output ", shapeStr(y.layout), ")");
    }
  }
}

void checkMaxPoolIndices(const OpDef& op, const OpCall& c, const Backend& b) {
  const PoolParams p = poolParams(op, c);
  const View &index = c.outs[0], &x = c.ins[0];
  checkPoolOperands(op, p, x, index);
  requireDType(op, index, DType::Int32, "index output");
  requireFloatOperands(op, b, {&x});
  double positions = 1;
  for (int d = 0; d < p.spatial; d++) positions *= double(x.size(2 + d));
  if (positions > 2147483647.0)
    fail(ErrorKind::Shape, op.name, ": input ", shapeStr(x.layout), " has too many positions for int32 indices");
}
void runMaxPoolIndices(const OpDef& op, Backend& b, const OpCall& c) {
  b.maxPoolIndices(c.outs[0], c.ins[0], poolParams(op, c));
}

// maxPool: y = window maxima of x; maxPoolGrad: dx = its VJP at x (ins x, gy)
void checkPoolPositions(const OpDef& op, const PoolParams& p, const View& x) {
  double positions = 1;
  for (int d = 0; d < p.spatial; d++) positions *= double(x.size(2 + d));
  if (positions > 2147483647.0)
    fail(ErrorKind::Shape, op.name, ": input ", shapeStr(x.layout), " has too many positions for int32 indices");
}
void checkMaxPool(const OpDef& op, const OpCall& c, const Backend& b) {
  const PoolParams p = poolParams(op, c);
  checkPoolOperands(op, p, c.ins[0], c.outs[0]);
  requireFloatOperands(op, b, {&c.ins[0], &c.outs[0]});
  checkPoolPositions(op, p, c.ins[0]);
}
void runMaxPool(const OpDef& op, Backend& b, const OpCall& c) { b.maxPool(c.outs[0], c.ins[0], poolParams(op, c)); }
void checkMaxPoolGrad(const OpDef& op, const OpCall& c, const Backend& b) {
  const PoolParams p = poolParams(op, c);
  const View &dx = c.outs[0], &x = c.ins[0], &gy = c.ins[1];
  checkPoolOperands(op, p, x, gy);
  requireSameShape(op, dx, x, "output and input");
  requireFloatOperands(op, b, {&x, &gy, &dx});
  checkPoolPositions(op, p, x);
}
void runMaxPoolGrad(const OpDef& op, Backend& b, const OpCall& c) {
  b.maxPoolGrad(c.outs[0], c.ins[0], c.ins[1], poolParams(op, c));
}

// reluBackward: out = x > 0 ? g : 0; ins: g, x
void checkReluBackward(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &out = c.outs[0], &g = c.ins[0], &x = c.ins[1];
  requireSameShape(op, g, x, "gradient and input");
  requireSameShape(op, out, x, "output and input");
  requireFloatOperands(op, b, {&g, &x, &out});
}
void runReluBackward(const OpDef&, Backend& b, const OpCall& c) { b.reluBackward(c.outs[0], c.ins[0], c.ins[1]); }

// maxPoolBackward: x [N, C, *I] (fresh) = max pooling's VJP; ins: y [N, C, *O] (the cotangent),
// index (int32, y's shape, flat positions within *I)
void checkMaxPoolBackward(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &x = c.outs[0], &y = c.ins[0], &index = c.ins[1];
  if (x.ndim() < 3 || x.ndim() > 5 || y.ndim() != x.ndim())
    fail(ErrorKind::Shape, op.name, ": input ", shapeStr(x.layout), " and output ", shapeStr(y.layout),
         " must have one rank, 1 to 3 spatial dims after [N, C]");
  if (x.size(0) != y.size(0) || x.size(1) != y.size(1))
    fail(ErrorKind::Shape, op.name, ": output ", shapeStr(y.layout), " does not match input ", shapeStr(x.layout),
         " in its batch and channel dims");
  requireSameShape(op, y, index, "gradient and index");
  requireDType(op, index, DType::Int32, "index");
  requireFloatOperands(op, b, {&y, &x});
  double positions = 1;
  for (int d = 2; d < x.ndim(); d++) positions *= double(x.size(d));
  if (positions > 2147483647.0)
    fail(ErrorKind::Shape, op.name, ": input ", shapeStr(x.layout), " has too many positions for int32 indices");
  checkIndexValues(op, index, static_cast<int64_t>(positions), b);
}
void runMaxPoolBackward(const OpDef&, Backend& b, const OpCall& c) { b.maxPoolBackward(c.outs[0], c.ins[0], c.ins[1]); }

void checkAvgPoolParams(const OpDef& op, const PoolParams& p) {
  for (int d = 0; d < p.spatial; d++)
    if (p.dilation[d] != 1) fail(ErrorKind::Kiln, op.name, ": average pooling does not support dilation");
}
// avgPool: y = window means of x
void checkAvgPool(const OpDef& op, const OpCall& c, const Backend& b) {
  const PoolParams p = poolParams(op, c);
  checkAvgPoolParams(op, p);
  checkPoolOperands(op, p, c.ins[0], c.outs[0]);
  requireFloatOperands(op, b, {&c.ins[0], &c.outs[0]});
}
void runAvgPool(const OpDef& op, Backend& b, const OpCall& c) { b.avgPool(c.outs[0], c.ins[0], poolParams(op, c)); }

// avgPoolTranspose: x = the adjoint of avgPool applied to y; ins: y
void checkAvgPoolTranspose(const OpDef& op, const OpCall& c, const Backend& b) {
  const PoolParams p = poolParams(op, c);
  checkAvgPoolParams(op, p);
  checkPoolOperands(op, p, c.outs[0], c.ins[0]);
  requireFloatOperands(op, b, {&c.ins[0], &c.outs[0]});
}
void runAvgPoolTranspose(const OpDef& op, Backend& b, const OpCall& c) {
  b.avgPoolTranspose(c.outs[0], c.ins[0], poolParams(op, c));
}

// ---------------------------------------------------------------- fused optimizer steps

// outs (written in place): the parameter, then its state buffers, an empty tensor standing for an
// absent one; ins: the gradient. attrs:
//   sgdStep     lr, momentum, dampening, weightDecay, nesterov, maximize, firstStep
//               outs: param, momentumBuffer (needed when momentum != 0)
//   adamStep    lr, beta1, beta2, eps, weightDecay, decoupled (AdamW), amsgrad, maximize, step
//               outs: param, expAvg, expAvgSq, maxExpAvgSq (needed with amsgrad)
//   adagradStep clr (lr already decayed), weightDecay, eps, maximize
//               outs: param, sum
//   rmspropStep lr, alpha, eps, weightDecay, momentum, centered, maximize
//               outs: param, squareAvg, momentumBuffer (momentum > 0), gradAvg (centered)
const char* kOptimNames[] = {"sgdStep", "adamStep", "adagradStep", "rmspropStep"};
const int kOptimAttrs[] = {7, 9, 4, 7};
const int kOptimOuts[] = {2, 4, 2, 4};
static_assert(sizeof(kOptimNames) / sizeof(kOptimNames[0]) == static_cast<int>(OptimOp::Count), "optim names");

void checkOptim(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &param = c.outs[0], &grad = c.ins[0];
  OptimOp k = static_cast<OptimOp>(op.sub);
  if (param.dtype != DType::Float32 && param.dtype != DType::Float64)
    fail(ErrorKind::DType, op.name, ": parameters must be float32 or float64, got ", dtypeName(param.dtype));
  requireDType(op, grad, param.dtype, "gradient");
  requireSameShape(op, param, grad, "parameter and gradient");
  if (!param.isContiguous() || !grad.isContiguous())
    fail(ErrorKind::Kiln, op.name, ": parameter and gradient must be contiguous");
  int want = kOptimAttrs[op.sub];
  if (c.nAttrs != want) fail(ErrorKind::Kiln, op.name, ": expected ", want, " attributes, got ", c.nAttrs);
  for (int i = 0; i < c.nAttrs; i++)
    if (!std::isfinite(c.attr(i))) fail(ErrorKind::Kiln, op.name, ": attribute #", i, " is not finite");
  // Which state buffers this configuration reads and writes.
  bool need[4] = {true, false, false, false};
  switch (k) {
    case OptimOp::Sgd: need[1] = c.attr(1) != 0; break;
    case OptimOp::Adam: need[1] = need[2] = true; need[3] = c.attr(6) != 0; break;
    case OptimOp::Adagrad: need[1] = true; break;
    case OptimOp::RMSprop: need[1] = true; need[2] = c.attr(4) > 0; need[3] = c.attr(5) != 0; break;
    default: break;
  }
  for (int i = 1; i < kOptimOuts[op.sub]; i++) {
    const View& s = c.outs[i];
    if (s.numel() == 0 && param.numel() != 0) {
      if (need[i]) fail(ErrorKind::Kiln, op.name, ": state buffer #", i, " is required by these options");
      continue;
    }
    requireDType(op, s, param.dtype, "state buffer");
    requireSameShape(op, param, s, "parameter and state buffer");
    if (!s.isContiguous()) fail(ErrorKind::Kiln, op.name, ": state buffer #", i, " must be contiguous");
    for (int j = 0; j < i; j++)
      if (c.outs[j].numel() != 0 && c.outs[j].data == s.data && c.outs[j].layout.offset == s.layout.offset)
        fail(ErrorKind::Kiln, op.name, ": state buffers #", j, " and #", i, " are the same tensor");
  }
  requireSupported(op, b, param.dtype);
}
void runOptim(const OpDef& op, Backend& b, const OpCall& c) {
  View states[4];
  int n = static_cast<int>(c.outs.size());
  for (int i = 0; i < n; i++) states[i] = c.outs[i];
  b.optimStep(static_cast<OptimOp>(op.sub), states, n, c.ins[0], c.attrs, c.nAttrs);
}

// ---------------------------------------------------------------- recurrent cells

// lstmCell: out [2, B, H]; ins: gates [B, 4H], c [B, H]. lstmCellBackward: out [B, 5H]; ins:
// gates, c, grad [2, B, H].
void checkLstmOperands(const OpDef& op, const Backend& b, const View& gates, const View& c, const View* grad) {
  if (gates.ndim() != 2 || c.ndim() != 2 || gates.size(0) != c.size(0) || gates.size(1) != 4 * c.size(1))
    fail(ErrorKind::Shape, op.name, ": gates ", shapeStr(gates.layout), " must be [B, 4H] for the cell state ",
         shapeStr(c.layout), " [B, H]");
  if (grad && (grad->ndim() != 3 || grad->size(0) != 2 || grad->size(1) != c.size(0) || grad->size(2) != c.size(1)))
    fail(ErrorKind::Shape, op.name, ": gradient ", shapeStr(grad->layout), " must be [2, ", c.size(0), ", ", c.size(1), "]");
  if (grad) requireFloatOperands(op, b, {&gates, &c, grad});
  else requireFloatOperands(op, b, {&gates, &c});
}
void checkLstmCell(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &out = c.outs[0], &gates = c.ins[0], &cell = c.ins[1];
  checkLstmOperands(op, b, gates, cell, nullptr);
  if (out.ndim() != 3 || out.size(0) != 2 || out.size(1) != cell.size(0) || out.size(2) != cell.size(1))
    fail(ErrorKind::Shape, op.name, ": output ", shapeStr(out.layout), " must be [2, B, H]");
  requireDType(op, out, gates.dtype, "output");
}
void runLstmCell(const OpDef&, Backend& b, const OpCall& c) { b.lstmCell(c.outs[0], c.ins[0], c.ins[1]); }
void checkLstmCellBackward(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &out = c.outs[0], &gates = c.ins[0], &cell = c.ins[1];
  checkLstmOperands(op, b, gates, cell, &c.ins[2]);
  if (out.ndim() != 2 || out.size(0) != cell.size(0) || out.size(1) != 5 * cell.size(1))
    fail(ErrorKind::Shape, op.name, ": output ", shapeStr(out.layout), " must be [B, 5H]");
  requireDType(op, out, gates.dtype, "output");
}
void runLstmCellBackward(const OpDef&, Backend& b, const OpCall& c) {
  b.lstmCellBackward(c.outs[0], c.ins[0], c.ins[1], c.ins[2]);
}

// gruCell: out [B, H]; ins: gi [B, 3H], gh [B, 3H], h [B, H]. gruCellBackward: out [B, 7H] =
// (dgi, dgh, dh); ins: gi, gh, h, grad [B, H].
void checkGruOperands(const OpDef& op, const Backend& b, const View& gi, const View& gh, const View& h, const View* grad) {
  if (h.ndim() != 2) fail(ErrorKind::Shape, op.name, ": hidden state must be [B, H], got ", shapeStr(h.layout));
  const int64_t B = h.size(0), H = h.size(1);
  for (const View* v : {&gi, &gh})
    if (v->ndim() != 2 || v->size(0) != B || v->size(1) != 3 * H)
      fail(ErrorKind::Shape, op.name, ": ", v == &gi ? "input" : "hidden", " projection ", shapeStr(v->layout),
           " must be [B, 3H] = [", B, ", ", 3 * H, "] for the hidden state ", shapeStr(h.layout));
  if (grad && (grad->ndim() != 2 || grad->size(0) != B || grad->size(1) != H))
    fail(ErrorKind::Shape, op.name, ": gradient ", shapeStr(grad->layout), " must be [", B, ", ", H, "]");
  if (grad) requireFloatOperands(op, b, {&gi, &gh, &h, grad});
  else requireFloatOperands(op, b, {&gi, &gh, &h});
}
void checkGruCell(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &out = c.outs[0], &h = c.ins[2];
  checkGruOperands(op, b, c.ins[0], c.ins[1], h, nullptr);
  requireSameShape(op, out, h, "output and hidden state");
  requireDType(op, out, h.dtype, "output");
}
void runGruCell(const OpDef&, Backend& b, const OpCall& c) { b.gruCell(c.outs[0], c.ins[0], c.ins[1], c.ins[2]); }
void checkGruCellBackward(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &out = c.outs[0], &h = c.ins[2];
  checkGruOperands(op, b, c.ins[0], c.ins[1], h, &c.ins[3]);
  if (out.ndim() != 2 || out.size(0) != h.size(0) || out.size(1) != 7 * h.size(1))
    fail(ErrorKind::Shape, op.name, ": output ", shapeStr(out.layout), " must be [B, 7H]");
  requireDType(op, out, h.dtype, "output");
}
void runGruCellBackward(const OpDef&, Backend& b, const OpCall& c) {
  b.gruCellBackward(c.outs[0], c.ins[0], c.ins[1], c.ins[2], c.ins[3]);
}

// ---------------------------------------------------------------- whole LSTM layers (cuDNN)

// lstmSequence: outs out [(T + 2) B H], reserve [R] (see Backend::lstmSequence); ins x [T, B, I],
// h0 [B, H], c0 [B, H], wIh [4H, I], wHh [4H, H], b [4H]. lstmSequenceBackward: outs dx, dh0,
// dc0, dwIh, dwHh, db (the inputs' shapes); ins x, h0, c0, out, reserve (of a training forward
// pass), grad [(T + 2) B H]. attrs: flags (Backend::kLstmTraining | kLstmTF32; the backward pass
// takes those of its forward pass).
struct LstmDims {
  int64_t T, B, I, H;
};

LstmDims checkLstmSequenceOperands(const OpDef& op, const View& x, const View& h0, const View& c0) {
  if (x.ndim() != 3) fail(ErrorKind::Shape, op.name, ": input must be [T, B, I], got ", shapeStr(x.layout));
  const LstmDims d{x.size(0), x.size(1), x.size(2), h0.ndim() == 2 ? h0.size(1) : 0};
  if (h0.ndim() != 2 || h0.size(0) != d.B)
    fail(ErrorKind::Shape, op.name, ": initial hidden state ", shapeStr(h0.layout), " must be [B, H] with B = ", d.B);
  requireSameShape(op, h0, c0, "initial hidden and cell state");
  if (d.T < 1 || d.B < 1 || d.I < 1 || d.H < 1)
    fail(ErrorKind::Shape, op.name, ": sequence length, batch, input and hidden size must all be >= 1, got input ",
         shapeStr(x.layout), " and hidden size ", d.H);
  // cuDNN takes int sizes; these bound every buffer it addresses.
  const double big = double(d.T) * double(d.B) * double(std::max(d.I, 4 * d.H));
  if (big > 2147483647.0 || 4.0 * double(d.H) * double(std::max(d.I, d.H)) > 2147483647.0)
    fail(ErrorKind::Shape, op.name, ": sizes too large for cuDNN (input ", shapeStr(x.layout), ", hidden size ", d.H, ")");
  return d;
}

void requireShape(const OpDef& op, const View& v, std::initializer_list<int64_t> shape, const char* what) {
  bool ok = v.ndim() == static_cast<int>(shape.size());
  int i = 0;
  for (int64_t s : shape) ok = ok && v.size(i++) == s;
  if (!ok) {
    std::ostringstream want;
    want << '[';
    i = 0;
    for (int64_t s : shape) want << (i++ ? "," : "") << s;
    want << ']';
    fail(ErrorKind::Shape, op.name, ": ", what, " ", shapeStr(v.layout), " must be ", want.str());
  }
}

void requireReserve(const OpDef& op, const View& reserve, const Backend& b, const LstmDims& d, int flags) {
  if (reserve.ndim() != 1) fail(ErrorKind::Shape, op.name, ": reserve must be 1-D, got ", shapeStr(reserve.layout));
  // The query is answered by the backend only: requireSupported has already run.
  const size_t need = b.lstmSequenceReserveBytes(reserve.dtype, d.T, d.B, d.I, d.H, flags);
  const size_t have = static_cast<size_t>(reserve.numel()) * dtypeSize(reserve.dtype);
  if (have < need || !reserve.isContiguous())
    fail(ErrorKind::Shape, op.name, ": reserve ", shapeStr(reserve.layout), " must be contiguous and hold ", need,
         " bytes, it holds ", have);
}

int lstmFlags(const OpDef& op, const OpCall& c) {
  const int64_t f = c.intAttr(0);
  if (f < 0 || f > (Backend::kLstmTraining | Backend::kLstmTF32))
    fail(ErrorKind::Kiln, op.name, ": flags must be in [0, 3], got ", f);
  return static_cast<int>(f);
}

void checkLstmSequence(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &out = c.outs[0], &reserve = c.outs[1];
  const View &x = c.ins[0], &h0 = c.ins[1], &c0 = c.ins[2], &wIh = c.ins[3], &wHh = c.ins[4], &bias = c.ins[5];
  const int flags = lstmFlags(op, c);
  requireFloatOperands(op, b, {&x, &h0, &c0, &wIh, &wHh, &bias, &out, &reserve});
  const LstmDims d = checkLstmSequenceOperands(op, x, h0, c0);
  requireShape(op, wIh, {4 * d.H, d.I}, "input weight");
  requireShape(op, wHh, {4 * d.H, d.H}, "hidden weight");
  requireShape(op, bias, {4 * d.H}, "bias");
  requireShape(op, out, {(d.T + 2) * d.B * d.H}, "output");
  requireReserve(op, reserve, b, d, flags);
}
void runLstmSequence(const OpDef& op, Backend& b, const OpCall& c) {
  b.lstmSequence(c.outs[0], c.outs[1], c.ins[0], c.ins[1], c.ins[2], c.ins[3], c.ins[4], c.ins[5], lstmFlags(op, c));
}

void checkLstmSequenceBackward(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &x = c.ins[0], &h0 = c.ins[1], &c0 = c.ins[2], &out = c.ins[3], &reserve = c.ins[4], &grad = c.ins[5];
  const int flags = lstmFlags(op, c);
  if (!(flags & Backend::kLstmTraining))
    fail(ErrorKind::Kiln, op.name, ": the forward pass must have run with the training flag");
  requireFloatOperands(op, b, {&x, &h0, &c0, &out, &reserve, &grad, &c.outs[0], &c.outs[1], &c.outs[2], &c.outs[3],
                               &c.outs[4], &c.outs[5]});
  const LstmDims d = checkLstmSequenceOperands(op, x, h0, c0);
  requireShape(op, out, {(d.T + 2) * d.B * d.H}, "forward output");
  requireShape(op, grad, {(d.T + 2) * d.B * d.H}, "gradient");
  requireSameShape(op, c.outs[0], x, "input gradient and input");
  requireShape(op, c.outs[1], {d.B, d.H}, "hidden state gradient");
  requireShape(op, c.outs[2], {d.B, d.H}, "cell state gradient");
  requireShape(op, c.outs[3], {4 * d.H, d.I}, "input weight gradient");
  requireShape(op, c.outs[4], {4 * d.H, d.H}, "hidden weight gradient");
  requireShape(op, c.outs[5], {4 * d.H}, "bias gradient");
  requireReserve(op, reserve, b, d, flags);
}
void runLstmSequenceBackward(const OpDef& op, Backend& b, const OpCall& c) {
  b.lstmSequenceBackward(c.outs.data(), c.ins[0], c.ins[1], c.ins[2], c.ins[3], c.ins[4], c.ins[5], lstmFlags(op, c));
}

// ---------------------------------------------------------------- normalization

// x [P, C, Q], normalized per channel over P * Q. attrs: eps (>= 0).
double epsAttr(const OpDef& op, const OpCall& c) {
  const double eps = c.attr(0);
  if (!(eps >= 0) || !std::isfinite(eps)) fail(ErrorKind::Kiln, op.name, ": eps must be finite and >= 0, got ", eps);
  return eps;
}
void checkNormInput(const OpDef& op, const View& x) {
  if (x.ndim() != 3) fail(ErrorKind::Shape, op.name, ": input must be [P, C, Q], got ", shapeStr(x.layout));
}
void checkNormalize(const OpDef& op, const OpCall& c, const Backend& b) {
  epsAttr(op, c);
  checkNormInput(op, c.ins[0]);
  requireSameShape(op, c.outs[0], c.ins[0], "output and input");
  requireFloatOperands(op, b, {&c.ins[0], &c.outs[0]});
}
void runNormalize(const OpDef& op, Backend& b, const OpCall& c) { b.normalize(c.outs[0], c.ins[0], epsAttr(op, c)); }
void checkNormalizeBackward(const OpDef& op, const OpCall& c, const Backend& b) {
  epsAttr(op, c);
  checkNormInput(op, c.ins[0]);
  requireSameShape(op, c.ins[0], c.ins[1], "input and gradient");
  requireSameShape(op, c.outs[0], c.ins[0], "output and input");
  requireFloatOperands(op, b, {&c.ins[0], &c.ins[1], &c.outs[0]});
}
void runNormalizeBackward(const OpDef& op, Backend& b, const OpCall& c) {
  b.normalizeBackward(c.outs[0], c.ins[0], c.ins[1], epsAttr(op, c));
}
void checkMoments(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &out = c.outs[0], &x = c.ins[0];
  checkNormInput(op, x);
  if (out.ndim() != 2 || out.size(0) != 2 || out.size(1) != x.size(1))
    fail(ErrorKind::Shape, op.name, ": output ", shapeStr(out.layout), " must be [2, ", x.size(1), "]");
  requireFloatOperands(op, b, {&x, &out});
}
void runMoments(const OpDef&, Backend& b, const OpCall& c) { b.moments(c.outs[0], c.ins[0]); }

// layerNorm: outs y [M, D], stats [2, M] (mean; rstd); ins x [M, D], w [D], b [D]; attrs: eps.
void checkLayerNormRows(const OpDef& op, const View& x) {
  if (x.ndim() != 2) fail(ErrorKind::Shape, op.name, ": input must be [M, D], got ", shapeStr(x.layout));
}
void checkLayerNormVector(const OpDef& op, const View& v, int64_t D, const char* what) {
  if (v.ndim() != 1 || v.size(0) != D) fail(ErrorKind::Shape, op.name, ": ", what, " ", shapeStr(v.layout), " must be [", D, "]");
}
void checkLayerNormStats(const OpDef& op, const View& s, int64_t M) {
  if (s.ndim() != 2 || s.size(0) != 2 || s.size(1) != M)
    fail(ErrorKind::Shape, op.name, ": statistics ", shapeStr(s.layout), " must be [2, ", M, "]");
}
void checkLayerNorm(const OpDef& op, const OpCall& c, const Backend& b) {
  epsAttr(op, c);
  const View &x = c.ins[0];
  checkLayerNormRows(op, x);
  checkLayerNormVector(op, c.ins[1], x.size(1), "weight");
  checkLayerNormVector(op, c.ins[2], x.size(1), "bias");
  requireSameShape(op, c.outs[0], x, "output and input");
  checkLayerNormStats(op, c.outs[1], x.size(0));
  requireFloatOperands(op, b, {&x, &c.ins[1], &c.ins[2], &c.outs[0], &c.outs[1]});
}
void runLayerNorm(const OpDef& op, Backend& b, const OpCall& c) {
  b.layerNorm(c.outs[0], c.outs[1], c.ins[0], c.ins[1], c.ins[2], epsAttr(op, c));
}
// layerNormBackward: out [M D + 2 D] = (dx [M, D]; dw [D]; db [D]) packed (one output, so that the
// VJP is one primitive); ins x [M, D], w [D], stats [2, M], g [M, D].
void checkLayerNormBackward(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &x = c.ins[0], &out = c.outs[0];
  checkLayerNormRows(op, x);
  const int64_t M = x.size(0), D = x.size(1);
  checkLayerNormVector(op, c.ins[1], D, "weight");
  checkLayerNormStats(op, c.ins[2], M);
  requireSameShape(op, c.ins[3], x, "gradient and input");
  if (out.ndim() != 1 || out.size(0) != M * D + 2 * D)
    fail(ErrorKind::Shape, op.name, ": output ", shapeStr(out.layout), " must be [", M * D + 2 * D, "]");
  requireFloatOperands(op, b, {&x, &c.ins[1], &c.ins[2], &c.ins[3], &out});
}
void runLayerNormBackward(const OpDef&, Backend& b, const OpCall& c) {
  const View& out = c.outs[0];  // fresh, contiguous
  const int64_t M = c.ins[0].size(0), D = c.ins[0].size(1);
  const size_t elt = dtypeSize(out.dtype);
  auto part = [&](int64_t start, int ndim, const int64_t* shape) {
    View v;
    v.data = static_cast<char*>(out.data) + (out.layout.offset + start) * static_cast<int64_t>(elt);
    v.dtype = out.dtype;
    v.layout = Layout::contiguous(ndim, shape);
    return v;
  };
  const int64_t dxShape[2] = {M, D};
  const View dx = part(0, 2, dxShape), dw = part(M * D, 1, &D), db = part(M * D + D, 1, &D);
  b.layerNormBackward(dx, dw, db, c.ins[0], c.ins[1], c.ins[2], c.ins[3]);
}

// softmax / logSoftmax over the last dim of x [M, D]; out has x's shape.
void checkSoftmax(const OpDef& op, const OpCall& c, const Backend& b) {
  if (c.ins[0].ndim() != 2) fail(ErrorKind::Shape, op.name, ": input must be [M, D], got ", shapeStr(c.ins[0].layout));
  requireSameShape(op, c.outs[0], c.ins[0], "output and input");
  requireFloatOperands(op, b, {&c.ins[0], &c.outs[0]});
}
void runSoftmax(const OpDef& op, Backend& b, const OpCall& c) { b.softmax(c.outs[0], c.ins[0], op.sub != 0); }

// softmaxBackward / logSoftmaxBackward: out [M, D] = the VJP at the output y [M, D] for the
// cotangent g [M, D]; ins: y, g.
void checkSoftmaxBackward(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &out = c.outs[0], &y = c.ins[0], &g = c.ins[1];
  if (y.ndim() != 2) fail(ErrorKind::Shape, op.name, ": output must be [M, D], got ", shapeStr(y.layout));
  requireSameShape(op, y, g, "output and gradient");
  requireSameShape(op, out, y, "result and output");
  requireFloatOperands(op, b, {&y, &g, &out});
}
void runSoftmaxBackward(const OpDef& op, Backend& b, const OpCall& c) {
  b.softmaxBackward(c.outs[0], c.ins[0], c.ins[1], op.sub != 0);
}

// dropout: out = x * (bernoulli(keep) draw of each element ? scale : 0) for the stream (seed,
// offset). attrs: seedLo, seedHi, offsetLo, offsetHi, keep (in [0, 1]), scale (finite).
void checkDropout(const OpDef& op, const OpCall& c, const Backend& b) {
  u64Attr(c, 0);
  u64Attr(c, 2);
  const double keep = c.attr(4), scale = c.attr(5);
  if (!(keep >= 0 && keep <= 1)) fail(ErrorKind::Kiln, op.name, ": keep probability must be in [0, 1], got ", keep);
  if (!std::isfinite(scale)) fail(ErrorKind::Kiln, op.name, ": scale must be finite, got ", scale);
  requireSameShape(op, c.outs[0], c.ins[0], "output and input");
  requireFloatOperands(op, b, {&c.ins[0], &c.outs[0]});
}
void runDropout(const OpDef&, Backend& b, const OpCall& c) {
  b.dropout(c.outs[0], c.ins[0], u64Attr(c, 0), u64Attr(c, 2), c.attr(4), c.attr(5));
}

// crossEntropy: out [] = mean cross entropy of logits x [M, D] at class indices target [M];
// crossEntropyBackward (ins x, target, g []) writes its VJP, out [M, D].
void checkCrossEntropyOperands(const OpDef& op, const OpCall& c, const Backend& b) {
  const View &x = c.ins[0], &target = c.ins[1];
  if (x.ndim() != 2) fail(ErrorKind::Shape, op.name, ": logits must be [M, D], got ", shapeStr(x.layout));
  if (target.ndim() != 1 || target.size(0) != x.size(0))
    fail(ErrorKind::Shape, op.name, ": target ", shapeStr(target.layout), " must be [", x.size(0), "]");
  requireDType(op, target, DType::Int32, "target");
  checkIndexValues(op, target, x.size(1), b);
}
void checkCrossEntropy(const OpDef& op, const OpCall& c, const Backend& b) {
  if (c.outs[0].ndim() != 0) fail(ErrorKind::Shape, op.name, ": output must be a scalar []");
  requireFloatOperands(op, b, {&c.ins[0], &c.outs[0]});
  checkCrossEntropyOperands(op, c, b);
}
void runCrossEntropy(const OpDef&, Backend& b, const OpCall& c) { b.crossEntropy(c.outs[0], c.ins[0], c.ins[1]); }
void checkCrossEntropyBackward(const OpDef& op, const OpCall& c, const Backend& b) {
  requireSameShape(op, c.outs[0], c.ins[0], "output and logits");
  if (c.ins[2].ndim() != 0) fail(ErrorKind::Shape, op.name, ": the gradient must be a scalar []");
  requireFloatOperands(op, b, {&c.ins[0], &c.ins[2], &c.outs[0]});
  checkCrossEntropyOperands(op, c, b);
}
void runCrossEntropyBackward(const OpDef&, Backend& b, const OpCall& c) {
  b.crossEntropyBackward(c.outs[0], c.ins[0], c.ins[1], c.ins[2]);
}

std::vector<OpDef> buildTable() {
  using O = OpDef::Out;
  std::vector<OpDef> t;
  for (int i = 0; i < static_cast<int>(UnaryOp::Count); i++) t.push_back({kUnaryNames[i], 1, 1, O::Fresh, i, checkUnary, runUnary});
  for (int i = 0; i < static_cast<int>(BinaryOp::Count); i++) t.push_back({kBinaryNames[i], 1, 2, O::Fresh, i, checkBinary, runBinary});
  t.push_back({"where", 1, 3, O::Fresh, 0, checkWhere, runWhere});
  const char* reduceNames[] = {"sum", "prod", "max", "min", "argmax", "argmin"};
  for (int i = 0; i < static_cast<int>(ReduceOp::Count); i++) t.push_back({reduceNames[i], 1, 1, O::Fresh, i, checkReduce, runReduce});
  t.push_back({"cumsum", 1, 1, O::Fresh, 0, checkCumsum, runCumsum});
  t.push_back({"matmul", 1, 2, O::Fresh, 0, checkMatmul, runMatmul});
  t.push_back({"matmulBias", 1, 3, O::Fresh, 0, checkMatmulBias, runMatmulBias});
  t.push_back({"gather", 1, 2, O::Fresh, 0, checkGather, runGather});
  t.push_back({"scatterAdd", 1, 2, O::Existing, 0, checkScatterAdd, runScatterAdd});
  t.push_back({"indexSelect", 1, 2, O::Fresh, 0, checkIndexSelect, runIndexSelect});
  t.push_back({"pad", 1, 1, O::Fresh, 0, checkPad, runPad});
  t.push_back({"cast", 1, 1, O::Fresh, 0, checkCast, runCast});
  t.push_back({"copy", 1, 1, O::Either, 0, checkCopy, runCopy});
  t.push_back({"fill", 1, 0, O::Either, 0, checkFill, runFill});
  t.push_back({"arange", 1, 0, O::Fresh, 0, checkArange, runArange});
  t.push_back({"empty", 1, 0, O::Fresh, 0, checkEmpty, runEmpty});
  const char* randomNames[] = {"uniform", "normal", "bernoulli", "randint"};
  for (int i = 0; i < static_cast<int>(RandomOp::Count); i++) t.push_back({randomNames[i], 1, 0, O::Fresh, i, checkRandom, runRandom});
  t.push_back({"conv", 1, 2, O::Fresh, 0, checkConv, runConv});
  t.push_back({"convBias", 1, 3, O::Fresh, 0, checkConv, runConv});
  t.push_back({"convTranspose", 1, 2, O::Fresh, 0, checkConvTranspose, runConvTranspose});
  t.push_back({"convWeightGrad", 1, 2, O::Fresh, 0, checkConvWeightGrad, runConvWeightGrad});
  t.push_back({"maxPoolIndices", 1, 1, O::Fresh, 0, checkMaxPoolIndices, runMaxPoolIndices});
  t.push_back({"maxPoolBackward", 1, 2, O::Fresh, 0, checkMaxPoolBackward, runMaxPoolBackward});
  t.push_back({"maxPool", 1, 1, O::Fresh, 0, checkMaxPool, runMaxPool});
  t.push_back({"maxPoolGrad", 1, 2, O::Fresh, 0, checkMaxPoolGrad, runMaxPoolGrad});
  t.push_back({"reluBackward", 1, 2, O::Fresh, 0, checkReluBackward, runReluBackward});
  t.push_back({"avgPool", 1, 1, O::Fresh, 0, checkAvgPool, runAvgPool});
  t.push_back({"avgPoolTranspose", 1, 1, O::Fresh, 0, checkAvgPoolTranspose, runAvgPoolTranspose});
  t.push_back({"lstmCell", 1, 2, O::Fresh, 0, checkLstmCell, runLstmCell});
  t.push_back({"lstmCellBackward", 1, 3, O::Fresh, 0, checkLstmCellBackward, runLstmCellBackward});
  t.push_back({"gruCell", 1, 3, O::Fresh, 0, checkGruCell, runGruCell});
  t.push_back({"gruCellBackward", 1, 4, O::Fresh, 0, checkGruCellBackward, runGruCellBackward});
  t.push_back({"lstmSequence", 2, 6, O::Fresh, 0, checkLstmSequence, runLstmSequence});
  t.push_back({"lstmSequenceBackward", 6, 6, O::Fresh, 0, checkLstmSequenceBackward, runLstmSequenceBackward});
  t.push_back({"normalize", 1, 1, O::Fresh, 0, checkNormalize, runNormalize});
  t.push_back({"normalizeBackward", 1, 2, O::Fresh, 0, checkNormalizeBackward, runNormalizeBackward});
  t.push_back({"moments", 1, 1, O::Fresh, 0, checkMoments, runMoments});
  t.push_back({"layerNorm", 2, 3, O::Fresh, 0, checkLayerNorm, runLayerNorm});
  t.push_back({"layerNormBackward", 1, 4, O::Fresh, 0, checkLayerNormBackward, runLayerNormBackward});
  t.push_back({"softmax", 1, 1, O::Fresh, 0, checkSoftmax, runSoftmax});
  t.push_back({"logSoftmax", 1, 1, O::Fresh, 1, checkSoftmax, runSoftmax});
  t.push_back({"crossEntropy", 1, 2, O::Fresh, 0, checkCrossEntropy, runCrossEntropy});
  t.push_back({"crossEntropyBackward", 1, 3, O::Fresh, 0, checkCrossEntropyBackward, runCrossEntropyBackward});
  t.push_back({"softmaxBackward", 1, 2, O::Fresh, 0, checkSoftmaxBackward, runSoftmaxBackward});
  t.push_back({"logSoftmaxBackward", 1, 2, O::Fresh, 1, checkSoftmaxBackward, runSoftmaxBackward});
  t.push_back({"dropout", 1, 1, O::Fresh, 0, checkDropout, runDropout});
  for (int i = 0; i < static_cast<int>(OptimOp::Count); i++)
    t.push_back({kOptimNames[i], kOptimOuts[i], 1, O::Existing, i, checkOptim, runOptim});
  return t;
}

}  // namespace

const std::vector<OpDef>& opTable() {
  static const std::vector<OpDef> table = buildTable();
  return table;
}

}  // namespace kiln
