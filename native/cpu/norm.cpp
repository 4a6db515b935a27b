// Fused normalization on the CPU: x [P, C, Q] is normalized per channel c over its P * Q
// elements (P runs of Q contiguous ones). Batch norm is [N, C, spatial], layer norm [1, rows,
// features], group norm [1, N * groups, channels/group * spatial]. Channels are split across
// the thread pool; sums run in lanes (vectorizable without reassociation) into doubles.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../core/thread_pool.h"
#include "kernels.h"

namespace kiln {
namespace cpu {
namespace {

constexpr int kLanes = 16;

// Σ f(i) for i < n, accumulated in kLanes independent lanes.
template <typename T, typename F>
double laneSum(int64_t n, F&& f) {
  T acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; l++) acc[l] += f(i + l);
  double s = 0;
  for (; i < n; i++) s += static_cast<double>(f(i));
  for (int l = 0; l < kLanes; l++) s += static_cast<double>(acc[l]);
  return s;
}

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

struct Shape3 {
  int64_t P, C, Q;
};

// Mean and biased variance of channel c (two passes: exact enough for float32 data).
template <typename T>
void channelMoments(const T* x, const Shape3& s, int64_t c, double& mean, double& var) {
  const double n = static_cast<double>(s.P * s.Q);
  double sum = 0;
  for (int64_t p = 0; p < s.P; p++) {
    const T* row = x + (p * s.C + c) * s.Q;
    sum += laneSum<T>(s.Q, [&](int64_t i) { return row[i]; });
  }
  mean = n > 0 ? sum / n : 0;
  const T m = static_cast<T>(mean);
  double ss = 0;
  for (int64_t p = 0; p < s.P; p++) {
    const T* row = x + (p * s.C + c) * s.Q;
    ss += laneSum<T>(s.Q, [&](int64_t i) {
      const T d = row[i] - m;
      return d * d;
    });
  }
  var = n > 0 ? ss / n : 0;
}

template <typename F>
void forChannels(const Shape3& s, F&& fn) {
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(1, s.P * s.Q));
  parallelFor(s.C, grain, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; c++) fn(c);
  });
}

template <typename T>
void normalizeImpl(const View& outView, const View& xView, double eps) {
  const Shape3 s{xView.size(0), xView.size(1), xView.size(2)};
  std::vector<T> tmp;
  const T* x = contiguousData(xView, tmp);
  T* out = outView.at<T>();
  forChannels(s, [&](int64_t c) {
    double mean, var;
    channelMoments(x, s, c, mean, var);
    const T m = static_cast<T>(mean), r = static_cast<T>(1.0 / std::sqrt(var + eps));
    for (int64_t p = 0; p < s.P; p++) {
      const T* row = x + (p * s.C + c) * s.Q;
      T* o = out + (p * s.C + c) * s.Q;
      for (int64_t i = 0; i < s.Q; i++) o[i] = (row[i] - m) * r;
    }
  });
}

// dx = rstd (g - mean(g)) - (x - mean) rstd^3 mean(g (x - mean)).
template <typename T>
void normalizeBackwardImpl(const View& outView, const View& xView, const View& gView, double eps) {
  const Shape3 s{xView.size(0), xView.size(1), xView.size(2)};
  std::vector<T> xTmp, gTmp;
  const T* x = contiguousData(xView, xTmp);
  const T* g = contiguousData(gView, gTmp);
  T* out = outView.at<T>();
  const double n = static_cast<double>(s.P * s.Q);
  forChannels(s, [&](int64_t c) {
    double mean, var;
    channelMoments(x, s, c, mean, var);
    const T m = static_cast<T>(mean);
    double sg = 0, sgx = 0;
    for (int64_t p = 0; p < s.P; p++) {
      const int64_t at = (p * s.C + c) * s.Q;
      sg += laneSum<T>(s.Q, [&](int64_t i) { return g[at + i]; });
      sgx += laneSum<T>(s.Q, [&](int64_t i) { return g[at + i] * (x[at + i] - m); });
    }
    const double rstd = 1.0 / std::sqrt(var + eps);
    const T r = static_cast<T>(rstd), mg = static_cast<T>(sg / n), k = static_cast<T>(rstd * rstd * rstd * sgx / n);
    for (int64_t p = 0; p < s.P; p++) {
      const int64_t at = (p * s.C + c) * s.Q;
      for (int64_t i = 0; i < s.Q; i++) out[at + i] = r * (g[at + i] - mg) - (x[at + i] - m) * k;
    }
  });
}

