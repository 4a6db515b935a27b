// `npm install` hook: use a prebuilt binary when one loads, otherwise build from source.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function prebuildLoads() {
  if (process.env.KILN_BUILD_FROM_SOURCE) return false;
  if (!existsSync(join(root, 'prebuilds'))) return false;
  // Load in a child process: a broken binary must not take the installer down with it.
  const probe = `require('node-gyp-build')(${JSON.stringify(root)}).init(new Float64Array(64))`;
  const r = spawnSync(process.execPath, ['-e', probe], { cwd: root, stdio: 'ignore' });
  return r.status === 0;
}

if (prebuildLoads()) {
  console.log('kiln: using the prebuilt binary');
  process.exit(0);
}

const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
const args = [cmakeJs, 'compile', '--out', 'build'];
if (process.env.KILN_CUDA) args.push(`--CDKILN_CUDA=${process.env.KILN_CUDA}`);
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  const missing = [];
  for (const [tool, flag] of [['cmake', '--version'], [process.env.CXX || 'c++', '--version']]) {
    if (spawnSync(tool, [flag], { stdio: 'ignore' }).status !== 0) missing.push(tool);
  }
  console.error(
    `\nkiln: building the native addon from source failed.` +
      (missing.length ? ` Missing: ${missing.join(', ')}.` : '') +
      `\nkiln needs a C++17 compiler (g++ >= 9, clang >= 10 or MSVC 2019), CMake >= 3.18 and Python 3.` +
      `\nOn Debian/Ubuntu: apt-get install build-essential cmake python3\n`,
  );
  process.exit(r.status ?? 1);
}
