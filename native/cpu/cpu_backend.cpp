// The CPU backend: host memory plus the kernel families in this folder.
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "../core/devices.h"
#include "../core/errors.h"
#include "host_cache.h"
#include "kernels.h"

namespace kiln {
namespace {

class CpuBackend final : public Backend {
 public:
  DeviceType deviceType() const override { return DeviceType::CPU; }

  void* allocate(size_t bytes) override {
    // Refuse sizes no machine can back, rather than letting overcommit hand out memory that
    // crashes the process when first touched.
    if (bytes > (size_t{1} << 46)) fail(ErrorKind::Memory, "cannot allocate ", bytes, " bytes on cpu");
    void* p = cpu::hostAllocate(bytes);
    if (!p) fail(ErrorKind::Memory, "out of memory allocating ", bytes, " bytes on cpu");
    return p;
  }
  void deallocate(void* ptr, size_t bytes) override { cpu::hostFree(ptr, bytes); }
  void copyFromHost(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copyToHost(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void synchronize() override {}

  bool supports(const char* op, DType t) const override;

  void unary(UnaryOp op, const View& out, const View& a) override { cpu::unary(op, out, a); }
  void binary(BinaryOp op, const View& out, const View& a, const View& b) override { cpu::binary(op, out, a, b); }
  void where(const View& out, const View& c, const View& a, const View& b) override { cpu::where(out, c, a, b); }
  void reduce(ReduceOp op, const View& out, const View& a, uint32_t mask) override { cpu::reduce(op, out, a, mask); }
  void cumsum(const View& out, const View& a, int dim) override { cpu::cumsum(out, a, dim); }
  void matmul(const View& out, const View& a, const View& b) override { cpu::matmul(out, a, b); }
  void gather(const View& out, const View& src, const View& index, int dim) override {
    cpu::gather(out, src, index, dim);
  }
  void scatterAdd(const View& out, const View& index, const View& src, int dim) override {
    cpu::scatterAdd(out, index, src, dim);
  }
  void indexSelect(const View& out, const View& src, const View& index, int dim) override {
    cpu::indexSelect(out, src, index, dim);
  }
  void pad(const View& out, const View& a, const int64_t* before, double value) override {
    cpu::pad(out, a, before, value);
  }
  void cast(const View& out, const View& a) override { cpu::cast(out, a); }
  void copy(const View& out, const View& a) override { cpu::copy(out, a); }
  void fill(const View& out, double value) override { cpu::fill(out, value); }
  void arange(const View& out, double start, double step) override { cpu::arange(out, start, step); }
  void random(RandomOp op, const View& out, uint64_t seed, uint64_t offset, double a, double b) override {
    cpu::random(op, out, seed, offset, a, b);
  }
  void optimStep(OptimOp op, const View* states, int nStates, const View& grad, const double* attrs,
                 int nAttrs) override {
    cpu::optimStep(op, states, nStates, grad, attrs, nAttrs);
  }
  void conv(const View& y, const View& x, const View& w, const View* bias, const ConvParams& p) override {
    cpu::conv(y, x, w, bias, p);
  }
  void convTranspose(const View& x, const View& y, const View& w, const ConvParams& p) override {
    cpu::convTranspose(x, y, w, p);
  }
  void convWeightGrad(const View& w, const View& x, const View& y, const ConvParams& p) override {
    cpu::convWeightGrad(w, x, y, p);
  }
  void maxPoolIndices(const View& index, const View& x, const PoolParams& p) override { cpu::maxPoolIndices(index, x, p); }
  void maxPoolBackward(const View& x, const View& y, const View& index) override { cpu::maxPoolBackward(x, y, index); }
  void maxPool(const View& y, const View& x, const PoolParams& p) override { cpu::maxPool(y, x, p); }
  void maxPoolGrad(const View& dx, const View& x, const View& gy, const PoolParams& p) override {
    cpu::maxPoolGrad(dx, x, gy, p);
  }
  void reluBackward(const View& out, const View& g, const View& x) override { cpu::reluBackward(out, g, x); }
  void crossEntropy(const View& out, const View& x, const View& target) override { cpu::crossEntropy(out, x, target); }
  void crossEntropyBackward(const View& out, const View& x, const View& target, const View& g) override {
    cpu::crossEntropyBackward(out, x, target, g);
  }
  void avgPool(const View& y, const View& x, const PoolParams& p) override { cpu::avgPool(y, x, p); }
  void avgPoolTranspose(const View& x, const View& y, const PoolParams& p) override { cpu::avgPoolTranspose(x, y, p); }
  void lstmCell(const View& out, const View& gates, const View& c) override { cpu::lstmCell(out, gates, c); }
  void normalize(const View& out, const View& x, double eps) override { cpu::normalize(out, x, eps); }
  void normalizeBackward(const View& out, const View& x, const View& g, double eps) override {
    cpu::normalizeBackward(out, x, g, eps);
  }
  void moments(const View& out, const View& x) override { cpu::moments(out, x); }
  void layerNorm(const View& y, const View& stats, const View& x, const View& w, const View& b, double eps) override {
    cpu::layerNorm(y, stats, x, w, b, eps);
  }
  void layerNormBackward(const View& dx, const View& dw, const View& db, const View& x, const View& w,
                         const View& stats, const View& g) override {
    cpu::layerNormBackward(dx, dw, db, x, w, stats, g);
  }
  void softmax(const View& out, const View& x, bool log) override { cpu::softmax(out, x, log); }
  void softmaxBackward(const View& out, const View& y, const View& g, bool log) override {
    cpu::softmaxBackward(out, y, g, log);
  }
  void dropout(const View& out, const View& x, uint64_t seed, uint64_t offset, double keep, double scale) override {
    cpu::dropout(out, x, seed, offset, keep, scale);
  }
  void lstmCellBackward(const View& out, const View& gates, const View& c, const View& grad) override {
    cpu::lstmCellBackward(out, gates, c, grad);
  }
  void gruCell(const View& out, const View& gi, const View& gh, const View& h) override { cpu::gruCell(out, gi, gh, h); }
  void gruCellBackward(const View& out, const View& gi, const View& gh, const View& h, const View& grad) override {
    cpu::gruCellBackward(out, gi, gh, h, grad);
  }
};

// Which (op, dtype) pairs the CPU kernels implement. Op names are those of native/core/ops.cpp.
bool CpuBackend::supports(const char* opName, DType t) const {
  std::string op(opName);
  static const char* unaryNames[] = {"neg", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "sin", "cos",
                                     "abs", "sign", "erf", "reciprocal", "floor", "ceil", "round", "log1p",
                                     "expm1", "relu", "square", "logicalNot"};
  for (int i = 0; i < static_cast<int>(UnaryOp::Count); i++)
    if (op == unaryNames[i]) return cpu::unarySupports(static_cast<UnaryOp>(i), t);
  static const char* binaryNames[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "atan2", "fmod",
                                      "eq", "ne", "lt", "le", "gt", "ge", "logicalAnd", "logicalOr", "logicalXor"};
  for (int i = 0; i < static_cast<int>(BinaryOp::Count); i++)
    if (op == binaryNames[i]) return cpu::binarySupports(static_cast<BinaryOp>(i), t);
  static const char* reduceNames[] = {"sum", "prod", "max", "min", "argmax", "argmin"};
  for (int i = 0; i < static_cast<int>(ReduceOp::Count); i++)
    if (op == reduceNames[i]) return cpu::reduceSupports(static_cast<ReduceOp>(i), t);
  if (op == "sgdStep" || op == "adamStep" || op == "adagradStep" || op == "rmspropStep")
    return t == DType::Float32 || t == DType::Float64;
  if (op == "cumsum") return t != DType::Bool;
  if (op == "matmul" || op == "matmulBias") return cpu::matmulSupports(t);
  if (op == "scatterAdd") return t != DType::Bool;  // adds: numbers only
  if (op == "conv" || op == "convBias" || op == "convTranspose" || op == "convWeightGrad" || op == "maxPoolIndices" ||
      op == "maxPoolBackward" || op == "maxPool" || op == "maxPoolGrad" || op == "reluBackward" || op == "crossEntropy" || op == "crossEntropyBackward" ||
      op == "avgPool" || op == "avgPoolTranspose" || op == "lstmCell" || op == "lstmCellBackward" ||
      op == "gruCell" || op == "gruCellBackward" ||
      op == "normalize" || op == "normalizeBackward" || op == "moments" || op == "layerNorm" || op == "layerNormBackward" || op == "softmax" || op == "logSoftmax" ||
      op == "softmaxBackward" || op == "logSoftmaxBackward" || op == "dropout")
    return t == DType::Float32 || t == DType::Float64;
  if (op == "lstmSequence" || op == "lstmSequenceBackward") return false;  // whole LSTM layers: cuDNN only
  return true;  // where, gather, indexSelect, pad, cast, copy, fill, arange, random: every dtype
}

}  // namespace

Backend& cpuBackend() {
  static CpuBackend backend;
  return backend;
}

}  // namespace kiln
