// Reductions over any set of dims (sum, prod, max, min, argmax, argmin) and cumsum.
//
// The input's dims split into kept dims (one output each) and reduced dims; each group is
// coalesced separately (strided.cuh). Two kernels, chosen from the shape alone so a result never
// depends on timing:
// - row: a group of `lanes` threads (a warp, or the whole block when outputs are few) reduces one
//   output, the lanes striding over the reduced elements; warp-shuffle tree, then shared memory
//   across the warps of a group. Used when the reduced elements are adjacent in memory.
// - column: each thread of a warp takes one of 32 neighbouring outputs and threadIdx.y splits the
//   reduced range; used when neighbouring outputs are neighbours in memory (sum over dim 0 of a
//   matrix), so every load of a warp is one coalesced line.
// When that leaves too few blocks to fill the device, the reduced range is cut into chunks
// (gridDim.y), each writes a partial accumulator, and a second kernel combines the chunks of
// each output in chunk order.
//
// Accumulators and semantics follow the CPU (native/cpu/reduce.cpp): float32 sums and products
// accumulate in double, int32 wraps around, max/min propagate NaN, argmax/argmin return the first
// occurrence and a NaN wins. Every combine below is order independent (or deterministic in its
// fixed tree), so results are reproducible run to run.
#include <cstdint>
#include <type_traits>

#include "kernels.h"
#include "map.cuh"

