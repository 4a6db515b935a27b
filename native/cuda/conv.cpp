// Convolutions through cuDNN: conv is cudnnConvolutionForward, convTranspose (conv's input
// gradient) cudnnConvolutionBackwardData, convWeightGrad cudnnConvolutionBackwardFilter; float32
// and float64, 1 to 3 spatial dims. cuDNN takes 4-D and 5-D tensors only, so a 1-D convolution
// runs as a 2-D one with a leading spatial dim of size 1.
//
// Padding. kiln gives the zeros before each spatial dim; those after are implied by the output
// extent O (asymmetric for 'same' with an even kernel, fewer than before when trailing input rows
// are left unused, more when the kernel runs past them). cuDNN pads both sides alike and makes
// O = floor((I + 2p - d(K-1) - 1) / s) + 1. When that is kiln's O, cuDNN runs on the operands as
// they are; otherwise on a zero-padded copy of x of extent (O-1)s + d(K-1) + 1 (x placed at offset
// p, cut where it runs past the end) without padding, and convTranspose copies x's window back out
// of the padded gradient.
//
// Operands. cuDNN gets contiguous, 16-byte aligned tensors: other inputs are copied first. Outputs
// are fresh and overwritten whole (beta = 0); the bias is added afterwards (conv_bias.cu).
//
// Algorithms. Chosen once per problem (op, device, dtype, math mode, extents, geometry) by
// running them all on the operands (cudnnFind*AlgorithmEx, the heuristic cudnnGet*_v7 if that
// fails) and cached, fastest first; each call runs the first whose workspace can be allocated.
//
// TF32 (kiln.backends.cuda.allowTF32, off by default). Off, float32 runs with CUDNN_FMA_MATH, so
// no tensor-core TF32 and results within float32 rounding of the CPU's; on, CUDNN_DEFAULT_MATH
// lets cuDNN use TF32. The math mode is part of the cache key.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "conv_cudnn.h"
#include "kernels.h"

