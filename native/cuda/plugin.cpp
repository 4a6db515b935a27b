// The kiln_cuda plugin's entry points: the C table of native/core/cuda_plugin.h. Each entry makes
// the device current, takes the device's lock, runs the kernel family function, and converts
// anything thrown into a PluginStatus, so no exception ever crosses into the core.
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "../core/cuda_plugin.h"
#include "kernels.h"
#include "libraries.h"

namespace kiln {
namespace cuda {
namespace {

void setStatus(PluginStatus* st, ErrorKind kind, const char* msg) {
  st->kind = static_cast<int32_t>(kind) + 1;
  std::snprintf(st->message, sizeof(st->message), "%s", msg);
}

template <typename F>
void guard(PluginStatus* st, F&& body) {
  st->kind = 0;
  try {
    body();
  } catch (const Error& e) {
    setStatus(st, e.kind(), e.what());
  } catch (const std::bad_alloc&) {
    setStatus(st, ErrorKind::Memory, "out of host memory in the CUDA plugin");
  } catch (const std::exception& e) {
    setStatus(st, ErrorKind::Kiln, e.what());
  } catch (...) {
    setStatus(st, ErrorKind::Kiln, "unknown error in the CUDA plugin");
  }
}

// Runs an op on device `dev`: reports an index error left by an earlier kernel first (it belongs
// to that op, and the caller should hear of it before building on its output).
template <typename F>
void onDevice(int32_t dev, PluginStatus* st, F&& body) {
  guard(st, [&] {
    Ctx& c = context(dev);
    std::lock_guard<std::mutex> lock(c.mu);
    c.raiseKernelError();
    body(c);
  });
}

// ---------------------------------------------------------------- supports: the CPU's table

const char* const kUnaryNames[] = {"neg", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "sin", "cos",
                                   "abs", "sign", "erf", "reciprocal", "floor", "ceil", "round", "log1p",
                                   "expm1", "relu", "square", "logicalNot"};
const char* const kBinaryNames[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "atan2", "fmod",
                                    "eq", "ne", "lt", "le", "gt", "ge", "logicalAnd", "logicalOr", "logicalXor"};
const char* const kReduceNames[] = {"sum", "prod", "max", "min", "argmax", "argmin"};
const char* const kEveryDTypeNames[] = {"where", "gather", "indexSelect", "pad", "cast", "copy", "fill", "arange",
                                        "uniform", "normal", "bernoulli", "randint"};
// The optimizer updates and the neural-network kernels: float32 and float64 only, as on the CPU.
const char* const kFloatOnlyNames[] = {"sgdStep", "adamStep", "adagradStep", "rmspropStep", "conv", "convBias",
                                       "convTranspose", "convWeightGrad", "maxPoolIndices", "avgPool",
                                       "avgPoolTranspose", "lstmCell", "lstmCellBackward", "gruCell",
                                       "gruCellBackward", "normalize", "normalizeBackward", "moments", "layerNorm",
                                       "layerNormBackward", "softmax",
                                       "logSoftmax", "lstmSequence", "lstmSequenceBackward", "softmaxBackward",
                                       "logSoftmaxBackward", "dropout", "reluBackward", "maxPool", "maxPoolGrad",
                                       "maxPoolBackward", "crossEntropy", "crossEntropyBackward"};
static_assert(sizeof(kUnaryNames) / sizeof(kUnaryNames[0]) == static_cast<int>(UnaryOp::Count), "unary names");
static_assert(sizeof(kBinaryNames) / sizeof(kBinaryNames[0]) == static_cast<int>(BinaryOp::Count), "binary names");

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
  if (op >= BinaryOp::Eq && op <= BinaryOp::Ge) return true;
  if (op >= BinaryOp::LogicalAnd) return t == DType::Bool;
  switch (t) {
    case DType::Float32:
    case DType::Float64: return true;
    case DType::Int32:
      return op == BinaryOp::Add || op == BinaryOp::Sub || op == BinaryOp::Mul || op == BinaryOp::Maximum ||
             op == BinaryOp::Minimum || op == BinaryOp::Fmod || op == BinaryOp::Pow;
    case DType::Bool: return false;
  }
  return false;
}

int32_t pluginSupports(const char* opName, int32_t dtype) {
  if (dtype < 0 || dtype >= kNumDTypes) return 0;
  const DType t = static_cast<DType>(dtype);
  for (int i = 0; i < static_cast<int>(UnaryOp::Count); i++)
    if (std::strcmp(opName, kUnaryNames[i]) == 0) return unarySupports(static_cast<UnaryOp>(i), t);
  for (int i = 0; i < static_cast<int>(BinaryOp::Count); i++)
    if (std::strcmp(opName, kBinaryNames[i]) == 0) return binarySupports(static_cast<BinaryOp>(i), t);
  for (const char* r : kReduceNames)
    if (std::strcmp(opName, r) == 0) return t != DType::Bool;
  if (std::strcmp(opName, "cumsum") == 0) return t != DType::Bool;
  if (std::strcmp(opName, "matmul") == 0) return t != DType::Bool;
  // matmulBias: cuBLASLt with the bias in its epilogue for float, else matmul and an add (blas_lt.cpp).
  if (std::strcmp(opName, "matmulBias") == 0) return t != DType::Bool;
  if (std::strcmp(opName, "scatterAdd") == 0) return t != DType::Bool;
  // The cuDNN LSTM layer needs cuDNN's RNN functions, which are bound apart (libraries.h).
  if ((std::strcmp(opName, "lstmSequence") == 0 || std::strcmp(opName, "lstmSequenceBackward") == 0) &&
      !lstmSequenceAvailable())
    return 0;
  for (const char* n : kFloatOnlyNames)
    if (std::strcmp(opName, n) == 0) return t == DType::Float32 || t == DType::Float64;
  for (const char* n : kEveryDTypeNames)
    if (std::strcmp(opName, n) == 0) return 1;
  return 0;  // an op the core knows but this plugin has no kernel for
}

// ---------------------------------------------------------------- management

void probeEntry(int32_t* deviceCount, PluginStatus* st) {
  guard(st, [&] {
    int count = 0;
    std::string reason = ::kiln::cuda::probe(&count);
    if (!reason.empty()) fail(ErrorKind::Device, reason);
    *deviceCount = count;
  });
}

void versionsEntry(char* buf, size_t cap) {
  std::string v = ::kiln::cuda::versions();
  std::snprintf(buf, cap, "%s", v.c_str());
}

void deviceInfo(int32_t dev, CudaDeviceInfo* info, PluginStatus* st) {
  guard(st, [&] {
    cudaDeviceProp prop;
    KILN_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    std::snprintf(info->name, sizeof(info->name), "%s", prop.name);
    info->totalMemory = prop.totalGlobalMem;
    info->major = prop.major;
    info->minor = prop.minor;
    info->multiprocessors = prop.multiProcessorCount;
  });
}

void memoryStats(int32_t dev, CudaMemoryStats* s, PluginStatus* st) {
  guard(st, [&] {
    Ctx& c = context(dev);
    std::lock_guard<std::mutex> lock(c.mu);
    auto attr = [&](cudaMemPoolAttr a) {
      uint64_t v = 0;
      KILN_CUDA_CHECK(cudaMemPoolGetAttribute(c.pool, a, &v));
      return v;
    };
    s->poolReserved = attr(cudaMemPoolAttrReservedMemCurrent);
    // Blocks in the plugin's own cache are in use as far as the pool knows; they are free here.
    const uint64_t used = attr(cudaMemPoolAttrUsedMemCurrent);
    s->poolUsed = used > c.cachedBytes ? used - c.cachedBytes : 0;
    s->poolReservedPeak = attr(cudaMemPoolAttrReservedMemHigh);
    s->poolUsedPeak = attr(cudaMemPoolAttrUsedMemHigh);
    size_t freeBytes = 0, totalBytes = 0;
    KILN_CUDA_CHECK(cudaMemGetInfo(&freeBytes, &totalBytes));
    s->deviceFree = freeBytes;
    s->deviceTotal = totalBytes;
  });
}

void emptyCache(int32_t dev, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) {
    c.releaseCached();
    KILN_CUDA_CHECK(cudaStreamSynchronize(c.stream));
    KILN_CUDA_CHECK(cudaMemPoolTrimTo(c.pool, 0));
  });
}

