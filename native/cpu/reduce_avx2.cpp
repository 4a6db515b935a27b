// The reduction loops (reduce_impl.h) compiled with AVX2 + FMA (CMake and binding.gyp give
// *_avx2.cpp files those flags); reduce.cpp calls them when the CPU runs that instruction set.
#if defined(__x86_64__) || defined(_M_X64)
#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "elementwise_simd.h"
#include "kernels.h"
#include "strided.h"

namespace kiln {
namespace cpu {
namespace reduce_avx2 {
#include "reduce_impl.h"
}  // namespace reduce_avx2
}  // namespace cpu
}  // namespace kiln
#endif
