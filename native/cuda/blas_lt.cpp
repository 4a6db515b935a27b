// matmulBias through cuBLASLt: out[M, N] = a[M, K] @ b[K, N] + bias[N] as one cublasLtMatmul
// whose epilogue adds the bias (CUBLASLT_EPILOGUE_BIAS), instead of a GEMM and then a
// broadcast-add kernel that reads and writes out once more. PyTorch's linear layers make the same
// call (aten/src/ATen/cuda/CUDABlas.cpp, gemm_and_bias).
//
// Orientation as in blas.cpp: out^T = b^T a^T, so cuBLASLt's D is the contiguous out seen as a
// column-major N x M matrix, its "A" is kiln's b and its "B" kiln's a, each passed as it lies in
// memory with a transpose flag (a layout describes the matrix as stored: op N stores op(X)
// itself, op T its transpose). The epilogue adds a vector of length rows(D) = N to every column
// of D, which is every row of kiln's out: a linear layer's bias.
//
// Only 2-D float32 / float64 products take this path. Anything else (batch dims, int32, an empty
// dim or K = 0, dims above INT_MAX, a cuBLASLt call that fails or a heuristic that finds nothing,
// KILN_CUBLASLT=0 in the environment) runs matmul and then the broadcast add, as the Backend
// default does. The bias is handed over packed (stride 1) and at least 16-byte aligned; a bias
// that is not is copied first (N elements).
//
// The descriptors and the heuristic's algorithm are made once per (dtype, TF32 switch,
// transposes, M, N, K, leading dimensions, pointer alignments) and kept in the Ctx, used under
// its lock; a call then only sets the bias pointer. The alignments are part of the key because the
// heuristic assumes 256-byte aligned matrices unless told otherwise (CUBLASLT_MATMUL_PREF_MIN_
// ALIGNMENT_*_BYTES, set from the actual pointers as PyTorch does) and reads the bias pointer's
// alignment from the descriptor. KILN_CUBLASLT_VERBOSE=1 reports each plan on stderr.
#include <array>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <type_traits>

#include "blas.h"
#include "kernels.h"
#include "libraries.h"

