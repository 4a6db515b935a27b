// Elementwise maps over 0 to 3 inputs: out[i] = f(in0[i], ...) for operands of one shape and any
// strides. Three kernels per map: contiguous with 4-element vector loads (when the pointers are
// aligned), contiguous scalar, and strided through an OffsetCalc (strided.cuh).
#pragma once
#include <cstdint>

#include "../core/layout.h"
#include "context.h"
#include "strided.cuh"

namespace kiln {
namespace cuda {

template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};
constexpr int kVec = 4;

template <typename T>
bool alignedForPack(const T* p) {
  return reinterpret_cast<uintptr_t>(p) % sizeof(Pack<T, kVec>) == 0;
}

// Records the first refused value of a launch (context.h); the host raises it at the next sync.
__device__ __forceinline__ void flagKernelError(KernelErrorFlag* flag, int32_t code, int dim, int64_t value,
                                                int64_t limit) {
  if (atomicCAS(&flag->code, 0, code) == 0) {
    flag->dim = dim;
    flag->value = value;
    flag->limit = limit;
  }
}

// ---------------------------------------------------------------- kernels

template <typename O, typename A, typename F>
__global__ void map1Contig(O* __restrict__ y, const A* __restrict__ x, int64_t n, F f) {
  for (int64_t i = globalIndex64(); i < n; i += gridStride64()) y[i] = f(x[i]);
}

template <typename O, typename A, typename F>
__global__ void map1Vec(Pack<O, kVec>* __restrict__ y, const Pack<A, kVec>* __restrict__ x, int64_t nv, F f) {
  for (int64_t i = globalIndex64(); i < nv; i += gridStride64()) {
    Pack<A, kVec> a = x[i];
    Pack<O, kVec> o;
#pragma unroll
    for (int j = 0; j < kVec; j++) o.v[j] = f(a.v[j]);
    y[i] = o;
  }
}

template <typename O, typename A, typename F>
__global__ void map1Strided(O* y, const A* x, OffsetCalc<2> oc, uint32_t n, F f) {
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    int64_t off[2];
    oc.get(i, off);
    y[off[0]] = f(x[off[1]]);
  }
}

template <typename O, typename A, typename F>
__global__ void map2Contig(O* __restrict__ y, const A* __restrict__ a, const A* __restrict__ b, int64_t n, F f) {
  for (int64_t i = globalIndex64(); i < n; i += gridStride64()) y[i] = f(a[i], b[i]);
}

template <typename O, typename A, typename F>
__global__ void map2Vec(Pack<O, kVec>* __restrict__ y, const Pack<A, kVec>* __restrict__ a,
                        const Pack<A, kVec>* __restrict__ b, int64_t nv, F f) {
  for (int64_t i = globalIndex64(); i < nv; i += gridStride64()) {
    Pack<A, kVec> x = a[i], z = b[i];
    Pack<O, kVec> o;
#pragma unroll
    for (int j = 0; j < kVec; j++) o.v[j] = f(x.v[j], z.v[j]);
    y[i] = o;
  }
}

template <typename O, typename A, typename F>
__global__ void map2Strided(O* y, const A* a, const A* b, OffsetCalc<3> oc, uint32_t n, F f) {
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    int64_t off[3];
    oc.get(i, off);
    y[off[0]] = f(a[off[1]], b[off[2]]);
  }
}

// where: out = c ? a : b
template <typename T>
__global__ void selectContig(T* __restrict__ y, const uint8_t* __restrict__ c, const T* __restrict__ a,
                             const T* __restrict__ b, int64_t n) {
  for (int64_t i = globalIndex64(); i < n; i += gridStride64()) y[i] = c[i] ? a[i] : b[i];
}

template <typename T>
__global__ void selectStrided(T* y, const uint8_t* c, const T* a, const T* b, OffsetCalc<4> oc, uint32_t n) {
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    int64_t off[4];
    oc.get(i, off);
    y[off[0]] = c[off[1]] ? a[off[2]] : b[off[3]];
  }
}

template <typename T>
__global__ void fillContig(T* __restrict__ y, int64_t n, T v) {
  for (int64_t i = globalIndex64(); i < n; i += gridStride64()) y[i] = v;
}

template <typename T>
__global__ void fillStrided(T* y, OffsetCalc<1> oc, uint32_t n, T v) {
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    int64_t off[1];
    oc.get(i, off);
    y[off[0]] = v;
  }
}

// ---------------------------------------------------------------- host launchers

// out = f(a); out and a have one shape (checked by the dispatcher).
template <typename O, typename A, typename F>
void map1(Ctx& c, const View& out, const View& a, F f) {
  const int64_t n = out.numel();
  if (n == 0) return;
  O* y = out.at<O>();
  const A* x = a.at<A>();
  const int64_t* s[2] = {out.layout.strides, a.layout.strides};
  const Coalesced<2> co = coalesce<2>(out.ndim(), out.layout.shape, s);
  if (co.contiguous()) {
    int64_t done = 0;
    if (n >= kVec && alignedForPack(y) && alignedForPack(x)) {
      const int64_t nv = n / kVec;
      map1Vec<O, A, F><<<c.blocksFor(nv, kThreads), kThreads, 0, c.stream>>>(
          reinterpret_cast<Pack<O, kVec>*>(y), reinterpret_cast<const Pack<A, kVec>*>(x), nv, f);
      KILN_CHECK_LAUNCH();
      done = nv * kVec;
    }
    if (done < n) {
      map1Contig<O, A, F><<<c.blocksFor(n - done, kThreads), kThreads, 0, c.stream>>>(y + done, x + done, n - done, f);
      KILN_CHECK_LAUNCH();
    }
    return;
  }
  forChunks(co, [&](const Coalesced<2>& p, const int64_t* b) {
    map1Strided<O, A, F><<<c.blocksFor(p.numel, kThreads), kThreads, 0, c.stream>>>(
        y + b[0], x + b[1], OffsetCalc<2>(p), static_cast<uint32_t>(p.numel), f);
    KILN_CHECK_LAUNCH();
  });
}

