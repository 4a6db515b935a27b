// matmul through cuBLAS (float32: sgemm, float64: dgemm; strided-batched for batch dims).
//
// cuBLAS is column-major and kiln row-major, so out = a @ b is computed as out^T = b^T a^T: the
// contiguous row-major out[M, N] is exactly a column-major N x M matrix with leading dimension
// N. Each operand is passed as it lies in memory: a row-major view (inner stride 1) is a
// column-major matrix of the transposed shape (op N), a transposed view (outer stride 1, e.g.
// x.t() of a contiguous x) is a column-major matrix of its own shape (op T). Only operands with
// neither stride 1 (or a zero or negative stride, or batch dims that no single stride
// describes) are first copied to contiguous memory.
//
// TF32 tensor-core math is off unless kiln.backends.cuda.allowTF32 is set (setAllowTF32).
#include <algorithm>
#include <climits>
#include <cstdint>
#include <memory>
#include <type_traits>

#include "blas.h"
#include "kernels.h"
#include "libraries.h"
#include "strided.cuh"

namespace kiln {
namespace cuda {

Mat describe(int64_t rows, int64_t cols, int64_t sr, int64_t sc) {
  Mat m;
  const int64_t r1 = std::max<int64_t>(rows, 1), c1 = std::max<int64_t>(cols, 1);
  // Row-major: elements of a row adjacent, rows ld >= cols apart (a stride of a size-1 dim is free).
  if ((cols == 1 || sc == 1) && (rows == 1 || sr >= c1)) {
    m.ok = true;
    m.ld = rows == 1 ? c1 : sr;
  } else if ((rows == 1 || sr == 1) && (cols == 1 || sc >= r1)) {
    m.ok = true;
    m.colMajor = true;
    m.ld = cols == 1 ? r1 : sc;
  }
  m.ok = m.ok && m.ld <= INT_MAX;
  return m;
}

View contiguousCopy(Ctx& c, const View& v, std::unique_ptr<Scratch>& buf) {
  buf = std::make_unique<Scratch>(c, static_cast<size_t>(v.numel()) * dtypeSize(v.dtype));
  View dst;
  dst.dtype = v.dtype;
  dst.layout = Layout::contiguous(v.ndim(), v.layout.shape);
  dst.data = buf->as<void>();
  copy(c, dst, v);
  return dst;
}

namespace {

cublasHandle_t handleFor(Ctx& c) {
  if (!c.cublasHandle) {
    cublasHandle_t h = nullptr;
    checkCublas(cublas().create(&h), "cublasCreate");
    c.cublasHandle = h;
    checkCublas(cublas().setStream(h, c.stream), "cublasSetStream");
    checkCublas(cublas().setMathMode(h, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    c.cublasTF32 = false;
  }
  cublasHandle_t h = static_cast<cublasHandle_t>(c.cublasHandle);
  if (allowTF32() != c.cublasTF32) {
    checkCublas(cublas().setMathMode(h, allowTF32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
                "cublasSetMathMode");
    c.cublasTF32 = allowTF32();
  }
  return h;
}

template <typename T>
void gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const T* A, int lda,
          long long sA, const T* B, int ldb, long long sB, T* C, int ldc, long long sC, int batch) {
  const T one = 1, zero = 0;
  if constexpr (std::is_same<T, float>::value) {
    if (batch == 1)
      checkCublas(cublas().sgemm(h, ta, tb, m, n, k, &one, A, lda, B, ldb, &zero, C, ldc), "cublasSgemm");
    else
      checkCublas(cublas().sgemmStridedBatched(h, ta, tb, m, n, k, &one, A, lda, sA, B, ldb, sB, &zero, C, ldc, sC,
                                               batch),
                  "cublasSgemmStridedBatched");
  } else {
    if (batch == 1)
      checkCublas(cublas().dgemm(h, ta, tb, m, n, k, &one, A, lda, B, ldb, &zero, C, ldc), "cublasDgemm");
    else
      checkCublas(cublas().dgemmStridedBatched(h, ta, tb, m, n, k, &one, A, lda, sA, B, ldb, sB, &zero, C, ldc, sC,
                                               batch),
                  "cublasDgemmStridedBatched");
  }
}

// The batch dims of out, a and b as one stride each, if they can be.
bool batchStrides(const View& out, const View& a, const View& b, int64_t* count, int64_t (&stride)[3]) {
  const int nb = out.ndim() - 2;
  const int64_t* s[3] = {out.layout.strides, a.layout.strides, b.layout.strides};
  const Coalesced<3> co = coalesce<3>(nb, out.layout.shape, s, /*sortByFirst=*/false);
  *count = co.numel;
  if (co.ndim > 1) return false;
  for (int k = 0; k < 3; k++) stride[k] = co.ndim == 1 ? co.strides[k][0] : 0;
  return true;
}

template <typename T>
void matmulBlas(Ctx& c, const View& out, View a, View b) {
  const int n = out.ndim();
  const int64_t M = out.size(n - 2), N = out.size(n - 1), K = a.size(n - 1);
  int64_t batch = 1;
  for (int d = 0; d < n - 2; d++) batch *= out.size(d);
  if (batch == 0 || M == 0 || N == 0) return;
  if (K == 0) {  // an empty sum: zeros
    KILN_CUDA_CHECK(cudaMemsetAsync(out.at<T>(), 0, static_cast<size_t>(out.numel()) * sizeof(T), c.stream));
    return;
  }
  if (M > INT_MAX || N > INT_MAX || K > INT_MAX)
    fail(ErrorKind::Shape, "matmul: dimensions above 2^31 - 1 are not supported on CUDA (M=", M, ", N=", N, ", K=", K, ")");

  std::unique_ptr<Scratch> aCopy, bCopy;
  Mat ma = describe(M, K, a.stride(n - 2), a.stride(n - 1));
  Mat mb = describe(K, N, b.stride(n - 2), b.stride(n - 1));
  int64_t count = 1, bs[3] = {0, 0, 0};
  const bool batchOk = batchStrides(out, a, b, &count, bs);
  if (!ma.ok || !batchOk) {
    a = contiguousCopy(c, a, aCopy);
    ma = describe(M, K, a.stride(n - 2), a.stride(n - 1));
  }
  if (!mb.ok || !batchOk) {
    b = contiguousCopy(c, b, bCopy);
    mb = describe(K, N, b.stride(n - 2), b.stride(n - 1));
  }
  // A copied operand has new batch strides (contiguous ones, which always coalesce).
  if ((aCopy || bCopy) && !batchStrides(out, a, b, &count, bs))
    fail(ErrorKind::Kiln, "matmul: internal error: contiguous operands do not batch");

  cublasHandle_t h = handleFor(c);
  const cublasOperation_t opB = mb.colMajor ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t opA = ma.colMajor ? CUBLAS_OP_T : CUBLAS_OP_N;
  // batchCount is an int: split larger batches.
  constexpr int64_t kMaxBatch = int64_t{1} << 30;
  for (int64_t b0 = 0; b0 < count; b0 += kMaxBatch) {
    const int nbatch = static_cast<int>(std::min(kMaxBatch, count - b0));
    gemm<T>(h, opB, opA, static_cast<int>(N), static_cast<int>(M), static_cast<int>(K), b.at<T>() + b0 * bs[2],
            static_cast<int>(mb.ld), bs[2], a.at<T>() + b0 * bs[1], static_cast<int>(ma.ld), bs[1],
            out.at<T>() + b0 * bs[0], static_cast<int>(N), bs[0], nbatch);
  }
}

}  // namespace

void matmul(Ctx& c, const View& out, const View& a, const View& b) {
  switch (out.dtype) {
    case DType::Float32: return matmulBlas<float>(c, out, a, b);
    case DType::Float64: return matmulBlas<double>(c, out, a, b);
    case DType::Int32: return matmulInt32(c, out, a, b);
    case DType::Bool: break;
  }
}

}  // namespace cuda
}  // namespace kiln