namespace kiln {
namespace cuda {
namespace {

constexpr uint32_t kFull = 0xffffffffu;

template <typename T>
using WideOf = typename std::conditional<std::is_integral<T>::value, uint32_t, double>::type;

template <typename T>
__device__ __forceinline__ T shflDown(T v, int offset) {
  return __shfl_down_sync(kFull, v, offset);
}
__device__ __forceinline__ int64_t shflDown(int64_t v, int offset) {
  return static_cast<int64_t>(__shfl_down_sync(kFull, static_cast<long long>(v), offset));
}

// Each reducer: Acc (trivial, so it can live in shared memory), init(), load(x, index),
// combine(a, b), shfl(a, offset), finish(a) -> Out.
template <typename T>
struct SumR {
  using Acc = WideOf<T>;
  using Out = T;
  __device__ static Acc init() { return Acc(0); }
  __device__ static Acc load(T x, int64_t) { return static_cast<Acc>(x); }  // int32 -> uint32: modular
  __device__ static Acc combine(Acc a, Acc b) { return a + b; }
  __device__ static Acc shfl(Acc a, int o) { return shflDown(a, o); }
  __device__ static Out finish(Acc a) { return static_cast<Out>(a); }
};

template <typename T>
struct ProdR {
  using Acc = WideOf<T>;
  using Out = T;
  __device__ static Acc init() { return Acc(1); }
  __device__ static Acc load(T x, int64_t) { return static_cast<Acc>(x); }
  __device__ static Acc combine(Acc a, Acc b) { return a * b; }
  __device__ static Acc shfl(Acc a, int o) { return shflDown(a, o); }
  __device__ static Out finish(Acc a) { return static_cast<Out>(a); }
};

template <typename T>
__device__ __forceinline__ bool isNaN(T x) {
  return x != x;
}

template <typename T>
__device__ __forceinline__ T lowest() {
  if constexpr (std::is_integral<T>::value) return T(-2147483647 - 1);
  else return -T(INFINITY);
}
template <typename T>
__device__ __forceinline__ T highest() {
  if constexpr (std::is_integral<T>::value) return T(2147483647);
  else return T(INFINITY);
}

template <typename T, bool IsMax>
struct ExtremumR {
  using Acc = T;
  using Out = T;
  __device__ static Acc init() { return IsMax ? lowest<T>() : highest<T>(); }
  __device__ static Acc load(T x, int64_t) { return x; }
  __device__ static Acc combine(Acc a, Acc b) {
    if (isNaN(a)) return a;
    if (isNaN(b)) return b;
    return (IsMax ? b > a : b < a) ? b : a;
  }
  __device__ static Acc shfl(Acc a, int o) { return shflDown(a, o); }
  __device__ static Out finish(Acc a) { return a; }
};

template <typename T>
struct ArgAcc {
  T v;
  int64_t i;  // -1: nothing seen
};

template <typename T, bool IsMax>
struct ArgR {
  using Acc = ArgAcc<T>;
  using Out = int32_t;
  __device__ static Acc init() { return Acc{T(0), -1}; }
  __device__ static Acc load(T x, int64_t i) { return Acc{x, i}; }
  // The first NaN if there is one, else the first occurrence of the extreme value.
  __device__ static Acc combine(Acc a, Acc b) {
    if (a.i < 0) return b;
    if (b.i < 0) return a;
    const bool an = isNaN(a.v), bn = isNaN(b.v);
    if (an || bn) {
      if (an && bn) return a.i <= b.i ? a : b;
      return an ? a : b;
    }
    if (IsMax ? b.v > a.v : b.v < a.v) return b;
    if (IsMax ? a.v > b.v : a.v < b.v) return a;
    return a.i <= b.i ? a : b;
  }
  __device__ static Acc shfl(Acc a, int o) { return Acc{shflDown(a.v, o), shflDown(a.i, o)}; }
  __device__ static Out finish(Acc a) { return static_cast<int32_t>(a.i < 0 ? 0 : a.i); }
};

struct ReduceParams {
  OffsetCalc<2> kept;  // (out, in) offsets of output o
  OffsetCalc<1> red;   // in offset of reduced element r
  uint32_t nOut;
  uint32_t nRed;
  uint32_t chunkLen;   // reduced elements per chunk (blockIdx.y)
  uint32_t lanes = 32;  // row kernel: threads per output, a multiple of 32 dividing the block
};

template <typename R>
__device__ __forceinline__ void store(const ReduceParams& p, typename R::Out* out, typename R::Acc* partial,
                                      uint32_t o, const int64_t* offs, typename R::Acc acc) {
  if (gridDim.y == 1) out[offs[0]] = R::finish(acc);
  else partial[static_cast<int64_t>(o) * gridDim.y + blockIdx.y] = acc;
}

template <typename R, typename T>
__global__ void reduceRowKernel(typename R::Out* out, const T* __restrict__ in, ReduceParams p,
                                typename R::Acc* partial) {
  using Acc = typename R::Acc;
  const uint32_t lane = threadIdx.x % p.lanes;
  const uint32_t slot = threadIdx.x / p.lanes;
  const uint32_t o = blockIdx.x * (blockDim.x / p.lanes) + slot;
  const uint32_t r0 = blockIdx.y * p.chunkLen;
  const uint32_t r1 = min(p.nRed, r0 + p.chunkLen);
  Acc acc = R::init();
  int64_t offs[2] = {0, 0};
  if (o < p.nOut) {
    p.kept.get(o, offs);
    for (uint32_t r = r0 + lane; r < r1; r += p.lanes) {
      int64_t ro[1];
      p.red.get(r, ro);
      acc = R::combine(acc, R::load(in[offs[1] + ro[0]], r));
    }
  }
  // All 32 lanes of a warp belong to one group (lanes is a multiple of 32).
#pragma unroll
  for (int s = 16; s > 0; s >>= 1) acc = R::combine(acc, R::shfl(acc, s));
  if (p.lanes > 32) {
    __shared__ Acc warpAcc[kThreads / 32];
    if (threadIdx.x % 32 == 0) warpAcc[threadIdx.x / 32] = acc;
    __syncthreads();
    if (lane == 0) {
      const uint32_t perGroup = p.lanes / 32, w0 = slot * perGroup;
      acc = warpAcc[w0];
      for (uint32_t w = 1; w < perGroup; w++) acc = R::combine(acc, warpAcc[w0 + w]);
    }
  }
  if (lane == 0 && o < p.nOut) store<R>(p, out, partial, o, offs, acc);
}

constexpr int kColX = 32, kColY = 8;

template <typename R, typename T>
__global__ void reduceColKernel(typename R::Out* out, const T* __restrict__ in, ReduceParams p,
                                typename R::Acc* partial) {
  using Acc = typename R::Acc;
  const uint32_t o = blockIdx.x * blockDim.x + threadIdx.x;
  const uint32_t r0 = blockIdx.y * p.chunkLen;
  const uint32_t r1 = min(p.nRed, r0 + p.chunkLen);
  Acc acc = R::init();
  int64_t offs[2] = {0, 0};
  if (o < p.nOut) {
    p.kept.get(o, offs);
    for (uint32_t r = r0 + threadIdx.y; r < r1; r += blockDim.y) {
      int64_t ro[1];
      p.red.get(r, ro);
      acc = R::combine(acc, R::load(in[offs[1] + ro[0]], r));
    }
  }
  __shared__ Acc colAcc[kColY][kColX];
  colAcc[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && o < p.nOut) {
    for (uint32_t k = 1; k < blockDim.y; k++) acc = R::combine(acc, colAcc[k][threadIdx.x]);
    store<R>(p, out, partial, o, offs, acc);
  }
}

// Combines the chunks of each output in order.
template <typename R>
__global__ void reduceFinishKernel(typename R::Out* out, const typename R::Acc* partial, OffsetCalc<2> kept,
                                   uint32_t nOut, uint32_t chunks) {
  for (uint32_t o = blockIdx.x * blockDim.x + threadIdx.x; o < nOut; o += gridDim.x * blockDim.x) {
    typename R::Acc acc = partial[static_cast<int64_t>(o) * chunks];
    for (uint32_t k = 1; k < chunks; k++) acc = R::combine(acc, partial[static_cast<int64_t>(o) * chunks + k]);
    int64_t offs[2];
    kept.get(o, offs);
    out[offs[0]] = R::finish(acc);
  }
}

uint32_t ceilDiv(uint64_t a, uint64_t b) { return static_cast<uint32_t>((a + b - 1) / b); }

template <typename R, typename T>
void reduceWith(Ctx& c, const char* name, const View& out, const View& a, uint32_t mask) {
  using Acc = typename R::Acc;
  int64_t kShape[kMaxDims], kOut[kMaxDims], kIn[kMaxDims], rShape[kMaxDims], rIn[kMaxDims];
  int nk = 0, nr = 0;
  for (int d = 0; d < a.ndim(); d++) {
    if ((mask >> d) & 1) {
      rShape[nr] = a.size(d);
      rIn[nr++] = a.stride(d);
    } else {
      kShape[nk] = a.size(d);
      kOut[nk] = out.stride(d);
      kIn[nk++] = a.stride(d);
    }
  }
  const int64_t* ks[2] = {kOut, kIn};
  const int64_t* rs[1] = {rIn};
  const Coalesced<2> kept = coalesce<2>(nk, kShape, ks, /*sortByFirst=*/false);
  const Coalesced<1> red = coalesce<1>(nr, rShape, rs, /*sortByFirst=*/false);
  const int64_t nOut = kept.numel, nRed = red.numel;
  if (nOut == 0) return;
  if (nOut > kMaxChunk || nRed > kMaxChunk)
    fail(ErrorKind::Kiln, name, ": reductions with 2^31 or more outputs or reduced elements per output are not "
         "supported on CUDA yet");

  ReduceParams p;
  p.kept = OffsetCalc<2>(kept);
  p.red = OffsetCalc<1>(red);
  p.nOut = static_cast<uint32_t>(nOut);
  p.nRed = static_cast<uint32_t>(nRed);

  const int64_t keptInnerIn = kept.ndim > 0 ? kept.strides[1][kept.ndim - 1] : 0;
  const int64_t redInner = red.ndim > 0 ? red.strides[0][red.ndim - 1] : 0;
  const bool column = nOut > 1 && ((keptInnerIn == 1 && redInner != 1 && redInner != -1) || nRed < 32);
  const uint32_t targetBlocks = static_cast<uint32_t>(c.smCount) * 8;

  dim3 block, grid;
  uint32_t minPerChunk;
  if (column) {
    uint32_t by = 1;
    while (by < kColY && by < nRed) by *= 2;
    block = dim3(kColX, by);
    grid.x = ceilDiv(nOut, kColX);
    minPerChunk = by * 16;
  } else {
    p.lanes = (nRed > 32 && nOut < static_cast<int64_t>(targetBlocks) * (kThreads / 32)) ? kThreads : 32;
    block = dim3(kThreads);
    grid.x = ceilDiv(nOut, kThreads / p.lanes);
    minPerChunk = p.lanes * 8;
  }
  uint32_t chunks = 1;
  if (grid.x < targetBlocks && nRed > minPerChunk) {
    chunks = std::min(ceilDiv(targetBlocks, grid.x), ceilDiv(nRed, minPerChunk));
    chunks = std::min<uint32_t>(chunks, 65535);
  }
  p.chunkLen = chunks > 1 ? ceilDiv(nRed, chunks) : static_cast<uint32_t>(nRed > 0 ? nRed : 1);
  if (chunks > 1) chunks = ceilDiv(nRed, p.chunkLen);
  grid.y = chunks;

  typename R::Out* po = out.at<typename R::Out>();
  const T* pa = a.at<T>();
  if (chunks == 1) {
    if (column) reduceColKernel<R, T><<<grid, block, 0, c.stream>>>(po, pa, p, nullptr);
    else reduceRowKernel<R, T><<<grid, block, 0, c.stream>>>(po, pa, p, nullptr);
    KILN_CHECK_LAUNCH();
    return;
  }
  Scratch partial(c, static_cast<size_t>(nOut) * chunks * sizeof(Acc));
  if (column) reduceColKernel<R, T><<<grid, block, 0, c.stream>>>(po, pa, p, partial.as<Acc>());
  else reduceRowKernel<R, T><<<grid, block, 0, c.stream>>>(po, pa, p, partial.as<Acc>());
  KILN_CHECK_LAUNCH();
  reduceFinishKernel<R><<<c.blocksFor(nOut, kThreads), kThreads, 0, c.stream>>>(po, partial.as<Acc>(), p.kept,
                                                                               p.nOut, chunks);
  KILN_CHECK_LAUNCH();
}

template <typename T>
void reduceTyped(Ctx& c, ReduceOp op, const View& out, const View& a, uint32_t mask) {
  switch (op) {
    case ReduceOp::Sum: return reduceWith<SumR<T>, T>(c, "sum", out, a, mask);
    case ReduceOp::Prod: return reduceWith<ProdR<T>, T>(c, "prod", out, a, mask);
    case ReduceOp::Max: return reduceWith<ExtremumR<T, true>, T>(c, "max", out, a, mask);
    case ReduceOp::Min: return reduceWith<ExtremumR<T, false>, T>(c, "min", out, a, mask);
    case ReduceOp::ArgMax: return reduceWith<ArgR<T, true>, T>(c, "argmax", out, a, mask);
    case ReduceOp::ArgMin: return reduceWith<ArgR<T, false>, T>(c, "argmin", out, a, mask);
    default: break;
  }
}

// ---------------------------------------------------------------- cumsum

// One thread per line, sequential along it (lines of neighbouring threads are neighbours in
// memory when dim is not the innermost one).
template <typename T>
__global__ void cumsumLineKernel(T* out, const T* __restrict__ in, OffsetCalc<2> lines, uint32_t nLines, int64_t n,
                                 int64_t sOut, int64_t sIn) {
  using Acc = WideOf<T>;
  for (uint32_t l = blockIdx.x * blockDim.x + threadIdx.x; l < nLines; l += gridDim.x * blockDim.x) {
    int64_t offs[2];
    lines.get(l, offs);
    Acc acc = Acc(0);
    for (int64_t k = 0; k < n; k++) {
      acc += static_cast<Acc>(in[offs[1] + k * sIn]);
      out[offs[0] + k * sOut] = static_cast<T>(acc);
    }
  }
}

// One block per line: tiles of kThreads elements, each scanned with warp shuffles, carried over.
template <typename T>
__global__ void cumsumBlockKernel(T* out, const T* __restrict__ in, OffsetCalc<2> lines, uint32_t nLines, int64_t n,
                                  int64_t sOut, int64_t sIn) {
  using Acc = WideOf<T>;
  __shared__ Acc warpSum[kThreads / 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (uint32_t l = blockIdx.x; l < nLines; l += gridDim.x) {
    int64_t offs[2];
    lines.get(l, offs);
    Acc carry = Acc(0);
    for (int64_t tile = 0; tile < n; tile += kThreads) {
      const int64_t k = tile + threadIdx.x;
      Acc v = k < n ? static_cast<Acc>(in[offs[1] + k * sIn]) : Acc(0);
#pragma unroll
      for (int s = 1; s < 32; s <<= 1) {
        Acc up = __shfl_up_sync(kFull, v, s);
        if (lane >= s) v += up;
      }
      if (lane == 31) warpSum[warp] = v;
      __syncthreads();
      Acc before = Acc(0), total = Acc(0);
      for (int w = 0; w < kThreads / 32; w++) {
        if (w < warp) before += warpSum[w];
        total += warpSum[w];
      }
      if (k < n) out[offs[0] + k * sOut] = static_cast<T>(carry + (before + v));
      carry += total;
      __syncthreads();  // warpSum is rewritten by the next tile
    }
  }
}

template <typename T>
void cumsumTyped(Ctx& c, const View& out, const View& a, int dim) {
  const int64_t n = a.size(dim);
  int64_t shape[kMaxDims], oStr[kMaxDims], iStr[kMaxDims];
  int m = 0;
  for (int d = 0; d < a.ndim(); d++) {
    if (d == dim) continue;
    shape[m] = a.size(d);
    oStr[m] = out.stride(d);
    iStr[m++] = a.stride(d);
  }
  const int64_t* ss[2] = {oStr, iStr};
  const Coalesced<2> lines = coalesce<2>(m, shape, ss, /*sortByFirst=*/false);
  const int64_t nLines = lines.numel;
  if (nLines == 0 || n == 0) return;
  if (nLines > kMaxChunk) fail(ErrorKind::Kiln, "cumsum: 2^31 or more lines are not supported on CUDA yet");
  const OffsetCalc<2> oc(lines);
  T* po = out.at<T>();
  const T* pa = a.at<T>();
  const bool manyLines = nLines >= static_cast<int64_t>(c.smCount) * kThreads;
  if (manyLines || n <= 64) {
    cumsumLineKernel<T><<<c.blocksFor(nLines, kThreads), kThreads, 0, c.stream>>>(
        po, pa, oc, static_cast<uint32_t>(nLines), n, out.stride(dim), a.stride(dim));
  } else {
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(nLines, static_cast<int64_t>(c.smCount) * 16));
    cumsumBlockKernel<T><<<blocks, kThreads, 0, c.stream>>>(po, pa, oc, static_cast<uint32_t>(nLines), n,
                                                           out.stride(dim), a.stride(dim));
  }
  KILN_CHECK_LAUNCH();
}

}  // namespace

void reduce(Ctx& c, ReduceOp op, const View& out, const View& a, uint32_t dimMask) {
  switch (a.dtype) {
    case DType::Float32: return reduceTyped<float>(c, op, out, a, dimMask);
    case DType::Float64: return reduceTyped<double>(c, op, out, a, dimMask);
    case DType::Int32: return reduceTyped<int32_t>(c, op, out, a, dimMask);
    case DType::Bool: break;
  }
}

void cumsum(Ctx& c, const View& out, const View& a, int dim) {
  switch (a.dtype) {
    case DType::Float32: return cumsumTyped<float>(c, out, a, dim);
    case DType::Float64: return cumsumTyped<double>(c, out, a, dim);
    case DType::Int32: return cumsumTyped<int32_t>(c, out, a, dim);
    case DType::Bool: break;
  }
}

}  // namespace cuda
}  // namespace kiln
