// Backend lookup and the CUDA plugin loader.
//
// The core never links anything CUDA. On the first call that needs CUDA (a status query or a
// tensor on a CUDA device) it looks for the kiln_cuda plugin next to kiln.node, then in the
// package's prebuilds/<platform>-<arch>/ folder (or at $KILN_CUDA_PLUGIN when set), opens it
// with dlopen, checks its ABI version and asks it to probe the driver, devices and libraries.
// Whatever fails first becomes cudaUnavailableReason(). The plugin is never closed: storages
// and backends may outlive any point where closing it would be safe.
#include "devices.h"

#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "errors.h"

#if !defined(_WIN32)
#include <dlfcn.h>
#include <sys/stat.h>
#endif

namespace kiln {
namespace {

#if defined(__linux__)
constexpr const char* kPluginFile = "kiln_cuda.so";
#elif defined(__APPLE__)
constexpr const char* kPluginFile = "kiln_cuda.dylib";
#else
constexpr const char* kPluginFile = "kiln_cuda.dll";
#endif

#if defined(__linux__) && defined(__x86_64__)
constexpr const char* kPlatformDir = "linux-x64";
#elif defined(__linux__) && defined(__aarch64__)
constexpr const char* kPlatformDir = "linux-arm64";
#elif defined(_WIN32)
constexpr const char* kPlatformDir = "win32-x64";
#else
constexpr const char* kPlatformDir = "unsupported";
#endif

struct Plugin {
  const CudaPluginApi* api = nullptr;  // null when unavailable
  std::string reason;
  std::string path;
  int deviceCount = 0;
};

#if !defined(_WIN32)
bool fileExists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string dirOf(const std::string& p) {
  size_t slash = p.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : p.substr(0, slash);
}

// The folder kiln.node was loaded from (this function's own shared object).
std::string addonDir() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&addonDir), &info) == 0 || !info.dli_fname) return ".";
  return dirOf(info.dli_fname);
}

void load(Plugin& p) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("KILN_CUDA_PLUGIN"); env && *env) {
    candidates.push_back(env);
  } else {
    // build/Release/kiln.node or prebuilds/<platform>/kiln.node: the plugin sits beside it;
    // a local build may also use a plugin shipped in the package's prebuilds.
    std::string dir = addonDir();
    candidates.push_back(dir + "/" + kPluginFile);
    candidates.push_back(dir + "/../../prebuilds/" + kPlatformDir + "/" + kPluginFile);
  }
  std::string path;
  for (const auto& c : candidates)
    if (fileExists(c)) {
      path = c;
      break;
    }
  if (path.empty()) {
    std::string looked;
    for (const auto& c : candidates) looked += (looked.empty() ? "" : ", ") + c;
    p.reason = "kiln was built without the CUDA plugin (no " + std::string(kPluginFile) + " at " + looked +
               "; build on a machine with nvcc, or install a prebuilt binary)";
    return;
  }
  p.path = path;
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = dlerror();
    p.reason = "the CUDA plugin failed to load: " + std::string(e ? e : path.c_str());
    return;
  }
  auto entry = reinterpret_cast<KilnCudaPluginEntry>(dlsym(lib, KILN_CUDA_PLUGIN_ENTRY));
  if (!entry) {
    p.reason = "the CUDA plugin " + path + " is not a kiln plugin (no " KILN_CUDA_PLUGIN_ENTRY " symbol)";
    return;
  }
  const CudaPluginApi* api = entry();
  if (!api || api->abi != kCudaPluginAbi || api->structSize != sizeof(CudaPluginApi)) {
    p.reason = "the CUDA plugin " + path + " was built for plugin ABI " + std::to_string(api ? api->abi : 0) +
               ", this kiln.node needs ABI " + std::to_string(kCudaPluginAbi) + " (rebuild both together)";
    return;
  }
  PluginStatus st;
  int32_t count = 0;
  api->probe(&count, &st);
  if (st.kind != 0) {
    p.reason = st.message;
    return;
  }
  p.deviceCount = count;
  p.api = api;
}
#else
void load(Plugin& p) { p.reason = "CUDA plugin loading is not implemented on Windows yet"; }
#endif

