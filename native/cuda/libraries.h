// The NVIDIA libraries the plugin opens at run time by soname: the driver (libcuda.so.1, only to
// name a missing or too old driver precisely), cuBLAS / cuBLASLt 13 and cuDNN 9.
//
// The build machines have no cuBLAS or cuDNN headers, so the few types, enum values and
// functions used are declared here, as the public API references give them (cublas_api.h of
// CUDA 13; cudnn_graph.h, cudnn_ops.h, cudnn_cnn.h and cudnn_adv.h of cuDNN 9). Only what kiln
// calls is declared.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
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
// library is reported up front; cuBLAS itself depends on it). The matmul functions serve
// matmulBias (blas_lt.cpp), which falls back to cuBLAS and an add without them.
// Followed: cublasLt.h as NVIDIA ships it (the CUDA 11 copy vendored in llama.cpp,
// include/cuda/cublasLt.h: signatures, descriptor / preference / epilogue enums, the heuristic
// result struct; the enums have explicit values, kept since), with PyTorch's
// aten/src/ATen/cuda/CUDABlas.cpp gemm_and_bias as the reference call sequence. Second sources:
// the matmul descriptor attributes against nvmath-python's generated cuBLASLt bindings
// (docs.nvidia.com, nvmath.bindings.cublasLt.MatmulDescAttribute: TRANSA 3, TRANSB 4, EPILOGUE 7,
// BIAS_POINTER 8); compute types, preference attributes and CUBLASLT_EPILOGUE_BIAS against
// independent hand-written declarations in other public projects (same numbers). The cudaDataType_t
// values come from CUDA's own library_types.h.
typedef struct cublasLtContext* cublasLtHandle_t;
typedef struct cublasLtMatmulDescOpaque* cublasLtMatmulDesc_t;        // opaque: only created, never read
typedef struct cublasLtMatrixLayoutOpaque* cublasLtMatrixLayout_t;
typedef struct cublasLtMatmulPreferenceOpaque* cublasLtMatmulPreference_t;
struct cublasLtMatmulAlgo_t {
  uint64_t data[8];
};
struct cublasLtMatmulHeuristicResult_t {
  cublasLtMatmulAlgo_t algo;
  size_t workspaceSize;
  cublasStatus_t state;
  float wavesCount;
  int reserved[4];
};
static_assert(sizeof(cublasLtMatmulHeuristicResult_t) == 96 && offsetof(cublasLtMatmulHeuristicResult_t, state) == 72,
              "cuBLASLt's heuristic result layout (x86-64 / aarch64 Linux)");
typedef int cublasComputeType_t;  // enum cublasComputeType_t (cublas_api.h)
constexpr cublasComputeType_t CUBLAS_COMPUTE_32F = 68;
constexpr cublasComputeType_t CUBLAS_COMPUTE_32F_FAST_TF32 = 77;
constexpr cublasComputeType_t CUBLAS_COMPUTE_64F = 70;
typedef int cublasLtMatmulDescAttributes_t;  // enum; sizes of the values as the header states
constexpr cublasLtMatmulDescAttributes_t CUBLASLT_MATMUL_DESC_TRANSA = 3;        // int32_t (cublasOperation_t)
constexpr cublasLtMatmulDescAttributes_t CUBLASLT_MATMUL_DESC_TRANSB = 4;        // int32_t
constexpr cublasLtMatmulDescAttributes_t CUBLASLT_MATMUL_DESC_EPILOGUE = 7;      // uint32_t (cublasLtEpilogue_t)
constexpr cublasLtMatmulDescAttributes_t CUBLASLT_MATMUL_DESC_BIAS_POINTER = 8;  // const void*
typedef uint32_t cublasLtEpilogue_t;
// "Apply (broadcasted) bias from the bias vector. Bias vector length must match matrix D rows, it
// must be packed (stride between vector elements is 1). Bias vector is broadcasted to all columns"
// of the column-major D; bias elements have D's type (for float/double).
constexpr cublasLtEpilogue_t CUBLASLT_EPILOGUE_BIAS = 4;
typedef int cublasLtMatmulPreferenceAttributes_t;
constexpr cublasLtMatmulPreferenceAttributes_t CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1;    // uint64_t
constexpr cublasLtMatmulPreferenceAttributes_t CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5;  // uint32_t, default 256
constexpr cublasLtMatmulPreferenceAttributes_t CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6;
constexpr cublasLtMatmulPreferenceAttributes_t CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7;
constexpr cublasLtMatmulPreferenceAttributes_t CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8;

