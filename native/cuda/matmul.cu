// int32 matmul, which cuBLAS does not offer: a 16 x 16 shared-memory tiled kernel reading any
// strides directly. Products and sums wrap around in 32 bits, like the CPU's exact int32 result.
#include <cstdint>

#include "kernels.h"
#include "map.cuh"

namespace kiln {
namespace cuda {
namespace {

constexpr int kTile = 16;

struct MatmulParams {
  OffsetCalc<3> batch;  // (out, a, b) offsets of batch index z
  uint32_t batches;
  int64_t M, N, K;
  int64_t aRow, aCol, bRow, bCol, outRow, outCol;
};

__global__ void matmulInt32Kernel(int32_t* out, const int32_t* a, const int32_t* b, MatmulParams p) {
  __shared__ uint32_t ta[kTile][kTile];
  __shared__ uint32_t tb[kTile][kTile];
  const int64_t row = static_cast<int64_t>(blockIdx.y) * kTile + threadIdx.y;
  const int64_t col = static_cast<int64_t>(blockIdx.x) * kTile + threadIdx.x;
  for (uint32_t z = blockIdx.z; z < p.batches; z += gridDim.z) {
    int64_t offs[3];
    p.batch.get(z, offs);
    uint32_t acc = 0;
    for (int64_t k0 = 0; k0 < p.K; k0 += kTile) {
      const int64_t ka = k0 + threadIdx.x, kb = k0 + threadIdx.y;
      ta[threadIdx.y][threadIdx.x] =
          row < p.M && ka < p.K ? static_cast<uint32_t>(a[offs[1] + row * p.aRow + ka * p.aCol]) : 0u;
      tb[threadIdx.y][threadIdx.x] =
          kb < p.K && col < p.N ? static_cast<uint32_t>(b[offs[2] + kb * p.bRow + col * p.bCol]) : 0u;
      __syncthreads();
#pragma unroll
      for (int k = 0; k < kTile; k++) acc += ta[threadIdx.y][k] * tb[k][threadIdx.x];
      __syncthreads();
    }
    if (row < p.M && col < p.N) out[offs[0] + row * p.outRow + col * p.outCol] = static_cast<int32_t>(acc);
  }
}

}  // namespace

void matmulInt32(Ctx& c, const View& out, const View& a, const View& b) {
  const int n = out.ndim();
  MatmulParams p;
  p.M = out.size(n - 2);
  p.N = out.size(n - 1);
  p.K = a.size(n - 1);
  p.aRow = a.stride(n - 2);
  p.aCol = a.stride(n - 1);
  p.bRow = b.stride(n - 2);
  p.bCol = b.stride(n - 1);
  p.outRow = out.stride(n - 2);
  p.outCol = out.stride(n - 1);
  const int64_t* s[3] = {out.layout.strides, a.layout.strides, b.layout.strides};
  const Coalesced<3> batch = coalesce<3>(n - 2, out.layout.shape, s, /*sortByFirst=*/false);
  if (batch.numel == 0 || p.M == 0 || p.N == 0) return;
  if (batch.numel > kMaxChunk) fail(ErrorKind::Kiln, "matmul: 2^31 or more batches are not supported on CUDA");
  const int64_t gx = (p.N + kTile - 1) / kTile, gy = (p.M + kTile - 1) / kTile;
  if (gx > INT32_MAX || gy > 65535) fail(ErrorKind::Shape, "matmul: int32 output too large for CUDA (", p.M, "x", p.N, ")");
  p.batch = OffsetCalc<3>(batch);
  p.batches = static_cast<uint32_t>(batch.numel);
  const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy),
                  static_cast<unsigned>(std::min<int64_t>(batch.numel, 65535)));
  matmulInt32Kernel<<<grid, dim3(kTile, kTile), 0, c.stream>>>(out.at<int32_t>(), a.at<int32_t>(), b.at<int32_t>(), p);
  KILN_CHECK_LAUNCH();
}

}  // namespace cuda
}  // namespace kiln
