// The fused optimizer loops (optim_impl.h) compiled with AVX2 + FMA (CMake and binding.gyp give
// *_avx2.cpp files those flags); optim.cpp calls them when the CPU has both.
#if defined(__x86_64__) || defined(_M_X64)
#include <cmath>

#include "../core/thread_pool.h"
#include "cpu_info.h"
#include "kernels.h"

namespace kiln {
namespace cpu {
namespace optim_avx2 {
#include "optim_impl.h"
}  // namespace optim_avx2
}  // namespace cpu
}  // namespace kiln
#endif
