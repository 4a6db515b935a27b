// The backend contract: everything a device must implement, and nothing else.
// The CPU backend is compiled into the addon; the CUDA backend lives in the kiln_cuda plugin.
//
// Conventions for every method:
// - All views are validated by the dispatcher before a backend sees them: dtypes match the op's
//   rule, shapes agree, every element addressed lies inside its storage.
// - Elementwise operands have identical shapes (broadcasting is done with stride-0 views).
// - `out` views are always freshly allocated and contiguous unless the op is documented as
//   writing in place (copy, fill, scatterAdd write into arbitrary strided views).
#pragma once
#include <cstddef>
#include <cstdint>

#include "errors.h"
#include "layout.h"

namespace kiln {

enum class DeviceType : int32_t { CPU = 0, CUDA = 1 };

enum class UnaryOp : int32_t {
  Neg, Exp, Log, Sqrt, Rsqrt, Tanh, Sigmoid, Sin, Cos, Abs, Sign, Erf, Reciprocal,
  Floor, Ceil, Round, Log1p, Expm1, Relu, Square, LogicalNot,
  Count
};

enum class BinaryOp : int32_t {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum, Atan2, Fmod,
  // comparisons write bool
  Eq, Ne, Lt, Le, Gt, Ge,
  // logical ops take and write bool
  LogicalAnd, LogicalOr, LogicalXor,
  Count
};

enum class ReduceOp : int32_t { Sum, Prod, Max, Min, ArgMax, ArgMin, Count };

enum class RandomOp : int32_t { Uniform, Normal, Bernoulli, RandInt, Count };

// Fused optimizer updates (torch.optim equations); see native/core/ops.cpp for their attributes.
enum class OptimOp : int32_t { Sgd, Adam, Adagrad, RMSprop, Count };

// Geometry of a convolution over `spatial` (1..3) dims after [batch, channel]. With
// x [N, Cin, *I], w [Cout, Cin/groups, *K] and y [N, Cout, *O] the three conv ops are the three
// partial derivatives of one trilinear form:
//   y[n, co, o] = sum_{ci, k} x[n, grp(co)*Cin/groups + ci, o*stride - pad + k*dilation] w[co, ci, k]
// where positions outside x read as zero (so pad after the input is implied by O).
struct ConvParams {
  int spatial = 0;
  int64_t stride[3] = {1, 1, 1}, pad[3] = {}, dilation[3] = {1, 1, 1};
  int64_t groups = 1;
};

// Pooling windows over `spatial` (1..3) dims after [batch, channel]: window o along a dim
// covers o*stride - pad + k*dilation for k < kernel, clipped to the input; adaptive windows
// cover [floor(o*I/O), ceil((o+1)*I/O)). The dispatcher guarantees every window holds at least
// one input element.
struct PoolParams {
  int spatial = 0;
  bool adaptive = false;
  int64_t kernel[3] = {1, 1, 1}, stride[3] = {1, 1, 1}, pad[3] = {}, dilation[3] = {1, 1, 1};
  // Average pooling divides by: `divisor` when > 0; else the window clipped to the padded input
  // (countIncludePad) or to the input itself.
  bool countIncludePad = true;
  int64_t divisor = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual DeviceType deviceType() const = 0;
  virtual int deviceIndex() const { return 0; }

  // --- memory ---
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr, size_t bytes) = 0;
  virtual void copyFromHost(void* dst, const void* src, size_t bytes) = 0;
  virtual void copyToHost(void* dst, const void* src, size_t bytes) = 0;
  virtual void synchronize() = 0;