namespace kiln {
namespace cuda {
namespace {

// The most workspace an algorithm may ask for; cuBLAS itself takes 32 MiB on Hopper. Allocated per
// call from the pool's cache, only as much as the chosen algorithm needs (usually nothing).
constexpr uint64_t kMaxWorkspace = uint64_t{32} << 20;
constexpr size_t kMaxPlans = 4096;  // beyond this the cache starts over

bool ltEnabled() {
  static const bool on = [] {
    const char* v = std::getenv("KILN_CUBLASLT");
    return !(v && std::strcmp(v, "0") == 0);
  }();
  return on;
}
bool ltVerbose() {
  static const bool on = [] {
    const char* v = std::getenv("KILN_CUBLASLT_VERBOSE");
    return v && *v && std::strcmp(v, "0") != 0;
  }();
  return on;
}

bool good(cublasStatus_t s) { return s == CUBLAS_STATUS_SUCCESS; }

// The largest power of two up to 256 that divides the address (PyTorch's _getAlignment).
int64_t alignmentOf(const void* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  int64_t al = 256;
  while (al > 1 && a % static_cast<uintptr_t>(al) != 0) al /= 2;
  return al;
}

// One matmul configuration, in cuBLASLt's terms: D [n x m] = op(A) op(B), A = kiln's b, B = a.
struct Shape {
  bool f64 = false, tf32 = false;
  cublasOperation_t opA = CUBLAS_OP_N, opB = CUBLAS_OP_N;
  int64_t m = 0, n = 0, k = 0;  // kiln's M, N, K
  int64_t lda = 0, ldb = 0, ldd = 0;
  int64_t alignA = 0, alignB = 0, alignD = 0, alignBias = 0;
  std::array<int64_t, 14> key() const {
    return {f64, tf32, opA, opB, m, n, k, lda, ldb, ldd, alignA, alignB, alignD, alignBias};
  }
};

struct Plan {
  bool ok = false;
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, ld = nullptr;
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;
};

void destroy(const CublasLt& lt, Plan& p) {
  if (p.desc) lt.matmulDescDestroy(p.desc);
  if (p.la) lt.matrixLayoutDestroy(p.la);
  if (p.lb) lt.matrixLayoutDestroy(p.lb);
  if (p.ld) lt.matrixLayoutDestroy(p.ld);
  p = Plan{};
}

struct Plans {
  cublasLtHandle_t handle = nullptr;
  bool handleFailed = false;
  std::map<std::array<int64_t, 14>, Plan> byKey;
};

Plans& plansFor(Ctx& c) {
  if (!c.ltPlans) c.ltPlans = new Plans();  // lives as long as the Ctx: for the process
  return *static_cast<Plans*>(c.ltPlans);
}

// Descriptors, preference and heuristic for one shape; a Plan with ok = false when any step
// fails or no algorithm fits (the caller then takes the two-step path for this shape for good).
Plan makePlan(const CublasLt& lt, cublasLtHandle_t h, const Shape& s, const void* bias) {
  Plan p;
  const cudaDataType_t type = s.f64 ? CUDA_R_64F : CUDA_R_32F;
  const cublasComputeType_t compute =
      s.f64 ? CUBLAS_COMPUTE_64F : s.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  const int32_t transA = s.opA, transB = s.opB;
  const cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
  const char* step = "cublasLtMatmulDescCreate";
  bool ok = good(lt.matmulDescCreate(&p.desc, compute, type));  // scale type = D's type (alpha, beta)
  ok = ok && (step = "TRANSA", good(lt.matmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &transA,
                                                               sizeof(transA))));
  ok = ok && (step = "TRANSB", good(lt.matmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &transB,
                                                               sizeof(transB))));
  ok = ok && (step = "EPILOGUE", good(lt.matmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue,
                                                                 sizeof(epilogue))));
  ok = ok && (step = "BIAS_POINTER", good(lt.matmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                                     &bias, sizeof(bias))));
  // Layouts of the matrices as stored (column-major): A is op(A) = [n x k] itself or its
  // transpose [k x n]; B likewise [k x m] or [m x k]; D is [n x m].
  const bool nA = s.opA == CUBLAS_OP_N, nB = s.opB == CUBLAS_OP_N;
  ok = ok && (step = "layout A", good(lt.matrixLayoutCreate(&p.la, type, nA ? s.n : s.k, nA ? s.k : s.n, s.lda)));
  ok = ok && (step = "layout B", good(lt.matrixLayoutCreate(&p.lb, type, nB ? s.k : s.m, nB ? s.m : s.k, s.ldb)));
  ok = ok && (step = "layout D", good(lt.matrixLayoutCreate(&p.ld, type, s.n, s.m, s.ldd)));

  cublasLtMatmulPreference_t pref = nullptr;
  ok = ok && (step = "cublasLtMatmulPreferenceCreate", good(lt.matmulPreferenceCreate(&pref)));
  const uint64_t maxWorkspace = kMaxWorkspace;
  const uint32_t alignA = static_cast<uint32_t>(s.alignA), alignB = static_cast<uint32_t>(s.alignB),
                 alignD = static_cast<uint32_t>(s.alignD);
  ok = ok && (step = "MAX_WORKSPACE_BYTES",
              good(lt.matmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &maxWorkspace,
                                                   sizeof(maxWorkspace))));
  ok = ok && (step = "MIN_ALIGNMENT_A_BYTES",
              good(lt.matmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &alignA,
                                                   sizeof(alignA))));
  ok = ok && (step = "MIN_ALIGNMENT_B_BYTES",
              good(lt.matmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &alignB,
                                                   sizeof(alignB))));
  ok = ok && (step = "MIN_ALIGNMENT_C_BYTES",
              good(lt.matmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &alignD,
                                                   sizeof(alignD))));
  ok = ok && (step = "MIN_ALIGNMENT_D_BYTES",
              good(lt.matmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &alignD,
                                                   sizeof(alignD))));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  ok = ok && (step = "cublasLtMatmulAlgoGetHeuristic",
              good(lt.matmulAlgoGetHeuristic(h, p.desc, p.la, p.lb, p.ld, p.ld, pref, 1, &result, &found)));
  ok = ok && (step = "no algorithm", found > 0 && good(result.state) && result.workspaceSize <= kMaxWorkspace);
  if (pref) lt.matmulPreferenceDestroy(pref);

  if (ltVerbose())
    std::fprintf(stderr, "kiln cuBLASLt matmulBias %s%s M=%lld N=%lld K=%lld op(b)=%c op(a)=%c: %s (workspace %zu)\n",
                 s.f64 ? "float64" : "float32", s.tf32 && !s.f64 ? " tf32" : "", static_cast<long long>(s.m),
                 static_cast<long long>(s.n), static_cast<long long>(s.k), nA ? 'N' : 'T', nB ? 'N' : 'T',
                 ok ? "fused" : step, ok ? result.workspaceSize : size_t{0});
  if (!ok) {
    destroy(lt, p);
    return p;
  }
  p.ok = true;
  p.algo = result.algo;
  p.workspace = result.workspaceSize;
  return p;
}

