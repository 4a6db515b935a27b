// Fused optimizer steps: each reads a parameter's gradient once and updates the parameter and
// its state buffers in place in the same pass (torch.optim's update equations, single tensor).
// Operands are dense (checked by the dispatcher); work is split across the thread pool. The
// loops (optim_impl.h) are compiled twice: here for the baseline ISA and in optim_avx2.cpp with
// AVX2 + FMA, picked at run time.
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
#endif

void optimStep(OptimOp op, const View* states, int nStates, const View& grad, const double* attrs, int nAttrs) {
#if defined(__x86_64__) || defined(_M_X64)
  const Features& f = features();
  if (f.avx2 && f.fma) {
    optim_avx2::run(op, states, grad, attrs);
    return;
  }
#endif
  optim_base::run(op, states, grad, attrs);
}

}  // namespace cpu
}  // namespace kiln
