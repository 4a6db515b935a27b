// SIMD max-pool kernels for the commonest window, 2 x 2 with stride 2 over unit-stride rows
// (pool_avx2.cpp, pool_avx512.cpp), chosen at run time by pool.cpp.
#pragma once
#include <cstdint>

namespace kiln {
namespace cpu {

// For outputs o < n: the first maximum (NaN wins) of r0[2o], r0[2o+1], r1[2o], r1[2o+1], in
// that order; out[o] = its position, at0 + 2o (+1) for row 0, at1 + 2o (+1) for row 1.
using MaxPool2x2F32 = void (*)(const float* r0, const float* r1, int64_t n, int32_t at0, int32_t at1, int32_t* out);

// Max pooling's gradient over the same windows, written densely: for outputs o < n the window's
// first maximum (as above) gets g[o] and its three other positions 0, in d0[2o], d0[2o+1] (row
// 0) and d1[2o], d1[2o+1] (row 1). Every position of the two rows up to 2n is written.
using MaxPool2x2GradF32 = void (*)(const float* r0, const float* r1, const float* g, int64_t n, float* d0, float* d1);

// The values alone: out[o] = the maximum of the same four (NaN if one is NaN).
using MaxPool2x2ValuesF32 = void (*)(const float* r0, const float* r1, int64_t n, float* out);

// nullptr when the ISA file was not compiled for this architecture (or has no such kernel).
MaxPool2x2F32 avx512MaxPool2x2F32();
MaxPool2x2F32 avx2MaxPool2x2F32();
MaxPool2x2GradF32 avx512MaxPool2x2GradF32();
MaxPool2x2ValuesF32 avx512MaxPool2x2ValuesF32();

}  // namespace cpu
}  // namespace kiln
