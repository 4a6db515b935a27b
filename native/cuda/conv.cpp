// PLACEHOLDER: replaced by the cuDNN convolutions.
#include "kernels.h"
namespace kiln {
namespace cuda {
void conv(Ctx&, const View&, const View&, const View&, const View*, const ConvParams&) {
  fail(ErrorKind::Device, "conv is not supported on this device (cuda)");
}
void convTranspose(Ctx&, const View&, const View&, const View&, const ConvParams&) {
  fail(ErrorKind::Device, "convTranspose is not supported on this device (cuda)");
}
void convWeightGrad(Ctx&, const View&, const View&, const View&, const ConvParams&) {
  fail(ErrorKind::Device, "convWeightGrad is not supported on this device (cuda)");
}
}  // namespace cuda
}  // namespace kiln
