// PLACEHOLDER: replaced by the pooling kernels.
#include "kernels.h"
namespace kiln {
namespace cuda {
void maxPoolIndices(Ctx&, const View&, const View&, const PoolParams&) {
  fail(ErrorKind::Device, "maxPoolIndices is not supported on this device (cuda)");
}
void avgPool(Ctx&, const View&, const View&, const PoolParams&) {
  fail(ErrorKind::Device, "avgPool is not supported on this device (cuda)");
}
void avgPoolTranspose(Ctx&, const View&, const View&, const PoolParams&) {
  fail(ErrorKind::Device, "avgPoolTranspose is not supported on this device (cuda)");
}
}  // namespace cuda
}  // namespace kiln
