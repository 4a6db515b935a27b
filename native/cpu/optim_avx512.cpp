// The fused optimizer loops (optim_impl.h) compiled with AVX-512 (CMake and binding.gyp give
// *_avx512.cpp files those flags): 16 float lanes for the sqrt and the divide that bound Adam.
// optim.cpp calls them when the CPU has AVX-512.
#if defined(__x86_64__) || defined(_M_X64)
#include <cmath>

#include "../core/thread_pool.h"
#include "cpu_info.h"
#include "kernels.h"

namespace kiln {
namespace cpu {
namespace optim_avx512 {
#include "optim_impl.h"
}  // namespace optim_avx512
}  // namespace cpu
}  // namespace kiln
#endif
