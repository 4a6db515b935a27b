#include "libraries.h"

#include <dlfcn.h>

#include <cstdio>
#include <mutex>

#include "../core/errors.h"

namespace kiln {
namespace cuda {
namespace {

Cublas gCublas;
CublasLt gCublasLt;
Cudnn gCudnn;
CudnnRnn gCudnnRnn;
bool gHaveLtMatmul = false;
bool gHaveRnn = false;
std::string gRnnMissing;
int gDriverVersion = 0;

std::string dlerrorString() {
  const char* e = dlerror();
  return e ? e : "unknown dlopen error";
}

// Resolves every symbol into the table; returns the first missing name, or "" when complete.
template <typename T>
bool bind(void* lib, T& fn, const char* name, std::string* missing) {
  void* p = dlsym(lib, name);
  if (!p && missing->empty()) *missing = name;
  fn = reinterpret_cast<T>(p);
  return p != nullptr;
}

std::string versionString(int v) {  // 13000 -> "13.0"
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

std::string libraryHint(const char* soname) {
  return std::string("library ") + soname + " not found (" + dlerrorString() +
         "); install it or add its folder to LD_LIBRARY_PATH";
}

std::string probeOnce(int* deviceCount) {
  // 1. The driver. The static CUDA runtime loads libcuda.so.1 itself; opening it first turns
  //    "CUDA driver version is insufficient" into a precise message.
  void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!driver) return "no NVIDIA driver: libcuda.so.1 not found (" + dlerrorString() + ")";
  using DriverVersionFn = int (*)(int*);
  auto driverVersion = reinterpret_cast<DriverVersionFn>(dlsym(driver, "cuDriverGetVersion"));
  if (!driverVersion || driverVersion(&gDriverVersion) != 0)
    return "the NVIDIA driver (libcuda.so.1) could not report its version";
  if (gDriverVersion / 1000 < CUDART_VERSION / 1000)
    return "the NVIDIA driver is too old: it supports CUDA " + versionString(gDriverVersion) +
           ", kiln's CUDA plugin needs CUDA " + versionString(CUDART_VERSION) + " (driver 580 or newer)";

  // 2. Devices.
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e == cudaErrorNoDevice || (e == cudaSuccess && count == 0)) {
    cudaGetLastError();
    return "no CUDA device found (driver " + versionString(gDriverVersion) + " is installed but reports no GPU)";
  }
  if (e == cudaErrorInsufficientDriver) {
    cudaGetLastError();
    return "the NVIDIA driver is too old for CUDA " + versionString(CUDART_VERSION) + " (it supports CUDA " +
           versionString(gDriverVersion) + ")";
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    return std::string("CUDA initialization failed: ") + cudaGetErrorName(e) + ": " + cudaGetErrorString(e);
  }

  // 3. Libraries, by soname.
  std::string missing;
  void* lt = dlopen("libcublasLt.so.13", RTLD_NOW | RTLD_LOCAL);
  if (!lt) return libraryHint("libcublasLt.so.13");
  bind(lt, gCublasLt.getVersion, "cublasLtGetVersion", &missing);
  if (!missing.empty()) return "libcublasLt.so.13 lacks " + missing;
  std::string ltMissing;  // optional: without them matmulBias runs as matmul and an add
  bind(lt, gCublasLt.create, "cublasLtCreate", &ltMissing);
  bind(lt, gCublasLt.matmulDescCreate, "cublasLtMatmulDescCreate", &ltMissing);
  bind(lt, gCublasLt.matmulDescDestroy, "cublasLtMatmulDescDestroy", &ltMissing);
  bind(lt, gCublasLt.matmulDescSetAttribute, "cublasLtMatmulDescSetAttribute", &ltMissing);
  bind(lt, gCublasLt.matrixLayoutCreate, "cublasLtMatrixLayoutCreate", &ltMissing);
  bind(lt, gCublasLt.matrixLayoutDestroy, "cublasLtMatrixLayoutDestroy", &ltMissing);
  bind(lt, gCublasLt.matmulPreferenceCreate, "cublasLtMatmulPreferenceCreate", &ltMissing);
  bind(lt, gCublasLt.matmulPreferenceDestroy, "cublasLtMatmulPreferenceDestroy", &ltMissing);
  bind(lt, gCublasLt.matmulPreferenceSetAttribute, "cublasLtMatmulPreferenceSetAttribute", &ltMissing);
  bind(lt, gCublasLt.matmulAlgoGetHeuristic, "cublasLtMatmulAlgoGetHeuristic", &ltMissing);
  bind(lt, gCublasLt.matmul, "cublasLtMatmul", &ltMissing);
  gHaveLtMatmul = ltMissing.empty();

