// Where backends come from. A device is encoded as (type << 8) | index in the N-API protocol.
// The CPU backend is compiled in; the CUDA backend comes from the kiln_cuda plugin, which is
// opened (dlopen) on the first call that needs it, never at load time.
#pragma once
#include <string>

#include "backend.h"
#include "cuda_plugin.h"

namespace kiln {

Backend& cpuBackend();

// The CUDA backend for device `index`, loading the kiln_cuda plugin on first use.
// Throws a DeviceError carrying cudaUnavailableReason() when there is none.
Backend& cudaBackend(int index);
bool cudaAvailable();
// Why CUDA cannot be used, specific enough to act on: plugin not built, plugin failed to load
// (with dlerror), no driver, driver too old, no device, or which library was not found.
std::string cudaUnavailableReason();
int cudaDeviceCount();
// Where the plugin was loaded from, and its runtime/driver/library versions ("" when not loaded).
std::string cudaPluginPath();
std::string cudaVersions();

// Management calls for one CUDA device; throw DeviceError when CUDA is unavailable.
CudaDeviceInfo cudaDeviceInfo(int index);
CudaMemoryStats cudaMemoryStats(int index);
void cudaEmptyCache(int index);
void cudaSetOption(const char* name, double value);

Backend& backendForDevice(int64_t code);

}  // namespace kiln