// The fused call; false when this product cannot take it (nothing was written then, or the
// two-step path overwrites all of out anyway).
template <typename T>
bool matmulBiasLt(Ctx& c, const View& out, View a, View b, View bias) {
  const CublasLt* lt = cublasLt();
  if (!lt || !ltEnabled() || out.ndim() != 2) return false;
  const int64_t M = out.size(0), N = out.size(1), K = a.size(1);
  if (M == 0 || N == 0 || K == 0 || M > INT_MAX || N > INT_MAX || K > INT_MAX) return false;
  // D must be the dense column-major N x M matrix that a contiguous out is (ld = N = rows(D)).
  if ((N > 1 && out.stride(1) != 1) || (M > 1 && out.stride(0) != N)) return false;

  Plans& plans = plansFor(c);
  if (!plans.handle) {
    if (plans.handleFailed) return false;
    cublasLtHandle_t h = nullptr;
    if (!good(lt->create(&h))) {
      plans.handleFailed = true;
      return false;
    }
    plans.handle = h;
  }

  std::unique_ptr<Scratch> aCopy, bCopy, biasCopy;
  Mat ma = describe(M, K, a.stride(0), a.stride(1));
  Mat mb = describe(K, N, b.stride(0), b.stride(1));
  if (!ma.ok) {
    a = contiguousCopy(c, a, aCopy);
    ma = describe(M, K, a.stride(0), a.stride(1));
  }
  if (!mb.ok) {
    b = contiguousCopy(c, b, bCopy);
    mb = describe(K, N, b.stride(0), b.stride(1));
  }
  if ((N > 1 && bias.stride(0) != 1) || alignmentOf(bias.at<T>()) < 16) {
    bias = contiguousCopy(c, bias, biasCopy);
    if (alignmentOf(bias.at<T>()) < 16) return false;
  }

  Shape s;
  s.f64 = std::is_same<T, double>::value;
  s.tf32 = !s.f64 && allowTF32();
  s.opA = mb.colMajor ? CUBLAS_OP_T : CUBLAS_OP_N;
  s.opB = ma.colMajor ? CUBLAS_OP_T : CUBLAS_OP_N;
  s.m = M;
  s.n = N;
  s.k = K;
  s.lda = mb.ld;
  s.ldb = ma.ld;
  s.ldd = N;
  s.alignA = alignmentOf(b.at<T>());
  s.alignB = alignmentOf(a.at<T>());
  s.alignD = alignmentOf(out.at<T>());
  s.alignBias = alignmentOf(bias.at<T>());

  const std::array<int64_t, 14> key = s.key();
  auto it = plans.byKey.find(key);
  if (it == plans.byKey.end()) {
    if (plans.byKey.size() >= kMaxPlans) {
      for (auto& kv : plans.byKey) destroy(*lt, kv.second);
      plans.byKey.clear();
    }
    it = plans.byKey.emplace(key, makePlan(*lt, plans.handle, s, bias.at<T>())).first;
  }
  Plan& p = it->second;
  if (!p.ok) return false;
  const void* biasPtr = bias.at<T>();
  if (!good(lt->matmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &biasPtr, sizeof(biasPtr))))
    return false;
  std::unique_ptr<Scratch> workspace;
  if (p.workspace > 0) workspace = std::make_unique<Scratch>(c, p.workspace);
  const T one = 1, zero = 0;
  const cublasStatus_t st =
      lt->matmul(plans.handle, p.desc, &one, b.at<T>(), p.la, a.at<T>(), p.lb, &zero, out.at<T>(), p.ld,
                 out.at<T>(), p.ld, &p.algo, workspace ? workspace->as<void>() : nullptr, p.workspace, c.stream);
  if (!good(st)) {
    if (ltVerbose()) std::fprintf(stderr, "kiln cuBLASLt matmulBias: cublasLtMatmul failed (status %d)\n", st);
    destroy(*lt, p);  // ok = false from now on: this shape takes the two-step path
    return false;
  }
  return true;
}

// The Backend default: matmul, then the bias added in place as a stride-0 broadcast view.
void matmulThenAdd(Ctx& c, const View& out, const View& a, const View& b, const View& bias) {
  matmul(c, out, a, b);
  binary(c, BinaryOp::Add, out, out, rowBroadcast(bias, out));
}

}  // namespace

void matmulBias(Ctx& c, const View& out, const View& a, const View& b, const View& bias) {
  bool fused = false;
  if (out.dtype == DType::Float32) fused = matmulBiasLt<float>(c, out, a, b, bias);
  if (out.dtype == DType::Float64) fused = matmulBiasLt<double>(c, out, a, b, bias);
  if (!fused) matmulThenAdd(c, out, a, b, bias);
}

}  // namespace cuda
}  // namespace kiln
