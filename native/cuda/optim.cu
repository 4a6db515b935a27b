// PLACEHOLDER: replaced by the fused CUDA optimizer kernels.
#include "kernels.h"
namespace kiln {
namespace cuda {
void optimStep(Ctx&, OptimOp, const View*, int, const View&, const double*, int) {
  fail(ErrorKind::Device, "optimizer step: no fused kernel on this device (cuda)");
}
}  // namespace cuda
}  // namespace kiln
