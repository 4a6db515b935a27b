// The fused optimizer loops, included by optim.cpp (baseline ISA), optim_avx2.cpp (AVX2 + FMA)
// and optim_avx512.cpp (AVX-512), chosen at run time: the same source, vectorized by the
// compiler for each instruction set. Defines `run(op, states, grad, attrs)` in the namespace it is included into; the
// includer brings <cmath>, ../core/thread_pool.h and kernels.h first (no includes in here).

constexpr int64_t kGrain = 1 << 14;

template <typename T>
T* ptr(const View& v) {
  return v.numel() ? v.at<T>() : nullptr;
}

// attrs: lr, momentum, dampening, weightDecay, nesterov, maximize, firstStep
template <typename T>
void sgd(const View* s, const View& grad, const double* a) {
  T* p = s[0].at<T>();
  T* buf = ptr<T>(s[1]);
  const T* g = grad.at<T>();
  const T lr = T(a[0]), mom = T(a[1]), damp = T(1 - a[2]), wd = T(a[3]);
  const bool nesterov = a[4] != 0, maximize = a[5] != 0, first = a[6] != 0;
  parallelFor(s[0].numel(), kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      T d = maximize ? -g[i] : g[i];
      if (wd != T(0)) d += wd * p[i];
      if (buf) {
        T b = first ? d : mom * buf[i] + damp * d;
        buf[i] = b;
        d = nesterov ? d + mom * b : b;
      }
      p[i] -= lr * d;
    }
  });
}

// attrs: lr, beta1, beta2, eps, weightDecay, decoupled, amsgrad, maximize, step
struct AdamConsts {
  double stepSize, invBc2Sqrt, eps, wd, sign, decay, c1, c2, b1, b2;
};

// One range of the update. A plain function with __restrict arguments and its constants in
// locals: inside a parallelFor lambda the compiler must assume a store to p[i] can change what
// the captured references point at, and it left the loop scalar. The options are template
// parameters so that the inner loop has no branches and vectorizes.
template <typename T, bool kDecay, bool kDecoupled, bool kAmsgrad>
void adamRange(T* __restrict p, T* __restrict m, T* __restrict v, T* __restrict vmax, const T* __restrict g,
               const AdamConsts& k, int64_t lo, int64_t hi) {
  const T stepSize = T(k.stepSize), invBc2Sqrt = T(k.invBc2Sqrt), eps = T(k.eps), wd = T(k.wd);
  const T sign = T(k.sign), decay = T(k.decay), c1 = T(k.c1), c2 = T(k.c2), tb1 = T(k.b1), tb2 = T(k.b2);
  for (int64_t i = lo; i < hi; i++) {
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
    p[i] = pi - stepSize * mi / (std::sqrt(vi) * invBc2Sqrt + eps);
  }
}

template <typename T, bool kDecay, bool kDecoupled, bool kAmsgrad>
void adamLoop(const View* s, const View& grad, const double* a) {
  T* p = s[0].at<T>();
  T* m = s[1].at<T>();
  T* v = s[2].at<T>();
  T* vmax = kAmsgrad ? s[3].at<T>() : nullptr;
  const T* g = grad.at<T>();
  const double lr = a[0], b1 = a[1], b2 = a[2], step = a[8];
  const AdamConsts k{lr / (1 - std::pow(b1, step)), 1 / std::sqrt(1 - std::pow(b2, step)), a[3], a[4],
                     a[7] != 0 ? -1.0 : 1.0, 1 - lr * a[4], 1 - b1, 1 - b2, b1, b2};
  parallelFor(s[0].numel(), kGrain, [&](int64_t lo, int64_t hi) {
    adamRange<T, kDecay, kDecoupled, kAmsgrad>(p, m, v, vmax, g, k, lo, hi);
  });
}

template <typename T>
void adam(const View* s, const View& grad, const double* a) {
  const bool decay = a[4] != 0, decoupled = a[5] != 0, amsgrad = a[6] != 0 && s[3].numel() > 0;
  if (!decay) {
    if (amsgrad) adamLoop<T, false, false, true>(s, grad, a);
    else adamLoop<T, false, false, false>(s, grad, a);
  } else if (decoupled) {
    if (amsgrad) adamLoop<T, true, true, true>(s, grad, a);
    else adamLoop<T, true, true, false>(s, grad, a);
  } else {
    if (amsgrad) adamLoop<T, true, false, true>(s, grad, a);
    else adamLoop<T, true, false, false>(s, grad, a);
  }
}

// attrs: clr, weightDecay, eps, maximize
template <typename T>
void adagrad(const View* s, const View& grad, const double* a) {
  T* p = s[0].at<T>();
  T* sum = s[1].at<T>();
  const T* g = grad.at<T>();
  const T clr = T(a[0]), wd = T(a[1]), eps = T(a[2]);
  const bool maximize = a[3] != 0;
  parallelFor(s[0].numel(), kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      T d = maximize ? -g[i] : g[i];
      if (wd != T(0)) d += wd * p[i];
      T acc = sum[i] + d * d;
      sum[i] = acc;
      p[i] -= clr * d / (std::sqrt(acc) + eps);
    }
  });
}

// attrs: lr, alpha, eps, weightDecay, momentum, centered, maximize
template <typename T>
void rmsprop(const View* s, const View& grad, const double* a) {
  T* p = s[0].at<T>();
  T* sq = s[1].at<T>();
  T* buf = ptr<T>(s[2]);
  T* gavg = ptr<T>(s[3]);
  const T* g = grad.at<T>();
  const T lr = T(a[0]), alpha = T(a[1]), eps = T(a[2]), wd = T(a[3]), mom = T(a[4]);
  const bool centered = a[5] != 0, maximize = a[6] != 0;
  const T c = T(1 - a[1]);
  parallelFor(s[0].numel(), kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      T d = maximize ? -g[i] : g[i];
      if (wd != T(0)) d += wd * p[i];
      T sqi = alpha * sq[i] + c * d * d;
      sq[i] = sqi;
      T avg;
      if (centered && gavg) {
        T ga = alpha * gavg[i] + c * d;
        gavg[i] = ga;
        avg = std::sqrt(sqi - ga * ga) + eps;
      } else {
        avg = std::sqrt(sqi) + eps;
      }
      if (buf && mom > T(0)) {
        T b = mom * buf[i] + d / avg;
        buf[i] = b;
        p[i] -= lr * b;
      } else {
        p[i] -= lr * d / avg;
      }
    }
  });
}

template <typename T>
void dispatch(OptimOp op, const View* s, const View& grad, const double* a) {
  switch (op) {
    case OptimOp::Sgd: sgd<T>(s, grad, a); break;
    case OptimOp::Adam: adam<T>(s, grad, a); break;
    case OptimOp::Adagrad: adagrad<T>(s, grad, a); break;
    case OptimOp::RMSprop: rmsprop<T>(s, grad, a); break;
    default: break;
  }
}


void run(OptimOp op, const View* states, const View& grad, const double* attrs) {
  if (states[0].dtype == DType::Float64) dispatch<double>(op, states, grad, attrs);
  else dispatch<float>(op, states, grad, attrs);
}
