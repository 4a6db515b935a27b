#!/usr/bin/env bash
# The GPU check (`npm run gpu:check`): the CUDA test suite, then kiln and PyTorch on the same
# workloads and a host-time profile of kiln's MLP step, full logs under $OUT (default
# bench/gpu/out), a short table printed last.
# Run from the project root on a machine with a GPU, after the native build and dist/.
set -uo pipefail
out=${OUT:-bench/gpu/out}
mkdir -p "$out"
export KILN_DIST=${KILN_DIST:-$PWD/dist/esm/index.js}

{
  echo "== machine"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
  node --version
  ls -la build/Release/ 2>&1
  cuobjdump --list-elf build/Release/kiln_cuda.so 2>&1 | grep -o 'sm_[0-9a-z]*' | sort | uniq -c
  node -e "import(process.env.KILN_DIST).then(k => console.log(JSON.stringify(k.backendInfo())))" 2>&1
} > "$out/machine.log" 2>&1
cat "$out/machine.log"

echo "== CUDA tests (log: $out/parity.log)"
timeout 240 node node_modules/vitest/vitest.mjs run test/cuda --maxWorkers=1 --reporter=verbose --reporter=json \
  --outputFile.json="$out/parity.json" > "$out/parity.log" 2>&1
echo "vitest exit $?"
tail -n 8 "$out/parity.log"

echo "== kiln workloads (log: $out/kiln.log)"
timeout 150 node bench/gpu/kiln.mjs > "$out/kiln.json" 2> "$out/kiln.log"
echo "kiln exit $?"
echo "== PyTorch workloads (log: $out/torch.log)"
PYTHONUNBUFFERED=1 timeout 120 python3 bench/gpu/torch_ref.py > "$out/torch.json" 2> "$out/torch.log"
echo "torch exit $?"

echo "== host-time profile of the MLP step (log: $out/profile.log)"
timeout 45 node bench/gpu/profile.mjs > "$out/profile.log" 2>&1
echo "profile exit $?"
head -n 22 "$out/profile.log"

echo
node bench/gpu/table.mjs "$out"