struct CublasLt {
  size_t (*getVersion)();  // cublasLtGetVersion
  cublasStatus_t (*create)(cublasLtHandle_t*);  // cublasLtCreate
  cublasStatus_t (*matmulDescCreate)(cublasLtMatmulDesc_t*, cublasComputeType_t computeType,
                                     cudaDataType_t scaleType);
  cublasStatus_t (*matmulDescDestroy)(cublasLtMatmulDesc_t);
  cublasStatus_t (*matmulDescSetAttribute)(cublasLtMatmulDesc_t, cublasLtMatmulDescAttributes_t, const void* buf,
                                           size_t sizeInBytes);
  cublasStatus_t (*matrixLayoutCreate)(cublasLtMatrixLayout_t*, cudaDataType_t type, uint64_t rows, uint64_t cols,
                                       int64_t ld);  // column-major unless CUBLASLT_MATRIX_LAYOUT_ORDER says otherwise
  cublasStatus_t (*matrixLayoutDestroy)(cublasLtMatrixLayout_t);
  cublasStatus_t (*matmulPreferenceCreate)(cublasLtMatmulPreference_t*);
  cublasStatus_t (*matmulPreferenceDestroy)(cublasLtMatmulPreference_t);
  cublasStatus_t (*matmulPreferenceSetAttribute)(cublasLtMatmulPreference_t, cublasLtMatmulPreferenceAttributes_t,
                                                 const void* buf, size_t sizeInBytes);
  cublasStatus_t (*matmulAlgoGetHeuristic)(cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t Adesc,
                                           cublasLtMatrixLayout_t Bdesc, cublasLtMatrixLayout_t Cdesc,
                                           cublasLtMatrixLayout_t Ddesc, cublasLtMatmulPreference_t,
                                           int requestedAlgoCount, cublasLtMatmulHeuristicResult_t results[],
                                           int* returnAlgoCount);
  // D = alpha op(A) op(B) + beta C; alpha and beta on the host, of the descriptor's scale type.
  cublasStatus_t (*matmul)(cublasLtHandle_t, cublasLtMatmulDesc_t, const void* alpha, const void* A,
                           cublasLtMatrixLayout_t Adesc, const void* B, cublasLtMatrixLayout_t Bdesc,
                           const void* beta, const void* C, cublasLtMatrixLayout_t Cdesc, void* D,
                           cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t* algo, void* workspace,
                           size_t workspaceSizeInBytes, cudaStream_t stream);
};

