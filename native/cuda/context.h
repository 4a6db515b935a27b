// One CUDA device as the plugin sees it: its stream, its memory pool, the pinned staging buffers
// for host transfers, the flag kernels raise on bad indices, and the cuBLAS / cuBLASLt / cuDNN handles.
//
// Every op is enqueued on the device's single stream and returns at once; the host waits only
// in synchronize() and in copies to the host. Memory comes from the device's default
// cudaMallocAsync pool (stream ordered: a buffer freed after the kernels that use it were queued
// is reused only after they ran), with a release threshold so freed memory stays cached.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "../core/errors.h"

namespace kiln {
namespace cuda {

// Throws the kiln::Error for a failed CUDA call: MemoryError for out-of-memory, DeviceError
// otherwise, naming the call and the CUDA error.
[[noreturn]] void throwCuda(cudaError_t e, const char* expr, const char* file, int line);

#define KILN_CUDA_CHECK(expr)                                                    \
  do {                                                                           \
    cudaError_t kiln_err_ = (expr);                                              \
    if (kiln_err_ != cudaSuccess) ::kiln::cuda::throwCuda(kiln_err_, #expr, __FILE__, __LINE__); \
  } while (0)

// After every kernel launch: a bad configuration is reported here, a fault during the kernel at
// the next synchronizing call.
#define KILN_CHECK_LAUNCH() KILN_CUDA_CHECK(cudaGetLastError())

// What a kernel reports when it meets a value the op refuses (an index out of range, an int32
// division by zero ...): it skips that element and records the first such error here. Lives in
// host-mapped pinned memory, so the host reads it without a copy after the stream synchronized.
struct KernelErrorFlag {
  int32_t code;  // KernelError; 0 = none. Set once (atomicCAS), so the first error wins.
  int32_t dim;
  int64_t value;
  int64_t limit;
};
enum KernelError : int32_t {
  kNoKernelError = 0,
  kGatherIndex = 1,
  kScatterAddIndex = 2,
  kIndexSelectIndex = 3,
  kFmodByZero = 4,    // int32 fmod: the element is 0
  kPowNegative = 5,   // int32 pow: the element is 0
  kCrossEntropyTarget = 6,  // crossEntropy(Backward): a target outside [0, D)
  kMaxPoolIndex = 7,        // maxPoolBackward: an index outside the input plane
};

struct Ctx {
  int device = 0;
  cudaStream_t stream = nullptr;
  cudaMemPool_t pool = nullptr;
  int smCount = 1;
  KernelErrorFlag* flagHost = nullptr;
  KernelErrorFlag* flagDevice = nullptr;
  // Serializes the ops of all threads (worker threads share the device): the staging buffers and
  // the cuBLAS handle are single-user.
  std::mutex mu;

  // Pinned staging slots for host transfers, used round robin across calls: an upload waits only
  // when it comes back to a slot whose previous DMA has not run yet (8 chunks in flight), and
  // the host copy of one chunk overlaps the DMA of the others.
  static constexpr int kStagingSlots = 8;
  static constexpr size_t kSlotBytes = size_t{4} << 20;
  void* staging[kStagingSlots] = {};
  cudaEvent_t slotFree[kStagingSlots] = {};
  int nextSlot = 0;

  void* cublasHandle = nullptr;  // cublasHandle_t, created on the first matmul
  bool cublasTF32 = false;       // the math mode the handle is set to
  void* cudnnHandle = nullptr;   // cudnnHandle_t, created on the first convolution
  void* ltPlans = nullptr;       // blas_lt.cpp's cuBLASLt handle and cached matmul plans

  // Stream-ordered allocation from the pool, behind a host-side cache of freed blocks by size
  // class: a cudaMallocAsync/cudaFreeAsync pair costs microseconds of host time, which at small
  // sizes is most of an op; a list pop does not. Reusing a block at once is safe because every op
  // runs on this one stream, after the ops that used the block before. On out-of-memory: free the
  // cached blocks, wait for queued work, return the pool's memory to the driver
  // (cudaMemPoolTrimTo) and try once more; then MemoryError.
  void* alloc(size_t bytes);
  void release(void* p);  // never throws
  // Hands every cached block back to the pool (emptyCache, out-of-memory).
  void releaseCached();
  size_t cachedBytes = 0;  // held in the cache, counted as used by the pool
  size_t cacheLimit = 0;   // beyond this, freed blocks go straight back to the pool
  void copyFromHost(void* dst, const void* src, size_t bytes);
  void copyToHost(void* dst, const void* src, size_t bytes);
  void synchronize();
  // Throws the IndexError a kernel flagged, if any (and clears the flag). Reads host memory only.
  void raiseKernelError();
  // Grid size for a grid-stride loop over n items with `threads` per block.
  unsigned blocksFor(int64_t n, int threads) const;

 private:
  void ensureStaging();
  std::unordered_map<size_t, std::vector<void*>> freeBlocks_;  // size class -> cached blocks
  std::unordered_map<void*, size_t> blockSize_;                // live and cached blocks -> size class
};

// The context of device `index` (created on first use, never destroyed), made current for the
// calling thread.
Ctx& context(int index);

// A scratch buffer from the pool, released in stream order when it goes out of scope.
class Scratch {
 public:
  Scratch(Ctx& c, size_t bytes) : c_(c), p_(c.alloc(bytes == 0 ? 16 : bytes)) {}
  ~Scratch() { c_.release(p_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T>
  T* as() const { return static_cast<T*>(p_); }

 private:
  Ctx& c_;
  void* p_;
};

// The device's cuDNN handle, created on first use and bound to its stream (the convolutions,
// conv.cpp, use it).
void* cudnnHandleFor(Ctx& c);

bool allowTF32();
void setAllowTF32(bool on);

}  // namespace cuda
}  // namespace kiln
