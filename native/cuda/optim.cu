// Fused optimizer steps: one elementwise kernel per call reads the gradient once and updates the
// parameter and its state buffers in place (all dense, checked by the dispatcher). The equations,
// the attrs and the order of the float operations are those of native/cpu/optim_impl.h, so both
// devices agree to float rounding (up to contraction into fused multiply-adds, which both do).
#include <cmath>
#include <cstdint>

#include "kernels.h"
#include "nn.cuh"

namespace kiln {
namespace cuda {
namespace {

template <typename T>
T* ptr(const View& v) {
  return v.numel() ? v.at<T>() : nullptr;
}

// attrs: lr, momentum, dampening, weightDecay, nesterov, maximize, firstStep
template <typename T>
__global__ void sgdKernel(T* __restrict__ p, T* __restrict__ buf, const T* __restrict__ g, int64_t n, T lr, T mom,
                          T damp, T wd, bool nesterov, bool maximize, bool first) {
  for (int64_t i = globalIndex64(); i < n; i += gridStride64()) {
    T d = maximize ? -g[i] : g[i];
    if (wd != T(0)) d += wd * p[i];
    if (buf) {
      T b = first ? d : mom * buf[i] + damp * d;
      buf[i] = b;
      d = nesterov ? d + mom * b : b;
    }
    p[i] -= lr * d;
  }
}

// attrs: lr, beta1, beta2, eps, weightDecay, decoupled, amsgrad, maximize, step
struct AdamScalars {
  double eps, wd, sign, stepSize, invBc2Sqrt, decay, c1, c2, b1, b2;
};

template <typename T, bool kDecay, bool kDecoupled, bool kAmsgrad>
__global__ void adamKernel(T* __restrict__ p, T* __restrict__ m, T* __restrict__ v, T* __restrict__ vmax,
                           const T* __restrict__ g, int64_t n, AdamScalars a) {
  const T eps = T(a.eps), wd = T(a.wd), sign = T(a.sign), stepSize = T(a.stepSize), invBc2Sqrt = T(a.invBc2Sqrt);
  const T decay = T(a.decay), c1 = T(a.c1), c2 = T(a.c2), tb1 = T(a.b1), tb2 = T(a.b2);
  for (int64_t i = globalIndex64(); i < n; i += gridStride64()) {
    T d = sign * g[i];
    T pi = p[i];
    if constexpr (kDecay && kDecoupled) pi *= decay;
    if constexpr (kDecay && !kDecoupled) d += wd * pi;
    const T mi = tb1 * m[i] + c1 * d;
    T vi = tb2 * v[i] + c2 * d * d;
    m[i] = mi;
    v[i] = vi;
    if constexpr (kAmsgrad) {
      vi = vi > vmax[i] ? vi : vmax[i];
      vmax[i] = vi;
    }
    p[i] = pi - stepSize * mi / (nnm::sqrt(vi) * invBc2Sqrt + eps);
  }
}

// attrs: clr, weightDecay, eps, maximize
template <typename T>
__global__ void adagradKernel(T* __restrict__ p, T* __restrict__ sum, const T* __restrict__ g, int64_t n, T clr, T wd,
                              T eps, bool maximize) {
  for (int64_t i = globalIndex64(); i < n; i += gridStride64()) {
    T d = maximize ? -g[i] : g[i];
    if (wd != T(0)) d += wd * p[i];
    T acc = sum[i] + d * d;
    sum[i] = acc;
    p[i] -= clr * d / (nnm::sqrt(acc) + eps);
  }
}

// attrs: lr, alpha, eps, weightDecay, momentum, centered, maximize
template <typename T>
__global__ void rmspropKernel(T* __restrict__ p, T* __restrict__ sq, T* __restrict__ buf, T* __restrict__ gavg,
                              const T* __restrict__ g, int64_t n, T lr, T alpha, T eps, T wd, T mom, T c,
                              bool centered, bool maximize) {
  for (int64_t i = globalIndex64(); i < n; i += gridStride64()) {
    T d = maximize ? -g[i] : g[i];
    if (wd != T(0)) d += wd * p[i];
    T sqi = alpha * sq[i] + c * d * d;
    sq[i] = sqi;
    T avg;
    if (centered && gavg) {
      T ga = alpha * gavg[i] + c * d;
      gavg[i] = ga;
      avg = nnm::sqrt(sqi - ga * ga) + eps;
    } else {
      avg = nnm::sqrt(sqi) + eps;
    }
    if (buf && mom > T(0)) {
      T b = mom * buf[i] + d / avg;
      buf[i] = b;
      p[i] -= lr * b;
    } else {
      p[i] -= lr * d / avg;
    }
  }
}

template <typename T, bool kDecay, bool kDecoupled, bool kAmsgrad>
void adamLaunch(Ctx& c, const View* s, const View& grad, int64_t n, const AdamScalars& a) {
  adamKernel<T, kDecay, kDecoupled, kAmsgrad><<<c.blocksFor(n, kThreads), kThreads, 0, c.stream>>>(
      s[0].at<T>(), s[1].at<T>(), s[2].at<T>(), kAmsgrad ? s[3].at<T>() : nullptr, grad.at<T>(), n, a);
  KILN_CHECK_LAUNCH();
}

template <typename T>
void adam(Ctx& c, const View* s, int nStates, const View& grad, int64_t n, const double* a) {
  const double lr = a[0], b1 = a[1], b2 = a[2], step = a[8];
  AdamScalars k;
  k.eps = a[3];
  k.wd = a[4];
  k.sign = a[7] != 0 ? -1 : 1;
  k.stepSize = lr / (1 - std::pow(b1, step));
  k.invBc2Sqrt = 1 / std::sqrt(1 - std::pow(b2, step));
  k.decay = 1 - lr * a[4];
  k.c1 = 1 - b1;
  k.c2 = 1 - b2;
  k.b1 = b1;
  k.b2 = b2;
  const bool decay = a[4] != 0, decoupled = a[5] != 0, amsgrad = a[6] != 0 && nStates > 3 && s[3].numel() > 0;
  if (!decay) {
    if (amsgrad) adamLaunch<T, false, false, true>(c, s, grad, n, k);
    else adamLaunch<T, false, false, false>(c, s, grad, n, k);
  } else if (decoupled) {
    if (amsgrad) adamLaunch<T, true, true, true>(c, s, grad, n, k);
    else adamLaunch<T, true, true, false>(c, s, grad, n, k);
  } else {
    if (amsgrad) adamLaunch<T, true, false, true>(c, s, grad, n, k);
    else adamLaunch<T, true, false, false>(c, s, grad, n, k);
  }
}

template <typename T>
void step(Ctx& c, OptimOp op, const View* s, int nStates, const View& grad, const double* a) {
  const int64_t n = s[0].numel();
  if (n == 0) return;
  const unsigned blocks = c.blocksFor(n, kThreads);
  const T* g = grad.at<T>();
  switch (op) {
    case OptimOp::Sgd:
      sgdKernel<T><<<blocks, kThreads, 0, c.stream>>>(s[0].at<T>(), ptr<T>(s[1]), g, n, T(a[0]), T(a[1]), T(1 - a[2]),
                                                      T(a[3]), a[4] != 0, a[5] != 0, a[6] != 0);
      KILN_CHECK_LAUNCH();
      return;
    case OptimOp::Adam: adam<T>(c, s, nStates, grad, n, a); return;
    case OptimOp::Adagrad:
      adagradKernel<T><<<blocks, kThreads, 0, c.stream>>>(s[0].at<T>(), s[1].at<T>(), g, n, T(a[0]), T(a[1]), T(a[2]),
                                                          a[3] != 0);
      KILN_CHECK_LAUNCH();
      return;
    case OptimOp::RMSprop:
      rmspropKernel<T><<<blocks, kThreads, 0, c.stream>>>(s[0].at<T>(), s[1].at<T>(), ptr<T>(s[2]), ptr<T>(s[3]), g, n,
                                                          T(a[0]), T(a[1]), T(a[2]), T(a[3]), T(a[4]), T(1 - a[1]),
                                                          a[5] != 0, a[6] != 0);
      KILN_CHECK_LAUNCH();
      return;
    default: fail(ErrorKind::Kiln, "optimizer step: unknown update ", static_cast<int>(op));
  }
}

}  // namespace

void optimStep(Ctx& c, OptimOp op, const View* states, int nStates, const View& grad, const double* attrs, int nAttrs) {
  if (states[0].dtype == DType::Float64) step<double>(c, op, states, nStates, grad, attrs);
  else step<float>(c, op, states, nStates, grad, attrs);
}

}  // namespace cuda
}  // namespace kiln
