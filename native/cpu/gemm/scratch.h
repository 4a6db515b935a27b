// Per-thread packing buffers, kept between calls so that steady-state products never allocate.
#pragma once
#include <cstddef>
#include <new>

namespace kiln {
namespace cpu {

class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { release(); }

  // Room for `count` elements of T, 64-byte aligned; the contents are not preserved on growth.
  template <typename T>
  T* get(size_t count) {
    size_t bytes = count * sizeof(T);
    if (bytes > bytes_) {
      release();
      data_ = ::operator new(bytes, std::align_val_t(kAlign));
      bytes_ = bytes;
    }
    return static_cast<T*>(data_);
  }

 private:
  static constexpr size_t kAlign = 64;
  void release() {
    if (data_) ::operator delete(data_, std::align_val_t(kAlign));
    data_ = nullptr;
    bytes_ = 0;
  }
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

enum class ScratchSlot { PackA, PackB, Tile, Vector, Count };

inline Scratch& scratch(ScratchSlot slot) {
  thread_local Scratch buffers[static_cast<int>(ScratchSlot::Count)];
  return buffers[static_cast<int>(slot)];
}

}  // namespace cpu
}  // namespace kiln
