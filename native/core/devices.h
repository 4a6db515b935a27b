// Where backends come from. A device is encoded as (type << 8) | index in the N-API protocol.
#pragma once
#include <string>

#include "backend.h"

namespace kiln {

Backend& cpuBackend();

// The CUDA backend for device `index`, loading the kiln_cuda plugin on first use.
// Throws a DeviceError carying cudaUnavailableReason() when there is none.
Backend& cudaBackend(int index);
bool cudaAvailable();
std::string cudaUnavailableReason();
int cudaDeviceCount();

Backend& backendForDevice(int64_t code);

}  // namespace kiln