// ---------------------------------------------------------------- cuDNN
// Followed: cuDNN 9.6's cudnn_graph.h (handle, status, data type, math type, tensor format,
// convolution mode), cudnn_ops.h (tensor and filter descriptors, determinism) and cudnn_cnn.h
// (convolution descriptor, algorithm perf structs, the convolution functions). Checked against
// a second, independent copy: the bindgen output of cuDNN 9.13 in ZLUDA (same enum values, same
// perf struct fields), and the perf struct offsets against bindgen's layout tests (size 48).
// C enums are int-sized, so they are declared as int.
typedef struct cudnnContext* cudnnHandle_t;
typedef int cudnnStatus_t;
constexpr cudnnStatus_t CUDNN_STATUS_SUCCESS = 0;
constexpr cudnnStatus_t CUDNN_STATUS_NOT_SUPPORTED = 3000;  // a category: 3000..3999 are its details
typedef struct cudnnTensorStruct* cudnnTensorDescriptor_t;
typedef struct cudnnFilterStruct* cudnnFilterDescriptor_t;
typedef struct cudnnConvolutionStruct* cudnnConvolutionDescriptor_t;
typedef int cudnnDataType_t;  // enum cudnnDataType_t
constexpr cudnnDataType_t CUDNN_DATA_FLOAT = 0;
constexpr cudnnDataType_t CUDNN_DATA_DOUBLE = 1;
typedef int cudnnTensorFormat_t;  // enum cudnnTensorFormat_t
constexpr cudnnTensorFormat_t CUDNN_TENSOR_NCHW = 0;
typedef int cudnnConvolutionMode_t;  // enum cudnnConvolutionMode_t
constexpr cudnnConvolutionMode_t CUDNN_CROSS_CORRELATION = 1;
typedef int cudnnMathType_t;  // enum cudnnMathType_t
constexpr cudnnMathType_t CUDNN_DEFAULT_MATH = 0;
constexpr cudnnMathType_t CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION = 2;
constexpr cudnnMathType_t CUDNN_FMA_MATH = 3;
typedef int cudnnDeterminism_t;             // enum cudnnDeterminism_t
typedef int cudnnConvolutionFwdAlgo_t;      // enum: values 0 .. cudnnGetConvolutionForwardAlgorithmMaxCount - 1
typedef int cudnnConvolutionBwdDataAlgo_t;  // enum: values 0 .. ...BackwardDataAlgorithmMaxCount - 1
typedef int cudnnConvolutionBwdFilterAlgo_t;  // enum: values 0 .. ...BackwardFilterAlgorithmMaxCount - 1

// cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionBwdDataAlgoPerf_t and
// cudnnConvolutionBwdFilterAlgoPerf_t share this layout (only the enum type of `algo` differs).
struct cudnnConvolutionAlgoPerf_t {
  int algo;
  cudnnStatus_t status;
  float time;
  size_t memory;
  cudnnDeterminism_t determinism;
  cudnnMathType_t mathType;
  int reserved[3];
};
static_assert(sizeof(cudnnConvolutionAlgoPerf_t) == 48 && offsetof(cudnnConvolutionAlgoPerf_t, memory) == 16 &&
                  offsetof(cudnnConvolutionAlgoPerf_t, mathType) == 28,
              "cuDNN's algorithm perf struct layout (x86-64 / aarch64 Linux)");

