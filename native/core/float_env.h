// Denormal floats in CPU kernels: flush-to-zero (FTZ) and denormals-are-zero (DAZ), on by
// default, as TensorFlow and XLA run their CPU kernels. Denormals (|x| < 1.2e-38 in float32)
// carry nothing a network needs, but every x86 operation on one costs ~100 times a normal one,
// and they do appear: the Adam moments of a model that has fitted its batch fill with them, and
// a step then runs several times slower. kiln.setFlushDenormal(false) keeps IEEE behaviour.
//
// MXCSR is per thread. Pool workers set it for each job; on the JavaScript thread it is set
// around each kernel call only and restored after, so JavaScript's own arithmetic never sees it.
#pragma once
#include <atomic>

#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
#define KILN_HAS_MXCSR 1
#endif

namespace kiln {

inline std::atomic<bool> gFlushDenormal{true};

inline void setFlushDenormal(bool on) { gFlushDenormal.store(on, std::memory_order_relaxed); }
inline bool flushDenormal() { return gFlushDenormal.load(std::memory_order_relaxed); }

// Sets FTZ and DAZ for the current thread while alive (when enabled), then restores MXCSR.
class ScopedFlushDenormal {
 public:
#if KILN_HAS_MXCSR
  ScopedFlushDenormal() : saved_(_mm_getcsr()) {
    constexpr unsigned kFtzDaz = 0x8040;  // bit 15: flush to zero; bit 6: denormals are zero
    const unsigned want = flushDenormal() ? (saved_ | kFtzDaz) : (saved_ & ~kFtzDaz);
    if (want != saved_) _mm_setcsr(want);
  }
  ~ScopedFlushDenormal() {
    if (_mm_getcsr() != saved_) _mm_setcsr(saved_);
  }

 private:
  unsigned saved_;
#else
  ScopedFlushDenormal() {}
#endif
  ScopedFlushDenormal(const ScopedFlushDenormal&) = delete;
  ScopedFlushDenormal& operator=(const ScopedFlushDenormal&) = delete;
};

}  // namespace kiln
