// Correctness sweep for kiln's GEMM: every kernel set this CPU runs, against a naive loop in
// double (exact for int32), over awkward sizes, every operand layout (row-major, transposed,
// flipped with negative strides, non-unit strides on both axes), with and without threads, and
// with the driver's choices (orientation, packed or in-place operands) forced each way in turn.
// C starts as NaN (or a sentinel) so a kernel that reads C before writing it is caught, and
// cells of C's buffer outside the matrix must keep their sentinel.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <algorithm>
#include <atomic>
#include <limits>
#include <type_traits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../native/core/layout.h"
#include "../../native/cpu/cpu_info.h"
#include "../../native/cpu/kernels.h"
#include "../../native/cpu/gemm/gemm.h"
#include "../../native/cpu/gemm/kernels.h"

namespace {

using kiln::cpu::GemmKernels;

// Where a logical rows x cols matrix sits in a buffer.
struct Placement {
  const char* name;
  int64_t size, offset, rs, cs;
};

// Layout kinds: 0 row-major, 1 column-major, 2 row-major with both axes flipped (negative
// strides), 3 non-unit strides on both axes with a gap.
Placement place(int kind, int64_t rows, int64_t cols) {
  switch (kind) {
    case 0: return {"row", rows * cols, 0, cols, 1};
    case 1: return {"col", rows * cols, 0, 1, rows};
    case 2: return {"flip", rows * cols, (rows - 1) * cols + (cols - 1), -cols, -1};
    default: {
      int64_t rs = 2, cs = 2 * rows + 3;  // row and column strides both > 1
      return {"gap", (rows - 1) * rs + (cols - 1) * cs + 1 + 5, 0, rs, cs};
    }
  }
}

template <typename T> const char* typeName();
template <> const char* typeName<float>() { return "f32"; }
template <> const char* typeName<double>() { return "f64"; }
template <> const char* typeName<int32_t>() { return "i32"; }

template <typename T> T sentinel() { return std::numeric_limits<T>::quiet_NaN(); }
template <> int32_t sentinel<int32_t>() { return 0x7eadbeef; }
template <typename T> bool same(T a, T b) { return a == b || (a != a && b != b); }

template <typename T>
T randomValue(std::mt19937& rng) {
  if constexpr (std::is_integral_v<T>) return static_cast<T>(std::uniform_int_distribution<int>(-1000, 1000)(rng));
  return static_cast<T>(std::uniform_real_distribution<double>(-1, 1)(rng));
}

struct Stats {
  int64_t runs = 0, failures = 0;
};

// The driver's own choices, then each orientation with operands packed and read in place.
const kiln::cpu::GemmForce kForces[] = {{-1, -1, -1}, {0, 0, 0},  {1, 1, 0}, {0, 0, 1},
                                        {1, 1, 1},    {1, 0, -1}, {0, 1, -1}};
constexpr int kNumForces = sizeof(kForces) / sizeof(kForces[0]);

template <typename T>
void checkOne(const GemmKernels<T>& kr, int64_t M, int64_t N, int64_t K, int la, int lb, int lc, bool parallel,
              std::mt19937& rng, Stats& st) {
  const kiln::cpu::GemmForce& force = kForces[st.runs % kNumForces];
  std::vector<T> a(M * K), b(K * N);  // logical, row-major
  for (auto& x : a) x = randomValue<T>(rng);
  for (auto& x : b) x = randomValue<T>(rng);
  Placement pa = place(la, M, K), pb = place(lb, K, N), pc = place(lc, M, N);
  std::vector<T> A(pa.size, sentinel<T>()), B(pb.size, sentinel<T>()), C(pc.size, sentinel<T>());
  for (int64_t i = 0; i < M; i++)
    for (int64_t k = 0; k < K; k++) A[pa.offset + i * pa.rs + k * pa.cs] = a[i * K + k];
  for (int64_t k = 0; k < K; k++)
    for (int64_t j = 0; j < N; j++) B[pb.offset + k * pb.rs + j * pb.cs] = b[k * N + j];

  kiln::cpu::gemmWith<T>(kr, M, N, K, A.data() + pa.offset, pa.rs, pa.cs, B.data() + pb.offset, pb.rs, pb.cs,
                         C.data() + pc.offset, pc.rs, pc.cs, parallel, force);

  std::vector<char> inside(pc.size, 0);
  double worst = 0;
  bool bad = false;
  for (int64_t i = 0; i < M && !bad; i++)
    for (int64_t j = 0; j < N; j++) {
      int64_t at = pc.offset + i * pc.rs + j * pc.cs;
      inside[at] = 1;
      if constexpr (std::is_integral_v<T>) {
        uint32_t ref = 0;
        for (int64_t k = 0; k < K; k++) ref += uint32_t(a[i * K + k]) * uint32_t(b[k * N + j]);
        if (C[at] != static_cast<T>(ref)) bad = true;
      } else {
        double ref = 0, mag = 0;
        for (int64_t k = 0; k < K; k++) {
          ref += double(a[i * K + k]) * double(b[k * N + j]);
          mag += std::fabs(double(a[i * K + k]) * double(b[k * N + j]));
        }
        double err = std::fabs(double(C[at]) - ref);
        double tol = 2.0 * double(K + 1) * std::numeric_limits<T>::epsilon() * mag + 1e-30;
        if (!(err <= tol)) bad = true;  // also catches NaN
        if (mag > 0) worst = std::max(worst, err / mag);
      }
      if (bad) break;
    }
  for (int64_t x = 0; x < pc.size && !bad; x++)
    if (!inside[x] && !same(C[x], sentinel<T>())) bad = true;
  st.runs++;
  if (bad) {
    st.failures++;
    if (st.failures <= 20)
      std::printf("FAIL %s [%s] M=%lld N=%lld K=%lld A=%s B=%s C=%s %s force(directA %d, directB %d, transposed %d)\n",
                  typeName<T>(), kr.name, (long long)M, (long long)N, (long long)K, pa.name, pb.name, pc.name,
                  parallel ? "parallel" : "serial", force.directA, force.directB, force.transposed);
  }
}

template <typename T>
void checkSet(const GemmKernels<T>& kr, Stats& st) {
  std::mt19937 rng(1234);
  const int64_t sizes[] = {1, 2, 7, 17, 64, 257};
  for (int64_t M : sizes)
    for (int64_t N : sizes)
      for (int64_t K : sizes) {
        for (int la = 0; la < 4; la++)
          for (int lb = 0; lb < 4; lb++) checkOne(kr, M, N, K, la, lb, 0, (la + lb) % 2 == 0, rng, st);
        for (int lc = 1; lc < 4; lc++) checkOne(kr, M, N, K, lc % 2, lc / 2, lc, lc != 2, rng, st);
      }
  // Empty and degenerate shapes: K = 0 must write zeros, M or N = 0 nothing.
  for (int64_t K : {0, 3})
    for (int64_t M : {0, 1, 5})
      for (int64_t N : {0, 1, 40}) checkOne(kr, M, N, K, 0, 1, 0, true, rng, st);
  // Sizes past one cache block in every dimension, threaded and not.
  checkOne(kr, 700, 2100, 300, 0, 0, 0, true, rng, st);
  checkOne(kr, 300, 530, 1100, 1, 1, 0, true, rng, st);
  checkOne(kr, 530, 300, 600, 2, 3, 1, false, rng, st);
  checkOne(kr, 1, 3000, 700, 0, 0, 0, true, rng, st);
  checkOne(kr, 3000, 1, 700, 1, 0, 0, true, rng, st);
}

template <typename T>
void checkAll(const std::vector<const GemmKernels<T>*>& sets, Stats& st) {
  for (const GemmKernels<T>* kr : sets) {
    Stats mine;
    checkSet(*kr, mine);
    std::printf("%-4s %-20s %6lld runs, %lld failures\n", typeName<T>(), kr->name, (long long)mine.runs,
                (long long)mine.failures);
    st.runs += mine.runs;
    st.failures += mine.failures;
  }
}

// ---------------------------------------------------------------- batched matmul

// A batched operand: logical shape `shape` (batch dims then rows, cols) placed in a buffer with
// the given per-dim strides (0 broadcasts, negative flips) at `offset`.
struct BatchedOperand {
  std::vector<int64_t> shape, strides;
  int64_t offset = 0, size = 0;
};

// Strides for `shape` in the order `perm` (innermost last), with dims listed in `broadcast`
// given stride 0 and dims in `flip` walked backwards.
BatchedOperand layoutFor(const std::vector<int64_t>& shape, const std::vector<int>& perm, uint32_t broadcast,
                         uint32_t flip) {
  BatchedOperand o;
  o.shape = shape;
  o.strides.assign(shape.size(), 0);
  int64_t s = 1;
  for (int p = static_cast<int>(perm.size()) - 1; p >= 0; p--) {
    int d = perm[p];
    if (broadcast >> d & 1) continue;
    o.strides[d] = s;
    s *= shape[d];
  }
  o.size = s;
  for (size_t d = 0; d < shape.size(); d++)
    if ((flip >> d & 1) && shape[d] > 0) {
      o.offset += (shape[d] - 1) * o.strides[d];
      o.strides[d] = -o.strides[d];
    }
  return o;
}

template <typename T>
int64_t checkMatmulCase(const std::vector<int64_t>& batch, int64_t M, int64_t K, int64_t N,
                        const std::vector<int>& permA, const std::vector<int>& permB, uint32_t bcastA,
                        uint32_t bcastB, uint32_t flipA, uint32_t flipB, std::mt19937& rng) {
  const int nb = static_cast<int>(batch.size()), n = nb + 2;
  std::vector<int64_t> sa = batch, sb = batch, so = batch;
  sa.push_back(M), sa.push_back(K);
  sb.push_back(K), sb.push_back(N);
  so.push_back(M), so.push_back(N);
  BatchedOperand A = layoutFor(sa, permA, bcastA, flipA), B = layoutFor(sb, permB, bcastB, flipB);
  std::vector<int> natural(n);
  for (int d = 0; d < n; d++) natural[d] = d;
  BatchedOperand O = layoutFor(so, natural, 0, 0);
  std::vector<T> bufA(std::max<int64_t>(A.size, 1)), bufB(std::max<int64_t>(B.size, 1));
  std::vector<T> bufO(std::max<int64_t>(O.size, 1), sentinel<T>());
  for (auto& x : bufA) x = randomValue<T>(rng);
  for (auto& x : bufB) x = randomValue<T>(rng);
  auto view = [&](BatchedOperand& o, std::vector<T>& buf) {
    kiln::View v;
    v.data = buf.data();
    v.dtype = std::is_same_v<T, float>    ? kiln::DType::Float32
              : std::is_same_v<T, double> ? kiln::DType::Float64
                                          : kiln::DType::Int32;
    v.layout.ndim = n;
    for (int d = 0; d < n; d++) v.layout.shape[d] = o.shape[d], v.layout.strides[d] = o.strides[d];
    v.layout.offset = o.offset;
    return v;
  };
  kiln::View va = view(A, bufA), vb = view(B, bufB), vo = view(O, bufO);
  kiln::cpu::matmul(vo, va, vb);

  int64_t total = 1;
  for (int64_t x : batch) total *= x;
  int64_t bad = 0;
  for (int64_t bi = 0; bi < total; bi++) {
    int64_t rest = bi, oa = A.offset, ob = B.offset, oo = O.offset;
    for (int d = nb - 1; d >= 0; d--) {
      int64_t i = rest % batch[d];
      rest /= batch[d];
      oa += i * A.strides[d], ob += i * B.strides[d], oo += i * O.strides[d];
    }
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double ref = 0, mag = 0;
        uint32_t iref = 0;
        for (int64_t k = 0; k < K; k++) {
          T x = bufA[oa + i * A.strides[nb] + k * A.strides[nb + 1]];
          T y = bufB[ob + k * B.strides[nb] + j * B.strides[nb + 1]];
          ref += double(x) * double(y);
          mag += std::fabs(double(x) * double(y));
          iref += uint32_t(x) * uint32_t(y);
        }
        T got = bufO[oo + i * O.strides[nb] + j * O.strides[nb + 1]];
        if constexpr (std::is_integral_v<T>) {
          bad += got != static_cast<T>(iref);
        } else {
          const double tol = 2.0 * double(K + 1) * std::numeric_limits<T>::epsilon() * mag + 1e-30;
          bad += !(std::fabs(double(got) - ref) <= tol);
        }
      }
  }
  return bad;
}

