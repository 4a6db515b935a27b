// The bias of a convolution, added in place after cuDNN wrote y (cuDNN's own bias add needs a
// contiguous bias; this kernel takes the bias view as it is).
#include "conv_cudnn.h"
#include "strided.cuh"

namespace kiln {
namespace cuda {
namespace {

template <typename T>
__global__ void addChannelBiasKernel(T* y, const T* bias, int64_t biasStride, int64_t channels, int64_t inner,
                                     int64_t n) {
  for (int64_t i = globalIndex64(); i < n; i += gridStride64()) y[i] += bias[(i / inner) % channels * biasStride];
}

template <typename T>
void launch(Ctx& c, const View& y, const View& bias) {
  const int64_t n = y.numel();
  if (n == 0) return;
  int64_t inner = 1;
  for (int d = 2; d < y.ndim(); d++) inner *= y.size(d);
  addChannelBiasKernel<T><<<c.blocksFor(n, kThreads), kThreads, 0, c.stream>>>(y.at<T>(), bias.at<T>(), bias.stride(0),
                                                                               y.size(1), inner, n);
  KILN_CHECK_LAUNCH();
}

}  // namespace

void addChannelBias(Ctx& c, const View& y, const View& bias) {
  if (y.dtype == DType::Float64) launch<double>(c, y, bias);
  else launch<float>(c, y, bias);
}

}  // namespace cuda
}  // namespace kiln
