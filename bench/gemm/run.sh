#!/usr/bin/env bash
# Builds and runs the GEMM benchmark (bench/gemm/bench.cpp): kiln's GEMM sources compiled
# directly, side by side with oneDNN and OpenBLAS when they are installed. Those two are
# benchmark-only; kiln never links them.
#
#   bash bench/gemm/run.sh            the table
#   bash bench/gemm/run.sh --check    the correctness sweep
#   bash bench/gemm/run.sh --only 512,512,512,T,N
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$here/build"
mkdir -p "$out"

have_lib() { ldconfig -p 2>/dev/null | grep -q "lib$1\.so " ; }
if ! { have_lib dnnl && [ -f /usr/include/dnnl.h ]; } || ! have_lib openblas; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing oneDNN and OpenBLAS for the comparison columns..." >&2
    (apt-get update -qq && apt-get install -y -qq libdnnl-dev libopenblas-dev) >&2 || true
  else
    echo "oneDNN/OpenBLAS not found; for their columns run: apt-get update && apt-get install -y libdnnl-dev libopenblas-dev" >&2
  fi
fi

CXX="${CXX:-c++}"
common=(-std=c++17 -O3 -fno-math-errno -fno-trapping-math -Wall -Wextra -Wno-unused-parameter -pthread)
defs=()
libs=()
if have_lib dnnl && [ -f /usr/include/dnnl.h ]; then defs+=(-DKILN_BENCH_DNNL); libs+=(-ldnnl); fi
if have_lib openblas; then defs+=(-DKILN_BENCH_OPENBLAS); libs+=(-lopenblas); fi

# The same per-file ISA flags as CMakeLists.txt.
isa_flags() {
  case "$1" in
    *_avx512.cpp) echo "-mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma" ;;
    *_avx2.cpp) echo "-mavx2 -mfma" ;;
    *) echo "" ;;
  esac
}

sources=("$root"/native/cpu/gemm/*.cpp "$root/native/cpu/cpu_info.cpp" "$root/native/cpu/matmul.cpp" "$root/native/core/thread_pool.cpp"
         "$here/bench.cpp" "$here/check.cpp")
objects=()
pids=()
for src in "${sources[@]}"; do
  obj="$out/$(basename "$src" .cpp).o"
  objects+=("$obj")
  # shellcheck disable=SC2046
  "$CXX" "${common[@]}" "${defs[@]}" $(isa_flags "$src") -c "$src" -o "$obj" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
"$CXX" "${common[@]}" "${objects[@]}" "${libs[@]}" -o "$out/bench"

# Every library on the same 2 threads. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set on some of
# these machines and halve OpenBLAS's speed.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
threads="${KILN_NUM_THREADS:-2}"
export KILN_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" DNNL_VERBOSE=0
exec "$out/bench" "$@"
