// The NVIDIA libraries the plugin opens at run time by soname: the driver (libcuda.so.1, only to
// name a missing or too old driver precisely), cuBLAS / cuBLASLt 13 and cuDNN 9.
//
// The build machines have no cuBLAS or cuDNN headers, so the few types, enum values and
// functions used are declared here, as the public API references give them (cublas_api.h of
// CUDA 13, cudnn_graph.h of cuDNN 9). Only what kiln calls is declared.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <string>

namespace kiln {
namespace cuda {

// ---------------------------------------------------------------- cuBLAS
typedef struct cublasContext* cublasHandle_t;
typedef int cublasStatus_t;  // enum cublasStatus_t
constexpr cublasStatus_t CUBLAS_STATUS_SUCCESS = 0;
constexpr cublasStatus_t CUBLAS_STATUS_ALLOC_FAILED = 3;
typedef int cublasOperation_t;  // enum cublasOperation_t
constexpr cublasOperation_t CUBLAS_OP_N = 0;
constexpr cublasOperation_t CUBLAS_OP_T = 1;
typedef int cublasMath_t;  // enum cublasMath_t
constexpr cublasMath_t CUBLAS_DEFAULT_MATH = 0;
constexpr cublasMath_t CUBLAS_TF32_TENSOR_OP_MATH = 3;
typedef int libraryPropertyType;  // enum libraryPropertyType_t
constexpr libraryPropertyType MAJOR_VERSION = 0;
constexpr libraryPropertyType MINOR_VERSION = 1;
constexpr libraryPropertyType PATCH_LEVEL = 2;

struct Cublas {
  cublasStatus_t (*create)(cublasHandle_t*);                       // cublasCreate_v2
  cublasStatus_t (*destroy)(cublasHandle_t);                       // cublasDestroy_v2
  cublasStatus_t (*setStream)(cublasHandle_t, cudaStream_t);       // cublasSetStream_v2
  cublasStatus_t (*setMathMode)(cublasHandle_t, cublasMath_t);     // cublasSetMathMode
  cublasStatus_t (*getProperty)(libraryPropertyType, int*);        // cublasGetProperty
  const char* (*statusString)(cublasStatus_t);                     // cublasGetStatusString
  cublasStatus_t (*sgemm)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const float*,
                          const float*, int, const float*, int, const float*, float*, int);  // cublasSgemm_v2
  cublasStatus_t (*dgemm)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const double*,
                          const double*, int, const double*, int, const double*, double*, int);  // cublasDgemm_v2
  cublasStatus_t (*sgemmStridedBatched)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                        const float*, const float*, int, long long, const float*, int, long long,
                                        const float*, float*, int, long long, int);
  cublasStatus_t (*dgemmStridedBatched)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                        const double*, const double*, int, long long, const double*, int, long long,
                                        const double*, double*, int, long long, int);
};

// ---------------------------------------------------------------- cuBLASLt (loaded so a missing
// library is reported up front; cuBLAS itself depends on it)
struct CublasLt {
  size_t (*getVersion)();  // cublasLtGetVersion
};

// ---------------------------------------------------------------- cuDNN
typedef struct cudnnContext* cudnnHandle_t;
typedef int cudnnStatus_t;
constexpr cudnnStatus_t CUDNN_STATUS_SUCCESS = 0;

struct Cudnn {
  size_t (*getVersion)();                                  // cudnnGetVersion
  cudnnStatus_t (*create)(cudnnHandle_t*);                 // cudnnCreate
  cudnnStatus_t (*destroy)(cudnnHandle_t);                 // cudnnDestroy
  cudnnStatus_t (*setStream)(cudnnHandle_t, cudaStream_t); // cudnnSetStream
  const char* (*errorString)(cudnnStatus_t);               // cudnnGetErrorString
};

// Opens the driver, counts devices and opens the libraries, in that order. Returns "" when all
// is well (and sets *deviceCount), else the reason CUDA cannot be used. Runs once; later calls
// return the first answer.
std::string probe(int* deviceCount);

// Valid after a successful probe().
const Cublas& cublas();
const Cudnn& cudnn();
std::string versions();

// Throws a DeviceError naming the cuBLAS call and status when st is not success.
void checkCublas(cublasStatus_t st, const char* what);
// Same for cuDNN.
void checkCudnn(cudnnStatus_t st, const char* what);

}  // namespace cuda
}  // namespace kiln
