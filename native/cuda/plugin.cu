// The kiln_cuda plugin. The CUDA backend (kernels, cuBLAS/cuDNN loaders) arrives with the CUDA
// issue; for now the plugin only proves the toolchain works and reports the runtime version, so
// the core's loader has something real to open.
#include <cuda_runtime.h>

extern "C" {

// ABI version of the plugin interface the core expects.
__attribute__((visibility("default"))) int kiln_cuda_abi_version() { return 0; }

__attribute__((visibility("default"))) int kiln_cuda_runtime_version() {
  int v = 0;
  if (cudaRuntimeGetVersion(&v) != cudaSuccess) return -1;
  return v;
}

}
