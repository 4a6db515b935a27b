// `npm install` hook (and `npx kiln build`): use the prebuilt binary when one loads, otherwise
// build the addon from source with cmake-js.
//
// kiln does not need this script to run: with `npm install --ignore-scripts` (or npm's coming
// default of not running dependencies' install scripts) the loader (lib/backend/native.ts, through
// node-gyp-build) finds prebuilds/<platform>-<arch>/ at run time. The script matters where no
// prebuild fits (another platform, musl) and for development checkouts.
//
// The prebuild is test-loaded in a child process, so a binary that crashes on this system (wrong
// libc, illegal instruction) fails the probe instead of the installing process.
//
// Switches (environment, or npm config: `npm install --kiln-build-from-source`):
//   KILN_BUILD_FROM_SOURCE=1   always build from source; =0 use a prebuild even in a git checkout
//   KILN_CUDA=off|on|auto      the CUDA plugin in a source build (default auto: when nvcc is found)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
const setting = (name) => env[name] ?? env[`npm_config_${name.toLowerCase()}`];
const flag = (v) => (v === undefined || v === '' ? undefined : !/^(0|false|no|off)$/i.test(v));
const tuple = `${process.platform}-${process.arch}`;
const say = (m) => console.log(`kiln: ${m}`);

/** Loads the prebuild (node-gyp-build, prebuilds only) in a child process and runs one op. */
function probe(onlyPrebuilds) {
  const code = `
    const path = require('node-gyp-build').path(${JSON.stringify(root)});
    const addon = require(path);
    addon.init(new Float64Array(8192));
    addon.cpuInfo();
    process.stdout.write(JSON.stringify({ path }));`;
  const r = spawnSync(process.execPath, ['-e', code], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...env, ...(onlyPrebuilds ? { PREBUILDS_ONLY: '1' } : {}) },
  });
  if (r.status === 0) {
    try {
      return { ok: true, path: JSON.parse(r.stdout).path };
    } catch {
      /* fall through */
    }
  }
  const why = r.error?.message ?? (r.signal ? `killed by ${r.signal}` : (r.stderr || '').split('\n').find((l) => /Error|error:/.test(l)) || `exit status ${r.status}`);
  return { ok: false, why: why.trim() };
}

/** The first of `names` that runs (`name --version` succeeds), or null. */
function findTool(names) {
  for (const n of names) if (n && spawnSync(n, ['--version'], { stdio: 'ignore', shell: process.platform === 'win32' }).status === 0) return n;
  return null;
}

function cmakeVersionOk() {
  const r = spawnSync('cmake', ['--version'], { encoding: 'utf8', shell: process.platform === 'win32' });
  const m = /version (\d+)\.(\d+)/.exec(r.stdout || '');
  return m ? Number(m[1]) > 3 || (Number(m[1]) === 3 && Number(m[2]) >= 18) : null;
}

/** What a source build needs that this system lacks (compilers are left to CMake on Windows). */
function missingTools() {
  const missing = [];
  const cmake = cmakeVersionOk();
  if (cmake === null) missing.push('cmake (3.18 or newer)');
  else if (!cmake) missing.push('a newer cmake (3.18 or newer)');
  if (process.platform !== 'win32') {
    if (!findTool([env.CXX, 'c++', 'g++', 'clang++'])) missing.push(`a C++17 compiler (${env.CXX ? `CXX=${env.CXX} does not run; ` : ''}g++ 9+ or clang 10+: c++, g++ or clang++ on PATH)`);
    if (!findTool(['ninja', 'make', 'gmake'])) missing.push('make or ninja');
  }
  return missing;
}

function installHint() {
  if (process.platform === 'darwin') return 'On macOS: xcode-select --install, and cmake (brew install cmake).';
  if (process.platform === 'win32') return 'On Windows: Visual Studio 2019 or newer with "Desktop development with C++", and CMake.';
  return 'On Debian/Ubuntu: apt-get install build-essential cmake. On Fedora/RHEL: dnf install gcc-c++ make cmake. On Alpine: apk add build-base cmake.';
}

function fail(lines) {
  console.error(['', ...lines.map((l) => `kiln: ${l}`), ''].join('\n'));
  process.exit(1);
}

// `npx kiln ...` inside kiln's own checkout: npm links the package into its exec cache and runs
// this script first. A binary that already loads is all the command needs; don't rebuild.
if (env.npm_command === 'exec' && probe(false).ok) process.exit(0);

// ---------------------------------------------------------------- 1. a prebuild that loads
const inGitCheckout = existsSync(join(root, '.git'));
const forced = flag(setting('KILN_BUILD_FROM_SOURCE'));
const fromSource = forced ?? inGitCheckout; // developers build what they edit
let prebuild = { ok: false, why: 'not tried' };
if (!fromSource) {
  prebuild = probe(true);
  if (prebuild.ok) {
    say(`using the prebuilt binary ${prebuild.path.slice(root.length + 1)}`);
    process.exit(0);
  }
  say(`no usable prebuilt binary for ${tuple} (${prebuild.why}); building from source`);
} else {
  say(`building from source (${forced ? 'KILN_BUILD_FROM_SOURCE' : 'a git checkout; KILN_BUILD_FROM_SOURCE=0 uses a prebuild'})`);
}

// ---------------------------------------------------------------- 2. a source build
const why = fromSource ? [] : [`No prebuilt binary loads here: ${prebuild.why}.`];
const missing = missingTools();
if (missing.length) {
  fail([
    'cannot build the native addon from source.',
    ...why,
    `Missing: ${missing.join('; ')}.`,
    installHint(),
    `Then run \`npx kiln build\` (or reinstall). PATH searched: ${(env.PATH || '').split(delimiter).filter(Boolean).join(delimiter)}`,
  ]);
}

let cmakeJs;
try {
  cmakeJs = createRequire(join(root, 'package.json')).resolve('cmake-js/bin/cmake-js');
} catch {
  fail(['cannot build from source: the cmake-js package is not installed (it is a dependency of kiln: reinstall kiln).']);
}
const args = [cmakeJs, 'compile', '--out', 'build'];
const cuda = setting('KILN_CUDA');
if (cuda) args.push(`--CDKILN_CUDA=${cuda.toLowerCase()}`);
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  fail([
    `building the native addon from source failed (cmake-js exit status ${r.status}); the compiler's messages are above.`,
    ...why,
    'kiln needs a C++17 compiler (g++ 9+, clang 10+ or MSVC 2019+) and CMake 3.18+. ' + installHint(),
    'KILN_CUDA=off skips the CUDA plugin if nvcc is what fails.',
  ]);
}
const built = probe(false);
if (!built.ok) fail([`the addon was built but does not load: ${built.why}`]);
say(`built ${built.path.slice(root.length + 1)}`);