void setOption(const char* name, double value, PluginStatus* st) {
  guard(st, [&] {
    if (std::strcmp(name, "allowTF32") == 0) setAllowTF32(value != 0);
    else fail(ErrorKind::Kiln, "cuda: unknown option '", name, "'");
  });
}

// ---------------------------------------------------------------- memory

void* allocate(int32_t dev, size_t bytes, PluginStatus* st) {
  void* p = nullptr;
  onDevice(dev, st, [&](Ctx& c) { p = c.alloc(bytes); });
  return p;
}

void deallocate(int32_t dev, void* ptr, size_t) {
  PluginStatus st;
  guard(&st, [&] {
    Ctx& c = context(dev);
    std::lock_guard<std::mutex> lock(c.mu);
    c.release(ptr);
  });
}

void copyFromHost(int32_t dev, void* dst, const void* src, size_t bytes, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { c.copyFromHost(dst, src, bytes); });
}

void copyToHost(int32_t dev, void* dst, const void* src, size_t bytes, PluginStatus* st) {
  // No onDevice: a pending kernel error is reported after the copy has waited for it.
  guard(st, [&] {
    Ctx& c = context(dev);
    std::lock_guard<std::mutex> lock(c.mu);
    c.copyToHost(dst, src, bytes);
  });
}

