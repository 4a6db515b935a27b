// Copies and creation: copy (strided assign), cast, fill, arange, pad.
//
// Conversions follow the CPU kernels (native/cpu/copy.cpp) and PyTorch: float -> int truncates
// toward zero with NaN -> 0 and saturation, anything -> bool is "!= 0" (NaN is true), bool ->
// number is 0/1. Contiguous same-dtype copies are plain cudaMemcpyAsync; everything else goes
// through the map kernels, with dims ordered by the destination's memory order.
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels.h"
#include "map.cuh"

namespace kiln {
namespace cuda {
namespace {

// Value conversion to the storage type U (uint8_t means bool); host and device.
template <typename U, typename T>
__host__ __device__ __forceinline__ U convert(T x) {
  if constexpr (std::is_same<U, uint8_t>::value) {
    return static_cast<uint8_t>(x != T(0));
  } else if constexpr (std::is_same<T, uint8_t>::value) {
    return static_cast<U>(x != 0 ? 1 : 0);
  } else if constexpr (std::is_same<U, int32_t>::value && std::is_floating_point<T>::value) {
    double v = static_cast<double>(x);
    v = v != v ? 0.0 : v;
    v = v < -2147483648.0 ? -2147483648.0 : v;
    v = v > 2147483647.0 ? 2147483647.0 : v;
    return static_cast<int32_t>(v);
  } else {
    return static_cast<U>(x);
  }
}

template <typename U, typename T>
struct ConvertF {
  __device__ __forceinline__ U operator()(T x) const { return convert<U, T>(x); }
};

template <typename T>
struct IdentityF {
  __device__ __forceinline__ T operator()(T x) const { return x; }
};

// y[i * s] = convert(start + i * step), with the product and sum rounded separately (no FMA)
// exactly as the CPU computes them, so both give the same values.
template <typename T>
__global__ void arangeKernel(T* y, int64_t n, int64_t s, double start, double step) {
  for (int64_t i = globalIndex64(); i < n; i += gridStride64())
    y[i * s] = convert<T, double>(__dadd_rn(start, __dmul_rn(static_cast<double>(i), step)));
}

}  // namespace

void copy(Ctx& c, const View& out, const View& a) {
  const int64_t n = out.numel();
  if (n == 0) return;
  if (out.isContiguous() && a.isContiguous()) {
    const size_t es = dtypeSize(out.dtype);
    void* dst = static_cast<char*>(out.data) + out.layout.offset * static_cast<int64_t>(es);
    const void* src = static_cast<const char*>(a.data) + a.layout.offset * static_cast<int64_t>(es);
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(n) * es, cudaMemcpyDeviceToDevice, c.stream));
    return;
  }
  dispatchBits(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    map1<T, T>(c, out, a, IdentityF<T>{});
  });
}

void cast(Ctx& c, const View& out, const View& a) {
  if (out.dtype == a.dtype) return copy(c, out, a);
  dispatchStorage(out.dtype, [&](auto utag) {
    using U = decltype(utag);
    dispatchStorage(a.dtype, [&](auto ttag) {
      using T = decltype(ttag);
      if constexpr (!std::is_same<U, T>::value) map1<U, T>(c, out, a, ConvertF<U, T>{});
    });
  });
}

void fill(Ctx& c, const View& out, double value) {
  dispatchStorage(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T v = convert<T, double>(value);
    // All-zero bytes in a contiguous view (zeros(), the common case): a memset.
    T zero{};
    if (out.isContiguous() && std::memcmp(&v, &zero, sizeof(T)) == 0) {
      if (out.numel() > 0)
        KILN_CUDA_CHECK(cudaMemsetAsync(out.at<T>(), 0, static_cast<size_t>(out.numel()) * sizeof(T), c.stream));
      return;
    }
    fillView<T>(c, out, v);
  });
}

void arange(Ctx& c, const View& out, double start, double step) {
  const int64_t n = out.size(0);
  if (n == 0) return;
  dispatchStorage(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    arangeKernel<T><<<c.blocksFor(n, kThreads), kThreads, 0, c.stream>>>(out.at<T>(), n, out.stride(0), start, step);
    KILN_CHECK_LAUNCH();
  });
}

void pad(Ctx& c, const View& out, const View& a, const int64_t* before, double value) {
  fill(c, out, value);
  View inner = out;
  for (int d = 0; d < a.ndim(); d++) {
    inner.layout.shape[d] = a.size(d);
    inner.layout.offset += before[d] * out.stride(d);
  }
  copy(c, inner, a);
}

}  // namespace cuda
}  // namespace kiln