  // --- kernels ---
  virtual bool supports(const char* op, DType dtype) const = 0;
  // out = op(a); same dtype except LogicalNot (bool) and Sign on ints.
  virtual void unary(UnaryOp op, const View& out, const View& a) = 0;
  // out = op(a, b); a and b share a dtype; out is bool for comparisons.
  virtual void binary(BinaryOp op, const View& out, const View& a, const View& b) = 0;
  // out = cond ? a : b (cond bool).
  virtual void where(const View& out, const View& cond, const View& a, const View& b) = 0;
  // Reduces `a` over the dims set in `dimMask`; `out` has a's rank with those dims of size 1.
  // ArgMax/ArgMin require exactly one reduced dim and write int32.
  virtual void reduce(ReduceOp op, const View& out, const View& a, uint32_t dimMask) = 0;
  // Inclusive cumulative sum along `dim`; out has a's shape.
  virtual void cumsum(const View& out, const View& a, int dim) = 0;
  // out[..., M, N] = a[..., M, K] @ b[..., K, N]; batch dims already broadcast to out's
  // (stride 0 where broadcast); any strides, so transposed operands need no copy.
  virtual void matmul(const View& out, const View& a, const View& b) = 0;
  // out[..., M, N] = a @ b + bias[N], the bias added to every row (matmulBias: a linear layer's
  // forward); operands as for matmul, bias 1-D with any stride. This default multiplies, then
  // adds the bias as a stride-0 broadcast view in place (the elementwise kernels allow out and
  // an input at the same positions); CUDA fuses the add into cuBLASLt's epilogue where it can.
  virtual void matmulBias(const View& out, const View& a, const View& b, const View& bias) {
    matmul(out, a, b);
    binary(BinaryOp::Add, out, out, rowBroadcast(bias, out));
  }
  // out[i][j][k] = src[index[i][j][k]][j][k] (for dim 0); index int32, out has index's shape.
  virtual void gather(const View& out, const View& src, const View& index, int dim) = 0;
  // out[index[i][j][k]][j][k] += src[i][j][k] (for dim 0), in place on out.
  virtual void scatterAdd(const View& out, const View& index, const View& src, int dim) = 0;
  // out = src with dim `dim` replaced by index (1-D int32) selections.
  virtual void indexSelect(const View& out, const View& src, const View& index, int dim) = 0;
  // out = a surrounded by `before[d]` and `after[d]` elements of `value` on each dim.
  virtual void pad(const View& out, const View& a, const int64_t* before, double value) = 0;
  // out = a converted to out's dtype.
  virtual void cast(const View& out, const View& a) = 0;
  // out = a elementwise, same dtype, any strides on both (the strided assign).
  virtual void copy(const View& out, const View& a) = 0;
  virtual void fill(const View& out, double value) = 0;
  // out[i] = start + i * step over the contiguous out.
  virtual void arange(const View& out, double start, double step) = 0;
  // Philox4x32-10 draws; see native/core/philox.h for the stream layout shared by all backends.
  virtual void random(RandomOp op, const View& out, uint64_t seed, uint64_t offset, double a,
                      double b) = 0;

  // Updates a parameter (states[0]) and its optimizer state buffers (states[1..]) in place from
  // its gradient in one pass. All dense and of one float dtype; absent buffers are empty views.
  // Not every backend has these kernels: the default refuses, and lib/optim falls back to ops.
  virtual void optimStep(OptimOp op, const View* states, int nStates, const View& grad, const double* attrs,
                         int nAttrs) {
    fail(ErrorKind::DType, "optimizer step: no fused kernel on this device");
  }

