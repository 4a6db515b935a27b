// GEMM benchmark: kiln's float32 GEMM side by side with oneDNN (dnnl_sgemm) and OpenBLAS
// (cblas_sgemm), all on the same threads, printed as one markdown table. Each kiln result is
// also compared with a naive loop, so the table doubles as a correctness check.
//
//   bench [--check] [--reps N] [--only M,K,N[,T|N,T|N]] [--libs kiln,oneDNN,OpenBLAS]
//
// Libraries run in turns with a pause between them: OpenMP and OpenBLAS workers keep spinning
// after a call, and on a 2-core machine a spinning pool would slow whoever runs next.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../native/core/thread_pool.h"
#include "../../native/cpu/cpu_info.h"
#include "../../native/cpu/gemm/gemm.h"

#ifdef KILN_BENCH_DNNL
#include <dnnl.h>
#endif
#ifdef KILN_BENCH_OPENBLAS
#include <cblas.h>
#endif

int runChecks();

namespace {

struct Case {
  int64_t M, K, N;
  bool ta, tb;  // A stored as K x M / B stored as N x K
};

std::string label(const Case& c) {
  char buf[96];
  if (c.M == c.K && c.K == c.N)
    std::snprintf(buf, sizeof buf, "%lld³", (long long)c.M);
  else
    std::snprintf(buf, sizeof buf, "%lldx%lldx%lld", (long long)c.M, (long long)c.K, (long long)c.N);
  std::string s = buf;
  if (c.ta) s += " Aᵀ·B";
  if (c.tb) s += " A·Bᵀ";
  return s;
}

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// One library on one case: a warm-up call, then a sample of enough calls to last ~25 ms.
double sample(const std::function<void()>& fn) {
  fn();
  auto t0 = Clock::now();
  fn();
  double once = std::max(1e-7, seconds(t0, Clock::now()));
  int iters = std::max(1, static_cast<int>(0.025 / once));
  t0 = Clock::now();
  for (int i = 0; i < iters; i++) fn();
  return seconds(t0, Clock::now()) / iters;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double maxError(const Case& c, const std::vector<float>& A, const std::vector<float>& B, const std::vector<float>& C) {
  double worst = 0;
  for (int64_t i = 0; i < c.M; i++)
    for (int64_t j = 0; j < c.N; j++) {
      double ref = 0;
      for (int64_t k = 0; k < c.K; k++) {
        float a = c.ta ? A[k * c.M + i] : A[i * c.K + k];
        float b = c.tb ? B[j * c.K + k] : B[k * c.N + j];
        ref += double(a) * double(b);
      }
      worst = std::max(worst, std::fabs(ref - double(C[i * c.N + j])));
    }
  return worst;
}

struct Lib {
  const char* name;
  std::function<void(const Case&, const float*, const float*, float*)> run;
};

std::vector<Lib> libraries() {
  std::vector<Lib> libs;
  libs.push_back({"kiln", [](const Case& c, const float* A, const float* B, float* C) {
                    kiln::cpu::gemm<float>(c.M, c.N, c.K, A, c.ta ? 1 : c.K, c.ta ? c.M : 1, B, c.tb ? 1 : c.N,
                                           c.tb ? c.K : 1, C, c.N, 1);
                  }});
#ifdef KILN_BENCH_DNNL
  libs.push_back({"oneDNN", [](const Case& c, const float* A, const float* B, float* C) {
                    dnnl_sgemm(c.ta ? 'T' : 'N', c.tb ? 'T' : 'N', c.M, c.N, c.K, 1.0f, A, c.ta ? c.M : c.K, B,
                               c.tb ? c.K : c.N, 0.0f, C, c.N);
                  }});
#endif
#ifdef KILN_BENCH_OPENBLAS
  libs.push_back({"OpenBLAS", [](const Case& c, const float* A, const float* B, float* C) {
                    cblas_sgemm(CblasRowMajor, c.ta ? CblasTrans : CblasNoTrans, c.tb ? CblasTrans : CblasNoTrans,
                                c.M, c.N, c.K, 1.0f, A, c.ta ? c.M : c.K, B, c.tb ? c.K : c.N, 0.0f, C, c.N);
                  }});
#endif
  return libs;
}

void runTable(const std::vector<Case>& cases, int reps, int threads, const std::string& only) {
  std::vector<Lib> libs;
  for (Lib& l : libraries()) {
    const std::string name = l.name;
    if (only.empty() || name == "kiln" || ("," + only + ",").find("," + name + ",") != std::string::npos)
      libs.push_back(l);
  }
  std::printf("kiln kernel: %s; CPU features: %s; %d threads; median of %d samples\n\n",
              kiln::cpu::gemmKernelName(), kiln::cpu::featureString().c_str(), threads, reps);
  std::printf("| shape (MxKxN) | kiln GFLOP/s | oneDNN GFLOP/s | OpenBLAS GFLOP/s | kiln/oneDNN | kiln max err |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1, 1);
  bool anyBad = false;
  for (const Case& c : cases) {
    std::vector<float> A(c.M * c.K), B(c.K * c.N), C(c.M * c.N, std::nanf(""));
    for (auto& x : A) x = dist(rng);
    for (auto& x : B) x = dist(rng);
    libs[0].run(c, A.data(), B.data(), C.data());
    double err = maxError(c, A, B, C);
    bool bad = !(err <= 1e-5 * double(c.K));
    anyBad = anyBad || bad;

    std::vector<std::vector<double>> times(libs.size());
    for (int r = 0; r < reps; r++)
      for (size_t l = 0; l < libs.size(); l++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        times[l].push_back(sample([&] { libs[l].run(c, A.data(), B.data(), C.data()); }));
      }
    double flops = 2.0 * double(c.M) * double(c.N) * double(c.K);
    double gf[3] = {0, 0, 0};
    const char* names[3] = {"kiln", "oneDNN", "OpenBLAS"};
    for (size_t l = 0; l < libs.size(); l++)
      for (int n = 0; n < 3; n++)
        if (std::strcmp(libs[l].name, names[n]) == 0) gf[n] = flops / median(times[l]) / 1e9;
    auto cell = [](double v) {
      char b[32];
      if (v > 0) std::snprintf(b, sizeof b, "%.1f", v); else std::snprintf(b, sizeof b, "n/a");
      return std::string(b);
    };
    std::string ratio = "n/a";
    if (gf[1] > 0) {
      char b[32];
      std::snprintf(b, sizeof b, "%.2f", gf[0] / gf[1]);
      ratio = b;
    }
    std::printf("| %s | %s | %s | %s | %s | %.1e%s |\n", label(c).c_str(), cell(gf[0]).c_str(), cell(gf[1]).c_str(),
                cell(gf[2]).c_str(), ratio.c_str(), err, bad ? " FAIL" : "");
    std::fflush(stdout);
  }
  if (anyBad) std::printf("\nkiln results differ from the naive loop (FAIL rows)\n");
}

std::vector<Case> defaultCases() {
  return {
      {256, 256, 256, false, false},   {512, 512, 512, false, false},   {512, 512, 512, true, false},
      {512, 512, 512, false, true},    {1024, 1024, 1024, false, false}, {1024, 1024, 1024, true, false},
      {1024, 1024, 1024, false, true}, {64, 64, 64, false, false},       {128, 784, 256, false, false},
      {1, 256, 256, false, false},     {128, 256, 10, false, false},
  };
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 7;
  std::string libs;
  std::vector<Case> cases = defaultCases();
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--check") return runChecks();
    if (arg == "--reps" && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--libs" && i + 1 < argc) {
      libs = argv[++i];
    } else if (arg == "--only" && i + 1 < argc) {
      long long m, k, n;
      char ta = 'N', tb = 'N';
      if (std::sscanf(argv[++i], "%lld,%lld,%lld,%c,%c", &m, &k, &n, &ta, &tb) < 3) {
        std::fprintf(stderr, "--only M,K,N[,T|N,T|N]\n");
        return 2;
      }
      cases = {{m, k, n, ta == 'T', tb == 'T'}};
    } else {
      std::fprintf(stderr, "usage: bench [--check] [--reps N] [--only M,K,N[,ta,tb]] [--libs a,b]\n");
      return 2;
    }
  }
  const char* env = std::getenv("KILN_NUM_THREADS");
  int threads = env ? std::max(1, std::atoi(env)) : 2;
  kiln::setNumThreads(threads);
#ifdef KILN_BENCH_OPENBLAS
  openblas_set_num_threads(threads);
#endif
  runTable(cases, reps, threads, libs);
  return 0;
}
