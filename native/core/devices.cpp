#include "devices.h"

#include "errors.h"

namespace kiln {

bool cudaAvailable() { return false; }
int cudaDeviceCount() { return 0; }
std::string cudaUnavailableReason() {
  // Filled in by the CUDA plugin loader (issue: CUDA backend).
  return "kiln was built without the CUDA plugin";
}

Backend& cudaBackend(int index) {
  fail(ErrorKind::Device, "cuda:", index, " is not available: ", cudaUnavailableReason());
}

Backend& backendForDevice(int64_t code) {
  int64_t type = code >> 8, index = code & 0xff;
  if (code < 0 || type > 1) fail(ErrorKind::Device, "unknown device code ", code);
  if (type == 0) {
    if (index != 0) fail(ErrorKind::Device, "cpu device index must be 0, got ", index);
    return cpuBackend();
  }
  return cudaBackend(static_cast<int>(index));
}

}  // namespace kiln
