// The N-API surface: the only code that touches JS values. Everything else is plain C++.
//
// Protocol of exec(opId): JS fills the Float64Array registered by init() with
//   [nOut, nIn, operand..., nAttrs, attr...]
// where each operand (outputs first, then inputs) is
//   [handle, dtype, device, ndim, offset, shape[ndim]..., strides[ndim]...]
// An output with handle 0 is allocated here (contiguous) and its new handle is written back
// into its handle field. Attributes are plain doubles (integers where the op says so).
#include <napi.h>

#include <atomic>
#include <cmath>
#include <new>
#include <string>

#include "../core/devices.h"
#include "../core/errors.h"
#include "../core/ops.h"
#include "../core/float_env.h"
#include "../core/thread_pool.h"
#include "../cpu/cpu_info.h"
#include "handle_table.h"

namespace kiln {
namespace {

struct EnvData {
  explicit EnvData(uint32_t tag) : table(tag) {}
  HandleTable table;
  Napi::Reference<Napi::Float64Array> argsRef;
  double* args = nullptr;
  size_t argsLen = 0;
};

std::atomic<uint32_t> nextEnvTag{1};

EnvData& data(Napi::Env env) {
  EnvData* d = env.GetInstanceData<EnvData>();
  if (!d) throw Error(ErrorKind::Kiln, "kiln addon used before init()");
  return *d;
}

// Tell V8 about host memory so its GC feels the pressure of large tensors.
void reportExternal(Napi::Env env, EnvData& d) {
  int64_t delta = d.table.takeExternalDelta();
  if (delta != 0) {
    int64_t ignored;
    napi_adjust_external_memory(env, delta, &ignored);
  }
}

template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, F&& body) {
  Napi::Env env = info.Env();
  try {
    return body(env);
  } catch (const Error& e) {
    Napi::Error err = Napi::Error::New(env, e.what());
    err.Set("code", Napi::String::New(env, errorCode(e.kind())));
    throw err;
  } catch (const std::bad_alloc&) {
    Napi::Error err = Napi::Error::New(env, "out of memory");
    err.Set("code", Napi::String::New(env, "MemoryError"));
    throw err;
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    Napi::Error err = Napi::Error::New(env, e.what());
    err.Set("code", Napi::String::New(env, "KilnError"));
    throw err;
  }
}

double numberArg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (info.Length() <= i || !info[i].IsNumber())
    fail(ErrorKind::Kiln, fn, ": argument ", i, " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

int64_t intArg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  double v = numberArg(info, i, fn);
  if (!std::isfinite(v) || std::floor(v) != v || std::fabs(v) > 9007199254740992.0)
    fail(ErrorKind::Kiln, fn, ": argument ", i, " must be an integer, got ", v);
  return static_cast<int64_t>(v);
}

// ------------------------------------------------------------------ exec

// Reads the args buffer sequentially, refusing to run past its end.
class ArgReader {
 public:
  ArgReader(const double* p, size_t n) : p_(p), n_(n) {}
  size_t pos() const { return i_; }
  double next(const char* what) {
    if (i_ >= n_) fail(ErrorKind::Kiln, "exec: argument buffer overrun reading ", what);
    return p_[i_++];
  }
  int64_t nextInt(const char* what, int64_t lo, int64_t hi) {
    double v = next(what);
    if (!(v >= static_cast<double>(lo) && v <= static_cast<double>(hi)) || std::floor(v) != v)
      fail(ErrorKind::Kiln, "exec: ", what, " must be an integer in [", lo, ", ", hi, "], got ", v);
    return static_cast<int64_t>(v);
  }

