// CPU kernel families. Each function implements one method of the backend contract
// (native/core/backend.h) for every dtype it supports; cpu_backend.cpp only forwards to these.
// Inputs are validated by the dispatcher; kernels may assume shapes and dtypes fit.
#pragma once
#include "../core/backend.h"

namespace kiln {
namespace cpu {

// elementwise.cpp
bool unarySupports(UnaryOp op, DType t);
bool binarySupports(BinaryOp op, DType t);
void unary(UnaryOp op, const View& out, const View& a);
void binary(BinaryOp op, const View& out, const View& a, const View& b);
void where(const View& out, const View& cond, const View& a, const View& b);
void reluBackward(const View& out, const View& g, const View& x);

// reduce.cpp
bool reduceSupports(ReduceOp op, DType t);
void reduce(ReduceOp op, const View& out, const View& a, uint32_t dimMask);
void cumsum(const View& out, const View& a, int dim);

// matmul.cpp (uses gemm/)
bool matmulSupports(DType t);
void matmul(const View& out, const View& a, const View& b);

// index.cpp
void gather(const View& out, const View& src, const View& index, int dim);
void scatterAdd(const View& out, const View& index, const View& src, int dim);
void indexSelect(const View& out, const View& src, const View& index, int dim);

// copy.cpp
void pad(const View& out, const View& a, const int64_t* before, double value);
void cast(const View& out, const View& a);
void copy(const View& out, const View& a);
void fill(const View& out, double value);
void arange(const View& out, double start, double step);

// random.cpp
void random(RandomOp op, const View& out, uint64_t seed, uint64_t offset, double a, double b);
void dropout(const View& out, const View& x, uint64_t seed, uint64_t offset, double keep, double scale);

// conv.cpp (im2col + gemm/)
void conv(const View& y, const View& x, const View& w, const View* bias, const ConvParams& p);
void convTranspose(const View& x, const View& y, const View& w, const ConvParams& p);
void convWeightGrad(const View& w, const View& x, const View& y, const ConvParams& p);

// pool.cpp
void maxPoolIndices(const View& index, const View& x, const PoolParams& p);
void maxPoolBackward(const View& x, const View& y, const View& index);
void maxPool(const View& y, const View& x, const PoolParams& p);
void maxPoolGrad(const View& dx, const View& x, const View& gy, const PoolParams& p);
void avgPool(const View& y, const View& x, const PoolParams& p);
void avgPoolTranspose(const View& x, const View& y, const PoolParams& p);

// norm.cpp
void normalize(const View& out, const View& x, double eps);
void normalizeBackward(const View& out, const View& x, const View& g, double eps);
void moments(const View& out, const View& x);
void layerNorm(const View& y, const View& stats, const View& x, const View& w, const View& b, double eps);
void layerNormBackward(const View& dx, const View& dw, const View& db, const View& x, const View& w, const View& stats,
                       const View& g);
void softmax(const View& out, const View& x, bool log);
void softmaxBackward(const View& out, const View& y, const View& g, bool log);
void crossEntropy(const View& out, const View& x, const View& target);
void crossEntropyBackward(const View& out, const View& x, const View& target, const View& g);

// rnn.cpp
void lstmCell(const View& out, const View& gates, const View& c);
void lstmCellBackward(const View& out, const View& gates, const View& c, const View& grad);
void gruCell(const View& out, const View& gi, const View& gh, const View& h);
void gruCellBackward(const View& out, const View& gi, const View& gh, const View& h, const View& grad);

// optim.cpp
void optimStep(OptimOp op, const View* states, int nStates, const View& grad, const double* attrs, int nAttrs);

}  // namespace cpu
}  // namespace kiln