Plugin& plugin() {
  static Plugin p;
  static std::once_flag once;
  std::call_once(once, [] { load(p); });
  return p;
}

const CudaPluginApi& api() {
  Plugin& p = plugin();
  if (!p.api) fail(ErrorKind::Device, "CUDA is not available: ", p.reason);
  return *p.api;
}

// Turns a failed plugin call into the kiln::Error it describes.
void check(const PluginStatus& st) {
  if (st.kind == 0) return;
  int k = st.kind - 1;
  ErrorKind kind = k >= 0 && k <= static_cast<int>(ErrorKind::Memory) ? static_cast<ErrorKind>(k) : ErrorKind::Kiln;
  throw Error(kind, st.message);
}

// The Backend the core sees for one CUDA device: forwards every call through the plugin table.
class CudaBackend final : public Backend {
 public:
  CudaBackend(const CudaPluginApi& api, int index) : api_(api), index_(index) {}
  DeviceType deviceType() const override { return DeviceType::CUDA; }
  int deviceIndex() const override { return index_; }

  void* allocate(size_t bytes) override {
    PluginStatus st;
    void* p = api_.allocate(index_, bytes, &st);
    check(st);
    return p;
  }
  void deallocate(void* ptr, size_t bytes) override { api_.deallocate(index_, ptr, bytes); }
  void copyFromHost(void* dst, const void* src, size_t bytes) override {
    call(api_.copyFromHost, dst, src, bytes);
  }
  void copyToHost(void* dst, const void* src, size_t bytes) override { call(api_.copyToHost, dst, src, bytes); }
  void synchronize() override { call(api_.synchronize); }