 private:
  const double* p_;
  size_t n_;
  size_t i_ = 0;
};

struct Operand {
  size_t handlePos;
  double handle;
  DType dtype;
  int64_t device;
  Layout layout;
  std::shared_ptr<Storage> storage;
};

constexpr int64_t kMaxExtent = int64_t{1} << 48;

void readOperand(ArgReader& r, Operand& o) {
  o.handlePos = r.pos();
  o.handle = r.next("handle");
  o.dtype = static_cast<DType>(r.nextInt("dtype", 0, kNumDTypes - 1));
  o.device = r.nextInt("device", 0, (1 << 16) - 1);
  o.layout.ndim = static_cast<int>(r.nextInt("ndim", 0, kMaxDims));
  o.layout.offset = r.nextInt("offset", 0, kMaxExtent);
  for (int d = 0; d < o.layout.ndim; d++) o.layout.shape[d] = r.nextInt("shape", 0, kMaxExtent);
  for (int d = 0; d < o.layout.ndim; d++) o.layout.strides[d] = r.nextInt("stride", -kMaxExtent, kMaxExtent);
  // Element counts must not overflow anywhere downstream: every size is <= 2^48, and so must be
  // their product (a stride-0 view can otherwise claim 2^64 elements of a 1-element storage).
  int64_t count = 1;
  for (int d = 0; d < o.layout.ndim; d++) {
    int64_t s = o.layout.shape[d];
    if (s != 0 && count > kMaxExtent / s) fail(ErrorKind::Shape, "exec: an operand has more than 2^48 elements");
    count *= s;
  }
}

// Every element the layout addresses must lie inside the storage.
void checkInBounds(const char* opName, const Operand& o, const Storage& s) {
  int64_t lo = o.layout.offset, hi = o.layout.offset;
  for (int d = 0; d < o.layout.ndim; d++) {
    if (o.layout.shape[d] == 0) return;  // addresses nothing
    // |stride| and shape are both < 2^48, so each product fits comfortably in long double.
    long double span = static_cast<long double>(o.layout.shape[d] - 1) * o.layout.strides[d];
    if (span > static_cast<long double>(kMaxExtent) || span < -static_cast<long double>(kMaxExtent))
      fail(ErrorKind::Index, opName, ": view addresses elements beyond any storage");
    if (span >= 0) hi += static_cast<int64_t>(span);
    else lo += static_cast<int64_t>(span);
  }
  if (lo < 0 || hi >= s.numel())
    fail(ErrorKind::Index, opName, ": view addresses elements [", lo, ", ", hi, "] outside its storage of ",
         s.numel(), " elements");
}

std::string deviceName(int64_t code) {
  return (code >> 8) ? "cuda:" + std::to_string(code & 0xff) : std::string("cpu");
}

Napi::Value Exec(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    EnvData& d = data(env);
    const auto& table = opTable();
    int64_t opId = intArg(info, 0, "exec");
    if (opId < 0 || opId >= static_cast<int64_t>(table.size())) fail(ErrorKind::Kiln, "exec: unknown op id ", opId);
    const OpDef& op = table[static_cast<size_t>(opId)];
    const char* name = op.name.c_str();

    ArgReader r(d.args, d.argsLen);
    int64_t nOut = r.nextInt("nOut", 0, 8), nIn = r.nextInt("nIn", 0, 8);
    if (nOut != op.nOut || nIn != op.nIn)
      fail(ErrorKind::Kiln, name, ": expected ", op.nOut, " output(s) and ", op.nIn, " input(s), got ", nOut, " and ", nIn);
    Operand operands[16];
    for (int i = 0; i < nOut + nIn; i++) readOperand(r, operands[i]);
    int64_t nAttrs = r.nextInt("nAttrs", 0, 64);
    size_t attrPos = r.pos();
    for (int64_t i = 0; i < nAttrs; i++) r.next("attribute");

    // Resolve inputs and existing outputs; all must live on one device.
    int64_t device = -1;
    for (int i = 0; i < nOut + nIn; i++) {
      Operand& o = operands[i];
      bool isOut = i < nOut;
      bool fresh = isOut && o.handle == 0;
      if (fresh && op.out == OpDef::Out::Existing) fail(ErrorKind::Kiln, name, ": output must be an existing tensor");
      if (isOut && !fresh && op.out == OpDef::Out::Fresh) fail(ErrorKind::Kiln, name, ": cannot write into an existing tensor");
      if (!fresh) {
        o.storage = d.table.get(o.handle, name);
        if (o.storage->dtype() != o.dtype)
          fail(ErrorKind::DType, name, ": operand dtype ", dtypeName(o.dtype), " does not match its storage (",
               dtypeName(o.storage->dtype()), ")");
        checkInBounds(name, o, *o.storage);
        Backend& b = o.storage->backend();
        o.device = (static_cast<int64_t>(b.deviceType()) << 8) | b.deviceIndex();
      }
      if (device < 0) device = o.device;
      else if (o.device != device)
        fail(ErrorKind::Device, name, ": operands are on different devices (", deviceName(device), " and ",
             deviceName(o.device), ")");
    }
    Backend& backend = backendForDevice(device < 0 ? 0 : device);

    OpCall call;
    call.attrs = d.args + attrPos;
    call.nAttrs = static_cast<int>(nAttrs);
    // Allocate fresh outputs; the call's views are built only once storages exist.
    for (int i = 0; i < nOut; i++) {
      Operand& o = operands[i];
      if (o.handle != 0) continue;
      o.layout = Layout::contiguous(o.layout.ndim, o.layout.shape);
    }
    for (int i = 0; i < nOut + nIn; i++) {
      Operand& o = operands[i];
      View v;
      v.dtype = o.dtype;
      v.layout = o.layout;
      v.data = o.storage ? o.storage->data() : nullptr;
      (i < nOut ? call.outs : call.ins).push_back(v);
    }
    op.check(op, call, backend);  // before allocating: a bad call costs nothing
    for (int i = 0; i < nOut; i++) {
      Operand& o = operands[i];
      if (o.handle != 0) continue;
      o.storage = Storage::create(backend, o.dtype, o.layout.numel(), &d.table);
      call.outs[i].data = o.storage->data();
    }
    {
      ScopedFlushDenormal fpEnv;  // the kernel's floating-point environment (float_env.h)
      op.run(op, backend, call);
    }
    for (int i = 0; i < nOut; i++) {
      Operand& o = operands[i];
      if (o.handle == 0) d.args[o.handlePos] = static_cast<double>(d.table.insert(o.storage));
    }
    reportExternal(env, d);
    return env.Undefined();
  });
}