template <typename T>
void momentsImpl(const View& outView, const View& xView) {
  const Shape3 s{xView.size(0), xView.size(1), xView.size(2)};
  std::vector<T> tmp;
  const T* x = contiguousData(xView, tmp);
  T* out = outView.at<T>();  // fresh [2, C]
  forChannels(s, [&](int64_t c) {
    double mean, var;
    channelMoments(x, s, c, mean, var);
    out[c] = static_cast<T>(mean);
    out[s.C + c] = static_cast<T>(var);
  });
}

// A [D] vector (any strides, stride 0 for an absent weight or bias) as D contiguous values.
template <typename T>
std::vector<T> vectorData(const View& v) {
  std::vector<T> out(static_cast<size_t>(v.size(0)));
  const T* p = v.at<T>();
  for (int64_t i = 0; i < v.size(0); i++) out[static_cast<size_t>(i)] = p[i * v.stride(0)];
  return out;
}

// Layer norm over the rows of x [M, D]: per row the mean and the biased variance (two passes, as
// channelMoments), then y = (x - mean) rstd w + b; rows split across the thread pool.
template <typename T>
void layerNormImpl(const View& yView, const View& statsView, const View& xView, const View& wView, const View& bView,
                   double eps) {
  const int64_t M = xView.size(0), D = xView.size(1);
  std::vector<T> tmp;
  const T* x = contiguousData(xView, tmp);
  const std::vector<T> w = vectorData<T>(wView), b = vectorData<T>(bView);
  T* y = yView.at<T>();
  T* stats = statsView.at<T>();  // fresh [2, M]
  parallelFor(M, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, D)), [&](int64_t lo, int64_t hi) {
    for (int64_t m = lo; m < hi; m++) {
      const T* row = x + m * D;
      const double mean = D > 0 ? laneSum<T>(D, [&](int64_t i) { return row[i]; }) / double(D) : 0;
      const T mu = static_cast<T>(mean);
      const double ss = laneSum<T>(D, [&](int64_t i) {
        const T d = row[i] - mu;
        return d * d;
      });
      const double rstd = 1.0 / std::sqrt((D > 0 ? ss / double(D) : 0) + eps);
      const T r = static_cast<T>(rstd);
      T* o = y + m * D;
      for (int64_t i = 0; i < D; i++) o[i] = (row[i] - mu) * r * w[i] + b[i];
      stats[m] = mu;
      stats[M + m] = r;
    }
  });
}

// Its VJP. dx row by row (sums of g w and g w xhat in double); dw and db as column sums: each
// fixed block of rows sums into its own double partials, then the blocks are added in order, so
// the result does not depend on the thread count.
template <typename T>
void layerNormBackwardImpl(const View& dxView, const View& dwView, const View& dbView, const View& xView,
                           const View& wView, const View& statsView, const View& gView) {
  const int64_t M = xView.size(0), D = xView.size(1);
  std::vector<T> xTmp, gTmp;
  const T* x = contiguousData(xView, xTmp);
  const T* g = contiguousData(gView, gTmp);
  const std::vector<T> w = vectorData<T>(wView);
  const T* mean = statsView.at<T>();
  const T* rstd = mean + statsView.stride(0);
  const int64_t sm = statsView.stride(1);
  T* dx = dxView.at<T>();
  const int64_t rowsPerBlock = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, D));
  const int64_t blocks = (M + rowsPerBlock - 1) / rowsPerBlock;
  std::vector<double> partial(static_cast<size_t>(blocks * 2 * D));
  parallelFor(blocks, 1, [&](int64_t lo, int64_t hi) {
    std::vector<T> xhat(static_cast<size_t>(D));
    for (int64_t blk = lo; blk < hi; blk++) {
      double* pw = partial.data() + blk * 2 * D;
      double* pb = pw + D;
      for (int64_t m = blk * rowsPerBlock; m < std::min(M, (blk + 1) * rowsPerBlock); m++) {
        const T *xr = x + m * D, *gr = g + m * D;
        const T mu = mean[m * sm], r = rstd[m * sm];
        for (int64_t i = 0; i < D; i++) xhat[i] = (xr[i] - mu) * r;
        const double s1 = laneSum<T>(D, [&](int64_t i) { return gr[i] * w[i]; });
        const double s2 = laneSum<T>(D, [&](int64_t i) { return gr[i] * w[i] * xhat[i]; });
        const T a = static_cast<T>(D > 0 ? s1 / double(D) : 0), c = static_cast<T>(D > 0 ? s2 / double(D) : 0);
        T* o = dx + m * D;
        for (int64_t i = 0; i < D; i++) {
          o[i] = r * (gr[i] * w[i] - a - xhat[i] * c);
          pw[i] += static_cast<double>(gr[i] * xhat[i]);
          pb[i] += static_cast<double>(gr[i]);
        }
      }
    }
  });
  T* dw = dwView.at<T>();
  T* db = dbView.at<T>();
  parallelFor(D, 1024, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      double sw = 0, sb = 0;
      for (int64_t blk = 0; blk < blocks; blk++) {
        sw += partial[blk * 2 * D + i];
        sb += partial[blk * 2 * D + D + i];
      }
      dw[i] = static_cast<T>(sw);
      db[i] = static_cast<T>(sb);
    }
  });
}