namespace kiln {
namespace cuda {
namespace {

// Benchmarking gets as much workspace as the hungriest algorithm asks for, up to this.
constexpr size_t kMaxFindWorkspace = size_t{1} << 30;

enum class Op { Forward, BackwardData, BackwardFilter };

// The convolution as cuDNN sees it, over nd = 2 or 3 spatial dims (kiln's S plus a leading dim of
// size 1 when S = 1).
struct Problem {
  DType dtype = DType::Float32;
  int S = 0, nd = 0, lead = 0;  // lead: cuDNN's spatial dim i is kiln's i - lead
  int64_t N = 0, Cin = 0, Cout = 0, G = 1;
  int64_t I[3] = {}, K[3] = {}, O[3] = {}, s[3] = {}, p[3] = {}, d[3] = {};
  bool direct = true;  // cuDNN's symmetric padding p gives kiln's O in every dim
  int64_t X[3] = {};   // extent of the x cuDNN sees: I when direct, else the padded extent
};

Problem problem(const View& x, const View& w, const View& y, const ConvParams& p) {
  Problem q;
  q.dtype = x.dtype;
  q.S = p.spatial;
  q.nd = std::max(2, q.S);
  q.lead = q.nd - q.S;
  q.N = x.size(0);
  q.Cin = x.size(1);
  q.Cout = w.size(0);
  q.G = p.groups;
  for (int i = 0; i < q.nd; i++) {
    const int j = i - q.lead;
    const bool added = j < 0;
    q.I[i] = added ? 1 : x.size(2 + j);
    q.K[i] = added ? 1 : w.size(2 + j);
    q.O[i] = added ? 1 : y.size(2 + j);
    q.s[i] = added ? 1 : p.stride[j];
    q.p[i] = added ? 0 : p.pad[j];
    q.d[i] = added ? 1 : p.dilation[j];
    const int64_t room = q.I[i] + 2 * q.p[i] - q.d[i] * (q.K[i] - 1) - 1;
    if (room < 0 || room / q.s[i] + 1 != q.O[i]) q.direct = false;
  }
  for (int i = 0; i < q.nd; i++) q.X[i] = q.direct ? q.I[i] : (q.O[i] - 1) * q.s[i] + q.d[i] * (q.K[i] - 1) + 1;
  return q;
}

// cuDNN's descriptors take int extents and strides. (Counted in double: padded extents can be
// large enough for an int64 product to wrap.)
void checkFits(const Problem& q) {
  double xs = double(q.N) * double(q.Cin), ws = double(q.Cout) * double(q.Cin / q.G), ys = double(q.N) * double(q.Cout);
  bool fits = q.G <= INT_MAX;
  for (int i = 0; i < q.nd; i++) {
    xs *= q.X[i];
    ws *= q.K[i];
    ys *= q.O[i];
    fits = fits && q.p[i] <= INT_MAX && q.s[i] <= INT_MAX && q.d[i] <= INT_MAX;
  }
  if (!fits || xs > INT_MAX || ws > INT_MAX || ys > INT_MAX)
    fail(ErrorKind::Shape, "convolution on cuda: cuDNN takes tensors of fewer than 2^31 elements (input ", xs,
         ", weight ", ws, ", output ", ys, " elements here)");
}

cudnnMathType_t mathFor(DType t) {
  return t == DType::Float32 && !allowTF32() ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
}

cudnnDataType_t cudnnType(DType t) { return t == DType::Float64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT; }

void setTensor(cudnnTensorDescriptor_t desc, cudnnDataType_t type, int n, const int64_t* dims) {
  int dimA[5], strideA[5];
  int64_t stride = 1;
  for (int i = n - 1; i >= 0; i--) {
    dimA[i] = static_cast<int>(dims[i]);
    strideA[i] = static_cast<int>(stride);
    stride *= dims[i];
  }
  checkCudnn(cudnn().setTensorNdDescriptor(desc, type, n, dimA, strideA), "cudnnSetTensorNdDescriptor");
}

// The four descriptors of a problem, freed on every path.
struct Descriptors {
  TensorDescriptor x{"cudnnCreateTensorDescriptor"};
  TensorDescriptor y{"cudnnCreateTensorDescriptor"};
  FilterDescriptor w{"cudnnCreateFilterDescriptor"};
  ConvolutionDescriptor conv{"cudnnCreateConvolutionDescriptor"};