// ------------------------------------------------------------------ management calls

Napi::Value Init(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
      fail(ErrorKind::Kiln, "init: expected a Float64Array argument buffer");
    EnvData* d = env.GetInstanceData<EnvData>();
    if (!d) {
      uint32_t tag = nextEnvTag.fetch_add(1) % 511 + 1;
      d = new EnvData(tag);
      env.SetInstanceData<EnvData>(d);
    }
    auto args = info[0].As<Napi::Float64Array>();
    d->argsRef = Napi::Persistent(args);
    d->args = args.Data();
    d->argsLen = args.ElementLength();

    Napi::Object result = Napi::Object::New(env);
    const auto& table = opTable();
    Napi::Array ops = Napi::Array::New(env, table.size());
    for (size_t i = 0; i < table.size(); i++) ops.Set(static_cast<uint32_t>(i), table[i].name);
    result.Set("ops", ops);
    result.Set("maxDims", Napi::Number::New(env, kMaxDims));
    return result;
  });
}

// fromBuffer(view: ArrayBufferView, dtype, device) -> handle. Copies the bytes.
Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    EnvData& d = data(env);
    if (info.Length() < 3 || !info[0].IsTypedArray()) fail(ErrorKind::Kiln, "fromBuffer: expected a typed array");
    auto arr = info[0].As<Napi::TypedArray>();
    int64_t dt = intArg(info, 1, "fromBuffer");
    if (!validDType(dt)) fail(ErrorKind::DType, "fromBuffer: unknown dtype ", dt);
    DType dtype = static_cast<DType>(dt);
    size_t bytes = arr.ByteLength();
    if (bytes % dtypeSize(dtype) != 0)
      fail(ErrorKind::DType, "fromBuffer: ", bytes, " bytes is not a whole number of ", dtypeName(dtype), " elements");
    Backend& b = backendForDevice(intArg(info, 2, "fromBuffer"));
    int64_t numel = static_cast<int64_t>(bytes / dtypeSize(dtype));
    auto storage = Storage::create(b, dtype, numel, &d.table);
    auto buffer = arr.ArrayBuffer();
    const uint8_t* src = static_cast<const uint8_t*>(buffer.Data()) + arr.ByteOffset();
    if (bytes) b.copyFromHost(storage->data(), src, bytes);
    double h = static_cast<double>(d.table.insert(storage));
    reportExternal(env, d);
    return Napi::Number::New(env, h);
  });
}

