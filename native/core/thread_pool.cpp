#include "thread_pool.h"

#include "float_env.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace kiln {
namespace {

int defaultThreads() {
  if (const char* env = std::getenv("KILN_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n >= 1) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// One parallelFor call. Lives on the caller's stack; workers register in `users` under the
// pool mutex before touching it, and the caller waits for users == 0 before returning.
//
// Chunk c belongs to participant c (the caller is 0, worker i is i + 1), which runs it first and
// then takes over chunks nobody has started. So from one call to the next the same core works
// on the same part of the data: the half of a weight that one core read in the forward GEMM is
// the half that the same core's Adam update writes. A write to a line that the other core
// still holds waits for that copy to be invalidated; when the forward GEMM gave every thread
// all of W, an MLP step's Adam update took twice as long. Chunks claimed first-come usually
// fell the same way (the caller starts first), but nothing made them.
struct Job {
  const std::function<void(int64_t, int64_t)>* fn;
  int64_t total, chunks;
  std::unique_ptr<std::atomic<bool>[]> claimed;
  std::atomic<int64_t> pending{0};
  std::atomic<int> users{0};
  std::mutex errMu;
  std::exception_ptr error;

  Job(const std::function<void(int64_t, int64_t)>* f, int64_t n, int64_t c)
      : fn(f), total(n), chunks(c), claimed(new std::atomic<bool>[static_cast<size_t>(c)]) {
    for (int64_t i = 0; i < c; i++) claimed[i].store(false, std::memory_order_relaxed);
    pending.store(c);
  }

  void work(int64_t self) {
    for (int64_t k = 0; k < chunks; k++) {
      const int64_t c = (self + k) % chunks;
      if (claimed[c].load(std::memory_order_relaxed) || claimed[c].exchange(true)) continue;
      const int64_t begin = total * c / chunks, end = total * (c + 1) / chunks;
      try {
        (*fn)(begin, end);
      } catch (...) {
        std::lock_guard<std::mutex> lk(errMu);
        if (!error) error = std::current_exception();
      }
      pending.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
};

class Pool {
 public:
  explicit Pool(int threads) : wanted_(threads) {}

  int threads() const { return wanted_.load(); }
  void setThreads(int n) { wanted_.store(std::max(1, n)); }

  void run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) {  // nested or concurrent use: run inline
      fn(0, n);
      return;
    }
    ensureWorkers(wanted_.load() - 1);
    int64_t chunks = std::min<int64_t>(static_cast<int64_t>(workers_.size()) + 1, (n + grain - 1) / grain);
    if (chunks <= 1) {
      fn(0, n);
      return;
    }
    Job job(&fn, n, chunks);
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_ = &job;
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    job.work(0);
    while (job.pending.load(std::memory_order_acquire) != 0) std::this_thread::yield();
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_ = nullptr;
    }
    while (job.users.load(std::memory_order_acquire) != 0) std::this_thread::yield();
    if (job.error) std::rethrow_exception(job.error);
  }

 private:
  void workerLoop(int id) {
    uint64_t seen = generation_.load();
    for (;;) {
      // Spin a while before sleeping: back-to-back kernels arrive within microseconds of each
      // other, but a training step also has gaps of a few hundred microseconds (the JS between
      // forward and backward, a garbage collection), and waking a sleeping worker costs tens of
      // microseconds each time. 1 ms instead of 0.1 ms made an MLP step 4% faster; OpenMP
      // runtimes spin far longer by default (Intel's KMP_BLOCKTIME: 200 ms).
      auto spinUntil = std::chrono::steady_clock::now() + std::chrono::microseconds(1000);
      while (generation_.load(std::memory_order_acquire) == seen && !stop_.load() &&
             std::chrono::steady_clock::now() < spinUntil) {
      }
      Job* job = nullptr;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return generation_.load() != seen || stop_.load(); });
        if (stop_.load()) return;
        seen = generation_.load();
        job = job_;
        if (job) job->users.fetch_add(1);
      }
      if (job) {
        ScopedFlushDenormal fpEnv;
        job->work(id);
        job->users.fetch_sub(1, std::memory_order_release);
      }
    }
  }

  void ensureWorkers(int count) {
    count = std::max(0, count);
    if (static_cast<int>(workers_.size()) == count) return;
    stopWorkers();
    for (int i = 0; i < count; i++) workers_.emplace_back([this, i] { workerLoop(i + 1); });
  }

  void stopWorkers() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_.store(true);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    stop_.store(false);
  }

  std::atomic<int> wanted_;
  std::mutex busy_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> generation_{0};
  Job* job_ = nullptr;
};

Pool& pool() {
  // Leaked on purpose: joining threads from a static destructor during process exit races with
  // Node tearing down; the OS reclaims them.
  static Pool* p = new Pool(defaultThreads());
  return *p;
}

}  // namespace

int numThreads() { return pool().threads(); }
void setNumThreads(int n) { pool().setThreads(n); }
void parallelForImpl(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  pool().run(n, grain, fn);
}

void parallelUnitsImpl(int64_t n, const std::function<void(int64_t)>& unit) {
  const int threads = static_cast<int>(std::min<int64_t>(numThreads(), n));
  std::unique_ptr<std::atomic<int64_t>[]> next(new std::atomic<int64_t>[static_cast<size_t>(threads)]);
  for (int p = 0; p < threads; p++) next[p].store(n * p / threads);
  pool().run(threads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t self = begin; self < end; self++)
      for (int64_t q = 0; q < threads; q++) {
        const int64_t owner = (self + q) % threads, stop = n * (owner + 1) / threads;
        for (int64_t u = next[owner].fetch_add(1); u < stop; u = next[owner].fetch_add(1)) unit(u);
      }
  });
}

}  // namespace kiln
