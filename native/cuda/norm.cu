// PLACEHOLDER: replaced by the normalization kernels.
#include "kernels.h"
namespace kiln {
namespace cuda {
void normalize(Ctx&, const View&, const View&, double) {
  fail(ErrorKind::Device, "normalize is not supported on this device (cuda)");
}
void normalizeBackward(Ctx&, const View&, const View&, const View&, double) {
  fail(ErrorKind::Device, "normalizeBackward is not supported on this device (cuda)");
}
void moments(Ctx&, const View&, const View&) { fail(ErrorKind::Device, "moments is not supported on this device (cuda)"); }
}  // namespace cuda
}  // namespace kiln
