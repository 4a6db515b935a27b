// Fused optimizer steps: each reads a parameter's gradient once and updates the parameter and
// its state buffers in place in the same pass (torch.optim's update equations, single tensor).
// Operands are dense (checked by the dispatcher); work is split across the thread pool. The
// loops (optim_impl.h) are compiled three times: here for the baseline ISA, in optim_avx2.cpp
// with AVX2 + FMA and in optim_avx512.cpp with AVX-512, picked at run time.
#include <cmath>

#include "../core/thread_pool.h"
#include "cpu_info.h"
#include "kernels.h"

namespace kiln {
namespace cpu {
namespace optim_base {
#include "optim_impl.h"
}  // namespace optim_base

#if defined(__x86_64__) || defined(_M_X64)
namespace optim_avx2 {
void run(OptimOp op, const View* states, const View& grad, const double* attrs);
}  // namespace optim_avx2
namespace optim_avx512 {
void run(OptimOp op, const View* states, const View& grad, const double* attrs);
}  // namespace optim_avx512
#endif

void optimStep(OptimOp op, const View* states, int nStates, const View& grad, const double* attrs, int nAttrs) {
#if defined(__x86_64__) || defined(_M_X64)
  const SimdLevel isa = simdLevel();
  if (isa == SimdLevel::Avx512) {
    optim_avx512::run(op, states, grad, attrs);
    return;
  }
  if (isa == SimdLevel::Avx2) {
    optim_avx2::run(op, states, grad, attrs);
    return;
  }
#endif
  optim_base::run(op, states, grad, attrs);
}

}  // namespace cpu
}  // namespace kiln
