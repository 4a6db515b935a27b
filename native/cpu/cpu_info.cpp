#include "cpu_info.h"

#if (defined(__x86_64__) || defined(_M_X64)) && !defined(_MSC_VER)
#include <cpuid.h>
#define KILN_X86_GNU 1
#elif defined(_M_X64)
#include <intrin.h>
#define KILN_X86_MSVC 1
#endif

#include <cstdint>
#include <cstdlib>
#include <string>

namespace kiln {
namespace cpu {
namespace {

#if defined(KILN_X86_GNU) || defined(KILN_X86_MSVC)
void cpuid(int leaf, int sub, unsigned r[4]) {
#if defined(KILN_X86_GNU)
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#else
  int regs[4];
  __cpuidex(regs, leaf, sub);
  for (int i = 0; i < 4; i++) r[i] = static_cast<unsigned>(regs[i]);
#endif
}

uint64_t xgetbv0() {
#if defined(KILN_X86_GNU)
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
#else
  return _xgetbv(0);
#endif
}
#endif

Features detect() {
  Features f;
#if defined(KILN_X86_GNU) || defined(KILN_X86_MSVC)
  unsigned r[4];
  cpuid(0, 0, r);
  unsigned maxLeaf = r[0];
  cpuid(1, 0, r);
  bool osxsave = (r[2] >> 27) & 1;
  bool fma = (r[2] >> 12) & 1;
  if (!osxsave || maxLeaf < 7) return f;
  uint64_t xcr0 = xgetbv0();
  bool ymmOs = (xcr0 & 0x6) == 0x6;           // SSE and AVX state saved by the OS
  bool zmmOs = (xcr0 & 0xe6) == 0xe6;         // plus opmask and ZMM state
  cpuid(7, 0, r);
  f.avx2 = ymmOs && ((r[1] >> 5) & 1);
  f.fma = ymmOs && fma;
  // The *_avx512.cpp files are compiled with F, DQ, BW and VL, so all four must be present
  // (Xeon Phi has F without the others).
  bool f512 = (r[1] >> 16) & 1, dq = (r[1] >> 17) & 1, bw = (r[1] >> 30) & 1, vl = (r[1] >> 31) & 1;
  f.avx512f = zmmOs && f512 && dq && bw && vl;
#endif
  return f;
}

}  // namespace

const Features& features() {
  static const Features f = detect();
  return f;
}

SimdLevel simdLevel() {
  static const SimdLevel level = [] {
    const char* env = std::getenv("KILN_SIMD");
    const std::string force = env ? env : "";
    const Features& f = features();
    const bool allow512 = force.empty() || force == "avx512";
    const bool allow2 = allow512 || force == "avx2";
    if (allow512 && f.avx512f && f.avx2 && f.fma) return SimdLevel::Avx512;
    if (allow2 && f.avx2 && f.fma) return SimdLevel::Avx2;
    return SimdLevel::Portable;
  }();
  return level;
}

std::string featureString() {
  const Features& f = features();
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(f.avx2, "avx2");
  add(f.fma, "fma");
  add(f.avx512f, "avx512f");
  return s.empty() ? "portable" : s;
}

}  // namespace cpu
}  // namespace kiln