  Descriptors(const Problem& q, cudnnMathType_t math) {
    const cudnnDataType_t type = cudnnType(q.dtype);
    const int n = q.nd + 2;
    int64_t xd[5] = {q.N, q.Cin}, wd[5] = {q.Cout, q.Cin / q.G}, yd[5] = {q.N, q.Cout};
    int pad[3], stride[3], dilation[3], wdim[5];
    for (int i = 0; i < q.nd; i++) {
      xd[2 + i] = q.X[i];
      wd[2 + i] = q.K[i];
      yd[2 + i] = q.O[i];
      pad[i] = q.direct ? static_cast<int>(q.p[i]) : 0;
      stride[i] = static_cast<int>(q.s[i]);
      dilation[i] = static_cast<int>(q.d[i]);
    }
    for (int i = 0; i < n; i++) wdim[i] = static_cast<int>(wd[i]);
    setTensor(x.get(), type, n, xd);
    setTensor(y.get(), type, n, yd);
    checkCudnn(cudnn().setFilterNdDescriptor(w.get(), type, CUDNN_TENSOR_NCHW, n, wdim), "cudnnSetFilterNdDescriptor");
    checkCudnn(
        cudnn().setConvolutionNdDescriptor(conv.get(), q.nd, pad, stride, dilation, CUDNN_CROSS_CORRELATION, type),
        "cudnnSetConvolutionNdDescriptor");
    checkCudnn(cudnn().setConvolutionGroupCount(conv.get(), static_cast<int>(q.G)), "cudnnSetConvolutionGroupCount");
    checkCudnn(cudnn().setConvolutionMathType(conv.get(), math), "cudnnSetConvolutionMathType");
  }
};

// Device addresses of the three operands cuDNN sees (the op's output among them).
struct Buffers {
  void* x;
  void* w;
  void* y;
};

// ---------------------------------------------------------------- the three ops, one switch each

const char* runName(Op op) {
  switch (op) {
    case Op::Forward: return "cudnnConvolutionForward";
    case Op::BackwardData: return "cudnnConvolutionBackwardData";
    default: return "cudnnConvolutionBackwardFilter";
  }
}

cudnnStatus_t maxAlgorithms(Op op, cudnnHandle_t h, int* count) {
  switch (op) {
    case Op::Forward: return cudnn().getForwardAlgorithmMaxCount(h, count);
    case Op::BackwardData: return cudnn().getBackwardDataAlgorithmMaxCount(h, count);
    default: return cudnn().getBackwardFilterAlgorithmMaxCount(h, count);
  }
}

cudnnStatus_t workspaceSize(Op op, cudnnHandle_t h, const Descriptors& d, int algo, size_t* bytes) {
  switch (op) {
    case Op::Forward:
      return cudnn().getForwardWorkspaceSize(h, d.x.get(), d.w.get(), d.conv.get(), d.y.get(), algo, bytes);
    case Op::BackwardData:
      return cudnn().getBackwardDataWorkspaceSize(h, d.w.get(), d.y.get(), d.conv.get(), d.x.get(), algo, bytes);
    default:
      return cudnn().getBackwardFilterWorkspaceSize(h, d.x.get(), d.y.get(), d.conv.get(), d.w.get(), algo, bytes);
  }
}

cudnnStatus_t findAlgorithms(Op op, cudnnHandle_t h, const Descriptors& d, const Buffers& b, int requested,
                             int* returned, cudnnConvolutionAlgoPerf_t* perf, void* ws, size_t wsBytes) {
  switch (op) {
    case Op::Forward:
      return cudnn().findForwardAlgorithmEx(h, d.x.get(), b.x, d.w.get(), b.w, d.conv.get(), d.y.get(), b.y,
                                            requested, returned, perf, ws, wsBytes);
    case Op::BackwardData:
      return cudnn().findBackwardDataAlgorithmEx(h, d.w.get(), b.w, d.y.get(), b.y, d.conv.get(), d.x.get(), b.x,
                                                 requested, returned, perf, ws, wsBytes);
    default:
      return cudnn().findBackwardFilterAlgorithmEx(h, d.x.get(), b.x, d.y.get(), b.y, d.conv.get(), d.w.get(), b.w,
                                                   requested, returned, perf, ws, wsBytes);
  }
}

cudnnStatus_t heuristicAlgorithms(Op op, cudnnHandle_t h, const Descriptors& d, int requested, int* returned,
                                  cudnnConvolutionAlgoPerf_t* perf) {
  switch (op) {
    case Op::Forward:
      return cudnn().getForwardAlgorithm_v7(h, d.x.get(), d.w.get(), d.conv.get(), d.y.get(), requested, returned,
                                            perf);
    case Op::BackwardData:
      return cudnn().getBackwardDataAlgorithm_v7(h, d.w.get(), d.y.get(), d.conv.get(), d.x.get(), requested,
                                                 returned, perf);
    default:
      return cudnn().getBackwardFilterAlgorithm_v7(h, d.x.get(), d.y.get(), d.conv.get(), d.w.get(), requested,
                                                   returned, perf);
  }
}

cudnnStatus_t runAlgorithm(Op op, cudnnHandle_t h, const Descriptors& d, const Buffers& b, int algo, void* ws,
                           size_t wsBytes, const void* one, const void* zero) {
  switch (op) {
    case Op::Forward:
      return cudnn().forward(h, one, d.x.get(), b.x, d.w.get(), b.w, d.conv.get(), algo, ws, wsBytes, zero, d.y.get(),
                             b.y);
    case Op::BackwardData:
      return cudnn().backwardData(h, one, d.w.get(), b.w, d.y.get(), b.y, d.conv.get(), algo, ws, wsBytes, zero,
                                  d.x.get(), b.x);
    default:
      return cudnn().backwardFilter(h, one, d.x.get(), b.x, d.y.get(), b.y, d.conv.get(), algo, ws, wsBytes, zero,
                                    d.w.get(), b.w);
  }
}

// ---------------------------------------------------------------- algorithm choice and cache

struct Choice {
  int algo;
  cudnnMathType_t math;
};

std::mutex gCacheMu;  // the cache is shared by the devices, whose locks differ
std::map<std::vector<int64_t>, std::vector<Choice>> gCache;

std::vector<int64_t> cacheKey(Op op, int device, const Problem& q, cudnnMathType_t math) {
  std::vector<int64_t> k = {static_cast<int64_t>(op), device, static_cast<int64_t>(q.dtype), math, q.nd, q.N, q.Cin,
                            q.Cout, q.G, q.direct};
  for (int i = 0; i < q.nd; i++) k.insert(k.end(), {q.X[i], q.K[i], q.O[i], q.s[i], q.direct ? q.p[i] : 0, q.d[i]});
  return k;
}

// A workspace of `bytes`, or null when the device has no memory for it.
std::unique_ptr<Scratch> tryWorkspace(Ctx& c, size_t bytes) {
  try {
    return std::make_unique<Scratch>(c, bytes);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::Memory) throw;
    return nullptr;
  }
}

// The algorithms cuDNN ran (or rates) successfully, in its order (fastest first). With TF32 off a
// float32 problem keeps FMA math whatever the algorithm reports; otherwise the reported math mode
// is the one it was timed with. Down-conversion to half precision is never wanted.
std::vector<Choice> usable(const std::vector<cudnnConvolutionAlgoPerf_t>& perf, int n, cudnnMathType_t math) {
  std::vector<Choice> out;
  for (int i = 0; i < n; i++) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) continue;
    out.push_back({perf[i].algo, math == CUDNN_FMA_MATH ? CUDNN_FMA_MATH : perf[i].mathType});
  }
  return out;
}