// Rows of x [M, D]: max, then exp(x - max) through the vectorized elementwise kernel (one call
// for a block of rows), then the row sums; log-softmax is x - max - log(sum).
template <typename T>
void softmaxImpl(const View& outView, const View& xView, bool log) {
  const int64_t M = xView.size(0), D = xView.size(1);
  std::vector<T> tmp;
  const T* x = contiguousData(xView, tmp);
  T* out = outView.at<T>();
  if (M == 0 || D == 0) return;
  const int64_t rowsPerBlock = std::max<int64_t>(1, 4096 / D);
  parallelFor((M + rowsPerBlock - 1) / rowsPerBlock, 1, [&](int64_t b, int64_t e) {
    std::vector<T> ex(static_cast<size_t>(rowsPerBlock * D));
    for (int64_t blk = b; blk < e; blk++) {
      const int64_t m0 = blk * rowsPerBlock, m1 = std::min(M, m0 + rowsPerBlock), n = (m1 - m0) * D;
      for (int64_t m = m0; m < m1; m++) {
        const T* row = x + m * D;
        T* o = out + m * D;
        T mx = row[0];
        for (int64_t i = 1; i < D; i++) mx = (row[i] > mx || row[i] != row[i]) ? row[i] : mx;
        // An infinite (or NaN) maximum: shift by 0 so that exp sees the values themselves.
        const T shift = std::isfinite(mx) ? mx : T(0);
        for (int64_t i = 0; i < D; i++) o[i] = row[i] - shift;
      }
      View exView;
      exView.data = ex.data();
      exView.dtype = xView.dtype;
      exView.layout = Layout::contiguous(1, &n);
      View shifted = exView;
      shifted.data = out + m0 * D;
      unary(UnaryOp::Exp, exView, shifted);
      for (int64_t m = m0; m < m1; m++) {
        const T* er = ex.data() + (m - m0) * D;
        T* o = out + m * D;
        const double sum = laneSum<T>(D, [&](int64_t i) { return er[i]; });
        if (log) {
          const T ls = static_cast<T>(std::log(sum));
          for (int64_t i = 0; i < D; i++) o[i] -= ls;
        } else {
          const T inv = static_cast<T>(1.0 / sum);
          for (int64_t i = 0; i < D; i++) o[i] = er[i] * inv;
        }
      }
    }
  });
}

}  // namespace

void softmax(const View& out, const View& x, bool log) {
  if (x.dtype == DType::Float64) softmaxImpl<double>(out, x, log);
  else softmaxImpl<float>(out, x, log);
}