  // --- neural-network kernels (see ConvParams / PoolParams). Not pure: a backend without them
  // still compiles, and the op fails with a DeviceError. ---
  // ReLU's VJP in one pass: out = x > 0 ? g : 0 (a NaN x gives 0); g, x float, same shape, any
  // strides.
  virtual void reluBackward(const View& out, const View& g, const View& x) { unsupported("reluBackward"); }
  // y = conv(x, w) (+ bias[co] when bias is non-null).
  virtual void conv(const View& y, const View& x, const View& w, const View* bias, const ConvParams& p) {
    unsupported("conv");
  }
  // x = the adjoint of conv in x, applied to y: the transposed convolution (conv's input gradient).
  virtual void convTranspose(const View& x, const View& y, const View& w, const ConvParams& p) {
    unsupported("convTranspose");
  }
  // w = the adjoint of conv in w: sum over n, o of y[n, co, o] x[n, ci, window(o, k)].
  virtual void convWeightGrad(const View& w, const View& x, const View& y, const ConvParams& p) {
    unsupported("convWeightGrad");
  }
  // index (int32, y's shape) = flat position within *I of the first maximum of each window
  // (NaN counts as the maximum).
  virtual void maxPoolIndices(const View& index, const View& x, const PoolParams& p) { unsupported("maxPoolIndices"); }
  // Max pooling's VJP in one pass: x [N, C, *I] = zeros, then x[n, c, index[n, c, o]] += y[n, c, o]
  // for every output position o in order (index [N, C, *O] int32 as maxPoolIndices writes it,
  // values already checked to lie in *I; y any strides, x fresh).
  virtual void maxPoolBackward(const View& x, const View& y, const View& index) { unsupported("maxPoolBackward"); }
  // y = the maximum of each window of x (the values at maxPoolIndices' positions), and its VJP
  // at x for the cotangent gy [N, C, *O]: dx [N, C, *I] = zeros with gy added at the argmax
  // positions, recomputed from x (nothing kept from the forward pass but x).
  virtual void maxPool(const View& y, const View& x, const PoolParams& p) { unsupported("maxPool"); }
  virtual void maxPoolGrad(const View& dx, const View& x, const View& gy, const PoolParams& p) {
    unsupported("maxPoolGrad");
  }
  // y = window means of x; avgPoolTranspose is its adjoint (x = each y spread over its window).
  virtual void avgPool(const View& y, const View& x, const PoolParams& p) { unsupported("avgPool"); }
  virtual void avgPoolTranspose(const View& x, const View& y, const PoolParams& p) { unsupported("avgPoolTranspose"); }
  // LSTM cell (PyTorch gate order i, f, g, o): gates [B, 4H] pre-activations and c [B, H] give
  // out [2, B, H] = (h', c'), c' = σ(f) c + σ(i) tanh(g), h' = σ(o) tanh(c').
  virtual void lstmCell(const View& out, const View& gates, const View& c) { unsupported("lstmCell"); }
  // GRU cell (PyTorch gate order r, z, n): gi [B, 3H] = x W_ih^T + b_ih and gh [B, 3H] =
  // h W_hh^T + b_hh are the two projections, h [B, H] the state; out [B, H] = h' where
  //   r = σ(gi_r + gh_r), z = σ(gi_z + gh_z), n = tanh(gi_n + r gh_n), h' = (1 - z) n + z h.
  virtual void gruCell(const View& out, const View& gi, const View& gh, const View& h) { unsupported("gruCell"); }
  // Its VJP: grad [B, H] = dh' gives out [B, 7H] = (dgi [B, 3H], dgh [B, 3H], dh [B, H]).
  virtual void gruCellBackward(const View& out, const View& gi, const View& gh, const View& h, const View& grad) {
    unsupported("gruCellBackward");
  }
  // Normalization (batch/layer/group norm): x [P, C, Q] is normalized per channel c over its P*Q
  // elements, out = (x - mean) / sqrt(var + eps) (biased variance).
  virtual void normalize(const View& out, const View& x, double eps) { unsupported("normalize"); }
  // The VJP (equally the JVP: the Jacobian is symmetric) of normalize at x, applied to g.
  virtual void normalizeBackward(const View& out, const View& x, const View& g, double eps) {
    unsupported("normalizeBackward");
  }
  // out [2, C] = per-channel mean and biased variance of x [P, C, Q] (running statistics).
  virtual void moments(const View& out, const View& x) { unsupported("moments"); }
  // Layer norm over the last dim in one pass per row: x [M, D] (any strides), weight w and bias
  // b [D] (any strides; an absent one is a stride-0 view of 1 or 0) give y [M, D] =
  // (x - mean) rstd w + b and stats [2, M] = (mean; rstd) per row, rstd = 1 / sqrt(var + eps)
  // (biased variance, accumulated in double).
  virtual void layerNorm(const View& y, const View& stats, const View& x, const View& w, const View& b, double eps) {
    unsupported("layerNorm");
  }
  // Its VJP for the cotangent g [M, D] (any strides) from the forward pass's stats: with
  // xhat = (x - mean) rstd, dx [M, D] = rstd (g w - mean(g w) - xhat mean(g w xhat)) per row,
  // dw [D] = sum over rows of g xhat, db [D] = sum over rows of g (fresh, contiguous; the column
  // sums in a fixed order, so results are reproducible).
  virtual void layerNormBackward(const View& dx, const View& dw, const View& db, const View& x, const View& w,
                                 const View& stats, const View& g) {
    unsupported("layerNormBackward");
  }
  // Softmax over the last dim of x [M, D] (log-softmax when `log`), numerically stable.
  virtual void softmax(const View& out, const View& x, bool log) { unsupported("softmax"); }
  // Its VJP from the output y [M, D] and the cotangent g [M, D] (any strides), row sums in
  // double: softmax dx = y (g - sum(g y)); log-softmax dx = g - exp(y) sum(g).
  virtual void softmaxBackward(const View& out, const View& y, const View& g, bool log) {
    unsupported("softmaxBackward");
  }
  // Inverted dropout, linear in x: out[i] = x[i] * (keep_i ? scale : 0) with keep_i the bernoulli
  // draw (RandomOp::Bernoulli, probability `keep`) of element i (x's row-major order) of the
  // stream (seed, offset): the same mask bernoulli writes. x any strides, out fresh.
  virtual void dropout(const View& out, const View& x, uint64_t seed, uint64_t offset, double keep, double scale) {
    unsupported("dropout");
  }
  // Cross entropy of logits x [M, D] with class indices target [M] (int32, checked to lie in
  // [0, D)), averaged over the rows: out [] = -mean_m log softmax(x_m)[target_m].
  virtual void crossEntropy(const View& out, const View& x, const View& target) { unsupported("crossEntropy"); }
  // Its VJP for the cotangent g []: out [M, D] = (softmax(x) - onehot(target)) * g / M.
  virtual void crossEntropyBackward(const View& out, const View& x, const View& target, const View& g) {
    unsupported("crossEntropyBackward");
  }
  // Its VJP: grad [2, B, H] = (dh', dc') gives out [B, 5H] = (dgates [B, 4H], dc [B, H]).
  virtual void lstmCellBackward(const View& out, const View& gates, const View& c, const View& grad) {
    unsupported("lstmCellBackward");
  }