  void* blas = dlopen("libcublas.so.13", RTLD_NOW | RTLD_LOCAL);
  if (!blas) return libraryHint("libcublas.so.13");
  bind(blas, gCublas.create, "cublasCreate_v2", &missing);
  bind(blas, gCublas.destroy, "cublasDestroy_v2", &missing);
  bind(blas, gCublas.setStream, "cublasSetStream_v2", &missing);
  bind(blas, gCublas.setMathMode, "cublasSetMathMode", &missing);
  bind(blas, gCublas.getProperty, "cublasGetProperty", &missing);
  bind(blas, gCublas.statusString, "cublasGetStatusString", &missing);
  bind(blas, gCublas.sgemm, "cublasSgemm_v2", &missing);
  bind(blas, gCublas.dgemm, "cublasDgemm_v2", &missing);
  bind(blas, gCublas.sgemmStridedBatched, "cublasSgemmStridedBatched", &missing);
  bind(blas, gCublas.dgemmStridedBatched, "cublasDgemmStridedBatched", &missing);
  if (!missing.empty()) return "libcublas.so.13 lacks " + missing;

  void* dnn = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_LOCAL);
  if (!dnn) return libraryHint("libcudnn.so.9");
  bind(dnn, gCudnn.getVersion, "cudnnGetVersion", &missing);
  bind(dnn, gCudnn.create, "cudnnCreate", &missing);
  bind(dnn, gCudnn.destroy, "cudnnDestroy", &missing);
  bind(dnn, gCudnn.setStream, "cudnnSetStream", &missing);
  bind(dnn, gCudnn.errorString, "cudnnGetErrorString", &missing);
  bind(dnn, gCudnn.createTensorDescriptor, "cudnnCreateTensorDescriptor", &missing);
  bind(dnn, gCudnn.setTensorNdDescriptor, "cudnnSetTensorNdDescriptor", &missing);
  bind(dnn, gCudnn.destroyTensorDescriptor, "cudnnDestroyTensorDescriptor", &missing);
  bind(dnn, gCudnn.createFilterDescriptor, "cudnnCreateFilterDescriptor", &missing);
  bind(dnn, gCudnn.setFilterNdDescriptor, "cudnnSetFilterNdDescriptor", &missing);
  bind(dnn, gCudnn.destroyFilterDescriptor, "cudnnDestroyFilterDescriptor", &missing);
  bind(dnn, gCudnn.createConvolutionDescriptor, "cudnnCreateConvolutionDescriptor", &missing);
  bind(dnn, gCudnn.setConvolutionNdDescriptor, "cudnnSetConvolutionNdDescriptor", &missing);
  bind(dnn, gCudnn.setConvolutionGroupCount, "cudnnSetConvolutionGroupCount", &missing);
  bind(dnn, gCudnn.setConvolutionMathType, "cudnnSetConvolutionMathType", &missing);
  bind(dnn, gCudnn.destroyConvolutionDescriptor, "cudnnDestroyConvolutionDescriptor", &missing);
  bind(dnn, gCudnn.getForwardAlgorithmMaxCount, "cudnnGetConvolutionForwardAlgorithmMaxCount", &missing);
  bind(dnn, gCudnn.findForwardAlgorithmEx, "cudnnFindConvolutionForwardAlgorithmEx", &missing);
  bind(dnn, gCudnn.getForwardAlgorithm_v7, "cudnnGetConvolutionForwardAlgorithm_v7", &missing);
  bind(dnn, gCudnn.getForwardWorkspaceSize, "cudnnGetConvolutionForwardWorkspaceSize", &missing);
  bind(dnn, gCudnn.forward, "cudnnConvolutionForward", &missing);
  bind(dnn, gCudnn.getBackwardDataAlgorithmMaxCount, "cudnnGetConvolutionBackwardDataAlgorithmMaxCount", &missing);
  bind(dnn, gCudnn.findBackwardDataAlgorithmEx, "cudnnFindConvolutionBackwardDataAlgorithmEx", &missing);
  bind(dnn, gCudnn.getBackwardDataAlgorithm_v7, "cudnnGetConvolutionBackwardDataAlgorithm_v7", &missing);
  bind(dnn, gCudnn.getBackwardDataWorkspaceSize, "cudnnGetConvolutionBackwardDataWorkspaceSize", &missing);
  bind(dnn, gCudnn.backwardData, "cudnnConvolutionBackwardData", &missing);
  bind(dnn, gCudnn.getBackwardFilterAlgorithmMaxCount, "cudnnGetConvolutionBackwardFilterAlgorithmMaxCount", &missing);
  bind(dnn, gCudnn.findBackwardFilterAlgorithmEx, "cudnnFindConvolutionBackwardFilterAlgorithmEx", &missing);
  bind(dnn, gCudnn.getBackwardFilterAlgorithm_v7, "cudnnGetConvolutionBackwardFilterAlgorithm_v7", &missing);
  bind(dnn, gCudnn.getBackwardFilterWorkspaceSize, "cudnnGetConvolutionBackwardFilterWorkspaceSize", &missing);
  bind(dnn, gCudnn.backwardFilter, "cudnnConvolutionBackwardFilter", &missing);
  if (!missing.empty()) return "libcudnn.so.9 lacks " + missing;