  bool supports(const char* op, DType t) const override { return api_.supports(op, static_cast<int32_t>(t)) != 0; }
  void unary(UnaryOp op, const View& out, const View& a) override {
    call(api_.unary, static_cast<int32_t>(op), &out, &a);
  }
  void binary(BinaryOp op, const View& out, const View& a, const View& b) override {
    call(api_.binary, static_cast<int32_t>(op), &out, &a, &b);
  }
  void where(const View& out, const View& c, const View& a, const View& b) override {
    call(api_.where, &out, &c, &a, &b);
  }
  void reduce(ReduceOp op, const View& out, const View& a, uint32_t mask) override {
    call(api_.reduce, static_cast<int32_t>(op), &out, &a, mask);
  }
  void cumsum(const View& out, const View& a, int dim) override { call(api_.cumsum, &out, &a, dim); }
  void matmul(const View& out, const View& a, const View& b) override { call(api_.matmul, &out, &a, &b); }
  void matmulBias(const View& out, const View& a, const View& b, const View& bias) override {
    call(api_.matmulBias, &out, &a, &b, &bias);
  }
  void gather(const View& out, const View& src, const View& index, int dim) override {
    call(api_.gather, &out, &src, &index, dim);
  }
  void scatterAdd(const View& out, const View& index, const View& src, int dim) override {
    call(api_.scatterAdd, &out, &index, &src, dim);
  }
  void indexSelect(const View& out, const View& src, const View& index, int dim) override {
    call(api_.indexSelect, &out, &src, &index, dim);
  }
  void pad(const View& out, const View& a, const int64_t* before, double value) override {
    call(api_.pad, &out, &a, before, value);
  }
  void cast(const View& out, const View& a) override { call(api_.cast, &out, &a); }
  void copy(const View& out, const View& a) override { call(api_.copy, &out, &a); }
  void fill(const View& out, double value) override { call(api_.fill, &out, value); }
  void arange(const View& out, double start, double step) override { call(api_.arange, &out, start, step); }
  void random(RandomOp op, const View& out, uint64_t seed, uint64_t offset, double a, double b) override {
    call(api_.random, static_cast<int32_t>(op), &out, seed, offset, a, b);
  }
  void optimStep(OptimOp op, const View* states, int nStates, const View& grad, const double* attrs,
                 int nAttrs) override {
    call(api_.optimStep, static_cast<int32_t>(op), states, static_cast<int32_t>(nStates), &grad, attrs,
         static_cast<int32_t>(nAttrs));
  }
  void conv(const View& y, const View& x, const View& w, const View* bias, const ConvParams& p) override {
    call(api_.conv, &y, &x, &w, bias, &p);
  }
  void convTranspose(const View& x, const View& y, const View& w, const ConvParams& p) override {
    call(api_.convTranspose, &x, &y, &w, &p);
  }
  void convWeightGrad(const View& w, const View& x, const View& y, const ConvParams& p) override {
    call(api_.convWeightGrad, &w, &x, &y, &p);
  }
  void maxPoolIndices(const View& index, const View& x, const PoolParams& p) override {
    call(api_.maxPoolIndices, &index, &x, &p);
  }
  void avgPool(const View& y, const View& x, const PoolParams& p) override { call(api_.avgPool, &y, &x, &p); }
  void avgPoolTranspose(const View& x, const View& y, const PoolParams& p) override {
    call(api_.avgPoolTranspose, &x, &y, &p);
  }
  void lstmCell(const View& out, const View& gates, const View& c) override { call(api_.lstmCell, &out, &gates, &c); }
  void lstmCellBackward(const View& out, const View& gates, const View& c, const View& grad) override {
    call(api_.lstmCellBackward, &out, &gates, &c, &grad);
  }
  void gruCell(const View& out, const View& gi, const View& gh, const View& h) override {
    call(api_.gruCell, &out, &gi, &gh, &h);
  }
  void gruCellBackward(const View& out, const View& gi, const View& gh, const View& h, const View& grad) override {
    call(api_.gruCellBackward, &out, &gi, &gh, &h, &grad);
  }
  void normalize(const View& out, const View& x, double eps) override { call(api_.normalize, &out, &x, eps); }
  void normalizeBackward(const View& out, const View& x, const View& g, double eps) override {
    call(api_.normalizeBackward, &out, &x, &g, eps);
  }
  void moments(const View& out, const View& x) override { call(api_.moments, &out, &x); }
  void layerNorm(const View& y, const View& stats, const View& x, const View& w, const View& b, double eps) override {
    call(api_.layerNorm, &y, &stats, &x, &w, &b, eps);
  }
  void layerNormBackward(const View& dx, const View& dw, const View& db, const View& x, const View& w,
                         const View& stats, const View& g) override {
    call(api_.layerNormBackward, &dx, &dw, &db, &x, &w, &stats, &g);
  }
  void softmax(const View& out, const View& x, bool log) override {
    call(api_.softmax, &out, &x, static_cast<int32_t>(log ? 1 : 0));
  }
  void softmaxBackward(const View& out, const View& y, const View& g, bool log) override {
    call(api_.softmaxBackward, &out, &y, &g, static_cast<int32_t>(log ? 1 : 0));
  }
  void dropout(const View& out, const View& x, uint64_t seed, uint64_t offset, double keep, double scale) override {
    call(api_.dropout, &out, &x, seed, offset, keep, scale);
  }
  void reluBackward(const View& out, const View& g, const View& x) override { call(api_.reluBackward, &out, &g, &x); }
  void maxPool(const View& y, const View& x, const PoolParams& p) override { call(api_.maxPool, &y, &x, &p); }
  void maxPoolGrad(const View& dx, const View& x, const View& gy, const PoolParams& p) override {
    call(api_.maxPoolGrad, &dx, &x, &gy, &p);
  }
  void maxPoolBackward(const View& x, const View& y, const View& index) override {
    call(api_.maxPoolBackward, &x, &y, &index);
  }
  void crossEntropy(const View& out, const View& x, const View& target) override {
    call(api_.crossEntropy, &out, &x, &target);
  }
  void crossEntropyBackward(const View& out, const View& x, const View& target, const View& g) override {
    call(api_.crossEntropyBackward, &out, &x, &target, &g);
  }
  size_t lstmSequenceReserveBytes(DType t, int64_t T, int64_t B, int64_t I, int64_t H, int flags) const override {
    const int64_t dims[4] = {T, B, I, H};
    uint64_t bytes = 0;
    call(api_.lstmSequenceReserveBytes, static_cast<int32_t>(t), static_cast<const int64_t*>(dims),
         static_cast<int32_t>(flags), &bytes);
    return static_cast<size_t>(bytes);
  }
  void lstmSequence(const View& out, const View& reserve, const View& x, const View& h0, const View& c0,
                    const View& wIh, const View& wHh, const View& b, int flags) override {
    const View ins[6] = {x, h0, c0, wIh, wHh, b};
    call(api_.lstmSequence, &out, &reserve, static_cast<const View*>(ins), static_cast<int32_t>(flags));
  }
  void lstmSequenceBackward(const View* grads, const View& x, const View& h0, const View& c0, const View& out,
                            const View& reserve, const View& grad, int flags) override {
    const View ins[6] = {x, h0, c0, out, reserve, grad};
    call(api_.lstmSequenceBackward, grads, static_cast<const View*>(ins), static_cast<int32_t>(flags));
  }

