// Per-environment table of live storages. JS holds integer handles, never pointers, so a stale,
// forged or foreign handle is caught here instead of crashing the process.
//
// A handle is a double-safe 53-bit integer: envTag (9 bits) | generation (20 bits) | slot (24 bits).
// The env tag catches handles from another worker thread; the generation catches use after free.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "../core/storage.h"

namespace kiln {

struct DeviceMemory {
  int64_t bytes = 0;
  int64_t storages = 0;
};

class HandleTable : public MemoryAccountant {
 public:
  explicit HandleTable(uint32_t envTag) : envTag_(envTag & 0x1ff) {}
  // Storages report their release to this table, so they must go while its counters still exist
  // (members are destroyed in reverse order, and the per-device counters come after the slots).
  ~HandleTable() override { slots_.clear(); }
  HandleTable(const HandleTable&) = delete;
  HandleTable& operator=(const HandleTable&) = delete;

  uint64_t insert(std::shared_ptr<Storage> s);
  // Throws a KilnError naming `what` for an invalid, freed or foreign handle.
  const std::shared_ptr<Storage>& get(double handle, const char* what) const;
  bool release(double handle);  // false if the handle was not live
  int64_t liveHandles() const { return live_; }

  // MemoryAccountant: bytes per device, reported to V8 for host memory by the napi layer.
  void allocated(const Backend& b, size_t bytes) override;
  void released(const Backend& b, size_t bytes) override;
  const DeviceMemory& cpuMemory() const { return cpu_; }
  const std::vector<DeviceMemory>& cudaMemory() const { return cuda_; }
  // Host bytes allocated or released since the last call; the napi layer forwards it to V8.
  int64_t takeExternalDelta() {
    int64_t d = externalDelta_;
    externalDelta_ = 0;
    return d;
  }

 private:
  struct Slot {
    std::shared_ptr<Storage> storage;
    uint32_t generation = 0;
  };
  bool decode(double handle, uint32_t* slot, uint32_t* gen) const;

  uint32_t envTag_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  size_t freeHead_ = 0;  // free_ is used as a FIFO so a slot is reused as late as possible
  int64_t live_ = 0;
  DeviceMemory cpu_;
  std::vector<DeviceMemory> cuda_;
  int64_t externalDelta_ = 0;
};

}  // namespace kiln
