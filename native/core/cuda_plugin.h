// The C ABI between the core addon and the kiln_cuda plugin (native/cuda), which the core opens
// with dlopen on first use of a CUDA device (native/core/devices.cpp).
//
// Why a C table instead of handing the core a C++ Backend: the two binaries are built separately
// (the plugin by nvcc, linking the CUDA runtime statically) and both hide their symbols, so a C++
// exception thrown in one and caught in the other would need matching typeinfo across the
// boundary. Here nothing but plain structs crosses it: every entry point catches everything on
// its side and reports failure in a PluginStatus, which the core turns back into a kiln::Error.
//
// Views are passed by pointer to the same kiln::View (layout.h) both sides compile; enums as
// their int32 values, ConvParams / PoolParams (backend.h) by pointer. Bump kCudaPluginAbi whenever
// anything in this file, in View or in those structs changes.
#pragma once
#include <cstddef>
#include <cstdint>

#include "backend.h"
#include "layout.h"

namespace kiln {

constexpr uint32_t kCudaPluginAbi = 6;

// kind: 0 = success, else 1 + the ErrorKind (errors.h) to raise, with a message.
struct PluginStatus {
  int32_t kind = 0;
  char message[1024] = {};
};

struct CudaDeviceInfo {
  char name[256];
  uint64_t totalMemory;
  int32_t major, minor;  // compute capability
  int32_t multiprocessors;
};

// Bytes, for one device. The pool is the cudaMallocAsync pool kiln allocates from.
struct CudaMemoryStats {
  uint64_t poolReserved;      // held by the pool from the driver (in use or cached)
  uint64_t poolUsed;          // handed out to tensors and workspaces right now
  uint64_t poolReservedPeak;
  uint64_t poolUsedPeak;
  uint64_t deviceFree;        // cudaMemGetInfo
  uint64_t deviceTotal;
};

extern "C" {

struct CudaPluginApi {
  uint32_t abi;         // kCudaPluginAbi of the plugin's build
  uint32_t structSize;  // sizeof(CudaPluginApi) of the plugin's build

  // Checks the driver, the devices and the libraries (cuBLAS, cuBLASLt, cuDNN). On failure the
  // status says exactly what is missing; on success *deviceCount > 0. Safe to call repeatedly.
  void (*probe)(int32_t* deviceCount, PluginStatus* st);
  // A one-line summary: runtime, driver, cuBLAS and cuDNN versions.
  void (*versions)(char* buf, size_t cap);
  void (*deviceInfo)(int32_t device, CudaDeviceInfo* info, PluginStatus* st);
  void (*memoryStats)(int32_t device, CudaMemoryStats* stats, PluginStatus* st);
  // Returns cached pool memory to the driver (after the device's queued work finished).
  void (*emptyCache)(int32_t device, PluginStatus* st);
  // Process-wide switches: "allowTF32" (0/1).
  void (*setOption)(const char* name, double value, PluginStatus* st);

  void* (*allocate)(int32_t device, size_t bytes, PluginStatus* st);
  void (*deallocate)(int32_t device, void* ptr, size_t bytes);  // never fails
  void (*copyFromHost)(int32_t device, void* dst, const void* src, size_t bytes, PluginStatus* st);
  void (*copyToHost)(int32_t device, void* dst, const void* src, size_t bytes, PluginStatus* st);
  void (*synchronize)(int32_t device, PluginStatus* st);

  int32_t (*supports)(const char* op, int32_t dtype);
  void (*unary)(int32_t device, int32_t op, const View* out, const View* a, PluginStatus* st);
  void (*binary)(int32_t device, int32_t op, const View* out, const View* a, const View* b, PluginStatus* st);
  void (*where)(int32_t device, const View* out, const View* cond, const View* a, const View* b, PluginStatus* st);
  void (*reduce)(int32_t device, int32_t op, const View* out, const View* a, uint32_t dimMask, PluginStatus* st);
  void (*cumsum)(int32_t device, const View* out, const View* a, int32_t dim, PluginStatus* st);
  void (*matmul)(int32_t device, const View* out, const View* a, const View* b, PluginStatus* st);
  void (*gather)(int32_t device, const View* out, const View* src, const View* index, int32_t dim, PluginStatus* st);
  void (*scatterAdd)(int32_t device, const View* out, const View* index, const View* src, int32_t dim,
                     PluginStatus* st);
  void (*indexSelect)(int32_t device, const View* out, const View* src, const View* index, int32_t dim,
                      PluginStatus* st);
  void (*pad)(int32_t device, const View* out, const View* a, const int64_t* before, double value, PluginStatus* st);
  void (*cast)(int32_t device, const View* out, const View* a, PluginStatus* st);
  void (*copy)(int32_t device, const View* out, const View* a, PluginStatus* st);
  void (*fill)(int32_t device, const View* out, double value, PluginStatus* st);
  void (*arange)(int32_t device, const View* out, double start, double step, PluginStatus* st);
  void (*random)(int32_t device, int32_t op, const View* out, uint64_t seed, uint64_t offset, double a, double b,
                 PluginStatus* st);

  // The fused optimizer updates and the neural-network kernels: Backend's methods of the same
  // names (backend.h); bias may be null.
  void (*optimStep)(int32_t device, int32_t op, const View* states, int32_t nStates, const View* grad,
                    const double* attrs, int32_t nAttrs, PluginStatus* st);
  void (*conv)(int32_t device, const View* y, const View* x, const View* w, const View* bias, const ConvParams* p,
               PluginStatus* st);
  void (*convTranspose)(int32_t device, const View* x, const View* y, const View* w, const ConvParams* p,
                        PluginStatus* st);
  void (*convWeightGrad)(int32_t device, const View* w, const View* x, const View* y, const ConvParams* p,
                         PluginStatus* st);
  void (*maxPoolIndices)(int32_t device, const View* index, const View* x, const PoolParams* p, PluginStatus* st);
  void (*avgPool)(int32_t device, const View* y, const View* x, const PoolParams* p, PluginStatus* st);
  void (*avgPoolTranspose)(int32_t device, const View* x, const View* y, const PoolParams* p, PluginStatus* st);
  void (*lstmCell)(int32_t device, const View* out, const View* gates, const View* c, PluginStatus* st);
  void (*lstmCellBackward)(int32_t device, const View* out, const View* gates, const View* c, const View* grad,
                           PluginStatus* st);
  void (*gruCell)(int32_t device, const View* out, const View* gi, const View* gh, const View* h, PluginStatus* st);
  void (*gruCellBackward)(int32_t device, const View* out, const View* gi, const View* gh, const View* h,
                          const View* grad, PluginStatus* st);
  void (*normalize)(int32_t device, const View* out, const View* x, double eps, PluginStatus* st);
  void (*normalizeBackward)(int32_t device, const View* out, const View* x, const View* g, double eps,
                            PluginStatus* st);
  void (*moments)(int32_t device, const View* out, const View* x, PluginStatus* st);
  void (*softmax)(int32_t device, const View* out, const View* x, int32_t log, PluginStatus* st);

  // The cuDNN LSTM layer: Backend::lstmSequenceReserveBytes (dims = T, B, I, H), lstmSequence
  // (ins = x, h0, c0, wIh, wHh, b) and lstmSequenceBackward (grads = dx, dh0, dc0, dwIh, dwHh, db;
  // ins = x, h0, c0, out, reserve, grad); flags as there.
  void (*lstmSequenceReserveBytes)(int32_t device, int32_t dtype, const int64_t* dims, int32_t flags,
                                   uint64_t* bytes, PluginStatus* st);
  void (*lstmSequence)(int32_t device, const View* out, const View* reserve, const View* ins, int32_t flags,
                       PluginStatus* st);
  void (*lstmSequenceBackward)(int32_t device, const View* grads, const View* ins, int32_t flags, PluginStatus* st);

  // ABI 4: the fused softmax VJP, dropout, and the kernels the CPU had first (Backend's methods
  // of the same names).
  void (*softmaxBackward)(int32_t device, const View* out, const View* y, const View* g, int32_t log,
                          PluginStatus* st);
  void (*dropout)(int32_t device, const View* out, const View* x, uint64_t seed, uint64_t offset, double keep,
                  double scale, PluginStatus* st);
  void (*reluBackward)(int32_t device, const View* out, const View* g, const View* x, PluginStatus* st);
  void (*maxPool)(int32_t device, const View* y, const View* x, const PoolParams* p, PluginStatus* st);
  void (*maxPoolGrad)(int32_t device, const View* dx, const View* x, const View* gy, const PoolParams* p,
                      PluginStatus* st);
  void (*maxPoolBackward)(int32_t device, const View* x, const View* y, const View* index, PluginStatus* st);
  void (*crossEntropy)(int32_t device, const View* out, const View* x, const View* target, PluginStatus* st);
  void (*crossEntropyBackward)(int32_t device, const View* out, const View* x, const View* target, const View* g,
                               PluginStatus* st);

  // ABI 5: matmul plus a bias row in one call (Backend::matmulBias; cuBLASLt's bias epilogue).
  void (*matmulBias)(int32_t device, const View* out, const View* a, const View* b, const View* bias,
                     PluginStatus* st);

  // ABI 6: the fused layer norm and its VJP (Backend::layerNorm, Backend::layerNormBackward).
  void (*layerNorm)(int32_t device, const View* y, const View* stats, const View* x, const View* w, const View* b,
                    double eps, PluginStatus* st);
  void (*layerNormBackward)(int32_t device, const View* dx, const View* dw, const View* db, const View* x,
                            const View* w, const View* stats, const View* g, PluginStatus* st);
};

// The one symbol the plugin exports.
typedef const CudaPluginApi* (*KilnCudaPluginEntry)(void);
#define KILN_CUDA_PLUGIN_ENTRY "kiln_cuda_plugin_api"

}  // extern "C"

}  // namespace kiln
