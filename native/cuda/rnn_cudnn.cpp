// Whole LSTM layers through cuDNN's RNN API (the v8 functions of cudnn_adv.h): one direction of
// one layer, no projection, float32 and float64 (Backend::lstmSequence in native/core/backend.h).
// The forward pass is one cudnnRNNForward; the backward pass one cudnnRNNBackwardData_v8 and one
// cudnnRNNBackwardWeights_v8, where the fused-cell path launches a few kernels per time step.
//
// The network. CUDNN_LSTM with CUDNN_RNN_SINGLE_INP_BIAS (kiln hands over b_ih + b_hh as one
// bias), unidirectional, linear input, projSize = hiddenSize, one layer, a no-dropout descriptor
// (cuDNN wants one; dropout acts between layers only). Sequences are all of length T in the
// sequence-major unpacked layout, which is x [T, B, I] and y [T, B, H] as kiln stores them; the
// unpacked layouts need CUDNN_RNN_PADDED_IO_ENABLED (PyTorch sets it for unpacked input too).
//
// Weights. cuDNN packs its parameters into one "weight space" whose layout only it knows:
// cudnnGetRNNWeightParams gives the address of each linear layer's matrix and bias. For an LSTM
// layers 0-3 act on the input and 4-7 on the recurrent state, in the gate order input, forget,
// new memory (cell candidate), output: PyTorch's i, f, g, o, so layer k's matrix is rows
// [kH, (k+1)H) of W_ih (k < 4) or of W_hh (k >= 4), row-major as kiln stores them, and only the
// input layers 0-3 have biases (b[kH, (k+1)H)). The offsets are found once per shape.
//
// Reserve. The forward pass packs the weights into the start of the op's `reserve` output (so
// the backward pass sees exactly the weights the forward pass used) and, when training, gives
// cuDNN the rest as its reserve space, which the backward pass needs and overwrites:
//   reserve = [weight space, rounded up to 256 bytes | cuDNN's training reserve space]
// lstmSequenceReserveBytes says how large it must be, before the op allocates it.
//
// Math. float32 runs with CUDNN_FMA_MATH (no TF32, results within float32 rounding of the CPU)
// unless the caller's flags allow TF32 (kiln.backends.cuda.allowTF32); then CUDNN_DEFAULT_MATH.
// The flags come with each call, so a backward pass runs with the math of its forward pass.
//
// Descriptors, sizes and offsets are cached per (device, dtype, math, T, B, I, H) and live as long
// as the process, like the convolution's algorithm choices.
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "conv_cudnn.h"
#include "kernels.h"

