// Device helpers shared by the nn kernel files (pool, norm, softmax, rnn, optim): float/double
// overloads of the math they use, the sigmoid the elementwise kernels compute, and a reduction
// over a group of threads (a warp, or a whole block) that leaves the result in every thread.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "strided.cuh"

namespace kiln {
namespace cuda {
namespace nnm {

__device__ __forceinline__ float exp(float x) { return ::expf(x); }
__device__ __forceinline__ double exp(double x) { return ::exp(x); }
__device__ __forceinline__ float log(float x) { return ::logf(x); }
__device__ __forceinline__ double log(double x) { return ::log(x); }
__device__ __forceinline__ float sqrt(float x) { return ::sqrtf(x); }
__device__ __forceinline__ double sqrt(double x) { return ::sqrt(x); }
__device__ __forceinline__ float tanh(float x) { return ::tanhf(x); }
__device__ __forceinline__ double tanh(double x) { return ::tanh(x); }
__device__ __forceinline__ float fabs(float x) { return ::fabsf(x); }
__device__ __forceinline__ double fabs(double x) { return ::fabs(x); }

// As UnaryOp::Sigmoid on both devices (elementwise.cu, native/cpu/elementwise.cpp).
template <typename T>
__device__ __forceinline__ T sigmoid(T x) {
  T e = exp(-fabs(x));  // never overflows
  T p = T(1) / (T(1) + e);
  return x < T(0) ? e * p : p;
}

}  // namespace nnm

// Threads per block of the row/channel kernels, and the group sizes they use.
constexpr int kNnThreads = 256;
constexpr int kWarp = 32;

// Reduces v over a group of Lanes threads (32: one warp; kNnThreads: the whole block) with
// `combine`, in a fixed tree, so the result is the same on every run; every thread of the group
// gets it. With Lanes == kNnThreads every thread of the block must call it (it synchronizes);
// `shared` holds kNnThreads / 32 values.
template <int Lanes, typename A, typename F>
__device__ __forceinline__ A groupReduce(A v, F combine, A* shared) {
#pragma unroll
  for (int s = 16; s > 0; s >>= 1) v = combine(v, __shfl_xor_sync(0xffffffffu, v, s));
  if constexpr (Lanes > kWarp) {
    __syncthreads();  // the previous call's readers are done with `shared`
    if (threadIdx.x % kWarp == 0) shared[threadIdx.x / kWarp] = v;
    __syncthreads();
    v = shared[0];
#pragma unroll
    for (int w = 1; w < Lanes / kWarp; w++) v = combine(v, shared[w]);
  }
  return v;
}

struct SumOp {
  template <typename A>
  __device__ __forceinline__ A operator()(A a, A b) const { return a + b; }
};

}  // namespace cuda
}  // namespace kiln
