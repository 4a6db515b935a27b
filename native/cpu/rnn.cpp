// Fused recurrent cells on the CPU. The activations go through the vectorized elementwise
// kernels (cpu::unary on views of the buffers); the gate arithmetic is plain loops over rows.
#include <algorithm>
#include <memory>
#include <vector>

#include "../core/thread_pool.h"
#include "kernels.h"

// The gate loops read and write distinct buffers; saying so lets the compiler vectorize them.
#if defined(__clang__)
#define KILN_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define KILN_IVDEP _Pragma("GCC ivdep")
#elif defined(_MSC_VER)
#define KILN_IVDEP __pragma(loop(ivdep))
#else
#define KILN_IVDEP
#endif

namespace kiln {
namespace cpu {
namespace {

// A [rows, cols] view of `data` with row stride `ld`, starting at element `offset`.
View matrix(void* data, DType t, int64_t rows, int64_t cols, int64_t ld, int64_t offset) {
  View v;
  v.data = data;
  v.dtype = t;
  v.layout.ndim = 2;
  v.layout.shape[0] = rows;
  v.layout.shape[1] = cols;
  v.layout.strides[0] = ld;
  v.layout.strides[1] = 1;
  v.layout.offset = offset;
  return v;
}

// The elements of `v` in a contiguous buffer: v's own memory when it already is one, else a copy.
template <typename T>
const T* contiguousData(const View& v, std::vector<T>& tmp) {
  if (v.isContiguous()) return v.at<T>();
  tmp.resize(static_cast<size_t>(v.numel()));
  View c;
  c.data = tmp.data();
  c.dtype = v.dtype;
  c.layout = Layout::contiguous(v.ndim(), v.layout.shape);
  copy(c, v);
  return tmp.data();
}

// act [B, 4H] = (σ(i), σ(f), tanh(g), σ(o)) of the gate pre-activations.
template <typename T>
void activations(const T* gates, T* act, DType t, int64_t B, int64_t H) {
  unary(UnaryOp::Sigmoid, matrix(act, t, B, 4 * H, 4 * H, 0), matrix(const_cast<T*>(gates), t, B, 4 * H, 4 * H, 0));
  unary(UnaryOp::Tanh, matrix(act, t, B, H, 4 * H, 2 * H), matrix(const_cast<T*>(gates), t, B, H, 4 * H, 2 * H));
}

template <typename T>
void lstmCellImpl(const View& outView, const View& gatesView, const View& cView) {
  const int64_t B = cView.size(0), H = cView.size(1);
  const DType t = gatesView.dtype;
  std::vector<T> gTmp, cTmp, act(static_cast<size_t>(B * 4 * H));
  const T* gates = contiguousData(gatesView, gTmp);
  const T* c = contiguousData(cView, cTmp);
  T* out = outView.at<T>();  // fresh, contiguous [2, B, H]
  T* h2 = out;
  T* c2 = out + B * H;
  activations(gates, act.data(), t, B, H);
  for (int64_t b = 0; b < B; b++) {
    const T* a = act.data() + b * 4 * H;
    const T* cb = c + b * H;
    T* cr = c2 + b * H;
    KILN_IVDEP
    for (int64_t j = 0; j < H; j++) cr[j] = a[H + j] * cb[j] + a[j] * a[2 * H + j];
  }
  unary(UnaryOp::Tanh, matrix(h2, t, B, H, H, 0), matrix(c2, t, B, H, H, 0));
  for (int64_t b = 0; b < B; b++) {
    const T* a = act.data() + b * 4 * H;
    T* hr = h2 + b * H;
    KILN_IVDEP
    for (int64_t j = 0; j < H; j++) hr[j] *= a[3 * H + j];
  }
}

template <typename T>
void lstmCellBackwardImpl(const View& outView, const View& gatesView, const View& cView, const View& gradView) {
  const int64_t B = cView.size(0), H = cView.size(1);
  const DType t = gatesView.dtype;
  std::vector<T> gTmp, cTmp, dTmp, act(static_cast<size_t>(B * 4 * H)), c2(static_cast<size_t>(B * H)),
      tc(static_cast<size_t>(B * H));
  const T* gates = contiguousData(gatesView, gTmp);
  const T* c = contiguousData(cView, cTmp);
  const T* grad = contiguousData(gradView, dTmp);  // [2, B, H]: dh', dc'
  T* out = outView.at<T>();                         // fresh, contiguous [B, 5H]
  activations(gates, act.data(), t, B, H);
  for (int64_t b = 0; b < B; b++) {
    const T* a = act.data() + b * 4 * H;
    const T* cb = c + b * H;
    T* cr = c2.data() + b * H;
    KILN_IVDEP
    for (int64_t j = 0; j < H; j++) cr[j] = a[H + j] * cb[j] + a[j] * a[2 * H + j];
  }
  unary(UnaryOp::Tanh, matrix(tc.data(), t, B, H, H, 0), matrix(c2.data(), t, B, H, H, 0));
  for (int64_t b = 0; b < B; b++) {
    const T* a = act.data() + b * 4 * H;
    const T* cb = c + b * H;
    const T* tcb = tc.data() + b * H;
    const T* dh = grad + b * H;
    const T* dcIn = grad + B * H + b * H;
    T* o = out + b * 5 * H;
    KILN_IVDEP
    for (int64_t j = 0; j < H; j++) {
      const T i = a[j], f = a[H + j], g = a[2 * H + j], og = a[3 * H + j], th = tcb[j];
      // dc' collects the direct gradient and the one through h' = o tanh(c').
      const T dc2 = dcIn[j] + dh[j] * og * (T(1) - th * th);
      o[j] = dc2 * g * i * (T(1) - i);
      o[H + j] = dc2 * cb[j] * f * (T(1) - f);
      o[2 * H + j] = dc2 * i * (T(1) - g * g);
      o[3 * H + j] = dh[j] * th * og * (T(1) - og);
      o[4 * H + j] = dc2 * f;
    }
  }
}

// The GRU cell works on blocks of rows of about this many elements, in parallel when there are
// several; a typical cell (B * H in the thousands) is one block on the calling thread, whose
// activations the elementwise kernels parallelize themselves when they are large.
constexpr int64_t kRowGrain = 1 << 15;

template <typename F>
void forRowBlocks(int64_t B, int64_t H, F&& fn) {
  parallelFor(B, std::max<int64_t>(1, kRowGrain / std::max<int64_t>(1, H)), fn);
}

// act [B, 3H] = (r, z, n) of rows [b0, b1) of a GRU cell: r, z = σ(gi + gh), then
// n = tanh(gi_n + r gh_n). The activations run in place on the pre-activations.
template <typename T>
void gruActivations(const T* gi, const T* gh, T* act, DType t, int64_t b0, int64_t b1, int64_t H) {
  const int64_t rows = b1 - b0;
  for (int64_t b = b0; b < b1; b++) {
    const T* x = gi + b * 3 * H;
    const T* y = gh + b * 3 * H;
    T* p = act + b * 3 * H;
    KILN_IVDEP
    for (int64_t j = 0; j < 2 * H; j++) p[j] = x[j] + y[j];
  }
  const View rz = matrix(act, t, rows, 2 * H, 3 * H, b0 * 3 * H);
  unary(UnaryOp::Sigmoid, rz, rz);
  for (int64_t b = b0; b < b1; b++) {
    const T* x = gi + b * 3 * H + 2 * H;
    const T* y = gh + b * 3 * H + 2 * H;
    T* p = act + b * 3 * H;
    KILN_IVDEP
    for (int64_t j = 0; j < H; j++) p[2 * H + j] = x[j] + p[j] * y[j];
  }
  const View n = matrix(act, t, rows, H, 3 * H, b0 * 3 * H + 2 * H);
  unary(UnaryOp::Tanh, n, n);
}

template <typename T>
void gruCellImpl(const View& outView, const View& giView, const View& ghView, const View& hView) {
  const int64_t B = hView.size(0), H = hView.size(1);
  const DType t = hView.dtype;
  std::vector<T> giTmp, ghTmp, hTmp;
  std::unique_ptr<T[]> act(new T[static_cast<size_t>(B * 3 * H)]);
  const T* gi = contiguousData(giView, giTmp);
  const T* gh = contiguousData(ghView, ghTmp);
  const T* h = contiguousData(hView, hTmp);
  T* out = outView.at<T>();  // fresh, contiguous [B, H]
  forRowBlocks(B, H, [&](int64_t b0, int64_t b1) {
    gruActivations(gi, gh, act.get(), t, b0, b1, H);
    for (int64_t b = b0; b < b1; b++) {
      const T* a = act.get() + b * 3 * H;
      const T* hb = h + b * H;
      T* o = out + b * H;
      KILN_IVDEP
      for (int64_t j = 0; j < H; j++) {
        const T z = a[H + j], n = a[2 * H + j];
        o[j] = (T(1) - z) * n + z * hb[j];
      }
    }
  });
}

template <typename T>
void gruCellBackwardImpl(const View& outView, const View& giView, const View& ghView, const View& hView,
                         const View& gradView) {
  const int64_t B = hView.size(0), H = hView.size(1);
  const DType t = hView.dtype;
  std::vector<T> giTmp, ghTmp, hTmp, dTmp;
  std::unique_ptr<T[]> act(new T[static_cast<size_t>(B * 3 * H)]);
  const T* gi = contiguousData(giView, giTmp);
  const T* gh = contiguousData(ghView, ghTmp);
  const T* h = contiguousData(hView, hTmp);
  const T* grad = contiguousData(gradView, dTmp);  // [B, H]: dh'
  T* out = outView.at<T>();                         // fresh, contiguous [B, 7H]: dgi, dgh, dh
  forRowBlocks(B, H, [&](int64_t b0, int64_t b1) {
    gruActivations(gi, gh, act.get(), t, b0, b1, H);
    for (int64_t b = b0; b < b1; b++) {
      const T* a = act.get() + b * 3 * H;
      const T* ghn = gh + b * 3 * H + 2 * H;
      const T* hb = h + b * H;
      const T* g = grad + b * H;
      T* o = out + b * 7 * H;
      KILN_IVDEP
      for (int64_t j = 0; j < H; j++) {
        const T r = a[j], z = a[H + j], n = a[2 * H + j];
        const T dn = g[j] * (T(1) - z) * (T(1) - n * n);  // d(n pre-activation)
        const T dz = g[j] * (hb[j] - n) * z * (T(1) - z);  // d(z pre-activation)
        const T dr = dn * ghn[j] * r * (T(1) - r);         // d(r pre-activation)
        o[j] = dr;
        o[H + j] = dz;
        o[2 * H + j] = dn;
        o[3 * H + j] = dr;
        o[4 * H + j] = dz;
        o[5 * H + j] = dn * r;
        o[6 * H + j] = g[j] * z;
      }
    }
  });
}

}  // namespace

void lstmCell(const View& out, const View& gates, const View& c) {
  if (gates.dtype == DType::Float64) lstmCellImpl<double>(out, gates, c);
  else lstmCellImpl<float>(out, gates, c);
}

void lstmCellBackward(const View& out, const View& gates, const View& c, const View& grad) {
  if (gates.dtype == DType::Float64) lstmCellBackwardImpl<double>(out, gates, c, grad);
  else lstmCellBackwardImpl<float>(out, gates, c, grad);
}

void gruCell(const View& out, const View& gi, const View& gh, const View& h) {
  if (h.dtype == DType::Float64) gruCellImpl<double>(out, gi, gh, h);
  else gruCellImpl<float>(out, gi, gh, h);
}

void gruCellBackward(const View& out, const View& gi, const View& gh, const View& h, const View& grad) {
  if (h.dtype == DType::Float64) gruCellBackwardImpl<double>(out, gi, gh, h, grad);
  else gruCellBackwardImpl<float>(out, gi, gh, h, grad);
}

}  // namespace cpu
}  // namespace kiln