 private:
  // fn(device, args..., &status), then raise what it reported.
  template <typename Fn, typename... Args>
  void call(Fn fn, Args... args) const {
    PluginStatus st;
    fn(index_, args..., &st);
    check(st);
  }

  const CudaPluginApi& api_;
  int index_;
};

}  // namespace

bool cudaAvailable() { return plugin().api != nullptr; }
int cudaDeviceCount() { return plugin().deviceCount; }
std::string cudaUnavailableReason() { return plugin().api ? std::string() : plugin().reason; }
std::string cudaPluginPath() { return plugin().path; }

std::string cudaVersions() {
  if (!plugin().api) return std::string();
  char buf[512] = {};
  plugin().api->versions(buf, sizeof(buf));
  return buf;
}

namespace {
int checkIndex(int index) {
  int n = cudaDeviceCount();
  if (!cudaAvailable()) fail(ErrorKind::Device, "cuda:", index, " is not available: ", cudaUnavailableReason());
  if (index < 0 || index >= n)
    fail(ErrorKind::Device, "cuda:", index, " does not exist (", n, " CUDA device", n == 1 ? "" : "s", " found)");
  return index;
}
}  // namespace

Backend& cudaBackend(int index) {
  checkIndex(index);
  // Created once per device and never destroyed: storages may be released during shutdown.
  static std::mutex mu;
  static std::vector<Backend*> backends;
  std::lock_guard<std::mutex> lock(mu);
  if (backends.empty()) backends.assign(static_cast<size_t>(cudaDeviceCount()), nullptr);
  Backend*& b = backends[static_cast<size_t>(index)];
  if (!b) b = new CudaBackend(api(), index);
  return *b;
}

CudaDeviceInfo cudaDeviceInfo(int index) {
  checkIndex(index);
  CudaDeviceInfo info{};
  PluginStatus st;
  api().deviceInfo(index, &info, &st);
  check(st);
  return info;
}

CudaMemoryStats cudaMemoryStats(int index) {
  checkIndex(index);
  CudaMemoryStats s{};
  PluginStatus st;
  api().memoryStats(index, &s, &st);
  check(st);
  return s;
}

void cudaEmptyCache(int index) {
  checkIndex(index);
  PluginStatus st;
  api().emptyCache(index, &st);
  check(st);
}

void cudaSetOption(const char* name, double value) {
  PluginStatus st;
  api().setOption(name, value, &st);
  check(st);
}

Backend& backendForDevice(int64_t code) {
  int64_t type = code >> 8, index = code & 0xff;
  if (code < 0 || type > 1) fail(ErrorKind::Device, "unknown device code ", code);
  if (type == 0) {
    if (index != 0) fail(ErrorKind::Device, "cpu device index must be 0, got ", index);
    return cpuBackend();
  }
  return cudaBackend(static_cast<int>(index));
}

}  // namespace kiln
