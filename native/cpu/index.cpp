// Index kernels: gather, scatterAdd, indexSelect (PyTorch semantics). Index values were checked
// against the indexed dim by the dispatcher, so they are used as is.
//
// gather and indexSelect treat the source as one more operand of a strided loop whose stride
// along `dim` is zero; the index value then adds index * src.stride(dim). They only move bits,
// so each element width is compiled once.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <type_traits>

#include "kernels.h"
#include "strided.h"

namespace kiln {
namespace cpu {
namespace {

constexpr int64_t kGrain = 32768;

// out[p] = src[p with p[dim] := index[p]]
template <typename T>
void gatherBits(const View& out, const View& src, const View& index, int dim) {
  int64_t srcStrides[kMaxDims];
  for (int d = 0; d < src.ndim(); d++) srcStrides[d] = d == dim ? 0 : src.stride(d);
  const int64_t* ss[3] = {out.layout.strides, index.layout.strides, srcStrides};
  const StridedLoop<3> loop(index.ndim(), index.layout.shape, ss);
  T* po = out.at<T>();
  const int32_t* pi = index.at<int32_t>();
  const T* ps = src.at<T>();
  const int64_t sd = src.stride(dim);
  const int64_t so = loop.innerStride(0), si = loop.innerStride(1), sx = loop.innerStride(2);
  loop.parallel(kGrain, [&](const int64_t* off, int64_t n) {
    T* y = po + off[0];
    const int32_t* ix = pi + off[1];
    const T* x = ps + off[2];
    if (so == 1 && si == 1 && sx == 0) {  // the run lies along dim
      for (int64_t i = 0; i < n; i++) y[i] = x[static_cast<int64_t>(ix[i]) * sd];
    } else if (so == 1 && si == 1) {
      for (int64_t i = 0; i < n; i++) y[i] = x[i * sx + static_cast<int64_t>(ix[i]) * sd];
    } else {
      for (int64_t i = 0; i < n; i++) y[i * so] = x[i * sx + static_cast<int64_t>(ix[i * si]) * sd];
    }
  });
}

// out[..., j, ...] = src[..., index[j], ...]
template <typename T>
void indexSelectBits(const View& out, const View& src, const View& index, int dim) {
  int64_t srcStrides[kMaxDims], idxStrides[kMaxDims];
  for (int d = 0; d < src.ndim(); d++) {
    srcStrides[d] = d == dim ? 0 : src.stride(d);
    idxStrides[d] = d == dim ? index.stride(0) : 0;
  }
  const int64_t* ss[3] = {out.layout.strides, idxStrides, srcStrides};
  const StridedLoop<3> loop(out.ndim(), out.layout.shape, ss);
  T* po = out.at<T>();
  const int32_t* pi = index.at<int32_t>();
  const T* ps = src.at<T>();
  const int64_t sd = src.stride(dim);
  const int64_t so = loop.innerStride(0), si = loop.innerStride(1), sx = loop.innerStride(2);
  loop.parallel(kGrain, [&](const int64_t* off, int64_t n) {
    T* y = po + off[0];
    const int32_t* ix = pi + off[1];
    const T* x = ps + off[2];
    if (si == 0) {  // the run lies inside one selected slice: a plain (strided) copy
      const T* row = x + static_cast<int64_t>(*ix) * sd;
      if (so == 1 && sx == 1) {
        std::copy(row, row + n, y);
      } else {
        for (int64_t i = 0; i < n; i++) y[i * so] = row[i * sx];
      }
      return;
    }
    for (int64_t i = 0; i < n; i++) y[i * so] = x[i * sx + static_cast<int64_t>(ix[i * si]) * sd];
  });
}

// out[p with p[dim] := index[p]] += src[p], in place on a strided out.
//
// Targets of different positions (all coordinates but `dim`) never coincide when out does not
// overlap itself, so positions are split among threads and each position adds its elements in
// increasing order along dim: the result is the same as the serial loop, bit for bit.
template <typename T>
void scatterAddTyped(const View& out, const View& index, const View& src, int dim) {
  int64_t shape[kMaxDims], os[kMaxDims], is[kMaxDims], ss[kMaxDims];
  int m = 0;
  for (int d = 0; d < index.ndim(); d++) {
    if (d == dim) continue;
    shape[m] = index.size(d);
    os[m] = out.stride(d);
    is[m] = index.stride(d);
    ss[m++] = src.stride(d);
  }
  const int64_t* strides[3] = {os, is, ss};
  const StridedLoop<3> loop(m, shape, strides);
  const int64_t n = index.size(dim);
  if (loop.numel == 0 || n == 0) return;
  T* po = out.at<T>();
  const int32_t* pi = index.at<int32_t>();
  const T* ps = src.at<T>();
  const int64_t od = out.stride(dim), id = index.stride(dim), sd = src.stride(dim);
  const int64_t so = loop.innerStride(0), si = loop.innerStride(1), sx = loop.innerStride(2);

  auto add = [](T& target, T v) {
    if constexpr (std::is_integral<T>::value)
      target = static_cast<T>(static_cast<uint32_t>(target) + static_cast<uint32_t>(v));
    else
      target += v;
  };
  // Positions along the run are the inner loop when they are closer in memory than dim steps.
  const bool dimInner = std::llabs(sd) <= std::llabs(sx);
  auto body = [&](int64_t b, int64_t e) {
    if (dimInner) {
      loop.forRange(b, e, [&](const int64_t* off, int64_t cnt) {
        for (int64_t j = 0; j < cnt; j++) {
          T* y = po + off[0] + j * so;
          const int32_t* ix = pi + off[1] + j * si;
          const T* x = ps + off[2] + j * sx;
          if (id == 1 && sd == 1) {
            for (int64_t i = 0; i < n; i++) add(y[static_cast<int64_t>(ix[i]) * od], x[i]);
          } else {
            for (int64_t i = 0; i < n; i++) add(y[static_cast<int64_t>(ix[i * id]) * od], x[i * sd]);
          }
        }
      });
    } else {
      for (int64_t i = 0; i < n; i++)
        loop.forRange(b, e, [&](const int64_t* off, int64_t cnt) {
          T* y = po + off[0];
          const int32_t* ix = pi + off[1] + i * id;
          const T* x = ps + off[2] + i * sd;
          if (so == 1 && si == 1 && sx == 1) {
            for (int64_t j = 0; j < cnt; j++) add(y[j + static_cast<int64_t>(ix[j]) * od], x[j]);
          } else {
            for (int64_t j = 0; j < cnt; j++) add(y[j * so + static_cast<int64_t>(ix[j * si]) * od], x[j * sx]);
          }
        });
    }
  };
  if (nonOverlapping(out.layout))
    parallelFor(loop.numel, std::max<int64_t>(1, kGrain / n), body);
  else
    body(0, loop.numel);
}

}  // namespace

void gather(const View& out, const View& src, const View& index, int dim) {
  dispatchBits(src.dtype, [&](auto tag) { gatherBits<decltype(tag)>(out, src, index, dim); });
}

void indexSelect(const View& out, const View& src, const View& index, int dim) {
  dispatchBits(src.dtype, [&](auto tag) { indexSelectBits<decltype(tag)>(out, src, index, dim); });
}

void scatterAdd(const View& out, const View& index, const View& src, int dim) {
  switch (out.dtype) {
    case DType::Float32: return scatterAddTyped<float>(out, index, src, dim);
    case DType::Float64: return scatterAddTyped<double>(out, index, src, dim);
    case DType::Int32: return scatterAddTyped<int32_t>(out, index, src, dim);
    case DType::Bool: break;  // not supported (cpu_backend.cpp)
  }
}

}  // namespace cpu
}  // namespace kiln