template <typename T>
void checkMatmul(Stats& st) {
  std::mt19937 rng(99);
  struct Case {
    std::vector<int64_t> batch;
    int64_t M, K, N;
  };
  const Case cases[] = {{{3}, 5, 7, 9},      {{2, 3}, 17, 33, 65}, {{64}, 8, 16, 8},   {{4}, 1, 40, 70},
                        {{5}, 70, 40, 1},    {{2}, 0, 3, 4},       {{2}, 3, 0, 4},     {{0}, 3, 3, 3},
                        {{2, 2}, 130, 70, 90}, {{1}, 200, 300, 100}, {{3}, 64, 1, 64}, {{6, 1}, 33, 9, 50}};
  for (const Case& c : cases) {
    const int nb = static_cast<int>(c.batch.size()), n = nb + 2;
    std::vector<int> rowMajor(n), swapLast(n), batchInner(n);
    for (int d = 0; d < n; d++) rowMajor[d] = d;
    swapLast = rowMajor;
    std::swap(swapLast[n - 1], swapLast[n - 2]);
    // batch dim innermost-but-matrix: [M, batch..., K] ordering
    batchInner = rowMajor;
    std::rotate(batchInner.begin(), batchInner.begin() + nb, batchInner.begin() + nb + 1);
    const std::vector<int>* perms[] = {&rowMajor, &swapLast, &batchInner};
    uint32_t allBatch = (1u << nb) - 1;
    int variant = 0;
    for (const std::vector<int>* pa : perms)
      for (const std::vector<int>* pb : perms)
        for (uint32_t bc : {0u, 1u, 2u}) {  // nothing, a broadcast, b broadcast over the batch
          uint32_t flips = (variant++ % 3 == 0) ? (1u << (n - 1)) | 1u : 0u;
          int64_t bad = checkMatmulCase<T>(c.batch, c.M, c.K, c.N, *pa, *pb, bc == 1 ? allBatch : 0,
                                           bc == 2 ? allBatch : 0, flips, flips >> 1, rng);
          st.runs++;
          if (bad) {
            st.failures++;
            if (st.failures <= 20)
              std::printf("FAIL matmul %s batch=%zu dims M=%lld K=%lld N=%lld variant %d: %lld wrong\n", typeName<T>(),
                          c.batch.size(), (long long)c.M, (long long)c.K, (long long)c.N, variant, (long long)bad);
          }
        }
  }
}

