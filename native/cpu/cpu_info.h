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
std::string featureString();   // e.g. "avx2 fma avx512f"
const char* gemmKernelName();  // the GEMM micro-kernel chosen for this CPU (gemm/gemm.cpp)

}  // namespace cpu
}  // namespace kiln
