#include "host_cache.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace kiln {
namespace cpu {
namespace {

constexpr size_t kAlignment = 64;         // one cache line, enough for any SIMD load
constexpr size_t kMinCached = 64 << 10;   // smaller blocks come from malloc's own free lists
constexpr size_t kBudget = size_t{512} << 20;

size_t rounded(size_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

void* systemAllocate(size_t size) { return ::operator new(size, std::align_val_t(kAlignment), std::nothrow); }
void systemFree(void* p) { ::operator delete(p, std::align_val_t(kAlignment)); }

// Shared by every worker thread of the process, hence the mutex.
struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free;
  size_t cached = 0;
};

// KILN_HOST_CACHE=0 turns the cache off (to compare, or to find a use-after-free with tools).
bool cacheEnabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("KILN_HOST_CACHE");
    return !(v && v[0] == '0');
  }();
  return enabled;
}

Cache& cache() {
  static Cache* c = new Cache();  // leaked: blocks may be freed during process teardown
  return *c;
}

}  // namespace

void* hostAllocate(size_t bytes) {
  size_t size = rounded(bytes);
  if (size >= kMinCached && cacheEnabled()) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free.find(size);
    if (it != c.free.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.cached -= size;
      return p;
    }
  }
  void* p = systemAllocate(size);
  if (!p) {
    hostEmptyCache();
    p = systemAllocate(size);
  }
  return p;
}

void hostFree(void* ptr, size_t bytes) {
  if (!ptr) return;
  size_t size = rounded(bytes);
  if (size >= kMinCached && size <= kBudget / 4 && cacheEnabled()) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.cached + size <= kBudget) {
      c.free[size].push_back(ptr);
      c.cached += size;
      return;
    }
  }
  systemFree(ptr);
}

void hostEmptyCache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [size, blocks] : c.free)
    for (void* p : blocks) systemFree(p);
  c.free.clear();
  c.cached = 0;
}

size_t hostCachedBytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.cached;
}

}  // namespace cpu
}  // namespace kiln
