// Fused recurrent cells: one thread per (row, hidden unit), reading the gate pre-activations
// through their strides and writing the fresh contiguous output. The arithmetic follows the CPU
// kernels (native/cpu/rnn.cpp) expression for expression.
#include <cstdint>

#include "kernels.h"
#include "nn.cuh"

namespace kiln {
namespace cuda {
namespace {

// A [rows, cols] operand: element (b, j) at b * s0 + j * s1 from p.
template <typename T>
struct Mat {
  const T* p;
  int64_t s0, s1;
  __device__ __forceinline__ T operator()(int64_t b, int64_t j) const { return p[b * s0 + j * s1]; }
};

template <typename T>
Mat<T> mat(const View& v) {
  return {v.at<T>(), v.stride(0), v.stride(1)};
}

// grad [2, B, H] of the LSTM backward: (dh', dc').
template <typename T>
struct Mat3 {
  const T* p;
  int64_t s0, s1, s2;
  __device__ __forceinline__ T operator()(int64_t a, int64_t b, int64_t j) const { return p[a * s0 + b * s1 + j * s2]; }
};

// out [2, B, H] = (h', c'): c' = σ(f) c + σ(i) tanh(g), h' = σ(o) tanh(c').
template <typename T>
__global__ void lstmCellKernel(T* __restrict__ out, Mat<T> gates, Mat<T> cell, int64_t B, int64_t H) {
  const int64_t n = B * H;
  for (int64_t e = globalIndex64(); e < n; e += gridStride64()) {
    const int64_t b = e / H, j = e - b * H;
    const T i = nnm::sigmoid(gates(b, j)), f = nnm::sigmoid(gates(b, H + j));
    const T g = nnm::tanh(gates(b, 2 * H + j)), o = nnm::sigmoid(gates(b, 3 * H + j));
    const T c2 = f * cell(b, j) + i * g;
    out[n + e] = c2;
    out[e] = nnm::tanh(c2) * o;
  }
}

// out [B, 5H] = (dgates [B, 4H], dc [B, H]).
template <typename T>
__global__ void lstmCellBackwardKernel(T* __restrict__ out, Mat<T> gates, Mat<T> cell, Mat3<T> grad, int64_t B,
                                       int64_t H) {
  const int64_t n = B * H;
  for (int64_t e = globalIndex64(); e < n; e += gridStride64()) {
    const int64_t b = e / H, j = e - b * H;
    const T i = nnm::sigmoid(gates(b, j)), f = nnm::sigmoid(gates(b, H + j));
    const T g = nnm::tanh(gates(b, 2 * H + j)), og = nnm::sigmoid(gates(b, 3 * H + j));
    const T cb = cell(b, j);
    const T th = nnm::tanh(f * cb + i * g);
    const T dh = grad(0, b, j);
    // dc' collects the direct gradient and the one through h' = o tanh(c').
    const T dc2 = grad(1, b, j) + dh * og * (T(1) - th * th);
    T* o = out + b * 5 * H;
    o[j] = dc2 * g * i * (T(1) - i);
    o[H + j] = dc2 * cb * f * (T(1) - f);
    o[2 * H + j] = dc2 * i * (T(1) - g * g);
    o[3 * H + j] = dh * th * og * (T(1) - og);
    o[4 * H + j] = dc2 * f;
  }
}

// The GRU gates of unit (b, j): r, z = σ(gi + gh), n = tanh(gi_n + r gh_n).
template <typename T>
__device__ __forceinline__ void gruGates(const Mat<T>& gi, const Mat<T>& gh, int64_t b, int64_t j, int64_t H, T& r,
                                         T& z, T& n, T& ghn) {
  r = nnm::sigmoid(gi(b, j) + gh(b, j));
  z = nnm::sigmoid(gi(b, H + j) + gh(b, H + j));
  ghn = gh(b, 2 * H + j);
  n = nnm::tanh(gi(b, 2 * H + j) + r * ghn);
}

// out [B, H] = h' = (1 - z) n + z h.
template <typename T>
__global__ void gruCellKernel(T* __restrict__ out, Mat<T> gi, Mat<T> gh, Mat<T> h, int64_t B, int64_t H) {
  const int64_t n = B * H;
  for (int64_t e = globalIndex64(); e < n; e += gridStride64()) {
    const int64_t b = e / H, j = e - b * H;
    T r, z, nn, ghn;
    gruGates(gi, gh, b, j, H, r, z, nn, ghn);
    out[e] = (T(1) - z) * nn + z * h(b, j);
  }
}

// out [B, 7H] = (dgi [B, 3H], dgh [B, 3H], dh [B, H]) from grad = dh' [B, H].
template <typename T>
__global__ void gruCellBackwardKernel(T* __restrict__ out, Mat<T> gi, Mat<T> gh, Mat<T> h, Mat<T> grad, int64_t B,
                                      int64_t H) {
  const int64_t n = B * H;
  for (int64_t e = globalIndex64(); e < n; e += gridStride64()) {
    const int64_t b = e / H, j = e - b * H;
    T r, z, nn, ghn;
    gruGates(gi, gh, b, j, H, r, z, nn, ghn);
    const T g = grad(b, j);
    const T dn = g * (T(1) - z) * (T(1) - nn * nn);  // d(n pre-activation)
    const T dz = g * (h(b, j) - nn) * z * (T(1) - z);  // d(z pre-activation)
    const T dr = dn * ghn * r * (T(1) - r);            // d(r pre-activation)
    T* o = out + b * 7 * H;
    o[j] = dr;
    o[H + j] = dz;
    o[2 * H + j] = dn;
    o[3 * H + j] = dr;
    o[4 * H + j] = dz;
    o[5 * H + j] = dn * r;
    o[6 * H + j] = g * z;
  }
}

template <typename T>
void lstmCellImpl(Ctx& c, const View& out, const View& gates, const View& cell) {
  const int64_t B = cell.size(0), H = cell.size(1);
  if (B * H == 0) return;
  lstmCellKernel<T><<<c.blocksFor(B * H, kThreads), kThreads, 0, c.stream>>>(out.at<T>(), mat<T>(gates), mat<T>(cell), B, H);
  KILN_CHECK_LAUNCH();
}

template <typename T>
void lstmCellBackwardImpl(Ctx& c, const View& out, const View& gates, const View& cell, const View& grad) {
  const int64_t B = cell.size(0), H = cell.size(1);
  if (B * H == 0) return;
  const Mat3<T> g{grad.at<T>(), grad.stride(0), grad.stride(1), grad.stride(2)};
  lstmCellBackwardKernel<T><<<c.blocksFor(B * H, kThreads), kThreads, 0, c.stream>>>(out.at<T>(), mat<T>(gates),
                                                                                     mat<T>(cell), g, B, H);
  KILN_CHECK_LAUNCH();
}

template <typename T>
void gruCellImpl(Ctx& c, const View& out, const View& gi, const View& gh, const View& h) {
  const int64_t B = h.size(0), H = h.size(1);
  if (B * H == 0) return;
  gruCellKernel<T><<<c.blocksFor(B * H, kThreads), kThreads, 0, c.stream>>>(out.at<T>(), mat<T>(gi), mat<T>(gh),
                                                                            mat<T>(h), B, H);
  KILN_CHECK_LAUNCH();
}

template <typename T>
void gruCellBackwardImpl(Ctx& c, const View& out, const View& gi, const View& gh, const View& h, const View& grad) {
  const int64_t B = h.size(0), H = h.size(1);
  if (B * H == 0) return;
  gruCellBackwardKernel<T><<<c.blocksFor(B * H, kThreads), kThreads, 0, c.stream>>>(
      out.at<T>(), mat<T>(gi), mat<T>(gh), mat<T>(h), mat<T>(grad), B, H);
  KILN_CHECK_LAUNCH();
}

}  // namespace

void lstmCell(Ctx& c, const View& out, const View& gates, const View& cell) {
  if (gates.dtype == DType::Float64) lstmCellImpl<double>(c, out, gates, cell);
  else lstmCellImpl<float>(c, out, gates, cell);
}

void lstmCellBackward(Ctx& c, const View& out, const View& gates, const View& cell, const View& grad) {
  if (gates.dtype == DType::Float64) lstmCellBackwardImpl<double>(c, out, gates, cell, grad);
  else lstmCellBackwardImpl<float>(c, out, gates, cell, grad);
}

void gruCell(Ctx& c, const View& out, const View& gi, const View& gh, const View& h) {
  if (h.dtype == DType::Float64) gruCellImpl<double>(c, out, gi, gh, h);
  else gruCellImpl<float>(c, out, gi, gh, h);
}

void gruCellBackward(Ctx& c, const View& out, const View& gi, const View& gh, const View& h, const View& grad) {
  if (h.dtype == DType::Float64) gruCellBackwardImpl<double>(c, out, gi, gh, h, grad);
  else gruCellBackwardImpl<float>(c, out, gi, gh, h, grad);
}

}  // namespace cuda
}  // namespace kiln
