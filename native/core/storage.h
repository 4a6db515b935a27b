// Storage: a refcounted buffer on one device. Layout lives elsewhere (layout.h), so many views
// share one Storage through shared_ptr.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "backend.h"
#include "dtype.h"

namespace kiln {

// Told about every allocation and release, so the owner (one N-API environment) can report
// host memory to V8 and answer kiln.memory().
class MemoryAccountant {
 public:
  virtual ~MemoryAccountant() = default;
  virtual void allocated(const Backend& b, size_t bytes) = 0;
  virtual void released(const Backend& b, size_t bytes) = 0;
};

class Storage {
 public:
  // Allocates numel elements of dtype on backend; throws Error(Memory) on failure.
  static std::shared_ptr<Storage> create(Backend& backend, DType dtype, int64_t numel,
                                         MemoryAccountant* accountant);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  Backend& backend() const { return *backend_; }
  void* data() const { return data_; }
  DType dtype() const { return dtype_; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return nbytes_; }

 private:
  Storage() = default;
  Backend* backend_ = nullptr;
  void* data_ = nullptr;
  DType dtype_ = DType::Float32;
  int64_t numel_ = 0;
  size_t nbytes_ = 0;
  MemoryAccountant* accountant_ = nullptr;
};

}  // namespace kiln