std::vector<Choice> chooseAlgorithms(Ctx& c, Op op, cudnnHandle_t h, const Descriptors& d, const Buffers& b,
                                     cudnnMathType_t math) {
  int count = 0;
  checkCudnn(maxAlgorithms(op, h, &count), "cudnnGetConvolution*AlgorithmMaxCount");
  count = std::max(count, 1);
  std::vector<cudnnConvolutionAlgoPerf_t> perf(static_cast<size_t>(count));
  size_t wsBytes = 0;
  for (int a = 0; a < count; a++) {
    size_t bytes = 0;
    if (workspaceSize(op, h, d, a, &bytes) == CUDNN_STATUS_SUCCESS) wsBytes = std::max(wsBytes, bytes);
  }
  wsBytes = std::min(wsBytes, kMaxFindWorkspace);
  std::unique_ptr<Scratch> ws = tryWorkspace(c, wsBytes);
  if (!ws) wsBytes = 0;  // the algorithms that need no workspace still compete
  int returned = 0;
  std::vector<Choice> out;
  if (findAlgorithms(op, h, d, b, count, &returned, perf.data(), ws ? ws->as<void>() : nullptr, wsBytes) ==
      CUDNN_STATUS_SUCCESS)
    out = usable(perf, std::min(returned, count), math);
  if (out.empty()) {
    returned = 0;
    checkCudnn(heuristicAlgorithms(op, h, d, count, &returned, perf.data()), "cudnnGetConvolution*Algorithm_v7");
    out = usable(perf, std::min(returned, count), math);
  }
  if (out.empty()) fail(ErrorKind::Device, runName(op), ": cuDNN offers no algorithm for this convolution");
  return out;
}

