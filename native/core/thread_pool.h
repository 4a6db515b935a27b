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

// Runs unit(u) for every u in [0, n), the units dealt out in contiguous runs: participant p
// (the caller is 0) owns units [n*p/T, n*(p+1)/T) and runs them in order, then takes over the
// units not yet started in the others' runs. So the same core handles the same units from one
// call to the next, and its run lines up with parallelFor's chunks of the same data (images
// 0..31 of 64 on the caller in a convolution and in the ReLU after it), while a thread that is
// late or busy does not hold the others up.
void parallelUnitsImpl(int64_t n, const std::function<void(int64_t)>& unit);

template <typename F>
void parallelUnits(int64_t n, F&& unit) {
  if (n <= 0) return;
  if (n == 1 || numThreads() <= 1) {
    for (int64_t u = 0; u < n; u++) unit(u);
    return;
  }
  parallelUnitsImpl(n, std::function<void(int64_t)>(unit));
}

}  // namespace kiln
