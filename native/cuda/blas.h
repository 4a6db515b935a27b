// What blas.cpp (cuBLAS) and blas_lt.cpp (cuBLASLt) share: how a kiln matrix looks to a
// column-major BLAS, and the copy for operands that no leading dimension describes.
#pragma once
#include <cstdint>
#include <memory>

#include "context.h"
#include "../core/layout.h"

namespace kiln {
namespace cuda {

// How a row-major logical [rows, cols] matrix with strides (sr, sc) looks to cuBLAS.
struct Mat {
  bool ok = false;
  bool colMajor = false;  // false: rows are contiguous (op N in out^T = b^T a^T); true: op T
  int64_t ld = 0;
};
Mat describe(int64_t rows, int64_t cols, int64_t sr, int64_t sc);

// A contiguous copy of v in a scratch buffer; the returned view points into `buf`.
View contiguousCopy(Ctx& c, const View& v, std::unique_ptr<Scratch>& buf);

}  // namespace cuda
}  // namespace kiln