// Runs op on the buffers with the cached (or newly chosen) algorithms: the first one whose
// workspace can be allocated and that cuDNN accepts.
void execute(Ctx& c, Op op, const Problem& q, const Buffers& b) {
  const cudnnMathType_t math = mathFor(q.dtype);
  Descriptors d(q, math);
  cudnnHandle_t h = static_cast<cudnnHandle_t>(cudnnHandleFor(c));
  const std::vector<int64_t> key = cacheKey(op, c.device, q, math);
  std::vector<Choice> choices;
  {
    std::lock_guard<std::mutex> lock(gCacheMu);
    auto it = gCache.find(key);
    if (it != gCache.end()) choices = it->second;
  }
  if (choices.empty()) {
    choices = chooseAlgorithms(c, op, h, d, b, math);
    std::lock_guard<std::mutex> lock(gCacheMu);
    gCache[key] = choices;
  }
  const float oneF = 1, zeroF = 0;
  const double oneD = 1, zeroD = 0;
  const bool f64 = q.dtype == DType::Float64;
  const void* one = f64 ? static_cast<const void*>(&oneD) : &oneF;
  const void* zero = f64 ? static_cast<const void*>(&zeroD) : &zeroF;
  cudnnStatus_t last = CUDNN_STATUS_NOT_SUPPORTED;
  bool outOfMemory = false;
  for (const Choice& ch : choices) {
    checkCudnn(cudnn().setConvolutionMathType(d.conv.get(), ch.math), "cudnnSetConvolutionMathType");
    size_t bytes = 0;
    cudnnStatus_t st = workspaceSize(op, h, d, ch.algo, &bytes);
    if (st != CUDNN_STATUS_SUCCESS) {
      last = st;
      continue;
    }
    std::unique_ptr<Scratch> ws = tryWorkspace(c, bytes);
    if (!ws) {
      outOfMemory = true;
      continue;
    }
    st = runAlgorithm(op, h, d, b, ch.algo, ws->as<void>(), bytes, one, zero);
    if (st == CUDNN_STATUS_SUCCESS) return;
    // An algorithm that turns the problem down (bad parameter / not supported categories) makes
    // way for the next; a failure while running is reported.
    if (st / 1000 != 2 && st / 1000 != 3) checkCudnn(st, runName(op));
    last = st;
  }
  if (outOfMemory)
    fail(ErrorKind::Memory, runName(op), ": out of memory on cuda:", c.device,
         " for the workspace of every cuDNN algorithm that fits this convolution");
  checkCudnn(last, runName(op));
}

// ---------------------------------------------------------------- operands

void* address(const View& v) {
  return static_cast<char*>(v.data) + v.layout.offset * static_cast<int64_t>(dtypeSize(v.dtype));
}

bool ready(const View& v) { return v.isContiguous() && reinterpret_cast<uintptr_t>(address(v)) % 16 == 0; }

// A fresh contiguous view of `shape` in a scratch buffer (pool memory: 256-byte aligned).
View scratchView(Ctx& c, DType t, int ndim, const int64_t* shape, std::unique_ptr<Scratch>& buf) {
  View v;
  v.dtype = t;
  v.layout = Layout::contiguous(ndim, shape);
  buf = std::make_unique<Scratch>(c, static_cast<size_t>(v.numel()) * dtypeSize(t));
  v.data = buf->as<void>();
  return v;
}

// An input as cuDNN takes it: v itself, or a contiguous copy.
View cudnnInput(Ctx& c, const View& v, std::unique_ptr<Scratch>& buf) {
  if (ready(v)) return v;
  View dst = scratchView(c, v.dtype, v.ndim(), v.layout.shape, buf);
  copy(c, dst, v);
  return dst;
}

// Where cuDNN writes an output: the output itself (fresh, so contiguous and aligned), else a
// scratch buffer copied over afterwards (`buf` set).
View cudnnOutput(Ctx& c, const View& out, std::unique_ptr<Scratch>& buf) {
  return ready(out) ? out : scratchView(c, out.dtype, out.ndim(), out.layout.shape, buf);
}

// The part of x inside the padded extent: `inPadded` (a view of the padded buffer) and `inX` (of
// x) are cut to it. False when it is empty. `covers` says whether it fills the padded buffer.
bool paddedWindow(const Problem& q, View& inPadded, View& inX, bool* covers) {
  *covers = true;
  for (int j = 0; j < q.S; j++) {
    const int i = q.lead + j;
    const int64_t len = std::min(q.I[i], q.X[i] - q.p[i]);
    if (len <= 0) {
      *covers = false;
      return false;
    }
    if (q.p[i] > 0 || len < q.X[i]) *covers = false;
    inPadded.layout.offset += q.p[i] * inPadded.stride(2 + j);
    inPadded.layout.shape[2 + j] = len;
    inX.layout.shape[2 + j] = len;
  }
  return true;
}