  // One direction of one LSTM layer over a whole sequence (no projection; cuDNN's RNN on CUDA, no
  // CPU kernel). x [T, B, I], h0 and c0 [B, H], wIh [4H, I], wHh [4H, H], b [4H] = b_ih + b_hh
  // (PyTorch gate order i, f, g, o) give out [(T + 2) B H] = (y [T, B, H], hT [B, H], cT [B, H])
  // flattened one after the other, and `reserve`: what the backward pass needs (the packed weights
  // and, when training, cuDNN's reserve space), at least lstmSequenceReserveBytes(flags) bytes.
  // flags: kLstmTraining (a backward pass may follow), kLstmTF32 (float32 may use TF32; the
  // backward pass must be given the flags of its forward pass).
  static constexpr int kLstmTraining = 1, kLstmTF32 = 2;
  virtual size_t lstmSequenceReserveBytes(DType t, int64_t T, int64_t B, int64_t I, int64_t H, int flags) const {
    unsupported("lstmSequence");
  }
  virtual void lstmSequence(const View& out, const View& reserve, const View& x, const View& h0, const View& c0,
                            const View& wIh, const View& wHh, const View& b, int flags) {
    unsupported("lstmSequence");
  }
  // Its VJP after a training forward pass: x, h0, c0, that pass's out and reserve (which this call
  // overwrites: one backward pass per forward pass) and grad [(T + 2) B H] = (dy, dhT, dcT) give
  // grads[0..5] = dx [T, B, I], dh0 [B, H], dc0 [B, H], dwIh [4H, I], dwHh [4H, H], db [4H].
  virtual void lstmSequenceBackward(const View* grads, const View& x, const View& h0, const View& c0, const View& out,
                                    const View& reserve, const View& grad, int flags) {
    unsupported("lstmSequenceBackward");
  }

 protected:
  [[noreturn]] void unsupported(const char* op) const {
    fail(ErrorKind::Device, op, " is not supported on this device (",
         deviceType() == DeviceType::CPU ? "cpu" : "cuda", ")");
  }
};

}  // namespace kiln