// The RNN API (cudnn_adv.h of cuDNN 9, the v8 functions; the dropout descriptor is cudnn_ops.h's).
// Values checked against cuDNN 8's cudnn_adv_infer.h / cudnn_adv_train.h and the bindgen output of
// cuDNN 9 in ZLUDA's cudnn9 bindings (the same values); signatures against cuDNN 8's headers and
// PyTorch's aten/src/ATen/native/cudnn (RNN.cpp, Descriptors.h), which call them.
typedef struct cudnnDropoutStruct* cudnnDropoutDescriptor_t;
typedef struct cudnnRNNStruct* cudnnRNNDescriptor_t;
typedef struct cudnnRNNDataStruct* cudnnRNNDataDescriptor_t;
typedef int cudnnRNNAlgo_t;  // enum cudnnRNNAlgo_t
constexpr cudnnRNNAlgo_t CUDNN_RNN_ALGO_STANDARD = 0;
typedef int cudnnRNNMode_t;  // enum cudnnRNNMode_t: RELU 0, TANH 1, LSTM 2, GRU 3
constexpr cudnnRNNMode_t CUDNN_LSTM = 2;
typedef int cudnnRNNBiasMode_t;  // enum cudnnRNNBiasMode_t: NO_BIAS 0, SINGLE_INP 1, DOUBLE 2, SINGLE_REC 3
constexpr cudnnRNNBiasMode_t CUDNN_RNN_SINGLE_INP_BIAS = 1;
typedef int cudnnDirectionMode_t;  // enum cudnnDirectionMode_t
constexpr cudnnDirectionMode_t CUDNN_UNIDIRECTIONAL = 0;
typedef int cudnnRNNInputMode_t;  // enum cudnnRNNInputMode_t: LINEAR 0, SKIP 1
constexpr cudnnRNNInputMode_t CUDNN_LINEAR_INPUT = 0;
typedef int cudnnRNNDataLayout_t;  // enum: SEQ_MAJOR_UNPACKED 0, SEQ_MAJOR_PACKED 1, BATCH_MAJOR_UNPACKED 2
constexpr cudnnRNNDataLayout_t CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED = 0;
typedef int cudnnForwardMode_t;  // enum cudnnForwardMode_t
constexpr cudnnForwardMode_t CUDNN_FWD_MODE_INFERENCE = 0;
constexpr cudnnForwardMode_t CUDNN_FWD_MODE_TRAINING = 1;
typedef int cudnnWgradMode_t;  // enum cudnnWgradMode_t
constexpr cudnnWgradMode_t CUDNN_WGRAD_MODE_ADD = 0;
// cudnnSetRNNDescriptor_v8's auxFlags (#defines in cudnn_adv.h).
constexpr uint32_t CUDNN_RNN_PADDED_IO_DISABLED = 0;
constexpr uint32_t CUDNN_RNN_PADDED_IO_ENABLED = 1;