// read(handle, elementOffset, numel) -> ArrayBuffer holding a copy (never external memory:
// Electron forbids external buffers, and a copy cannot be invalidated by a later free).
Napi::Value Read(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    EnvData& d = data(env);
    const auto& s = d.table.get(numberArg(info, 0, "read"), "read");
    int64_t offset = intArg(info, 1, "read"), count = intArg(info, 2, "read");
    if (offset < 0 || count < 0 || offset + count > s->numel())
      fail(ErrorKind::Index, "read: range [", offset, ", ", offset + count, ") outside storage of ", s->numel(), " elements");
    size_t es = dtypeSize(s->dtype());
    auto out = Napi::ArrayBuffer::New(env, static_cast<size_t>(count) * es);
    if (count) s->backend().copyToHost(out.Data(), static_cast<uint8_t*>(s->data()) + offset * es, count * es);
    return out;
  });
}

Napi::Value Share(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    EnvData& d = data(env);
    std::shared_ptr<Storage> s = d.table.get(numberArg(info, 0, "share"), "share");
    return Napi::Number::New(env, static_cast<double>(d.table.insert(std::move(s))));
  });
}

Napi::Value Free(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    EnvData& d = data(env);
    bool ok = d.table.release(numberArg(info, 0, "free"));
    reportExternal(env, d);
    return Napi::Boolean::New(env, ok);
  });
}

// storageInfo(handle) -> [numel, dtype, device]
Napi::Value StorageInfo(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    EnvData& d = data(env);
    const auto& s = d.table.get(numberArg(info, 0, "storageInfo"), "storageInfo");
    Napi::Array a = Napi::Array::New(env, 3);
    a.Set(0u, Napi::Number::New(env, static_cast<double>(s->numel())));
    a.Set(1u, Napi::Number::New(env, static_cast<int>(s->dtype())));
    a.Set(2u, Napi::Number::New(env, (static_cast<int>(s->backend().deviceType()) << 8) | s->backend().deviceIndex()));
    return a;
  });
}

Napi::Object memoryObject(Napi::Env env, const DeviceMemory& m) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(m.bytes)));
  o.Set("storages", Napi::Number::New(env, static_cast<double>(m.storages)));
  return o;
}

Napi::Value Memory(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    EnvData& d = data(env);
    Napi::Object o = Napi::Object::New(env);
    o.Set("handles", Napi::Number::New(env, static_cast<double>(d.table.liveHandles())));
    o.Set("cpu", memoryObject(env, d.table.cpuMemory()));
    Napi::Array cuda = Napi::Array::New(env);
    for (size_t i = 0; i < d.table.cudaMemory().size(); i++)
      cuda.Set(static_cast<uint32_t>(i), memoryObject(env, d.table.cudaMemory()[i]));
    o.Set("cuda", cuda);
    return o;
  });
}

Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    backendForDevice(intArg(info, 0, "synchronize")).synchronize();
    return env.Undefined();
  });
}

Napi::Value NumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), numThreads());
}

Napi::Value SetFlushDenormal(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsBoolean()) fail(ErrorKind::Kiln, "setFlushDenormal: expected a boolean");
    setFlushDenormal(info[0].As<Napi::Boolean>().Value());
    return env.Undefined();
  });
}

Napi::Value GetFlushDenormal(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), flushDenormal());
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    int64_t n = intArg(info, 0, "setNumThreads");
    if (n < 1 || n > 1024) fail(ErrorKind::Kiln, "setNumThreads: expected 1..1024, got ", n);
    setNumThreads(static_cast<int>(n));
    return env.Undefined();
  });
}

