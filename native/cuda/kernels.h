// CUDA kernel families. Each function implements one method of the backend contract
// (native/core/backend.h) on device memory, enqueued on the context's stream; plugin.cpp only
// forwards to these. Operands were validated by the dispatcher (shapes, dtypes, bounds of every
// view); index values are checked inside the kernels (context.h, KernelErrorFlag).
// Semantics match the CPU kernels (native/cpu) op for op; see the comments there.
#pragma once
#include "../core/backend.h"
#include "context.h"

namespace kiln {
namespace cuda {

// Which (op, dtype) pairs exist: the same table as the CPU backend's.
bool supports(const char* op, DType t);

// elementwise.cu
void unary(Ctx& c, UnaryOp op, const View& out, const View& a);
void binary(Ctx& c, BinaryOp op, const View& out, const View& a, const View& b);
void where(Ctx& c, const View& out, const View& cond, const View& a, const View& b);
void reluBackward(Ctx& c, const View& out, const View& g, const View& x);

// reduce.cu
void reduce(Ctx& c, ReduceOp op, const View& out, const View& a, uint32_t dimMask);
void cumsum(Ctx& c, const View& out, const View& a, int dim);

// blas.cpp (cuBLAS) and matmul.cu (int32, and operands cuBLAS cannot take)
void matmul(Ctx& c, const View& out, const View& a, const View& b);
void matmulInt32(Ctx& c, const View& out, const View& a, const View& b);
// blas_lt.cpp: out = a @ b + bias[N] per row; cuBLASLt's bias epilogue where it applies, else the
// two steps.
void matmulBias(Ctx& c, const View& out, const View& a, const View& b, const View& bias);

// index.cu
void gather(Ctx& c, const View& out, const View& src, const View& index, int dim);
void scatterAdd(Ctx& c, const View& out, const View& index, const View& src, int dim);
void indexSelect(Ctx& c, const View& out, const View& src, const View& index, int dim);

// copy.cu
void pad(Ctx& c, const View& out, const View& a, const int64_t* before, double value);
void cast(Ctx& c, const View& out, const View& a);
void copy(Ctx& c, const View& out, const View& a);
void fill(Ctx& c, const View& out, double value);
void arange(Ctx& c, const View& out, double start, double step);

// random.cu
void random(Ctx& c, RandomOp op, const View& out, uint64_t seed, uint64_t offset, double a, double b);
void dropout(Ctx& c, const View& out, const View& x, uint64_t seed, uint64_t offset, double keep, double scale);

// optim.cu: the fused optimizer updates (states[0] is the parameter)
void optimStep(Ctx& c, OptimOp op, const View* states, int nStates, const View& grad, const double* attrs,
               int nAttrs);

// conv.cpp (cuDNN)
void conv(Ctx& c, const View& y, const View& x, const View& w, const View* bias, const ConvParams& p);
void convTranspose(Ctx& c, const View& x, const View& y, const View& w, const ConvParams& p);
void convWeightGrad(Ctx& c, const View& w, const View& x, const View& y, const ConvParams& p);

// pool.cu
void maxPoolIndices(Ctx& c, const View& index, const View& x, const PoolParams& p);
void maxPool(Ctx& c, const View& y, const View& x, const PoolParams& p);
void maxPoolGrad(Ctx& c, const View& dx, const View& x, const View& gy, const PoolParams& p);
void maxPoolBackward(Ctx& c, const View& x, const View& y, const View& index);
void avgPool(Ctx& c, const View& y, const View& x, const PoolParams& p);
void avgPoolTranspose(Ctx& c, const View& x, const View& y, const PoolParams& p);

// rnn.cu
void lstmCell(Ctx& c, const View& out, const View& gates, const View& cell);
void lstmCellBackward(Ctx& c, const View& out, const View& gates, const View& cell, const View& grad);
void gruCell(Ctx& c, const View& out, const View& gi, const View& gh, const View& h);
void gruCellBackward(Ctx& c, const View& out, const View& gi, const View& gh, const View& h, const View& grad);

// rnn_cudnn.cpp (cuDNN's RNN API): whole LSTM layers, Backend::lstmSequence*; ins as in the
// plugin table (cuda_plugin.h). Available when the loaded cuDNN has the RNN functions.
bool lstmSequenceAvailable();
size_t lstmSequenceReserveBytes(Ctx& c, DType t, int64_t T, int64_t B, int64_t I, int64_t H, int flags);
void lstmSequence(Ctx& c, const View& out, const View& reserve, const View* ins, int flags);
void lstmSequenceBackward(Ctx& c, const View* grads, const View* ins, int flags);

// norm.cu
void normalize(Ctx& c, const View& out, const View& x, double eps);
void normalizeBackward(Ctx& c, const View& out, const View& x, const View& g, double eps);
void moments(Ctx& c, const View& out, const View& x);
void layerNorm(Ctx& c, const View& y, const View& stats, const View& x, const View& w, const View& b, double eps);
void layerNormBackward(Ctx& c, const View& dx, const View& dw, const View& db, const View& x, const View& w,
                       const View& stats, const View& g);

// softmax.cu
void softmax(Ctx& c, const View& out, const View& x, bool log);
void softmaxBackward(Ctx& c, const View& out, const View& y, const View& g, bool log);
void crossEntropy(Ctx& c, const View& out, const View& x, const View& target);
void crossEntropyBackward(Ctx& c, const View& out, const View& x, const View& target, const View& g);

}  // namespace cuda
}  // namespace kiln