// The RNN functions, bound separately from the rest (Cudnn::rnn): a cuDNN without them leaves
// CUDA usable and only the cuDNN LSTM path unsupported.
struct CudnnRnn {
  // cudnn_ops.h
  cudnnStatus_t (*createDropoutDescriptor)(cudnnDropoutDescriptor_t*);
  cudnnStatus_t (*destroyDropoutDescriptor)(cudnnDropoutDescriptor_t);
  cudnnStatus_t (*setDropoutDescriptor)(cudnnDropoutDescriptor_t, cudnnHandle_t, float dropout, void* states,
                                        size_t stateSizeInBytes, unsigned long long seed);
  cudnnStatus_t (*getTensorNdDescriptor)(cudnnTensorDescriptor_t, int nbDimsRequested, cudnnDataType_t* dataType,
                                         int* nbDims, int dimA[], int strideA[]);
  // cudnn_adv.h
  cudnnStatus_t (*createRNNDescriptor)(cudnnRNNDescriptor_t*);
  cudnnStatus_t (*destroyRNNDescriptor)(cudnnRNNDescriptor_t);
  cudnnStatus_t (*setRNNDescriptor_v8)(cudnnRNNDescriptor_t, cudnnRNNAlgo_t algo, cudnnRNNMode_t cellMode,
                                       cudnnRNNBiasMode_t biasMode, cudnnDirectionMode_t dirMode,
                                       cudnnRNNInputMode_t inputMode, cudnnDataType_t dataType,
                                       cudnnDataType_t mathPrec, cudnnMathType_t mathType, int32_t inputSize,
                                       int32_t hiddenSize, int32_t projSize, int32_t numLayers,
                                       cudnnDropoutDescriptor_t dropoutDesc, uint32_t auxFlags);
  cudnnStatus_t (*createRNNDataDescriptor)(cudnnRNNDataDescriptor_t*);
  cudnnStatus_t (*destroyRNNDataDescriptor)(cudnnRNNDataDescriptor_t);
  cudnnStatus_t (*setRNNDataDescriptor)(cudnnRNNDataDescriptor_t, cudnnDataType_t dataType,
                                        cudnnRNNDataLayout_t layout, int maxSeqLength, int batchSize,
                                        int vectorSize, const int seqLengthArray[], void* paddingFill);
  cudnnStatus_t (*getRNNWeightSpaceSize)(cudnnHandle_t, cudnnRNNDescriptor_t, size_t* weightSpaceSize);
  cudnnStatus_t (*getRNNTempSpaceSizes)(cudnnHandle_t, cudnnRNNDescriptor_t, cudnnForwardMode_t fwdMode,
                                        cudnnRNNDataDescriptor_t xDesc, size_t* workSpaceSize,
                                        size_t* reserveSpaceSize);
  cudnnStatus_t (*getRNNWeightParams)(cudnnHandle_t, cudnnRNNDescriptor_t, int32_t pseudoLayer,
                                      size_t weightSpaceSize, const void* weightSpace, int32_t linLayerID,
                                      cudnnTensorDescriptor_t mDesc, void** mAddr, cudnnTensorDescriptor_t bDesc,
                                      void** bAddr);
  cudnnStatus_t (*forward)(cudnnHandle_t, cudnnRNNDescriptor_t, cudnnForwardMode_t fwdMode,
                           const int32_t devSeqLengths[], cudnnRNNDataDescriptor_t xDesc, const void* x,
                           cudnnRNNDataDescriptor_t yDesc, void* y, cudnnTensorDescriptor_t hDesc, const void* hx,
                           void* hy, cudnnTensorDescriptor_t cDesc, const void* cx, void* cy,
                           size_t weightSpaceSize, const void* weightSpace, size_t workSpaceSize, void* workSpace,
                           size_t reserveSpaceSize, void* reserveSpace);  // cudnnRNNForward
  cudnnStatus_t (*backwardData)(cudnnHandle_t, cudnnRNNDescriptor_t, const int32_t devSeqLengths[],
                                cudnnRNNDataDescriptor_t yDesc, const void* y, const void* dy,
                                cudnnRNNDataDescriptor_t xDesc, void* dx, cudnnTensorDescriptor_t hDesc,
                                const void* hx, const void* dhy, void* dhx, cudnnTensorDescriptor_t cDesc,
                                const void* cx, const void* dcy, void* dcx, size_t weightSpaceSize,
                                const void* weightSpace, size_t workSpaceSize, void* workSpace,
                                size_t reserveSpaceSize, void* reserveSpace);  // cudnnRNNBackwardData_v8
  cudnnStatus_t (*backwardWeights)(cudnnHandle_t, cudnnRNNDescriptor_t, cudnnWgradMode_t addGrad,
                                   const int32_t devSeqLengths[], cudnnRNNDataDescriptor_t xDesc, const void* x,
                                   cudnnTensorDescriptor_t hDesc, const void* hx, cudnnRNNDataDescriptor_t yDesc,
                                   const void* y, size_t weightSpaceSize, void* dweightSpace, size_t workSpaceSize,
                                   void* workSpace, size_t reserveSpaceSize,
                                   void* reserveSpace);  // cudnnRNNBackwardWeights_v8
};

struct Cudnn {
  size_t (*getVersion)();                                  // cudnnGetVersion
  cudnnStatus_t (*create)(cudnnHandle_t*);                 // cudnnCreate
  cudnnStatus_t (*destroy)(cudnnHandle_t);                 // cudnnDestroy
  cudnnStatus_t (*setStream)(cudnnHandle_t, cudaStream_t); // cudnnSetStream
  const char* (*errorString)(cudnnStatus_t);               // cudnnGetErrorString

  // cudnn_ops.h
  cudnnStatus_t (*createTensorDescriptor)(cudnnTensorDescriptor_t*);
  cudnnStatus_t (*setTensorNdDescriptor)(cudnnTensorDescriptor_t, cudnnDataType_t, int nbDims, const int dimA[],
                                         const int strideA[]);
  cudnnStatus_t (*destroyTensorDescriptor)(cudnnTensorDescriptor_t);
  cudnnStatus_t (*createFilterDescriptor)(cudnnFilterDescriptor_t*);
  cudnnStatus_t (*setFilterNdDescriptor)(cudnnFilterDescriptor_t, cudnnDataType_t, cudnnTensorFormat_t, int nbDims,
                                         const int filterDimA[]);
  cudnnStatus_t (*destroyFilterDescriptor)(cudnnFilterDescriptor_t);

