// `npm run prebuild`: builds the prebuilt binaries for this platform into
// prebuilds/<platform>-<arch>/, where node-gyp-build (lib/backend/native.ts) finds them:
//   node.napi.node         the addon (node.napi.armv8.node on arm64), Node-API 6: one file for
//                          Node 18+ and Electron; prebuildify's names, so @electron/rebuild and
//                          other tools recognise them
//   kiln_cuda.so           linux-x64 only: the CUDA plugin, which the addon dlopens from beside itself
//   kiln-prebuild.json     what was built and what it needs (read by `kiln doctor`)
//
// Why not prebuildify itself: it drives node-gyp in ./build (the developers' shared build folder)
// and knows nothing of the CUDA plugin. This runs cmake-js in its own folder (build-prebuild/,
// or $KILN_PREBUILD_BUILD_DIR) with the C++ runtime linked statically (KILN_STATIC_RUNTIME), so
// the binaries need nothing newer than the build machine's glibc. It then checks each binary
// (scripts/binary-check.mjs: symbol versions, linked libraries, Node-API version, no external
// buffers) and loads the addon in a child process before declaring success.
//
// Environment:
//   KILN_CUDA=auto|on|off    the CUDA plugin (default: auto on linux-x64, off elsewhere)
//   KILN_CUDA_ARCHS=...      CUDA architectures (default: CMakeLists.txt's list)
//   KILN_PREBUILD_MAX_GLIBC  fail when a binary needs a newer glibc (the release workflow sets 2.28)
//   KILN_PREBUILD_BUILD_DIR  the cmake-js build folder (default build-prebuild)
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, inspectBinary, versionNewer } from './binary-check.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const napi = Math.min(...pkg.binary.napi_versions);
const platform = process.platform, arch = process.arch;
const tuple = `${platform}-${arch}`;
const cudaPlatform = tuple === 'linux-x64';
const cuda = (process.env.KILN_CUDA || (cudaPlatform ? 'auto' : 'off')).toLowerCase();
const buildDir = resolve(root, process.env.KILN_PREBUILD_BUILD_DIR || 'build-prebuild');
const outDir = join(root, 'prebuilds', tuple);
const addonName = arch === 'arm64' ? 'node.napi.armv8.node' : 'node.napi.node';
const pluginName = { linux: 'kiln_cuda.so', darwin: 'kiln_cuda.dylib', win32: 'kiln_cuda.dll' }[platform];

const log = (m) => console.log(`prebuild: ${m}`);
function die(m) {
  console.error(`prebuild: ${m}`);
  process.exit(1);
}

// ---------------------------------------------------------------- build
const cmakeJs = createRequire(join(root, 'package.json')).resolve('cmake-js/bin/cmake-js');
const defs = [`--CDKILN_STATIC_RUNTIME=ON`, `--CDKILN_CUDA=${cuda}`];
if (process.env.KILN_CUDA_ARCHS) defs.push(`--CDKILN_CUDA_ARCHS=${process.env.KILN_CUDA_ARCHS}`);
if (platform === 'darwin') defs.push(`--CDCMAKE_OSX_DEPLOYMENT_TARGET=${process.env.MACOSX_DEPLOYMENT_TARGET || (arch === 'arm64' ? '11.0' : '10.15')}`);
log(`${tuple}, Node-API ${napi}, CUDA plugin: ${cuda}, building in ${relative(root, buildDir) || '.'}`);
for (const cmd of ['configure', 'build']) {
  // configure every time, so that changed switches reach an existing build folder's cache
  const r = spawnSync(process.execPath, [cmakeJs, cmd, '--out', buildDir, ...defs], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) die(`cmake-js ${cmd} failed (status ${r.status})`);
}

const release = join(buildDir, 'Release');
const builtAddon = join(release, 'kiln.node');
const builtPlugin = pluginName && join(release, pluginName);
if (!existsSync(builtAddon)) die(`no ${builtAddon} after the build`);
// KILN_CUDA=off leaves an old plugin in the build folder; only ship one this configuration built.
const cache = readFileSync(join(buildDir, 'CMakeCache.txt'), 'utf8');
const pluginBuilt = cuda !== 'off' && /^CMAKE_CUDA_COMPILER:\w+=.+$/m.test(cache) && existsSync(builtPlugin);
if (cuda === 'on' && !pluginBuilt) die('KILN_CUDA=on but no CUDA plugin was built');

// ---------------------------------------------------------------- copy, strip
mkdirSync(outDir, { recursive: true });
for (const f of readdirSync(outDir)) if (f.endsWith('.node') || f.startsWith('kiln_cuda') || f === 'kiln-prebuild.json') rmSync(join(outDir, f));
const shipped = [[builtAddon, join(outDir, addonName)]];
if (pluginBuilt) shipped.push([builtPlugin, join(outDir, pluginName)]);
for (const [from, to] of shipped) {
  copyFileSync(from, to);
  // Symbol tables are most of the plugin's size; nothing needs them at run time.
  const strip = platform === 'linux' ? ['strip', ['--strip-unneeded', to]] : platform === 'darwin' ? ['strip', ['-x', to]] : null;
  if (strip && spawnSync(strip[0], strip[1], { stdio: 'inherit' }).status !== 0) log(`warning: could not strip ${to}`);
}

