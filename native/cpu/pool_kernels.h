// SIMD max-pool kernels for the commonest window, 2 x 2 with stride 2 over unit-stride rows
// (pool_avx2.cpp, pool_avx512.cpp), chosen at run time by pool.cpp.
#pragma once
#include <cstdint>

namespace kiln {
namespace cpu {

// For outputs o < n: the first maximum (NaN wins) of r0[2o], r0[2o+1], r1[2o], r1[2o+1], in
// that order; out[o] = its position, at0 + 2o (+1) for row 0, at1 + 2o (+1) for row 1.
using MaxPool2x2F32 = void (*)(const float* r0, const float* r1, int64_t n, int32_t at0, int32_t at1, int32_t* out);

// nullptr when the ISA file was not compiled for this architecture.
MaxPool2x2F32 avx512MaxPool2x2F32();
MaxPool2x2F32 avx2MaxPool2x2F32();

}  // namespace cpu
}  // namespace kiln