  // cudnn_cnn.h
  cudnnStatus_t (*createConvolutionDescriptor)(cudnnConvolutionDescriptor_t*);
  cudnnStatus_t (*setConvolutionNdDescriptor)(cudnnConvolutionDescriptor_t, int arrayLength, const int padA[],
                                              const int filterStrideA[], const int dilationA[],
                                              cudnnConvolutionMode_t, cudnnDataType_t computeType);
  cudnnStatus_t (*setConvolutionGroupCount)(cudnnConvolutionDescriptor_t, int groupCount);
  cudnnStatus_t (*setConvolutionMathType)(cudnnConvolutionDescriptor_t, cudnnMathType_t);
  cudnnStatus_t (*destroyConvolutionDescriptor)(cudnnConvolutionDescriptor_t);

  // forward: (handle, xDesc, x, wDesc, w, convDesc, yDesc, y, ...)
  cudnnStatus_t (*getForwardAlgorithmMaxCount)(cudnnHandle_t, int* count);
  cudnnStatus_t (*findForwardAlgorithmEx)(cudnnHandle_t, cudnnTensorDescriptor_t, const void* x,
                                          cudnnFilterDescriptor_t, const void* w, cudnnConvolutionDescriptor_t,
                                          cudnnTensorDescriptor_t, void* y, int requestedAlgoCount,
                                          int* returnedAlgoCount, cudnnConvolutionAlgoPerf_t* perfResults,
                                          void* workSpace, size_t workSpaceSizeInBytes);
  cudnnStatus_t (*getForwardAlgorithm_v7)(cudnnHandle_t, cudnnTensorDescriptor_t, cudnnFilterDescriptor_t,
                                          cudnnConvolutionDescriptor_t, cudnnTensorDescriptor_t,
                                          int requestedAlgoCount, int* returnedAlgoCount,
                                          cudnnConvolutionAlgoPerf_t* perfResults);
  cudnnStatus_t (*getForwardWorkspaceSize)(cudnnHandle_t, cudnnTensorDescriptor_t, cudnnFilterDescriptor_t,
                                           cudnnConvolutionDescriptor_t, cudnnTensorDescriptor_t,
                                           cudnnConvolutionFwdAlgo_t, size_t* sizeInBytes);
  cudnnStatus_t (*forward)(cudnnHandle_t, const void* alpha, cudnnTensorDescriptor_t, const void* x,
                           cudnnFilterDescriptor_t, const void* w, cudnnConvolutionDescriptor_t,
                           cudnnConvolutionFwdAlgo_t, void* workSpace, size_t workSpaceSizeInBytes, const void* beta,
                           cudnnTensorDescriptor_t, void* y);