// x zero-padded to the extent the explicit-padding path convolves without padding.
View paddedInput(Ctx& c, const View& x, const Problem& q, std::unique_ptr<Scratch>& buf) {
  int64_t shape[5] = {q.N, q.Cin};
  for (int j = 0; j < q.S; j++) shape[2 + j] = q.X[q.lead + j];
  const View padded = scratchView(c, x.dtype, q.S + 2, shape, buf);
  View dst = padded, src = x;
  bool covers = false;
  const bool any = paddedWindow(q, dst, src, &covers);
  if (!covers) fill(c, padded, 0.0);
  if (any) copy(c, dst, src);
  return padded;
}

// x = the window of the gradient of the padded input (zero where x is never read).
void unpadGradient(Ctx& c, const View& x, const View& padded, const Problem& q) {
  View src = padded, dst = x;
  bool covers = false;
  const bool any = paddedWindow(q, src, dst, &covers);
  bool whole = any;
  for (int j = 0; j < q.S && whole; j++) whole = dst.size(2 + j) == x.size(2 + j);
  if (!whole) fill(c, x, 0.0);
  if (any) copy(c, dst, src);
}

}  // namespace

void conv(Ctx& c, const View& y, const View& x, const View& w, const View* bias, const ConvParams& p) {
  if (y.numel() == 0) return;
  if (x.numel() == 0) {  // no input channels, or an empty input inside the padding: y = bias
    fill(c, y, 0.0);
  } else {
    const Problem q = problem(x, w, y, p);
    checkFits(q);
    std::unique_ptr<Scratch> xBuf, wBuf, yBuf;
    const View xs = q.direct ? cudnnInput(c, x, xBuf) : paddedInput(c, x, q, xBuf);
    const View ws = cudnnInput(c, w, wBuf);
    const View ys = cudnnOutput(c, y, yBuf);
    execute(c, Op::Forward, q, {address(xs), address(ws), address(ys)});
    if (yBuf) copy(c, y, ys);
  }
  if (bias) addChannelBias(c, y, *bias);
}

void convTranspose(Ctx& c, const View& x, const View& y, const View& w, const ConvParams& p) {
  if (x.numel() == 0) return;
  if (y.numel() == 0) return fill(c, x, 0.0);  // no output channels or positions: nothing flows back
  const Problem q = problem(x, w, y, p);
  checkFits(q);
  std::unique_ptr<Scratch> xBuf, wBuf, yBuf;
  const View ys = cudnnInput(c, y, yBuf);
  const View ws = cudnnInput(c, w, wBuf);
  if (q.direct) {
    const View xs = cudnnOutput(c, x, xBuf);
    execute(c, Op::BackwardData, q, {address(xs), address(ws), address(ys)});
    if (xBuf) copy(c, x, xs);
    return;
  }
  int64_t shape[5] = {q.N, q.Cin};
  for (int j = 0; j < q.S; j++) shape[2 + j] = q.X[q.lead + j];
  const View padded = scratchView(c, x.dtype, q.S + 2, shape, xBuf);
  execute(c, Op::BackwardData, q, {address(padded), address(ws), address(ys)});
  unpadGradient(c, x, padded, q);
}

void convWeightGrad(Ctx& c, const View& w, const View& x, const View& y, const ConvParams& p) {
  if (w.numel() == 0) return;
  if (x.numel() == 0 || y.numel() == 0) return fill(c, w, 0.0);  // an empty sum
  const Problem q = problem(x, w, y, p);
  checkFits(q);
  std::unique_ptr<Scratch> xBuf, wBuf, yBuf;
  const View xs = q.direct ? cudnnInput(c, x, xBuf) : paddedInput(c, x, q, xBuf);
  const View ys = cudnnInput(c, y, yBuf);
  const View ws = cudnnOutput(c, w, wBuf);
  execute(c, Op::BackwardFilter, q, {address(xs), address(ws), address(ys)});
  if (wBuf) copy(c, w, ws);
}

}  // namespace cuda
}  // namespace kiln
