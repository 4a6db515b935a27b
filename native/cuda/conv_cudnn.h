// What the cuDNN convolutions (conv.cpp) build on: owning wrappers of the cuDNN descriptors, so
// that every descriptor is destroyed on every path (errors are thrown between creation and use),
// and the bias kernel of conv_bias.cu.
#pragma once
#include "../core/layout.h"
#include "context.h"
#include "libraries.h"

namespace kiln {
namespace cuda {

// A cuDNN descriptor of type D, created by Create and destroyed by Destroy (members of Cudnn).
template <typename D, cudnnStatus_t (*Cudnn::*Create)(D*), cudnnStatus_t (*Cudnn::*Destroy)(D)>
class CudnnDescriptor {
 public:
  explicit CudnnDescriptor(const char* what) { checkCudnn((cudnn().*Create)(&d_), what); }
  ~CudnnDescriptor() {
    if (d_) (cudnn().*Destroy)(d_);  // a destructor: a failure has nowhere to go
  }
  CudnnDescriptor(const CudnnDescriptor&) = delete;
  CudnnDescriptor& operator=(const CudnnDescriptor&) = delete;
  D get() const { return d_; }

 private:
  D d_ = nullptr;
};

using TensorDescriptor = CudnnDescriptor<cudnnTensorDescriptor_t, &Cudnn::createTensorDescriptor,
                                         &Cudnn::destroyTensorDescriptor>;
using FilterDescriptor = CudnnDescriptor<cudnnFilterDescriptor_t, &Cudnn::createFilterDescriptor,
                                         &Cudnn::destroyFilterDescriptor>;
using ConvolutionDescriptor = CudnnDescriptor<cudnnConvolutionDescriptor_t, &Cudnn::createConvolutionDescriptor,
                                              &Cudnn::destroyConvolutionDescriptor>;

// conv_bias.cu: y[n, c, ...] += bias[c] over the contiguous y [N, C, *spatial]; bias any stride.
void addChannelBias(Ctx& c, const View& y, const View& bias);

}  // namespace cuda
}  // namespace kiln