Napi::Value CpuInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("features", Napi::String::New(env, cpu::featureString()));
  o.Set("gemmKernel", Napi::String::New(env, cpu::gemmKernelName()));
  o.Set("threads", Napi::Number::New(env, numThreads()));
  return o;
}

// cudaStatus() -> { available, reason, deviceCount, plugin, versions }. The first call loads the
// CUDA plugin (if there is one) and probes the driver, devices and libraries.
Napi::Value CudaStatus(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    Napi::Object o = Napi::Object::New(env);
    bool ok = cudaAvailable();
    o.Set("available", Napi::Boolean::New(env, ok));
    o.Set("reason", ok ? env.Null() : Napi::String::New(env, cudaUnavailableReason()));
    o.Set("deviceCount", Napi::Number::New(env, ok ? cudaDeviceCount() : 0));
    std::string plugin = cudaPluginPath();
    o.Set("plugin", plugin.empty() ? env.Null() : Napi::String::New(env, plugin));
    o.Set("versions", ok ? Napi::String::New(env, cudaVersions()) : env.Null());
    return o;
  });
}

int cudaIndexArg(const Napi::CallbackInfo& info, const char* fn) {
  int64_t i = intArg(info, 0, fn);
  if (i < 0 || i > 255) fail(ErrorKind::Device, fn, ": device index must be in [0, 255], got ", i);
  return static_cast<int>(i);
}

// cudaDeviceInfo(index) -> { name, totalMemory, major, minor, multiprocessors }
Napi::Value CudaDeviceInfoCall(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    CudaDeviceInfo d = cudaDeviceInfo(cudaIndexArg(info, "cudaDeviceInfo"));
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", Napi::String::New(env, d.name));
    o.Set("totalMemory", Napi::Number::New(env, static_cast<double>(d.totalMemory)));
    o.Set("major", Napi::Number::New(env, d.major));
    o.Set("minor", Napi::Number::New(env, d.minor));
    o.Set("multiprocessors", Napi::Number::New(env, d.multiprocessors));
    return o;
  });
}

// cudaMemoryStats(index) -> bytes: pool reserved/used (current and peak), device free/total.
Napi::Value CudaMemoryStatsCall(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    CudaMemoryStats s = cudaMemoryStats(cudaIndexArg(info, "cudaMemoryStats"));
    Napi::Object o = Napi::Object::New(env);
    o.Set("reserved", Napi::Number::New(env, static_cast<double>(s.poolReserved)));
    o.Set("used", Napi::Number::New(env, static_cast<double>(s.poolUsed)));
    o.Set("peakReserved", Napi::Number::New(env, static_cast<double>(s.poolReservedPeak)));
    o.Set("peakUsed", Napi::Number::New(env, static_cast<double>(s.poolUsedPeak)));
    o.Set("deviceFree", Napi::Number::New(env, static_cast<double>(s.deviceFree)));
    o.Set("deviceTotal", Napi::Number::New(env, static_cast<double>(s.deviceTotal)));
    return o;
  });
}

Napi::Value CudaEmptyCache(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    cudaEmptyCache(cudaIndexArg(info, "cudaEmptyCache"));
    return env.Undefined();
  });
}

// cudaSetOption(name, value): "allowTF32" (0/1).
Napi::Value CudaSetOption(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsString()) fail(ErrorKind::Kiln, "cudaSetOption: expected an option name");
    std::string name = info[0].As<Napi::String>().Utf8Value();
    cudaSetOption(name.c_str(), numberArg(info, 1, "cudaSetOption"));
    return env.Undefined();
  });
}

