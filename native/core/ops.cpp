// Validation rules and backend calls for every op. Shapes are computed in TypeScript; this file
// re-checks everything a kernel relies on, so no call from JS can read or write out of bounds.
#include "ops.h"

#include <cmath>
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
  if (!b.supports(op.name.c_str(), t))
    fail(ErrorKind::DType, op.name, ": dtype ", dtypeName(t), " is not supported");
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

// ---------------------------------------------------------------- indexing

// Index values are checked here, on the host, before any kernel runs. For device memory the
// backend would check them itself; the CPU index views are directly readable.
void checkIndexValues(const OpDef& op, const View& index, int64_t limit, const Backend& b) {
  if (b.deviceType() != DeviceType::CPU) return;
  const Layout& l = index.layout;
  int64_t n = l.numel();
  if (n == 0) return;
  int64_t idx[kMaxDims] = {};
  const int32_t* base = static_cast<const int32_t*>(index.data);
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
  t.push_back({"gather", 1, 2, O::Fresh, 0, checkGather, runGather});
  t.push_back({"scatterAdd", 1, 2, O::Existing, 0, checkScatterAdd, runScatterAdd});
  t.push_back({"indexSelect", 1, 2, O::Fresh, 0, checkIndexSelect, runIndexSelect});
  t.push_back({"pad", 1, 1, O::Fresh, 0, checkPad, runPad});
  t.push_back({"cast", 1, 1, O::Fresh, 0, checkCast, runCast});
  t.push_back({"copy", 1, 1, O::Either, 0, checkCopy, runCopy});
  t.push_back({"fill", 1, 0, O::Either, 0, checkFill, runFill});
  t.push_back({"arange", 1, 0, O::Fresh, 0, checkArange, runArange});
  const char* randomNames[] = {"uniform", "normal", "bernoulli", "randint"};
  for (int i = 0; i < static_cast<int>(RandomOp::Count); i++) t.push_back({randomNames[i], 1, 0, O::Fresh, i, checkRandom, runRandom});
  return t;
}

}  // namespace

const std::vector<OpDef>& opTable() {
  static const std::vector<OpDef> table = buildTable();
  return table;
}

}  // namespace kiln
