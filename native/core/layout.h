// Layout: how a tensor's elements sit in its storage. Shape and strides are in elements;
// strides may be zero (expand) or negative (flip); offset is where element [0,...,0] lives.
// Views are computed in TypeScript; the native side only receives a finished layout.
#pragma once
#include <cstdint>

#include "dtype.h"

namespace kiln {

constexpr int kMaxDims = 16;

struct Layout {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};
  int64_t offset = 0;

  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
  }
  bool isContiguous() const {
    int64_t expected = 1;
    for (int i = ndim - 1; i >= 0; i--) {
      if (shape[i] != 1 && strides[i] != expected) return false;
      expected *= shape[i];
    }
    return true;
  }
  bool sameShape(const Layout& o) const {
    if (ndim != o.ndim) return false;
    for (int i = 0; i < ndim; i++)
      if (shape[i] != o.shape[i]) return false;
    return true;
  }
  static Layout contiguous(int ndim, const int64_t* shape) {
    Layout l;
    l.ndim = ndim;
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
      l.shape[i] = shape[i];
      l.strides[i] = s;
      s *= shape[i];
    }
    return l;
  }
};

// What a kernel sees of one operand: the storage base pointer plus its layout.
// `data` points at element 0 of the storage, not at `offset`; use at<T>().
struct View {
  void* data = nullptr;
  DType dtype = DType::Float32;
  Layout layout;

  int ndim() const { return layout.ndim; }
  int64_t numel() const { return layout.numel(); }
  int64_t size(int d) const { return layout.shape[d]; }
  int64_t stride(int d) const { return layout.strides[d]; }
  bool isContiguous() const { return layout.isContiguous(); }
  // Pointer to the element at multi-index zero.
  template <typename T>
  T* at() const { return static_cast<T*>(data) + layout.offset; }
};

// A vector [N] seen with `like`'s shape, N being like's last dim: stride 0 along every other dim
// (a bias added to every row, as an elementwise operand).
inline View rowBroadcast(const View& vec, const View& like) {
  View row = vec;
  const int n = like.ndim();
  row.layout.ndim = n;
  for (int d = 0; d < n; d++) {
    row.layout.shape[d] = like.size(d);
    row.layout.strides[d] = d == n - 1 ? vec.stride(0) : 0;
  }
  return row;
}

}  // namespace kiln