namespace kiln {
namespace cuda {
namespace {

constexpr size_t kAlign = 256;

size_t roundUp(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

const CudnnRnn& rnnApi() {
  const CudnnRnn* r = cudnnRnn();
  if (!r) fail(ErrorKind::Device, "LSTM layers on cuda: the loaded cuDNN lacks ", cudnnRnnMissing());
  return *r;
}

// An owned cuDNN descriptor of the RNN API, destroyed on every path.
template <typename D>
class Owned {
 public:
  Owned(cudnnStatus_t (*create)(D*), cudnnStatus_t (*destroy)(D), const char* what) : destroy_(destroy) {
    checkCudnn(create(&d_), what);
  }
  ~Owned() {
    if (d_) destroy_(d_);
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  D get() const { return d_; }

 private:
  D d_ = nullptr;
  cudnnStatus_t (*destroy_)(D);
};

cudnnDataType_t cudnnType(DType t) { return t == DType::Float64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT; }

cudnnMathType_t mathFor(DType t, int flags) {
  return t == DType::Float32 && !(flags & Backend::kLstmTF32) ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
}

// Number of elements a tensor descriptor cuDNN filled in describes.
int64_t elementsOf(const CudnnRnn& api, cudnnTensorDescriptor_t d) {
  cudnnDataType_t type;
  int nb = 0, dims[8] = {}, strides[8] = {};
  checkCudnn(api.getTensorNdDescriptor(d, 8, &type, &nb, dims, strides), "cudnnGetTensorNdDescriptor");
  int64_t n = 1;
  for (int i = 0; i < nb && i < 8; i++) n *= dims[i];
  return n;
}

// Everything about one problem shape that does not depend on the operands' addresses.
struct Plan {
  DType dtype;
  int64_t T, B, I, H;
  Owned<cudnnDropoutDescriptor_t> dropout;
  Owned<cudnnRNNDescriptor_t> rnn;
  Owned<cudnnRNNDataDescriptor_t> x, y;
  TensorDescriptor h{"cudnnCreateTensorDescriptor"};  // [1, B, H]: h0, c0, hT, cT and their gradients
  size_t weightBytes = 0, weightRegion = 0;            // the weight space, and its share of the reserve
  size_t workTrain = 0, reserveTrain = 0, workInfer = 0;
  // Byte offsets in the weight space of linear layer k's matrix (k < 8) and bias (k < 4).
  size_t matrix[8] = {}, bias[4] = {};
  bool recurrentBias = false;  // cuDNN gave layers 4-7 biases after all: zeroed when packing
  int32_t* devSeqLengths = nullptr;  // [B] = T in device memory; owned by the plan, never freed

  Plan(Ctx& c, const CudnnRnn& api, cudnnHandle_t handle, DType t, int64_t T_, int64_t B_, int64_t I_, int64_t H_,
       cudnnMathType_t math)
      : dtype(t),
        T(T_),
        B(B_),
        I(I_),
        H(H_),
        dropout(api.createDropoutDescriptor, api.destroyDropoutDescriptor, "cudnnCreateDropoutDescriptor"),
        rnn(api.createRNNDescriptor, api.destroyRNNDescriptor, "cudnnCreateRNNDescriptor"),
        x(api.createRNNDataDescriptor, api.destroyRNNDataDescriptor, "cudnnCreateRNNDataDescriptor"),
        y(api.createRNNDataDescriptor, api.destroyRNNDataDescriptor, "cudnnCreateRNNDataDescriptor") {
    const cudnnDataType_t type = cudnnType(t);
    const int iT = static_cast<int>(T), iB = static_cast<int>(B), iI = static_cast<int>(I), iH = static_cast<int>(H);
    checkCudnn(api.setDropoutDescriptor(dropout.get(), handle, 0.0f, nullptr, 0, 0), "cudnnSetDropoutDescriptor");
    checkCudnn(api.setRNNDescriptor_v8(rnn.get(), CUDNN_RNN_ALGO_STANDARD, CUDNN_LSTM, CUDNN_RNN_SINGLE_INP_BIAS,
                                       CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT, type, type, math, iI, iH, iH, 1,
                                       dropout.get(), CUDNN_RNN_PADDED_IO_ENABLED),
               "cudnnSetRNNDescriptor_v8");
    const std::vector<int> lengths(static_cast<size_t>(B), iT);
    checkCudnn(api.setRNNDataDescriptor(x.get(), type, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, iT, iB, iI,
                                        lengths.data(), nullptr),
               "cudnnSetRNNDataDescriptor");
    checkCudnn(api.setRNNDataDescriptor(y.get(), type, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, iT, iB, iH,
                                        lengths.data(), nullptr),
               "cudnnSetRNNDataDescriptor");
    const int hDims[3] = {1, iB, iH}, hStrides[3] = {iB * iH, iH, 1};
    checkCudnn(cudnn().setTensorNdDescriptor(h.get(), type, 3, hDims, hStrides), "cudnnSetTensorNdDescriptor");

    checkCudnn(api.getRNNWeightSpaceSize(handle, rnn.get(), &weightBytes), "cudnnGetRNNWeightSpaceSize");
    weightRegion = roundUp(weightBytes);
    checkCudnn(api.getRNNTempSpaceSizes(handle, rnn.get(), CUDNN_FWD_MODE_TRAINING, x.get(), &workTrain, &reserveTrain),
               "cudnnGetRNNTempSpaceSizes");
    size_t reserveInfer = 0;
    checkCudnn(api.getRNNTempSpaceSizes(handle, rnn.get(), CUDNN_FWD_MODE_INFERENCE, x.get(), &workInfer, &reserveInfer),
               "cudnnGetRNNTempSpaceSizes");

    // The offsets, read off a scratch weight space (cuDNN only computes addresses in it).
    Scratch space(c, weightBytes);
    char* base = space.as<char>();
    TensorDescriptor mDesc{"cudnnCreateTensorDescriptor"}, bDesc{"cudnnCreateTensorDescriptor"};
    const size_t elt = dtypeSize(t);
    for (int k = 0; k < 8; k++) {
      void* m = nullptr;
      void* b = nullptr;
      checkCudnn(api.getRNNWeightParams(handle, rnn.get(), 0, weightBytes, base, k, mDesc.get(), &m, bDesc.get(), &b),
                 "cudnnGetRNNWeightParams");
      const int64_t want = H * (k < 4 ? I : H);
      if (!m || elementsOf(api, mDesc.get()) != want)
        fail(ErrorKind::Device, "cudnnGetRNNWeightParams: linear layer ", k, " has no ", H, " x ", k < 4 ? I : H,
             " matrix");
      matrix[k] = static_cast<size_t>(static_cast<char*>(m) - base);
      if (k < 4) {
        if (!b || elementsOf(api, bDesc.get()) != H)
          fail(ErrorKind::Device, "cudnnGetRNNWeightParams: linear layer ", k, " has no bias of ", H, " elements");
        bias[k] = static_cast<size_t>(static_cast<char*>(b) - base);
      } else if (b) {
        recurrentBias = true;
      }
    }
    for (int k = 0; k < 8; k++)
      if (matrix[k] % elt != 0 || matrix[k] + static_cast<size_t>(H * (k < 4 ? I : H)) * elt > weightBytes)
        fail(ErrorKind::Device, "cudnnGetRNNWeightParams: linear layer ", k, " lies outside the weight space");
    for (int k = 0; k < 4; k++)
      if (bias[k] % elt != 0 || bias[k] + static_cast<size_t>(H) * elt > weightBytes)
        fail(ErrorKind::Device, "cudnnGetRNNWeightParams: bias ", k, " lies outside the weight space");

    const std::vector<int32_t> seq(static_cast<size_t>(B), static_cast<int32_t>(T));
    devSeqLengths = static_cast<int32_t*>(c.alloc(seq.size() * sizeof(int32_t)));
    c.copyFromHost(devSeqLengths, seq.data(), seq.size() * sizeof(int32_t));
  }
};

std::mutex gPlansMu;
std::map<std::vector<int64_t>, std::unique_ptr<Plan>> gPlans;

// The plan of a problem on device c (created on first use). Plans are per device, and each call
// runs under its device's lock, so a plan is never used by two calls at once.
Plan& planFor(Ctx& c, DType t, int64_t T, int64_t B, int64_t I, int64_t H, int flags) {
  const cudnnMathType_t math = mathFor(t, flags);
  const std::vector<int64_t> key = {c.device, static_cast<int64_t>(t), math, T, B, I, H};
  {
    std::lock_guard<std::mutex> lock(gPlansMu);
    auto it = gPlans.find(key);
    if (it != gPlans.end()) return *it->second;
  }
  const CudnnRnn& api = rnnApi();
  cudnnHandle_t handle = static_cast<cudnnHandle_t>(cudnnHandleFor(c));
  auto plan = std::make_unique<Plan>(c, api, handle, t, T, B, I, H, math);
  std::lock_guard<std::mutex> lock(gPlansMu);
  return *(gPlans[key] = std::move(plan));
}

// ---------------------------------------------------------------- operands

char* address(const View& v) {
  return static_cast<char*>(v.data) + v.layout.offset * static_cast<int64_t>(dtypeSize(v.dtype));
}

bool ready(const View& v) { return v.isContiguous() && reinterpret_cast<uintptr_t>(address(v)) % 16 == 0; }

// A contiguous view of `shape` over device memory at p.
View viewAt(void* p, DType t, std::initializer_list<int64_t> shape) {
  View v;
  v.dtype = t;
  int64_t dims[kMaxDims];
  int n = 0;
  for (int64_t s : shape) dims[n++] = s;
  v.layout = Layout::contiguous(n, dims);
  v.data = p;
  return v;
}

// The elements [start, start + n) of a 1-D view.
View slice1(const View& v, int64_t start, int64_t n) {
  View s = v;
  s.layout.offset += start * v.stride(0);
  s.layout.shape[0] = n;
  return s;
}

// Rows [start, start + n) of a view (dim 0).
View rows(const View& v, int64_t start, int64_t n) {
  View s = v;
  s.layout.offset += start * v.stride(0);
  s.layout.shape[0] = n;
  return s;
}

// An input as cuDNN takes it (contiguous, 16-byte aligned): v itself or a copy in `buf`.
const void* input(Ctx& c, const View& v, std::unique_ptr<Scratch>& buf) {
  if (ready(v)) return address(v);
  buf = std::make_unique<Scratch>(c, static_cast<size_t>(v.numel()) * dtypeSize(v.dtype));
  View dst = v;
  dst.layout = Layout::contiguous(v.ndim(), v.layout.shape);
  dst.data = buf->as<void>();
  copy(c, dst, v);
  return buf->as<void>();
}

// Where cuDNN writes an output view: the view itself, or a scratch buffer (`buf` set) that
// finish() copies over.
void* output(Ctx& c, const View& v, std::unique_ptr<Scratch>& buf) {
  if (ready(v)) return address(v);
  buf = std::make_unique<Scratch>(c, static_cast<size_t>(v.numel()) * dtypeSize(v.dtype));
  return buf->as<void>();
}
void finish(Ctx& c, const View& v, const std::unique_ptr<Scratch>& buf) {
  if (!buf) return;
  View src = v;
  src.layout = Layout::contiguous(v.ndim(), v.layout.shape);
  src.data = buf->as<void>();
  copy(c, v, src);
}

// The four gate blocks of a [4H, n] weight (or [4H] bias) and their places in the weight space:
// one copy when cuDNN put them one after the other, else four. toSpace: weight -> space.
void moveGates(Ctx& c, char* space, const size_t* offsets, const View& w, int64_t H, int64_t n, bool toSpace) {
  const size_t elt = dtypeSize(w.dtype);
  const size_t block = static_cast<size_t>(H * n) * elt;
  bool adjacent = true;
  for (int k = 1; k < 4; k++) adjacent = adjacent && offsets[k] == offsets[0] + k * block;
  const bool matrix = w.ndim() == 2;
  for (int k = 0; k < (adjacent ? 1 : 4); k++) {
    const int64_t count = adjacent ? 4 * H : H;
    const View part = rows(w, adjacent ? 0 : k * H, count);
    const View place = matrix ? viewAt(space + offsets[k], w.dtype, {count, n}) : viewAt(space + offsets[k], w.dtype, {count});
    if (toSpace) copy(c, place, part);
    else copy(c, part, place);
  }
}

struct Dims {
  int64_t T, B, I, H;
};
Dims dimsOf(const View& x, const View& h0) { return {x.size(0), x.size(1), x.size(2), h0.size(1)}; }

void checkReserve(const Plan& p, const View& reserve, bool training) {
  const size_t need = p.weightRegion + (training ? p.reserveTrain : 0);
  const size_t have = static_cast<size_t>(reserve.numel()) * dtypeSize(reserve.dtype);
  if (have < need || !ready(reserve))
    fail(ErrorKind::Shape, "lstmSequence: the reserve must be contiguous and hold ", need, " bytes, it holds ", have);
}

}  // namespace

bool lstmSequenceAvailable() { return cudnnRnn() != nullptr; }

size_t lstmSequenceReserveBytes(Ctx& c, DType t, int64_t T, int64_t B, int64_t I, int64_t H, int flags) {
  if (t != DType::Float32 && t != DType::Float64)
    fail(ErrorKind::DType, "lstmSequence: expects float32 or float64, got ", dtypeName(t));
  const Plan& p = planFor(c, t, T, B, I, H, flags);
  return p.weightRegion + ((flags & Backend::kLstmTraining) ? p.reserveTrain : 0);
}

void lstmSequence(Ctx& c, const View& out, const View& reserve, const View* ins, int flags) {
  const View &x = ins[0], &h0 = ins[1], &c0 = ins[2], &wIh = ins[3], &wHh = ins[4], &b = ins[5];
  const Dims d = dimsOf(x, h0);
  const bool training = (flags & Backend::kLstmTraining) != 0;
  const CudnnRnn& api = rnnApi();
  Plan& p = planFor(c, x.dtype, d.T, d.B, d.I, d.H, flags);
  checkReserve(p, reserve, training);
  cudnnHandle_t handle = static_cast<cudnnHandle_t>(cudnnHandleFor(c));

  // The weights into the weight space at the start of the reserve.
  char* space = address(reserve);
  if (p.recurrentBias) KILN_CUDA_CHECK(cudaMemsetAsync(space, 0, p.weightBytes, c.stream));
  moveGates(c, space, p.matrix, wIh, d.H, d.I, true);
  moveGates(c, space, p.matrix + 4, wHh, d.H, d.H, true);
  moveGates(c, space, p.bias, b, d.H, 1, true);

  std::unique_ptr<Scratch> xBuf, hBuf, cBuf, yBuf, hyBuf, cyBuf;
  const void* xs = input(c, x, xBuf);
  const void* hx = input(c, h0, hBuf);
  const void* cx = input(c, c0, cBuf);
  const int64_t TBH = d.T * d.B * d.H, BH = d.B * d.H;
  const View yv = slice1(out, 0, TBH), hyv = slice1(out, TBH, BH), cyv = slice1(out, TBH + BH, BH);
  void* y = output(c, yv, yBuf);
  void* hy = output(c, hyv, hyBuf);
  void* cy = output(c, cyv, cyBuf);

  const size_t work = training ? p.workTrain : p.workInfer;
  Scratch workspace(c, work);
  checkCudnn(api.forward(handle, p.rnn.get(), training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE,
                         p.devSeqLengths, p.x.get(), xs, p.y.get(), y, p.h.get(), hx, hy, p.h.get(), cx, cy,
                         p.weightBytes, space, work, workspace.as<void>(), training ? p.reserveTrain : 0,
                         training ? space + p.weightRegion : nullptr),
             "cudnnRNNForward");
  finish(c, yv, yBuf);
  finish(c, hyv, hyBuf);
  finish(c, cyv, cyBuf);
}

void lstmSequenceBackward(Ctx& c, const View* grads, const View* ins, int flags) {
  const View &x = ins[0], &h0 = ins[1], &c0 = ins[2], &out = ins[3], &reserve = ins[4], &grad = ins[5];
  const View &dx = grads[0], &dh0 = grads[1], &dc0 = grads[2], &dwIh = grads[3], &dwHh = grads[4], &db = grads[5];
  const Dims d = dimsOf(x, h0);
  const CudnnRnn& api = rnnApi();
  Plan& p = planFor(c, x.dtype, d.T, d.B, d.I, d.H, flags | Backend::kLstmTraining);
  checkReserve(p, reserve, true);
  cudnnHandle_t handle = static_cast<cudnnHandle_t>(cudnnHandleFor(c));
  char* space = address(reserve);
  void* reserveSpace = space + p.weightRegion;

  const int64_t TBH = d.T * d.B * d.H, BH = d.B * d.H;
  std::unique_ptr<Scratch> xBuf, hBuf, cBuf, yBuf, dyBuf, dhyBuf, dcyBuf, dxBuf, dhxBuf, dcxBuf;
  const void* xs = input(c, x, xBuf);
  const void* hx = input(c, h0, hBuf);
  const void* cx = input(c, c0, cBuf);
  const void* y = input(c, slice1(out, 0, TBH), yBuf);
  const void* dy = input(c, slice1(grad, 0, TBH), dyBuf);
  const void* dhy = input(c, slice1(grad, TBH, BH), dhyBuf);
  const void* dcy = input(c, slice1(grad, TBH + BH, BH), dcyBuf);
  void* dxs = output(c, dx, dxBuf);
  void* dhx = output(c, dh0, dhxBuf);
  void* dcx = output(c, dc0, dcxBuf);

  // Data first: the weight gradient reads what it leaves in the reserve space.
  Scratch workspace(c, p.workTrain);
  checkCudnn(api.backwardData(handle, p.rnn.get(), p.devSeqLengths, p.y.get(), y, dy, p.x.get(), dxs, p.h.get(), hx,
                              dhy, dhx, p.h.get(), cx, dcy, dcx, p.weightBytes, space, p.workTrain,
                              workspace.as<void>(), p.reserveTrain, reserveSpace),
             "cudnnRNNBackwardData_v8");
  finish(c, dx, dxBuf);
  finish(c, dh0, dhxBuf);
  finish(c, dc0, dcxBuf);

  // CUDNN_WGRAD_MODE_ADD accumulates into a zeroed gradient space.
  Scratch dspace(c, p.weightBytes);
  KILN_CUDA_CHECK(cudaMemsetAsync(dspace.as<void>(), 0, p.weightBytes, c.stream));
  checkCudnn(api.backwardWeights(handle, p.rnn.get(), CUDNN_WGRAD_MODE_ADD, p.devSeqLengths, p.x.get(), xs, p.h.get(),
                                 hx, p.y.get(), y, p.weightBytes, dspace.as<void>(), p.workTrain, workspace.as<void>(),
                                 p.reserveTrain, reserveSpace),
             "cudnnRNNBackwardWeights_v8");
  char* dbase = dspace.as<char>();
  moveGates(c, dbase, p.matrix, dwIh, d.H, d.I, false);
  moveGates(c, dbase, p.matrix + 4, dwHh, d.H, d.H, false);
  moveGates(c, dbase, p.bias, db, d.H, 1, false);
}

}  // namespace cuda
}  // namespace kiln