  // Optional: without them only the cuDNN LSTM layer is unavailable.
  std::string rnnMissing;
  bind(dnn, gCudnnRnn.createDropoutDescriptor, "cudnnCreateDropoutDescriptor", &rnnMissing);
  bind(dnn, gCudnnRnn.destroyDropoutDescriptor, "cudnnDestroyDropoutDescriptor", &rnnMissing);
  bind(dnn, gCudnnRnn.setDropoutDescriptor, "cudnnSetDropoutDescriptor", &rnnMissing);
  bind(dnn, gCudnnRnn.getTensorNdDescriptor, "cudnnGetTensorNdDescriptor", &rnnMissing);
  bind(dnn, gCudnnRnn.createRNNDescriptor, "cudnnCreateRNNDescriptor", &rnnMissing);
  bind(dnn, gCudnnRnn.destroyRNNDescriptor, "cudnnDestroyRNNDescriptor", &rnnMissing);
  bind(dnn, gCudnnRnn.setRNNDescriptor_v8, "cudnnSetRNNDescriptor_v8", &rnnMissing);
  bind(dnn, gCudnnRnn.createRNNDataDescriptor, "cudnnCreateRNNDataDescriptor", &rnnMissing);
  bind(dnn, gCudnnRnn.destroyRNNDataDescriptor, "cudnnDestroyRNNDataDescriptor", &rnnMissing);
  bind(dnn, gCudnnRnn.setRNNDataDescriptor, "cudnnSetRNNDataDescriptor", &rnnMissing);
  bind(dnn, gCudnnRnn.getRNNWeightSpaceSize, "cudnnGetRNNWeightSpaceSize", &rnnMissing);
  bind(dnn, gCudnnRnn.getRNNTempSpaceSizes, "cudnnGetRNNTempSpaceSizes", &rnnMissing);
  bind(dnn, gCudnnRnn.getRNNWeightParams, "cudnnGetRNNWeightParams", &rnnMissing);
  bind(dnn, gCudnnRnn.forward, "cudnnRNNForward", &rnnMissing);
  bind(dnn, gCudnnRnn.backwardData, "cudnnRNNBackwardData_v8", &rnnMissing);
  bind(dnn, gCudnnRnn.backwardWeights, "cudnnRNNBackwardWeights_v8", &rnnMissing);
  gHaveRnn = rnnMissing.empty();
  gRnnMissing = rnnMissing;

  *deviceCount = count;
  return "";
}

}  // namespace

std::string probe(int* deviceCount) {
  static std::once_flag once;
  static std::string reason;
  static int count = 0;
  std::call_once(once, [] { reason = probeOnce(&count); });
  *deviceCount = count;
  return reason;
}

const Cublas& cublas() { return gCublas; }
const Cudnn& cudnn() { return gCudnn; }
const CublasLt* cublasLt() { return gHaveLtMatmul ? &gCublasLt : nullptr; }
const CudnnRnn* cudnnRnn() { return gHaveRnn ? &gCudnnRnn : nullptr; }
std::string cudnnRnnMissing() { return gRnnMissing; }

std::string versions() {
  int rt = 0;
  cudaRuntimeGetVersion(&rt);
  int major = 0, minor = 0, patch = 0;
  if (gCublas.getProperty) {
    gCublas.getProperty(MAJOR_VERSION, &major);
    gCublas.getProperty(MINOR_VERSION, &minor);
    gCublas.getProperty(PATCH_LEVEL, &patch);
  }
  size_t dnn = gCudnn.getVersion ? gCudnn.getVersion() : 0;  // e.g. 91400 = 9.14.0
  char buf[256];
  std::snprintf(buf, sizeof(buf), "CUDA runtime %s, driver %s, cuBLAS %d.%d.%d, cuDNN %zu.%zu.%zu",
                versionString(rt).c_str(), versionString(gDriverVersion).c_str(), major, minor, patch,
                dnn / 10000, (dnn % 10000) / 100, dnn % 100);
  return buf;
}

void checkCublas(cublasStatus_t st, const char* what) {
  if (st == CUBLAS_STATUS_SUCCESS) return;
  const char* s = gCublas.statusString ? gCublas.statusString(st) : "unknown";
  fail(st == CUBLAS_STATUS_ALLOC_FAILED ? ErrorKind::Memory : ErrorKind::Device, what, " failed: cuBLAS status ",
       st, " (", s, ")");
}

void checkCudnn(cudnnStatus_t st, const char* what) {
  if (st == CUDNN_STATUS_SUCCESS) return;
  const char* s = gCudnn.errorString ? gCudnn.errorString(st) : "unknown";
  fail(ErrorKind::Device, what, " failed: cuDNN status ", st, " (", s, ")");
}

}  // namespace cuda
}  // namespace kiln
