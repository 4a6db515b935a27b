#include "context.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "libraries.h"

namespace kiln {
namespace cuda {

void throwCuda(cudaError_t e, const char* expr, const char* file, int line) {
  cudaGetLastError();  // clear a non-sticky error so later calls are not blamed for it
  const char* base = std::strrchr(file, '/');
  ErrorKind kind = e == cudaErrorMemoryAllocation ? ErrorKind::Memory : ErrorKind::Device;
  fail(kind, "CUDA error ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ") in ", expr, " at ",
       base ? base + 1 : file, ":", line);
}

namespace {
std::atomic<bool> gAllowTF32{false};

// Freed pool memory stays cached for reuse up to this much (the pool keeps it across
// synchronizations instead of returning it to the driver each time).
constexpr uint64_t kReleaseThresholdFraction = 2;  // half of the device's memory
}  // namespace

bool allowTF32() { return gAllowTF32.load(); }
void setAllowTF32(bool on) { gAllowTF32.store(on); }

namespace {
Ctx* createContext(int index) {
  auto c = std::make_unique<Ctx>();
  c->device = index;
  KILN_CUDA_CHECK(cudaSetDevice(index));
  KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
  KILN_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&c->pool, index));
  size_t freeBytes = 0, totalBytes = 0;
  KILN_CUDA_CHECK(cudaMemGetInfo(&freeBytes, &totalBytes));
  uint64_t threshold = totalBytes / kReleaseThresholdFraction;
  KILN_CUDA_CHECK(cudaMemPoolSetAttribute(c->pool, cudaMemPoolAttrReleaseThreshold, &threshold));
  c->cacheLimit = totalBytes / 4;
  KILN_CUDA_CHECK(cudaDeviceGetAttribute(&c->smCount, cudaDevAttrMultiProcessorCount, index));
  KILN_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&c->flagHost), sizeof(KernelErrorFlag), cudaHostAllocMapped));
  std::memset(c->flagHost, 0, sizeof(KernelErrorFlag));
  KILN_CUDA_CHECK(cudaHostGetDevicePointer(reinterpret_cast<void**>(&c->flagDevice), c->flagHost, 0));
  return c.release();
}

constexpr int kMaxDevices = 256;  // device codes carry the index in 8 bits
std::atomic<Ctx*> gContexts[kMaxDevices];  // never destroyed: storages may be freed during shutdown
// The device this host thread last made current: every op enters through context(), and
// cudaSetDevice costs host time on each call even when nothing changes.
thread_local int tCurrentDevice = -1;
}  // namespace

Ctx& context(int index) {
  if (index < 0 || index >= kMaxDevices) fail(ErrorKind::Device, "cuda:", index, " does not exist");
  Ctx* c = gContexts[index].load(std::memory_order_acquire);
  if (!c) {
    static std::mutex mu;
    std::lock_guard<std::mutex> lock(mu);
    c = gContexts[index].load(std::memory_order_relaxed);
    if (!c) {
      tCurrentDevice = -1;
      c = createContext(index);
      gContexts[index].store(c, std::memory_order_release);
    }
  }
  if (tCurrentDevice != index) {
    KILN_CUDA_CHECK(cudaSetDevice(index));  // the current device is per host thread
    tCurrentDevice = index;
  }
  return *c;
}

namespace {
// Size classes: 512-byte steps below 1 MiB, 128 KiB steps above (at most 1/8 wasted there).
size_t sizeClass(size_t bytes) {
  constexpr size_t kSmall = 512, kLarge = size_t{128} << 10, kSplit = size_t{1} << 20;
  if (bytes == 0) bytes = 1;
  const size_t step = bytes < kSplit ? kSmall : kLarge;
  return (bytes + step - 1) / step * step;
}
}  // namespace

void* Ctx::alloc(size_t requested) {
  const size_t bytes = sizeClass(requested);
  auto cached = freeBlocks_.find(bytes);
  if (cached != freeBlocks_.end() && !cached->second.empty()) {
    void* p = cached->second.back();
    cached->second.pop_back();
    cachedBytes -= bytes;
    return p;
  }
  void* p = nullptr;
  cudaError_t e = cudaMallocAsync(&p, bytes, stream);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    releaseCached();
    // Memory freed by queued work returns to the pool only as that work completes; then give
    // everything the pool caches back to the driver and try once more.
    KILN_CUDA_CHECK(cudaStreamSynchronize(stream));
    KILN_CUDA_CHECK(cudaMemPoolTrimTo(pool, 0));
    e = cudaMallocAsync(&p, bytes, stream);
  }
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    size_t freeBytes = 0, totalBytes = 0;
    cudaMemGetInfo(&freeBytes, &totalBytes);
    uint64_t used = 0;
    cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &used);
    fail(ErrorKind::Memory, "out of memory on cuda:", device, " allocating ", bytes, " bytes (", freeBytes,
         " bytes free of ", totalBytes, "; kiln's tensors hold ", used, ")");
  }
  if (e != cudaSuccess) throwCuda(e, "cudaMallocAsync", __FILE__, __LINE__);
  try {
    blockSize_.emplace(p, bytes);
  } catch (...) {
    cudaFreeAsync(p, stream);
    throw;
  }
  return p;
}

void Ctx::release(void* p) {
  if (!p) return;
  auto it = blockSize_.find(p);
  if (it != blockSize_.end() && cachedBytes + it->second <= cacheLimit) {
    try {
      freeBlocks_[it->second].push_back(p);
      cachedBytes += it->second;
      return;
    } catch (...) {
      // no memory for the list entry: give the block back instead
    }
  }
  if (it != blockSize_.end()) blockSize_.erase(it);
  // Errors here (a device already in an error state, or the runtime shutting down at exit) have
  // nowhere to go: a destructor called this.
  if (cudaFreeAsync(p, stream) != cudaSuccess) cudaGetLastError();
}

