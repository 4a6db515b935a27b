// Host memory for tensors, with a cache of freed blocks. A training loop frees and re-allocates
// the same sizes every step; handing a large block back to the OS and asking for it again costs
// page faults on every first touch, which showed up as 5-7% of a LeNet training step. Blocks of
// at least kMinCached bytes are kept (exact sizes, up to a byte budget) and reused.
#pragma once
#include <cstddef>

namespace kiln {
namespace cpu {

// 64-byte aligned, at least `bytes` long; nullptr when the system is out of memory even after
// the cache was emptied.
void* hostAllocate(size_t bytes);
void hostFree(void* ptr, size_t bytes);
// Returns every cached block to the system.
void hostEmptyCache();
size_t hostCachedBytes();

}  // namespace cpu
}  // namespace kiln
