#!/usr/bin/env bash
# Prepares .gpu/ for a run on the lent GPU machine within its 64 MiB transfer limit: the node
# binary (../shared/gpu/pack.sh), only the node_modules the CUDA tests and benchmarks load
# (vitest's dependency closure plus what lib/ imports; no TypeScript, esbuild or datasets), and
# build/Release compressed (the six-arch plugin shrinks about tenfold).
# Then run there:  source .gpu/enter.sh && mkdir -p build && tar -C build -xJf .gpu/release.tar.xz && npm run gpu:check
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
bash ../shared/gpu/pack.sh --no-modules >/dev/null
mods=$(node -e '
  const { readFileSync, existsSync } = require("node:fs");
  const seen = new Set(), stack = ["vitest", "node-gyp-build", "cli-progress", "pngjs"];
  while (stack.length) {
    const name = stack.pop();
    const p = `node_modules/${name}/package.json`;
    if (seen.has(name) || !existsSync(p)) continue;
    seen.add(name);
    const pkg = JSON.parse(readFileSync(p, "utf8"));
    stack.push(...Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies, ...pkg.peerDependencies }));
  }
  console.log([...seen].filter((n) => !/^(esbuild|@esbuild\/|@types\/)/.test(n)).map((n) => `node_modules/${n}`).join(" "));
')
tar -cf - $mods | xz -T0 -6 > .gpu/node_modules.tar.xz
tar -C build -cf - Release | xz -T0 -6 > .gpu/release.tar.xz
du -sh .gpu/*