// Several threads multiplying at once (worker_threads in Node): the pool runs all but one of
// them inline, and each thread's packing buffers are its own.
int64_t checkConcurrent() {
  std::vector<std::thread> threads;
  std::atomic<int64_t> bad{0};
  for (int t = 0; t < 4; t++)
    threads.emplace_back([t, &bad] {
      std::mt19937 rng(t);
      for (int rep = 0; rep < 20; rep++) {
        const int64_t M = 50 + 37 * t + rep, N = 300 - 20 * t, K = 129 + rep;
        std::vector<float> A(M * K), B(K * N), C(M * N);
        for (auto& x : A) x = randomValue<float>(rng);
        for (auto& x : B) x = randomValue<float>(rng);
        kiln::cpu::gemm<float>(M, N, K, A.data(), K, 1, B.data(), N, 1, C.data(), N, 1);
        for (int64_t i = 0; i < M; i += 7)
          for (int64_t j = 0; j < N; j += 5) {
            double ref = 0, mag = 0;
            for (int64_t k = 0; k < K; k++) {
              ref += double(A[i * K + k]) * double(B[k * N + j]);
              mag += std::fabs(double(A[i * K + k]) * double(B[k * N + j]));
            }
            if (!(std::fabs(C[i * N + j] - ref) <= 2.0 * double(K + 1) * 1.2e-7 * mag + 1e-30)) bad++;
          }
      }
    });
  for (auto& th : threads) th.join();
  return bad.load();
}

}  // namespace

