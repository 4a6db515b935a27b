// Copies and creation: copy (strided assign), cast, fill, arange, pad.
//
// copy and cast share one loop: dims are ordered by the destination's memory order, contiguous
// runs become memcpy (copy) or a vectorized conversion loop (cast), and when source and
// destination disagree on which dim is contiguous (a transpose) the two dims are walked in
// square tiles so both sides touch whole cache lines.
//
// Conversions follow PyTorch: float -> int truncates toward zero (NaN becomes 0 and out of range
// values saturate, where C++ would be undefined), anything -> bool is "!= 0" (NaN is true),
// bool -> number is 0/1.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "kernels.h"
#include "strided.h"

namespace kiln {
namespace cpu {
namespace {

constexpr int64_t kGrain = 32768;
constexpr int64_t kTile = 32;

// Value conversion to the storage type U (uint8_t means bool).
template <typename U, typename T>
inline U convert(T x) {
  if constexpr (std::is_same<U, uint8_t>::value) {
    return static_cast<uint8_t>(x != T(0));
  } else if constexpr (std::is_same<T, uint8_t>::value) {
    return static_cast<U>(x != 0 ? 1 : 0);
  } else if constexpr (std::is_same<U, int32_t>::value && std::is_floating_point<T>::value) {
    // Clamp in T (2^31 and the largest T below it are exact in both float types), then
    // truncate; written as selects so the loop vectorizes.
    const T hi = std::is_same<T, float>::value ? T(2147483520.0) : T(2147483647.0);
    T v = x < T(-2147483648.0) ? T(-2147483648.0) : x;
    v = v > hi ? hi : v;
    int32_t r = static_cast<int32_t>(v != v ? T(0) : v);
    return x >= T(2147483648.0) ? int32_t(2147483647) : r;
  } else {
    return static_cast<U>(x);
  }
}

// out[i] = conv(a[i]) over two strided views of one shape.
template <typename U, typename T, typename F>
void convertCopy(const View& out, const View& a, F conv) {
  const Layout* ls[2] = {&out.layout, &a.layout};
  const StridedLoop<2> loop(ls, /*sortByFirst=*/true);
  U* po = out.at<U>();
  const T* pa = a.at<T>();
  const int last = loop.ndim - 1;
  const int64_t so = loop.innerStride(0), sa = loop.innerStride(1);

  // Transpose-like: the source's fastest dim q is not the innermost one. Tile dims (q, last).
  int q = -1;
  if (loop.ndim >= 2 && so == 1 && std::llabs(sa) != 1) {
    for (int d = 0; d < last; d++)
      if (std::llabs(loop.strides[1][d]) == 1) q = d;
  }
  if (q >= 0 && loop.shape[q] >= kTile && loop.shape[last] >= kTile && nonOverlapping(out.layout)) {
    // Outer loop over every dim but q and last.
    int64_t shape[kMaxDims], os[kMaxDims], as[kMaxDims];
    int m = 0;
    for (int d = 0; d < last; d++) {
      if (d == q) continue;
      shape[m] = loop.shape[d];
      os[m] = loop.strides[0][d];
      as[m++] = loop.strides[1][d];
    }
    const int64_t* ss[2] = {os, as};
    const StridedLoop<2> outer(m, shape, ss);
    const int64_t nq = loop.shape[q], np = loop.shape[last];
    const int64_t oq = loop.strides[0][q], aq = loop.strides[1][q];
    const int64_t tq = (nq + kTile - 1) / kTile, tp = (np + kTile - 1) / kTile;
    const int64_t tasks = outer.numel * tq * tp;
    parallelFor(tasks, std::max<int64_t>(1, kGrain / (kTile * kTile)), [&](int64_t t0, int64_t t1) {
      // Staged through a local tile: source rows and destination rows are each read or written
      // once, as contiguous segments. (Walking both directly thrashes L1 when the row stride is
      // a multiple of 4 KiB: every row of the tile lands in the same cache set.)
      T tile[kTile][kTile];
      for (int64_t t = t0; t < t1; t++) {
        int64_t o = t / (tq * tp), r = t % (tq * tp);
        int64_t q0 = (r / tp) * kTile, p0 = (r % tp) * kTile;
        int64_t qn = std::min(nq - q0, kTile), pn = std::min(np - p0, kTile);
        outer.forRange(o, o + 1, [&](const int64_t* off, int64_t) {
          for (int64_t j = 0; j < pn; j++) {
            const T* x = pa + off[1] + (p0 + j) * sa + q0 * aq;
            for (int64_t i = 0; i < qn; i++) tile[j][i] = x[i * aq];
          }
          for (int64_t i = 0; i < qn; i++) {
            U* y = po + off[0] + (q0 + i) * oq + p0;
            for (int64_t j = 0; j < pn; j++) y[j] = conv(tile[j][i]);
          }
        });
      }
    });
    return;
  }

  // A destination that overlaps itself (an expanded view) is written serially, in order, so
  // the last write wins deterministically.
  const int64_t grain = nonOverlapping(out.layout) ? kGrain : loop.numel;
  loop.parallel(grain, [&](const int64_t* off, int64_t n) {
    U* y = po + off[0];
    const T* x = pa + off[1];
    if (so == 1 && sa == 1) {
      if constexpr (std::is_same<U, T>::value) {
        std::memcpy(y, x, static_cast<size_t>(n) * sizeof(T));
      } else {
        for (int64_t i = 0; i < n; i++) y[i] = conv(x[i]);
      }
    } else {
      for (int64_t i = 0; i < n; i++) y[i * so] = conv(x[i * sa]);
    }
  });
}

template <typename T>
void fillTyped(const View& out, T v) {
  const Layout* ls[1] = {&out.layout};
  const StridedLoop<1> loop(ls, /*sortByFirst=*/true);
  T* po = out.at<T>();
  const int64_t s = loop.innerStride(0);
  loop.parallel(kGrain, [&](const int64_t* off, int64_t n) {
    T* y = po + off[0];
    if (s == 1) {
      std::fill(y, y + n, v);
    } else {
      for (int64_t i = 0; i < n; i++) y[i * s] = v;
    }
  });
}

}  // namespace

void copy(const View& out, const View& a) {
  dispatchBits(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    convertCopy<T, T>(out, a, [](T x) { return x; });
  });
}

void cast(const View& out, const View& a) {
  if (out.dtype == a.dtype) return copy(out, a);
  dispatchStorage(out.dtype, [&](auto utag) {
    using U = decltype(utag);
    dispatchStorage(a.dtype, [&](auto ttag) {
      using T = decltype(ttag);
      convertCopy<U, T>(out, a, [](T x) { return convert<U, T>(x); });
    });
  });
}

void fill(const View& out, double value) {
  dispatchStorage(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    fillTyped<T>(out, convert<T, double>(value));
  });
}

void arange(const View& out, double start, double step) {
  dispatchStorage(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    T* y = out.at<T>();
    const int64_t s = out.stride(0);
    parallelFor(out.size(0), kGrain, [&](int64_t b, int64_t e) {
      if (s == 1) {
        for (int64_t i = b; i < e; i++) y[i] = convert<T, double>(start + static_cast<double>(i) * step);
      } else {
        for (int64_t i = b; i < e; i++) y[i * s] = convert<T, double>(start + static_cast<double>(i) * step);
      }
    });
  });
}

void pad(const View& out, const View& a, const int64_t* before, double value) {
  fill(out, value);
  View inner = out;
  for (int d = 0; d < a.ndim(); d++) {
    inner.layout.shape[d] = a.size(d);
    inner.layout.offset += before[d] * out.stride(d);
  }
  copy(inner, a);
}

}  // namespace cpu
}  // namespace kiln
