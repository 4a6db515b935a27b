// Denormal floats in CPU kernels: flush-to-zero (FTZ) and denormals-are-zero (DAZ), on by
// default, as TensorFlow and XLA run their CPU kernels. Denormals (|x| < 1.2e-38 in float32)
// carry nothing a network needs, but every x86 operation on one costs ~100 times a normal one,
// and they do appear: the Adam moments of a model that has fitted its batch fill with them, and
// a step then runs several times slower. kiln.setFlushDenormal(false) keeps IEEE behaviour.
//
// MXCSR (x86) and FPCR (Arm) are per thread. Pool workers set it for each job; on the JavaScript thread it is set
// around each kernel call only and restored after, so JavaScript's own arithmetic never sees it.
#pragma once
#include <atomic>

#include <cstdint>

#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
#define KILN_HAS_MXCSR 1
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#define KILN_HAS_FPCR 1
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
#elif KILN_HAS_FPCR
  // Arm: FPCR.FZ (bit 24) flushes denormal inputs and results of float operations to zero.
  ScopedFlushDenormal() : saved_(read()) {
    constexpr uint64_t kFz = uint64_t{1} << 24;
    const uint64_t want = flushDenormal() ? (saved_ | kFz) : (saved_ & ~kFz);
    if (want != saved_) write(want);
  }
  ~ScopedFlushDenormal() {
    if (read() != saved_) write(saved_);
  }

 private:
  static uint64_t read() {
    uint64_t v;
    asm volatile("mrs %0, fpcr" : "=r"(v));
    return v;
  }
  static void write(uint64_t v) { asm volatile("msr fpcr, %0" : : "r"(v)); }
  uint64_t saved_;
#else
  ScopedFlushDenormal() {}
#endif
  ScopedFlushDenormal(const ScopedFlushDenormal&) = delete;
  ScopedFlushDenormal& operator=(const ScopedFlushDenormal&) = delete;
};

}  // namespace kiln