// lstmReserveBytes(device, dtype, T, B, I, H, flags) -> bytes: how large the reserve output of
// the lstmSequence op must be for these sizes (the device's backend answers; only CUDA has it).
Napi::Value LstmReserveBytes(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const char* fn = "lstmReserveBytes";
    Backend& b = backendForDevice(intArg(info, 0, fn));
    int64_t dt = intArg(info, 1, fn);
    if (!validDType(dt)) fail(ErrorKind::DType, fn, ": unknown dtype ", dt);
    int64_t dims[4];
    for (int i = 0; i < 4; i++) {
      dims[i] = intArg(info, 2 + i, fn);
      if (dims[i] < 1 || dims[i] > 2147483647) fail(ErrorKind::Shape, fn, ": sizes must be in [1, 2^31), got ", dims[i]);
    }
    const int64_t flags = intArg(info, 6, fn);
    if (flags < 0 || flags > 3) fail(ErrorKind::Kiln, fn, ": flags must be in [0, 3], got ", flags);
    const size_t bytes = b.lstmSequenceReserveBytes(static_cast<DType>(dt), dims[0], dims[1], dims[2], dims[3],
                                                    static_cast<int>(flags));
    return Napi::Number::New(env, static_cast<double>(bytes));
  });
}

// synchronizeAsync(device) -> Promise: waits for the device's queued work on a libuv worker
// thread, so `await kiln.cuda.synchronize()` keeps the event loop free.
class SyncWorker : public Napi::AsyncWorker {
 public:
  SyncWorker(Napi::Env env, Backend& b) : Napi::AsyncWorker(env), backend_(b), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      backend_.synchronize();
    } catch (const Error& e) {
      code_ = errorCode(e.kind());
      SetError(e.what());
    } catch (const std::exception& e) {
      code_ = "KilnError";
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override {
    Napi::Error err = Napi::Error::New(Env(), e.Message());
    err.Set("code", Napi::String::New(Env(), code_));
    deferred_.Reject(err.Value());
  }

 private:
  Backend& backend_;
  Napi::Promise::Deferred deferred_;
  std::string code_ = "KilnError";
};

Napi::Value SynchronizeAsync(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    Backend& b = backendForDevice(intArg(info, 0, "synchronizeAsync"));
    auto* w = new SyncWorker(env, b);
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  });
}

Napi::Object Module(Napi::Env env, Napi::Object exports) {
  exports.Set("init", Napi::Function::New(env, Init, "init"));
  exports.Set("exec", Napi::Function::New(env, Exec, "exec"));
  exports.Set("fromBuffer", Napi::Function::New(env, FromBuffer, "fromBuffer"));
  exports.Set("read", Napi::Function::New(env, Read, "read"));
  exports.Set("share", Napi::Function::New(env, Share, "share"));
  exports.Set("free", Napi::Function::New(env, Free, "free"));
  exports.Set("storageInfo", Napi::Function::New(env, StorageInfo, "storageInfo"));
  exports.Set("memory", Napi::Function::New(env, Memory, "memory"));
  exports.Set("synchronize", Napi::Function::New(env, Synchronize, "synchronize"));
  exports.Set("numThreads", Napi::Function::New(env, NumThreads, "numThreads"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("setFlushDenormal", Napi::Function::New(env, SetFlushDenormal, "setFlushDenormal"));
  exports.Set("getFlushDenormal", Napi::Function::New(env, GetFlushDenormal, "getFlushDenormal"));
  exports.Set("cpuInfo", Napi::Function::New(env, CpuInfo, "cpuInfo"));
  exports.Set("cudaStatus", Napi::Function::New(env, CudaStatus, "cudaStatus"));
  exports.Set("cudaDeviceInfo", Napi::Function::New(env, CudaDeviceInfoCall, "cudaDeviceInfo"));
  exports.Set("cudaMemoryStats", Napi::Function::New(env, CudaMemoryStatsCall, "cudaMemoryStats"));
  exports.Set("cudaEmptyCache", Napi::Function::New(env, CudaEmptyCache, "cudaEmptyCache"));
  exports.Set("cudaSetOption", Napi::Function::New(env, CudaSetOption, "cudaSetOption"));
  exports.Set("lstmReserveBytes", Napi::Function::New(env, LstmReserveBytes, "lstmReserveBytes"));
  exports.Set("synchronizeAsync", Napi::Function::New(env, SynchronizeAsync, "synchronizeAsync"));
  return exports;
}

}  // namespace
}  // namespace kiln

static Napi::Object InitKiln(Napi::Env env, Napi::Object exports) { return kiln::Module(env, exports); }

NODE_API_MODULE(kiln, InitKiln)
