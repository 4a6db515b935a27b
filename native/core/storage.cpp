#include "storage.h"

#include "errors.h"

namespace kiln {

std::shared_ptr<Storage> Storage::create(Backend& backend, DType dtype, int64_t numel,
                                         MemoryAccountant* accountant) {
  if (numel < 0) fail(ErrorKind::Shape, "cannot allocate a negative number of elements (", numel, ")");
  if (numel > (int64_t{1} << 48)) fail(ErrorKind::Memory, "cannot allocate ", numel, " elements");
  std::shared_ptr<Storage> s(new Storage());
  s->backend_ = &backend;
  s->dtype_ = dtype;
  s->numel_ = numel;
  s->nbytes_ = static_cast<size_t>(numel) * dtypeSize(dtype);
  // Zero-element tensors still get a distinct (tiny) allocation so every storage has a pointer.
  s->data_ = backend.allocate(s->nbytes_ == 0 ? 64 : s->nbytes_);
  s->accountant_ = accountant;
  if (accountant) accountant->allocated(backend, s->nbytes_);
  return s;
}

Storage::~Storage() {
  if (data_) backend_->deallocate(data_, nbytes_ == 0 ? 64 : nbytes_);
  if (accountant_) accountant_->released(*backend_, nbytes_);
}

}  // namespace kiln