int runChecks() {
  const kiln::cpu::Features& f = kiln::cpu::features();
  std::vector<const GemmKernels<float>*> f32{kiln::cpu::portableKernelsF32()};
  std::vector<const GemmKernels<double>*> f64{kiln::cpu::portableKernelsF64()};
  std::vector<const GemmKernels<int32_t>*> i32{kiln::cpu::portableKernelsI32()};
  if (f.avx2 && f.fma && kiln::cpu::avx2KernelsF32()) {
    f32.push_back(kiln::cpu::avx2KernelsF32());
    f64.push_back(kiln::cpu::avx2KernelsF64());
    i32.push_back(kiln::cpu::avx2KernelsI32());
  }
  if (f.avx512f && kiln::cpu::avx512KernelsF32()) {
    f32.push_back(kiln::cpu::avx512KernelsF32());
    f64.push_back(kiln::cpu::avx512KernelsF64());
    i32.push_back(kiln::cpu::avx512KernelsI32());
  }
  Stats st;
  checkAll(f32, st);
  checkAll(f64, st);
  checkAll(i32, st);
  Stats mm;
  checkMatmul<float>(mm);
  checkMatmul<double>(mm);
  checkMatmul<int32_t>(mm);
  std::printf("matmul (batched, broadcast, strided)  %lld runs, %lld failures\n", (long long)mm.runs,
              (long long)mm.failures);
  st.runs += mm.runs;
  st.failures += mm.failures;
  const int64_t concurrentBad = checkConcurrent();
  std::printf("concurrent callers                     %lld wrong elements\n", (long long)concurrentBad);
  st.runs++;
  st.failures += concurrentBad ? 1 : 0;
  std::printf("%s: %lld runs, %lld failures\n", st.failures ? "FAILED" : "OK", (long long)st.runs,
              (long long)st.failures);
  return st.failures ? 1 : 0;
}