void synchronize(int32_t dev, PluginStatus* st) {
  // Without the lock: other threads may keep enqueueing while this one waits.
  guard(st, [&] { context(dev).synchronize(); });
}

// ---------------------------------------------------------------- kernels

void unaryEntry(int32_t dev, int32_t op, const View* out, const View* a, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { unary(c, static_cast<UnaryOp>(op), *out, *a); });
}
void binaryEntry(int32_t dev, int32_t op, const View* out, const View* a, const View* b, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { binary(c, static_cast<BinaryOp>(op), *out, *a, *b); });
}
void whereEntry(int32_t dev, const View* out, const View* cond, const View* a, const View* b, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { where(c, *out, *cond, *a, *b); });
}
void reduceEntry(int32_t dev, int32_t op, const View* out, const View* a, uint32_t mask, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { reduce(c, static_cast<ReduceOp>(op), *out, *a, mask); });
}
void cumsumEntry(int32_t dev, const View* out, const View* a, int32_t dim, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { cumsum(c, *out, *a, dim); });
}
void matmulEntry(int32_t dev, const View* out, const View* a, const View* b, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { matmul(c, *out, *a, *b); });
}
void matmulBiasEntry(int32_t dev, const View* out, const View* a, const View* b, const View* bias,
                     PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { matmulBias(c, *out, *a, *b, *bias); });
}
void gatherEntry(int32_t dev, const View* out, const View* src, const View* index, int32_t dim, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { gather(c, *out, *src, *index, dim); });
}
void scatterAddEntry(int32_t dev, const View* out, const View* index, const View* src, int32_t dim,
                     PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { scatterAdd(c, *out, *index, *src, dim); });
}
void indexSelectEntry(int32_t dev, const View* out, const View* src, const View* index, int32_t dim,
                      PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { indexSelect(c, *out, *src, *index, dim); });
}
void padEntry(int32_t dev, const View* out, const View* a, const int64_t* before, double value, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { pad(c, *out, *a, before, value); });
}
void castEntry(int32_t dev, const View* out, const View* a, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { cast(c, *out, *a); });
}
void copyEntry(int32_t dev, const View* out, const View* a, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { copy(c, *out, *a); });
}
void fillEntry(int32_t dev, const View* out, double value, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { fill(c, *out, value); });
}
void arangeEntry(int32_t dev, const View* out, double start, double step, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { arange(c, *out, start, step); });
}
void randomEntry(int32_t dev, int32_t op, const View* out, uint64_t seed, uint64_t offset, double a, double b,
                 PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { random(c, static_cast<RandomOp>(op), *out, seed, offset, a, b); });
}