// ---------------------------------------------------------------- check
const maxGlibc = process.env.KILN_PREBUILD_MAX_GLIBC;
const reports = shipped.map(([, to]) => inspectBinary(to, { napiTarget: napi }));
let problems = 0;
for (const r of reports) {
  if (maxGlibc && r.needs.GLIBC && versionNewer(r.needs.GLIBC, maxGlibc)) r.problems.push(`needs GLIBC_${r.needs.GLIBC}, newer than KILN_PREBUILD_MAX_GLIBC=${maxGlibc}`);
  console.log(describe({ ...r, file: relative(root, r.file) }));
  problems += r.problems.length;
}
// An inline function or template instantiated both in an *_avx2/*_avx512 object (compiled with
// the wider ISA) and in a baseline object is one COMDAT symbol: the linker keeps either copy, and
// a CPU without AVX2 could then run the AVX2 one (illegal instruction). Only ISA-specific code may
// be weak in those objects.
if (platform !== 'win32') {
  const objects = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (/\.(o|obj)$/.test(e.name)) objects.push(join(d, e.name));
    }
  };
  const objDir = join(buildDir, 'CMakeFiles', 'kiln.dir');
  if (existsSync(objDir)) walk(objDir);
  const weak = (f) => {
    const r = spawnSync('nm', ['--defined-only', f], { encoding: 'utf8', maxBuffer: 64 << 20 });
    return r.status === 0 ? r.stdout.split('\n').map((l) => l.trim().split(/\s+/)).filter((p) => /^[WVu]$/.test(p[1] ?? '')).map((p) => p[2]) : [];
  };
  const isa = objects.filter((f) => /_avx(2|512)\.cpp\.(o|obj)$/.test(f));
  const base = new Set(objects.filter((f) => !isa.includes(f)).flatMap(weak));
  // DW.ref.* are data (the exception personality pointer), identical in every object: not code.
  const shared = [...new Set(isa.flatMap(weak))].filter((sym) => base.has(sym) && !sym.startsWith('DW.ref.'));
  if (shared.length) {
    console.log(`ISA objects share ${shared.length} weak symbol(s) with baseline objects, e.g. ${shared.slice(0, 5).join(', ')}`);
    problems++;
  } else if (isa.length) log(`ISA objects (${isa.length}) share no weak symbols with the baseline objects`);
}
if (problems) die(`${problems} problem(s) with the binaries above`);

// Load the addon the way users will (node-gyp-build, prebuilds only) in a child process.
const probe = `
  const ngb = require('node-gyp-build');
  const path = ngb.path(${JSON.stringify(root)});
  const addon = require(path);
  addon.init(new Float64Array(8192));
  const cuda = addon.cudaStatus();
  console.log(JSON.stringify({ path, cpu: addon.cpuInfo(), cuda }));
`;
const r = spawnSync(process.execPath, ['-e', probe], { cwd: root, encoding: 'utf8', env: { ...process.env, PREBUILDS_ONLY: '1', KILN_CUDA_PLUGIN: '' } });
if (r.status !== 0) die(`the prebuilt addon does not load:\n${r.stdout}${r.stderr}`);
const loaded = JSON.parse(r.stdout.trim().split('\n').pop());
if (resolve(loaded.path) !== resolve(outDir, addonName)) die(`node-gyp-build chose ${loaded.path}, not ${join(outDir, addonName)}`);
log(`loads: cpu ${loaded.cpu.features || '(baseline)'}, GEMM kernel ${loaded.cpu.gemmKernel}`);
if (pluginBuilt) {
  // Without a GPU the plugin still loads and says why CUDA is unavailable; what must not happen
  // is the addon failing to find or dlopen it.
  const reason = loaded.cuda.reason ?? '';
  if (/built without the CUDA plugin|failed to load|not a kiln plugin|plugin ABI/.test(reason)) die(`the CUDA plugin is not usable: ${reason}`);
  log(`CUDA plugin: ${loaded.cuda.available ? `available, ${loaded.cuda.deviceCount} device(s)` : `loads; CUDA unavailable here: ${reason}`}`);
}

function nvccRelease() {
  const nvcc = /^CMAKE_CUDA_COMPILER:\w+=(.*)$/m.exec(cache)?.[1];
  const v = nvcc && spawnSync(nvcc, ['--version'], { encoding: 'utf8' }).stdout;
  return (v && /release ([\d.]+)/.exec(v)?.[1]) || null;
}
const glibcOf = (name) => reports.find((x) => x.file.endsWith(name))?.needs.GLIBC ?? null;
const manifest = {
  name: pkg.name,
  version: pkg.version,
  platform,
  arch,
  napi,
  addon: addonName,
  glibc: platform === 'linux' ? glibcOf(addonName) : undefined,
  cudaPlugin: pluginBuilt
    ? { file: pluginName, glibc: glibcOf(pluginName), archs: /^KILN_CUDA_ARCHS:\w+=(.*)$/m.exec(cache)?.[1] ?? null, cuda: nvccRelease() }
    : null,
  builtWith: { node: process.version, compiler: /^CMAKE_CXX_COMPILER:\w+=(.*)$/m.exec(cache)?.[1] ?? null },
  commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout?.trim() || null,
  date: new Date().toISOString(),
};
writeFileSync(join(outDir, 'kiln-prebuild.json'), JSON.stringify(manifest, null, 2) + '\n');
log(`done: ${readdirSync(outDir).map((f) => join('prebuilds', tuple, f)).join(', ')}`);