// out = f(a, b)
template <typename O, typename A, typename F>
void map2(Ctx& c, const View& out, const View& a, const View& b, F f) {
  const int64_t n = out.numel();
  if (n == 0) return;
  O* y = out.at<O>();
  const A* x = a.at<A>();
  const A* z = b.at<A>();
  const int64_t* s[3] = {out.layout.strides, a.layout.strides, b.layout.strides};
  const Coalesced<3> co = coalesce<3>(out.ndim(), out.layout.shape, s);
  if (co.contiguous()) {
    int64_t done = 0;
    if (n >= kVec && alignedForPack(y) && alignedForPack(x) && alignedForPack(z)) {
      const int64_t nv = n / kVec;
      map2Vec<O, A, F><<<c.blocksFor(nv, kThreads), kThreads, 0, c.stream>>>(
          reinterpret_cast<Pack<O, kVec>*>(y), reinterpret_cast<const Pack<A, kVec>*>(x),
          reinterpret_cast<const Pack<A, kVec>*>(z), nv, f);
      KILN_CHECK_LAUNCH();
      done = nv * kVec;
    }
    if (done < n) {
      map2Contig<O, A, F><<<c.blocksFor(n - done, kThreads), kThreads, 0, c.stream>>>(y + done, x + done, z + done,
                                                                                     n - done, f);
      KILN_CHECK_LAUNCH();
    }
    return;
  }
  forChunks(co, [&](const Coalesced<3>& p, const int64_t* bs) {
    map2Strided<O, A, F><<<c.blocksFor(p.numel, kThreads), kThreads, 0, c.stream>>>(
        y + bs[0], x + bs[1], z + bs[2], OffsetCalc<3>(p), static_cast<uint32_t>(p.numel), f);
    KILN_CHECK_LAUNCH();
  });
}

// out = cond ? a : b, T an unsigned type of the element width (only bits move).
template <typename T>
void select(Ctx& c, const View& out, const View& cond, const View& a, const View& b) {
  const int64_t n = out.numel();
  if (n == 0) return;
  T* y = out.at<T>();
  const uint8_t* pc = cond.at<uint8_t>();
  const T* x = a.at<T>();
  const T* z = b.at<T>();
  const int64_t* s[4] = {out.layout.strides, cond.layout.strides, a.layout.strides, b.layout.strides};
  const Coalesced<4> co = coalesce<4>(out.ndim(), out.layout.shape, s);
  if (co.contiguous()) {
    selectContig<T><<<c.blocksFor(n, kThreads), kThreads, 0, c.stream>>>(y, pc, x, z, n);
    KILN_CHECK_LAUNCH();
    return;
  }
  forChunks(co, [&](const Coalesced<4>& p, const int64_t* bs) {
    selectStrided<T><<<c.blocksFor(p.numel, kThreads), kThreads, 0, c.stream>>>(
        y + bs[0], pc + bs[1], x + bs[2], z + bs[3], OffsetCalc<4>(p), static_cast<uint32_t>(p.numel));
    KILN_CHECK_LAUNCH();
  });
}

// out[...] = v through any strides.
template <typename T>
void fillView(Ctx& c, const View& out, T v) {
  const int64_t n = out.numel();
  if (n == 0) return;
  T* y = out.at<T>();
  const int64_t* s[1] = {out.layout.strides};
  const Coalesced<1> co = coalesce<1>(out.ndim(), out.layout.shape, s);
  if (co.contiguous()) {
    fillContig<T><<<c.blocksFor(n, kThreads), kThreads, 0, c.stream>>>(y, n, v);
    KILN_CHECK_LAUNCH();
    return;
  }
  forChunks(co, [&](const Coalesced<1>& p, const int64_t* bs) {
    fillStrided<T><<<c.blocksFor(p.numel, kThreads), kThreads, 0, c.stream>>>(y + bs[0], OffsetCalc<1>(p),
                                                                              static_cast<uint32_t>(p.numel), v);
    KILN_CHECK_LAUNCH();
  });
}

// Calls f with a value of the C++ type kernels store `t` as (bool as uint8_t: any nonzero byte
// reads as true, kernels write 0 or 1).
template <typename F>
decltype(auto) dispatchStorage(DType t, F&& f) {
  switch (t) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Int32: return f(int32_t{});
    case DType::Bool: return f(uint8_t{});
  }
  return f(float{});
}

// An unsigned type of the element width, for kernels that only move bits.
template <typename F>
decltype(auto) dispatchBits(DType t, F&& f) {
  switch (dtypeSize(t)) {
    case 1: return f(uint8_t{});
    case 8: return f(uint64_t{});
    default: return f(uint32_t{});
  }
}

}  // namespace cuda
}  // namespace kiln