void optimStepEntry(int32_t dev, int32_t op, const View* states, int32_t n, const View* grad, const double* attrs,
                    int32_t nAttrs, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { optimStep(c, static_cast<OptimOp>(op), states, n, *grad, attrs, nAttrs); });
}
void convEntry(int32_t dev, const View* y, const View* x, const View* w, const View* bias, const ConvParams* p,
               PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { conv(c, *y, *x, *w, bias, *p); });
}
void convTransposeEntry(int32_t dev, const View* x, const View* y, const View* w, const ConvParams* p,
                        PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { convTranspose(c, *x, *y, *w, *p); });
}
void convWeightGradEntry(int32_t dev, const View* w, const View* x, const View* y, const ConvParams* p,
                         PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { convWeightGrad(c, *w, *x, *y, *p); });
}
void maxPoolIndicesEntry(int32_t dev, const View* index, const View* x, const PoolParams* p, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { maxPoolIndices(c, *index, *x, *p); });
}
void avgPoolEntry(int32_t dev, const View* y, const View* x, const PoolParams* p, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { avgPool(c, *y, *x, *p); });
}
void avgPoolTransposeEntry(int32_t dev, const View* x, const View* y, const PoolParams* p, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { avgPoolTranspose(c, *x, *y, *p); });
}
void lstmCellEntry(int32_t dev, const View* out, const View* gates, const View* cell, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { lstmCell(c, *out, *gates, *cell); });
}
void lstmCellBackwardEntry(int32_t dev, const View* out, const View* gates, const View* cell, const View* grad,
                           PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { lstmCellBackward(c, *out, *gates, *cell, *grad); });
}
void gruCellEntry(int32_t dev, const View* out, const View* gi, const View* gh, const View* h, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { gruCell(c, *out, *gi, *gh, *h); });
}
void gruCellBackwardEntry(int32_t dev, const View* out, const View* gi, const View* gh, const View* h,
                          const View* grad, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { gruCellBackward(c, *out, *gi, *gh, *h, *grad); });
}
void normalizeEntry(int32_t dev, const View* out, const View* x, double eps, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { normalize(c, *out, *x, eps); });
}
void normalizeBackwardEntry(int32_t dev, const View* out, const View* x, const View* g, double eps,
                            PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { normalizeBackward(c, *out, *x, *g, eps); });
}
void momentsEntry(int32_t dev, const View* out, const View* x, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { moments(c, *out, *x); });
}
void layerNormEntry(int32_t dev, const View* y, const View* stats, const View* x, const View* w, const View* b,
                    double eps, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { layerNorm(c, *y, *stats, *x, *w, *b, eps); });
}
void layerNormBackwardEntry(int32_t dev, const View* dx, const View* dw, const View* db, const View* x, const View* w,
                            const View* stats, const View* g, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { layerNormBackward(c, *dx, *dw, *db, *x, *w, *stats, *g); });
}
void softmaxEntry(int32_t dev, const View* out, const View* x, int32_t log, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { softmax(c, *out, *x, log != 0); });
}
void lstmSequenceReserveBytesEntry(int32_t dev, int32_t dtype, const int64_t* dims, int32_t flags, uint64_t* bytes,
                                   PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) {
    if (dtype < 0 || dtype >= kNumDTypes) fail(ErrorKind::DType, "lstmSequence: unknown dtype ", dtype);
    for (int i = 0; i < 4; i++)
      if (dims[i] < 1 || dims[i] > 2147483647)
        fail(ErrorKind::Shape, "lstmSequence: sizes must be in [1, 2^31), got ", dims[i]);
    *bytes = lstmSequenceReserveBytes(c, static_cast<DType>(dtype), dims[0], dims[1], dims[2], dims[3], flags);
  });
}
void lstmSequenceEntry(int32_t dev, const View* out, const View* reserve, const View* ins, int32_t flags,
                       PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { lstmSequence(c, *out, *reserve, ins, flags); });
}
void lstmSequenceBackwardEntry(int32_t dev, const View* grads, const View* ins, int32_t flags, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { lstmSequenceBackward(c, grads, ins, flags); });
}

