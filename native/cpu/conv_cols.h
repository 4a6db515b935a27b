// The unfold (im2col) and fold (col2im) steps of the CPU convolutions, shared by conv.cpp and
// the SIMD versions in conv_avx2.cpp / conv_avx512.cpp (chosen at run time).
//
// A group's column matrix has rows r = (ci, k0, k1, k2) and one column per output position of
// a block; a block is walked as runs along the innermost output dim (ColRun).
#pragma once
#include <cstdint>

namespace kiln {
namespace cpu {

// Geometry in the canonical 3-D form (1-D and 2-D convolutions get leading dims of size 1).
struct ColGeometry {
  int64_t cin;  // channels per group
  int64_t I[3], K[3], O[3], s[3], p[3], d[3];
};

// Block columns [c, c + len): output positions o2 .. o2 + len of one output row, whose windows
// start at input rows i0 (dim 0) and i1 (dim 1).
struct ColRun {
  int64_t c, o2, len, i0, i1;
};

// Everything a fold/unfold of one image and group needs. x: element [ci = 0, 0, 0, 0] of the
// group; xc, x0, x1 its channel and row strides (the innermost stride is 1 for the SIMD
// kernels); lo[k2], hi[k2]: the output positions [lo, hi) whose window element k2 lies inside
// the input along the innermost dim.
template <typename T>
struct ColArgs {
  const ColGeometry* g;
  int64_t xc, x0, x1;
  const int64_t* lo;
  const int64_t* hi;
  const ColRun* runs;
  int64_t nRuns;
  T* col;  // element [r = 0][c = 0]
  int64_t ld;
};

// Unit-stride float32 kernels for stride 1 along the innermost dim:
//   unfold: col[r][c ...] = x windows (zeros outside the input)
//   fold:   x windows += col[r][c ...]
struct ColKernelsF32 {
  void (*unfold)(const ColArgs<float>& a, const float* x);
  void (*fold)(const ColArgs<float>& a, float* x);
};

// nullptr when the ISA file was not compiled for this architecture.
const ColKernelsF32* avx512ColKernelsF32();
const ColKernelsF32* avx2ColKernelsF32();

}  // namespace cpu
}  // namespace kiln
