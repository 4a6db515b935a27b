// Index kernels: gather, scatterAdd, indexSelect (PyTorch semantics), as in native/cpu/index.cpp.
//
// The dispatcher cannot look at index values in device memory, so the kernels check each one:
// an index outside [0, size) is skipped (gather/indexSelect write 0 there) and recorded in the
// context's KernelErrorFlag, which the host turns into an IndexError at the next
// synchronization (a read, synchronize()) or the next op on the device.
//
// The source (for gather/indexSelect) or the destination (scatterAdd) is one more operand of the
// strided walk with stride 0 along `dim`; the index value then adds index * stride(dim).
// scatterAdd uses atomicAdd, so float sums may round differently from the CPU's ordered sum.
#include <cstdint>

#include "kernels.h"
#include "map.cuh"

namespace kiln {
namespace cuda {
namespace {

// out[p] = src[p with p[dim] := index[p]]; operands (out, index, src with stride 0 on dim).
template <typename T>
__global__ void gatherKernel(T* out, const int32_t* index, const T* src, OffsetCalc<3> oc, uint32_t n, int64_t srcDimStride,
                             int64_t limit, int dim, KernelErrorFlag* flag) {
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    int64_t off[3];
    oc.get(i, off);
    const int64_t k = index[off[1]];
    if (k < 0 || k >= limit) {
      flagKernelError(flag, kGatherIndex, dim, k, limit);
      out[off[0]] = T(0);
      continue;
    }
    out[off[0]] = src[off[2] + k * srcDimStride];
  }
}

// out[..., j, ...] = src[..., index[j], ...]; operands (out, index with stride only on dim,
// src with stride 0 on dim).
template <typename T>
__global__ void indexSelectKernel(T* out, const int32_t* index, const T* src, OffsetCalc<3> oc, uint32_t n,
                                  int64_t srcDimStride, int64_t limit, int dim, KernelErrorFlag* flag) {
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    int64_t off[3];
    oc.get(i, off);
    const int64_t k = index[off[1]];
    if (k < 0 || k >= limit) {
      flagKernelError(flag, kIndexSelectIndex, dim, k, limit);
      out[off[0]] = T(0);
      continue;
    }
    out[off[0]] = src[off[2] + k * srcDimStride];
  }
}

__device__ __forceinline__ void atomicAddTo(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomicAddTo(double* p, double v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomicAddTo(int32_t* p, int32_t v) { atomicAdd(p, v); }  // wraps

// out[p with p[dim] := index[p]] += src[p]; operands (out with stride 0 on dim, index, src).
template <typename T>
__global__ void scatterAddKernel(T* out, const int32_t* index, const T* src, OffsetCalc<3> oc, uint32_t n,
                                 int64_t outDimStride, int64_t limit, int dim, KernelErrorFlag* flag) {
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    int64_t off[3];
    oc.get(i, off);
    const int64_t k = index[off[1]];
    if (k < 0 || k >= limit) {
      flagKernelError(flag, kScatterAddIndex, dim, k, limit);
      continue;
    }
    atomicAddTo(out + off[0] + k * outDimStride, src[off[2]]);
  }
}

// The three operands of one index op walked over `shape`; no dim reordering, so the walk is
// row-major over the index (or output) and writes of neighbouring threads are neighbours.
Coalesced<3> walk(int rank, const int64_t* shape, const int64_t* s0, const int64_t* s1, const int64_t* s2) {
  const int64_t* s[3] = {s0, s1, s2};
  return coalesce<3>(rank, shape, s, /*sortByFirst=*/false);
}

}  // namespace

void gather(Ctx& c, const View& out, const View& src, const View& index, int dim) {
  if (index.numel() == 0) return;
  int64_t srcStrides[kMaxDims];
  for (int d = 0; d < src.ndim(); d++) srcStrides[d] = d == dim ? 0 : src.stride(d);
  const Coalesced<3> co = walk(index.ndim(), index.layout.shape, out.layout.strides, index.layout.strides, srcStrides);
  dispatchBits(src.dtype, [&](auto tag) {
    using T = decltype(tag);
    forChunks(co, [&](const Coalesced<3>& p, const int64_t* b) {
      gatherKernel<T><<<c.blocksFor(p.numel, kThreads), kThreads, 0, c.stream>>>(
          out.at<T>() + b[0], index.at<int32_t>() + b[1], src.at<T>() + b[2], OffsetCalc<3>(p),
          static_cast<uint32_t>(p.numel), src.stride(dim), src.size(dim), dim, c.flagDevice);
      KILN_CHECK_LAUNCH();
    });
  });
}

void indexSelect(Ctx& c, const View& out, const View& src, const View& index, int dim) {
  if (out.numel() == 0) return;
  int64_t srcStrides[kMaxDims], idxStrides[kMaxDims];
  for (int d = 0; d < src.ndim(); d++) {
    srcStrides[d] = d == dim ? 0 : src.stride(d);
    idxStrides[d] = d == dim ? index.stride(0) : 0;
  }
  const Coalesced<3> co = walk(out.ndim(), out.layout.shape, out.layout.strides, idxStrides, srcStrides);
  dispatchBits(src.dtype, [&](auto tag) {
    using T = decltype(tag);
    forChunks(co, [&](const Coalesced<3>& p, const int64_t* b) {
      indexSelectKernel<T><<<c.blocksFor(p.numel, kThreads), kThreads, 0, c.stream>>>(
          out.at<T>() + b[0], index.at<int32_t>() + b[1], src.at<T>() + b[2], OffsetCalc<3>(p),
          static_cast<uint32_t>(p.numel), src.stride(dim), src.size(dim), dim, c.flagDevice);
      KILN_CHECK_LAUNCH();
    });
  });
}

void scatterAdd(Ctx& c, const View& out, const View& index, const View& src, int dim) {
  if (index.numel() == 0) return;
  int64_t outStrides[kMaxDims];
  for (int d = 0; d < out.ndim(); d++) outStrides[d] = d == dim ? 0 : out.stride(d);
  const Coalesced<3> co = walk(index.ndim(), index.layout.shape, outStrides, index.layout.strides, src.layout.strides);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    forChunks(co, [&](const Coalesced<3>& p, const int64_t* b) {
      scatterAddKernel<T><<<c.blocksFor(p.numel, kThreads), kThreads, 0, c.stream>>>(
          out.at<T>() + b[0], index.at<int32_t>() + b[1], src.at<T>() + b[2], OffsetCalc<3>(p),
          static_cast<uint32_t>(p.numel), out.stride(dim), out.size(dim), dim, c.flagDevice);
      KILN_CHECK_LAUNCH();
    });
  };
  switch (out.dtype) {
    case DType::Float32: return run(float{});
    case DType::Float64: return run(double{});
    case DType::Int32: return run(int32_t{});
    case DType::Bool: return;  // not supported (supports())
  }
}

}  // namespace cuda
}  // namespace kiln