void Ctx::releaseCached() {
  for (auto& entry : freeBlocks_) {
    for (void* p : entry.second) {
      blockSize_.erase(p);
      if (cudaFreeAsync(p, stream) != cudaSuccess) cudaGetLastError();
    }
    entry.second.clear();
  }
  cachedBytes = 0;
}

void Ctx::ensureStaging() {
  if (staging[0]) return;
  for (int i = 0; i < kStagingSlots; i++) {
    KILN_CUDA_CHECK(cudaHostAlloc(&staging[i], kSlotBytes, cudaHostAllocDefault));
    KILN_CUDA_CHECK(cudaEventCreateWithFlags(&slotFree[i], cudaEventDisableTiming));
  }
}

// The source may be freed by JS as soon as this returns, so every chunk is copied into a pinned
// slot first; the DMA from that slot then runs in stream order without the host waiting for it.
void Ctx::copyFromHost(void* dst, const void* src, size_t bytes) {
  ensureStaging();
  for (size_t done = 0; done < bytes; done += kSlotBytes) {
    size_t n = std::min(kSlotBytes, bytes - done);
    int s = nextSlot;
    nextSlot = (nextSlot + 1) % kStagingSlots;
    KILN_CUDA_CHECK(cudaEventSynchronize(slotFree[s]));
    std::memcpy(staging[s], static_cast<const char*>(src) + done, n);
    KILN_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(dst) + done, staging[s], n, cudaMemcpyHostToDevice, stream));
    KILN_CUDA_CHECK(cudaEventRecord(slotFree[s], stream));
  }
}

// Reads wait by nature. Up to all slots are in flight: while the host copies one chunk out of
// its slot, the DMA of the next ones runs.
void Ctx::copyToHost(void* dst, const void* src, size_t bytes) {
  ensureStaging();
  const size_t chunks = (bytes + kSlotBytes - 1) / kSlotBytes;
  auto slotOf = [&](size_t k) { return static_cast<int>((static_cast<size_t>(nextSlot) + k) % kStagingSlots); };
  auto issue = [&](size_t k) {
    size_t off = k * kSlotBytes, n = std::min(kSlotBytes, bytes - off);
    int s = slotOf(k);
    KILN_CUDA_CHECK(cudaEventSynchronize(slotFree[s]));  // an upload may still be reading it
    KILN_CUDA_CHECK(cudaMemcpyAsync(staging[s], static_cast<const char*>(src) + off, n, cudaMemcpyDeviceToHost, stream));
    KILN_CUDA_CHECK(cudaEventRecord(slotFree[s], stream));
  };
  const size_t inFlight = std::min<size_t>(kStagingSlots, chunks);
  for (size_t k = 0; k < inFlight; k++) issue(k);
  for (size_t k = 0; k < chunks; k++) {
    int s = slotOf(k);
    KILN_CUDA_CHECK(cudaEventSynchronize(slotFree[s]));
    size_t off = k * kSlotBytes, n = std::min(kSlotBytes, bytes - off);
    std::memcpy(static_cast<char*>(dst) + off, staging[s], n);
    if (k + inFlight < chunks) issue(k + inFlight);
  }
  nextSlot = slotOf(chunks);
  raiseKernelError();
}

void Ctx::synchronize() {
  KILN_CUDA_CHECK(cudaStreamSynchronize(stream));
  raiseKernelError();
}

void Ctx::raiseKernelError() {
  volatile KernelErrorFlag* f = flagHost;
  int32_t code = f->code;
  if (code == kNoKernelError) return;
  int64_t value = f->value, limit = f->limit;
  int32_t dim = f->dim;
  f->code = kNoKernelError;
  // The messages of the CPU's checks, plus where the error was found.
  const char* where = " (found on cuda:%d while the op ran; the offending elements were skipped)";
  char tail[128];
  std::snprintf(tail, sizeof(tail), where, device);
  switch (code) {
    case kFmodByZero: fail(ErrorKind::Kiln, "fmod: integer division by zero", tail);
    case kPowNegative: fail(ErrorKind::Kiln, "pow: integers to negative integer powers are not allowed", tail);
    default: break;
  }
  const char* op = code == kGatherIndex           ? "gather"
                   : code == kScatterAddIndex      ? "scatterAdd"
                   : code == kCrossEntropyTarget   ? "crossEntropy"
                   : code == kMaxPoolIndex         ? "maxPoolBackward"
                                                   : "indexSelect";
  fail(ErrorKind::Index, op, ": index ", value, " is out of bounds for dimension ", dim, " with size ", limit, tail);
}

void* cudnnHandleFor(Ctx& c) {
  if (!c.cudnnHandle) {
    cudnnHandle_t h = nullptr;
    checkCudnn(cudnn().create(&h), "cudnnCreate");
    c.cudnnHandle = h;
    checkCudnn(cudnn().setStream(h, c.stream), "cudnnSetStream");
  }
  return c.cudnnHandle;
}

unsigned Ctx::blocksFor(int64_t n, int threads) const {
  int64_t blocks = (n + threads - 1) / threads;
  // Grid-stride loops: a few waves of resident blocks are enough to saturate the device.
  int64_t cap = static_cast<int64_t>(smCount) * 32;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min(blocks, cap)));
}

}  // namespace cuda
}  // namespace kiln
