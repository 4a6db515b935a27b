#include "handle_table.h"

#include <cmath>

#include "../core/errors.h"

namespace kiln {

namespace {
constexpr uint64_t kSlotBits = 24, kGenBits = 20;
constexpr uint64_t kSlotMask = (uint64_t{1} << kSlotBits) - 1, kGenMask = (uint64_t{1} << kGenBits) - 1;
}  // namespace

uint64_t HandleTable::insert(std::shared_ptr<Storage> s) {
  uint32_t slot;
  if (freeHead_ < free_.size()) {
    slot = free_[freeHead_++];
    if (freeHead_ > 4096 && freeHead_ * 2 > free_.size()) {  // compact the consumed prefix
      free_.erase(free_.begin(), free_.begin() + static_cast<std::ptrdiff_t>(freeHead_));
      freeHead_ = 0;
    }
  } else {
    if (slots_.size() > kSlotMask) fail(ErrorKind::Memory, "too many live tensors (", slots_.size(), ")");
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& e = slots_[slot];
  e.generation = (e.generation + 1) & kGenMask;
  if (e.generation == 0) e.generation = 1;  // generation 0 never appears, so handle 0 means "none"
  e.storage = std::move(s);
  live_++;
  return ((static_cast<uint64_t>(envTag_) << kGenBits | e.generation) << kSlotBits) | slot;
}

bool HandleTable::decode(double handle, uint32_t* slot, uint32_t* gen) const {
  if (!(handle >= 1 && handle < 9007199254740992.0) || std::floor(handle) != handle) return false;
  uint64_t h = static_cast<uint64_t>(handle);
  if ((h >> (kSlotBits + kGenBits)) != envTag_) return false;
  *slot = static_cast<uint32_t>(h & kSlotMask);
  *gen = static_cast<uint32_t>((h >> kSlotBits) & kGenMask);
  return *slot < slots_.size() && slots_[*slot].generation == *gen && slots_[*slot].storage;
}

const std::shared_ptr<Storage>& HandleTable::get(double handle, const char* what) const {
  uint32_t slot, gen;
  if (!decode(handle, &slot, &gen)) {
    bool integral = handle >= 1 && handle < 9007199254740992.0 && std::floor(handle) == handle;
    if (integral && (static_cast<uint64_t>(handle) >> (kSlotBits + kGenBits)) != envTag_)
      fail(ErrorKind::Kiln, what, ": tensor handle ", handle,
           " belongs to another thread or environment (tensors cannot be shared between workers; "
           "send their data instead)");
    fail(ErrorKind::Kiln, what, ": invalid tensor handle ", handle, " (disposed, or not a kiln tensor)");
  }
  return slots_[slot].storage;
}

bool HandleTable::release(double handle) {
  uint32_t slot, gen;
  if (!decode(handle, &slot, &gen)) return false;
  slots_[slot].storage.reset();
  free_.push_back(slot);
  live_--;
  return true;
}

void HandleTable::allocated(const Backend& b, size_t bytes) {
  DeviceMemory* m = &cpu_;
  if (b.deviceType() == DeviceType::CUDA) {
    size_t i = static_cast<size_t>(b.deviceIndex());
    if (cuda_.size() <= i) cuda_.resize(i + 1);
    m = &cuda_[i];
  } else {
    externalDelta_ += static_cast<int64_t>(bytes);
  }
  m->bytes += static_cast<int64_t>(bytes);
  m->storages++;
}

void HandleTable::released(const Backend& b, size_t bytes) {
  DeviceMemory* m = &cpu_;
  if (b.deviceType() == DeviceType::CUDA) {
    m = &cuda_[static_cast<size_t>(b.deviceIndex())];
  } else {
    externalDelta_ -= static_cast<int64_t>(bytes);
  }
  m->bytes -= static_cast<int64_t>(bytes);
  m->storages--;
}

}  // namespace kiln