void softmaxBackwardEntry(int32_t dev, const View* out, const View* y, const View* g, int32_t log, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { softmaxBackward(c, *out, *y, *g, log != 0); });
}
void dropoutEntry(int32_t dev, const View* out, const View* x, uint64_t seed, uint64_t offset, double keep,
                  double scale, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { dropout(c, *out, *x, seed, offset, keep, scale); });
}
void reluBackwardEntry(int32_t dev, const View* out, const View* g, const View* x, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { reluBackward(c, *out, *g, *x); });
}
void maxPoolEntry(int32_t dev, const View* y, const View* x, const PoolParams* p, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { maxPool(c, *y, *x, *p); });
}
void maxPoolGradEntry(int32_t dev, const View* dx, const View* x, const View* gy, const PoolParams* p,
                      PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { maxPoolGrad(c, *dx, *x, *gy, *p); });
}
void maxPoolBackwardEntry(int32_t dev, const View* x, const View* y, const View* index, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { maxPoolBackward(c, *x, *y, *index); });
}
void crossEntropyEntry(int32_t dev, const View* out, const View* x, const View* target, PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { crossEntropy(c, *out, *x, *target); });
}
void crossEntropyBackwardEntry(int32_t dev, const View* out, const View* x, const View* target, const View* g,
                               PluginStatus* st) {
  onDevice(dev, st, [&](Ctx& c) { crossEntropyBackward(c, *out, *x, *target, *g); });
}

const CudaPluginApi kApi = {
    kCudaPluginAbi,   sizeof(CudaPluginApi), probeEntry,      versionsEntry,       deviceInfo,     memoryStats,
    emptyCache,       setOption,             allocate,        deallocate,      copyFromHost,   copyToHost,
    synchronize,      pluginSupports,        unaryEntry,      binaryEntry,     whereEntry,     reduceEntry,
    cumsumEntry,      matmulEntry,           gatherEntry,     scatterAddEntry, indexSelectEntry, padEntry,
    castEntry,        copyEntry,             fillEntry,       arangeEntry,     randomEntry,
    optimStepEntry,   convEntry,             convTransposeEntry, convWeightGradEntry, maxPoolIndicesEntry,
    avgPoolEntry,     avgPoolTransposeEntry, lstmCellEntry,   lstmCellBackwardEntry, gruCellEntry,
    gruCellBackwardEntry, normalizeEntry,    normalizeBackwardEntry, momentsEntry, softmaxEntry,
    lstmSequenceReserveBytesEntry, lstmSequenceEntry, lstmSequenceBackwardEntry,
    softmaxBackwardEntry, dropoutEntry, reluBackwardEntry, maxPoolEntry, maxPoolGradEntry, maxPoolBackwardEntry,
    crossEntropyEntry, crossEntropyBackwardEntry,
    matmulBiasEntry, layerNormEntry, layerNormBackwardEntry,
};

}  // namespace

bool supports(const char* op, DType t) { return pluginSupports(op, static_cast<int32_t>(t)) != 0; }

}  // namespace cuda
}  // namespace kiln

extern "C" __attribute__((visibility("default"))) const kiln::CudaPluginApi* kiln_cuda_plugin_api(void) {
  return &kiln::cuda::kApi;
}
