// A small process-wide thread pool for data-parallel loops.
//
// parallelFor splits [0, n) into at most numThreads() chunks of at least `grain` items and runs
// them on the pool plus the calling thread. If the pool is already busy (a nested call, or a
// second worker_thread computing at the same time) the caller simply runs the whole range
// itself: no oversubscription, no deadlock.
#pragma once
#include <cstdint>
#include <functional>

namespace kiln {

int numThreads();
void setNumThreads(int n);  // 1 disables the pool; takes effect on the next parallelFor

void parallelForImpl(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

template <typename F>
void parallelFor(int64_t n, int64_t grain, F&& fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  if (n <= grain || numThreads() <= 1) {
    fn(int64_t{0}, n);
    return;
  }
  parallelForImpl(n, grain, std::function<void(int64_t, int64_t)>(fn));
}

}  // namespace kiln