// The softmax / log-softmax VJP from the output y and the cotangent g, row by row, with the row
// sum in double: softmax dx = y (g - sum(g y)); log-softmax dx = g - exp(y) sum(g).
template <typename T>
void softmaxBackwardImpl(const View& outView, const View& yView, const View& gView, bool log) {
  const int64_t M = yView.size(0), D = yView.size(1);
  if (M == 0 || D == 0) return;
  std::vector<T> ytmp, gtmp;
  const T* y = contiguousData(yView, ytmp);
  const T* g = contiguousData(gView, gtmp);
  T* out = outView.at<T>();
  parallelFor(M, std::max<int64_t>(1, 8192 / D), [&](int64_t b, int64_t e) {
    for (int64_t m = b; m < e; m++) {
      const T* yr = y + m * D;
      const T* gr = g + m * D;
      T* o = out + m * D;
      if (log) {
        const T s = static_cast<T>(laneSum<double>(D, [&](int64_t i) { return double(gr[i]); }));
        for (int64_t i = 0; i < D; i++) o[i] = gr[i] - std::exp(yr[i]) * s;
      } else {
        const T s = static_cast<T>(laneSum<double>(D, [&](int64_t i) { return double(gr[i]) * double(yr[i]); }));
        for (int64_t i = 0; i < D; i++) o[i] = yr[i] * (gr[i] - s);
      }
    }
  });
}

void softmaxBackward(const View& out, const View& y, const View& g, bool log) {
  if (y.dtype == DType::Float64) softmaxBackwardImpl<double>(out, y, g, log);
  else softmaxBackwardImpl<float>(out, y, g, log);
}

// Cross entropy through the softmax kernel above (the same rounding as logSoftmax then a pick):
// log-probabilities or probabilities of the rows into a buffer, then the picks summed in double.
template <typename T>
void crossEntropyImpl(const View& outView, const View& xView, const View& target) {
  const int64_t M = xView.size(0), D = xView.size(1);
  std::vector<T> logp(static_cast<size_t>(M * D));
  View lp;
  lp.data = logp.data();
  lp.dtype = xView.dtype;
  lp.layout = Layout::contiguous(2, xView.layout.shape);
  softmaxImpl<T>(lp, xView, true);
  const int32_t* t = target.at<int32_t>();
  double total = 0;
  for (int64_t m = 0; m < M; m++) total -= double(logp[static_cast<size_t>(m * D + t[m * target.stride(0)])]);
  *outView.at<T>() = static_cast<T>(M ? total / double(M) : std::nan(""));
}

template <typename T>
void crossEntropyBackwardImpl(const View& outView, const View& xView, const View& target, const View& g) {
  const int64_t M = xView.size(0), D = xView.size(1);
  softmaxImpl<T>(outView, xView, false);  // out is fresh and contiguous
  T* out = outView.at<T>();
  const int32_t* t = target.at<int32_t>();
  const T s = static_cast<T>(double(*g.at<T>()) / double(std::max<int64_t>(M, 1)));
  parallelFor(M * D, 32768, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) out[i] *= s;
  });
  for (int64_t m = 0; m < M; m++) out[m * D + t[m * target.stride(0)]] -= s;
}

void crossEntropy(const View& out, const View& x, const View& target) {
  if (x.dtype == DType::Float64) crossEntropyImpl<double>(out, x, target);
  else crossEntropyImpl<float>(out, x, target);
}

void crossEntropyBackward(const View& out, const View& x, const View& target, const View& g) {
  if (x.dtype == DType::Float64) crossEntropyBackwardImpl<double>(out, x, target, g);
  else crossEntropyBackwardImpl<float>(out, x, target, g);
}

void normalize(const View& out, const View& x, double eps) {
  if (x.dtype == DType::Float64) normalizeImpl<double>(out, x, eps);
  else normalizeImpl<float>(out, x, eps);
}

void normalizeBackward(const View& out, const View& x, const View& g, double eps) {
  if (x.dtype == DType::Float64) normalizeBackwardImpl<double>(out, x, g, eps);
  else normalizeBackwardImpl<float>(out, x, g, eps);
}

void layerNorm(const View& y, const View& stats, const View& x, const View& w, const View& b, double eps) {
  if (x.dtype == DType::Float64) layerNormImpl<double>(y, stats, x, w, b, eps);
  else layerNormImpl<float>(y, stats, x, w, b, eps);
}

void layerNormBackward(const View& dx, const View& dw, const View& db, const View& x, const View& w, const View& stats,
                       const View& g) {
  if (x.dtype == DType::Float64) layerNormBackwardImpl<double>(dx, dw, db, x, w, stats, g);
  else layerNormBackwardImpl<float>(dx, dw, db, x, w, stats, g);
}

void moments(const View& out, const View& x) {
  if (x.dtype == DType::Float64) momentsImpl<double>(out, x);
  else momentsImpl<float>(out, x);
}

}  // namespace cpu
}  // namespace kiln
