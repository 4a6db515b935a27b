// What the CPU offers, detected once at run time; used for kernel dispatch and `kiln doctor`.
#pragma once
#include <string>

namespace kiln {
namespace cpu {

struct Features {
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;
};

const Features& features();

// The widest instruction set the SIMD kernel files (*_avx2.cpp, *_avx512.cpp) may use on this
// CPU: AVX-512 needs avx512f (F, DQ, BW, VL) with AVX2 and FMA, AVX2 needs FMA too.
// KILN_SIMD=avx2|portable narrows the choice (tests run every variant that way). Read once.
enum class SimdLevel { Portable, Avx2, Avx512 };
SimdLevel simdLevel();
std::string featureString();   // e.g. "avx2 fma avx512f"
const char* gemmKernelName();  // the GEMM micro-kernel chosen for this CPU (gemm/gemm.cpp)

}  // namespace cpu
}  // namespace kiln