  // backward data: (handle, wDesc, w, dyDesc, dy, convDesc, dxDesc, dx, ...)
  cudnnStatus_t (*getBackwardDataAlgorithmMaxCount)(cudnnHandle_t, int* count);
  cudnnStatus_t (*findBackwardDataAlgorithmEx)(cudnnHandle_t, cudnnFilterDescriptor_t, const void* w,
                                               cudnnTensorDescriptor_t, const void* dy, cudnnConvolutionDescriptor_t,
                                               cudnnTensorDescriptor_t, void* dx, int requestedAlgoCount,
                                               int* returnedAlgoCount, cudnnConvolutionAlgoPerf_t* perfResults,
                                               void* workSpace, size_t workSpaceSizeInBytes);
  cudnnStatus_t (*getBackwardDataAlgorithm_v7)(cudnnHandle_t, cudnnFilterDescriptor_t, cudnnTensorDescriptor_t,
                                               cudnnConvolutionDescriptor_t, cudnnTensorDescriptor_t,
                                               int requestedAlgoCount, int* returnedAlgoCount,
                                               cudnnConvolutionAlgoPerf_t* perfResults);
  cudnnStatus_t (*getBackwardDataWorkspaceSize)(cudnnHandle_t, cudnnFilterDescriptor_t, cudnnTensorDescriptor_t,
                                                cudnnConvolutionDescriptor_t, cudnnTensorDescriptor_t,
                                                cudnnConvolutionBwdDataAlgo_t, size_t* sizeInBytes);
  cudnnStatus_t (*backwardData)(cudnnHandle_t, const void* alpha, cudnnFilterDescriptor_t, const void* w,
                                cudnnTensorDescriptor_t, const void* dy, cudnnConvolutionDescriptor_t,
                                cudnnConvolutionBwdDataAlgo_t, void* workSpace, size_t workSpaceSizeInBytes,
                                const void* beta, cudnnTensorDescriptor_t, void* dx);

  // backward filter: (handle, xDesc, x, dyDesc, dy, convDesc, dwDesc, dw, ...)
  cudnnStatus_t (*getBackwardFilterAlgorithmMaxCount)(cudnnHandle_t, int* count);
  cudnnStatus_t (*findBackwardFilterAlgorithmEx)(cudnnHandle_t, cudnnTensorDescriptor_t, const void* x,
                                                 cudnnTensorDescriptor_t, const void* dy,
                                                 cudnnConvolutionDescriptor_t, cudnnFilterDescriptor_t, void* dw,
                                                 int requestedAlgoCount, int* returnedAlgoCount,
                                                 cudnnConvolutionAlgoPerf_t* perfResults, void* workSpace,
                                                 size_t workSpaceSizeInBytes);
  cudnnStatus_t (*getBackwardFilterAlgorithm_v7)(cudnnHandle_t, cudnnTensorDescriptor_t, cudnnTensorDescriptor_t,
                                                 cudnnConvolutionDescriptor_t, cudnnFilterDescriptor_t,
                                                 int requestedAlgoCount, int* returnedAlgoCount,
                                                 cudnnConvolutionAlgoPerf_t* perfResults);
  cudnnStatus_t (*getBackwardFilterWorkspaceSize)(cudnnHandle_t, cudnnTensorDescriptor_t, cudnnTensorDescriptor_t,
                                                  cudnnConvolutionDescriptor_t, cudnnFilterDescriptor_t,
                                                  cudnnConvolutionBwdFilterAlgo_t, size_t* sizeInBytes);
  cudnnStatus_t (*backwardFilter)(cudnnHandle_t, const void* alpha, cudnnTensorDescriptor_t, const void* x,
                                  cudnnTensorDescriptor_t, const void* dy, cudnnConvolutionDescriptor_t,
                                  cudnnConvolutionBwdFilterAlgo_t, void* workSpace, size_t workSpaceSizeInBytes,
                                  const void* beta, cudnnFilterDescriptor_t, void* dw);
};

// Opens the driver, counts devices and opens the libraries, in that order. Returns "" when all
// is well (and sets *deviceCount), else the reason CUDA cannot be used. Runs once; later calls
// return the first answer.
std::string probe(int* deviceCount);

// Valid after a successful probe().
const Cublas& cublas();
const Cudnn& cudnn();
// cuBLASLt's matmul functions, or null when this libcublasLt lacks one of them.
const CublasLt* cublasLt();
// The RNN functions, or null when this cuDNN lacks one of them (cudnnRnnMissing() names it).
const CudnnRnn* cudnnRnn();
std::string cudnnRnnMissing();
std::string versions();

// Throws a DeviceError naming the cuBLAS call and status when st is not success.
void checkCublas(cublasStatus_t st, const char* what);
// Same for cuDNN.
void checkCudnn(cudnnStatus_t st, const char* what);

}  // namespace cuda
}  // namespace kiln
