// PLACEHOLDER: replaced by the recurrent cell kernels.
#include "kernels.h"
namespace kiln {
namespace cuda {
void lstmCell(Ctx&, const View&, const View&, const View&) {
  fail(ErrorKind::Device, "lstmCell is not supported on this device (cuda)");
}
void lstmCellBackward(Ctx&, const View&, const View&, const View&, const View&) {
  fail(ErrorKind::Device, "lstmCellBackward is not supported on this device (cuda)");
}
void gruCell(Ctx&, const View&, const View&, const View&, const View&) {
  fail(ErrorKind::Device, "gruCell is not supported on this device (cuda)");
}
void gruCellBackward(Ctx&, const View&, const View&, const View&, const View&, const View&) {
  fail(ErrorKind::Device, "gruCellBackward is not supported on this device (cuda)");
}
}  // namespace cuda
}  // namespace kiln
