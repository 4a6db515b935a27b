// `npm run test:tarball`: the published package, installed the way users install it.
//
// Packs kiln (`npm pack`, which builds dist/ in prepack), then installs the tarball into empty
// temporary projects and trains a small model there (least squares with kiln.grad, and an
// nn.Linear step with loss.backward()):
//   1. prebuild, --ignore-scripts, no compilers on PATH   the loader finds prebuilds/ at run time
//   2. prebuild, install script, no compilers on PATH     the script test-loads and keeps the prebuild
//   3. KILN_BUILD_FROM_SOURCE=1, no compilers on PATH     fails, naming what is missing
//   4. tarball without prebuilds/, compilers on PATH      the install script builds from source
//                                                        (KILN_CUDA=off unless set), which works
// Installs use the npm cache (--prefer-offline). "No compilers" is a PATH holding links to every
// program on the real PATH except compilers and build tools (cc, c++, g++, gcc, clang, cmake,
// make, ninja, nvcc, ...), checked before use.
//
// Needs prebuilds/<platform>-<arch>/ (`npm run prebuild`; run here when missing).
//   node scripts/tarball-test.mjs [--no-source] [--tarball file.tgz] [--keep]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({ options: { 'no-source': { type: 'boolean' }, tarball: { type: 'string' }, keep: { type: 'boolean' } } });
const tuple = `${process.platform}-${process.arch}`;
const work = mkdtempSync(join(tmpdir(), 'kiln-tarball-'));
const started = performance.now();
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let failures = 0;

const log = (m) => console.log(`[tarball ${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s] ${m}`);
function check(ok, what, detail = '') {
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}${!ok && detail ? `\n${String(detail).replace(/^/gm, '       ')}` : ''}`);
  if (!ok) failures++;
  return ok;
}
function run(cmd, args, { cwd = work, env = process.env, allowFail = false } = {}) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 256 << 20, shell: process.platform === 'win32' });
  if (r.status !== 0 && !allowFail) {
    console.error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
    cleanup();
    process.exit(1);
  }
  return r;
}
function cleanup() {
  if (opts.keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

// ---------------------------------------------------------------- the environments
const hiddenTools = /^(cc|c\+\+|cpp|gcc|g\+\+|clang|clang\+\+|clang-cpp|cmake|ctest|cpack|make|gmake|ninja|nvcc|c89|c99|ld|ld\.\w+|as|ccache)(-[\d.]+)?$|^[\w.]+-linux-gnu\w*-(gcc|g\+\+|c\+\+|cpp|ld|as)(-[\d.]+)?$|^clang(\+\+)?-\d+$/;
/** A PATH of links to everything on PATH except compilers and build tools. */
function compilerFreePath() {
  if (process.platform === 'win32') return process.env.PATH; // (not used on Windows: see the release workflow)
  const bin = join(work, 'bin');
  mkdirSync(bin);
  for (const dir of (process.env.PATH || '').split(delimiter)) {
    if (!dir || !existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      if (hiddenTools.test(name) || existsSync(join(bin, name))) continue;
      try {
        if (statSync(join(dir, name)).isFile()) symlinkSync(join(dir, name), join(bin, name));
      } catch {
        /* dangling link or no permission */
      }
    }
  }
  return bin;
}
const baseEnv = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
for (const k of ['CC', 'CXX', 'KILN_BUILD_FROM_SOURCE', 'KILN_PREBUILD', 'PREBUILDS_ONLY', 'KILN_CUDA_PLUGIN', 'npm_config_ignore_scripts']) delete baseEnv[k];
// npm sets these for scripts run through it (`npm run test:tarball`); they must not leak into the installs
for (const k of Object.keys(baseEnv)) if (/^npm_(package|lifecycle)_/.test(k) || k === 'INIT_CWD') delete baseEnv[k];
const hiddenPath = compilerFreePath();
const noCompilers = { ...baseEnv, PATH: hiddenPath };
if (process.platform !== 'win32') {
  const found = ['cc', 'c++', 'g++', 'gcc', 'clang++', 'cmake', 'make', 'ninja'].filter((t) => spawnSync(t, ['--version'], { env: noCompilers, stdio: 'ignore' }).status === 0);
  if (!check(found.length === 0, 'compilers and build tools are hidden from the test PATH', `still found: ${found.join(', ')}`)) process.exit(1);
  if (!check(spawnSync('node', ['--version'], { env: noCompilers }).status === 0 && spawnSync(npm, ['--version'], { env: noCompilers }).status === 0, 'node and npm remain on it')) process.exit(1);
}

// ---------------------------------------------------------------- pack
const manifestPath = join(root, 'prebuilds', tuple, 'kiln-prebuild.json');
let tarball = opts.tarball && resolve(opts.tarball);
if (!tarball) {
  if (!existsSync(manifestPath)) {
    log(`no prebuild for ${tuple}: running npm run prebuild`);
    run(npm, ['run', 'prebuild'], { cwd: root, env: { ...process.env } });
  }
  log('npm pack');
  const r = run(npm, ['pack', '--json', '--pack-destination', work], { cwd: root });
  const packed = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')))[0];
  tarball = join(work, packed.filename);
  const files = new Set(packed.files.map((f) => f.path));
  log(`${packed.filename}: ${packed.files.length} files, ${(packed.size / 2 ** 20).toFixed(1)} MiB packed, ${(packed.unpackedSize / 2 ** 20).toFixed(1)} MiB unpacked`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const want = ['dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/cjs/index.cjs', 'bin/kiln.mjs', 'scripts/install.mjs', 'CMakeLists.txt', 'binding.gyp', 'scripts/sources.mjs', `prebuilds/${tuple}/${manifest.addon}`];
  if (manifest.cudaPlugin) want.push(`prebuilds/${tuple}/${manifest.cudaPlugin.file}`);
  const missing = want.filter((f) => !files.has(f));
  check(missing.length === 0, `the tarball holds dist/, bin/, the build files and the ${tuple} prebuild${manifest.cudaPlugin ? ' with the CUDA plugin' : ''}`, `missing: ${missing.join(', ')}`);
  const stray = [...files].filter((f) => /^(build|build-[\w-]+|test|bench|node_modules|lib|tmp)\//.test(f));
  check(stray.length === 0, 'and no build folders, tests or sources of dist', stray.slice(0, 10).join(', '));
}
const manifest = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : null;

// ---------------------------------------------------------------- the project and its training step
const trainScript = `
import { createRequire } from 'node:module';
import * as kiln from 'kiln';
const cjs = createRequire(import.meta.url)('kiln');

// least squares with autodiff: w <- w - lr * grad(mean((Xw - y)^2))
kiln.manualSeed(0);
const X = kiln.randn([64, 3]);
const wTrue = kiln.tensor([[1.5], [-2], [0.5]]);
const y = X.matmul(wTrue);
const loss = (w) => X.matmul(w).sub(y).square().mean();
const g = kiln.grad(loss);
let w = kiln.zeros([3, 1]);
const loss0 = loss(w).item();
for (let i = 0; i < 200; i++) {
  const next = kiln.tidy(() => w.sub(g(w).mul(0.1)));
  w.dispose();
  w = next;
}
const lossN = loss(w).item();
const err = Math.max(...Array.from(w.sub(wTrue).abs().dataSync()));

// one nn.Linear regression with loss.backward() and optim.SGD
const lin = new kiln.nn.Linear(3, 1);
const opt = new kiln.optim.SGD(lin.parameters(), { lr: 0.1 });
let first = NaN, last = NaN;
for (let i = 0; i < 100; i++) {
  kiln.tidy(() => {
    opt.zeroGrad();
    const l = kiln.nn.functional.mseLoss(lin.forward(X), y);
    l.backward();
    opt.step();
    if (i === 0) first = l.item();
    last = l.item();
  });
}
console.log(JSON.stringify({ addon: kiln.backendInfo().addon, loss0, lossN, err, first, last, cjs: typeof cjs.grad }));
`;

function project(name) {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `kiln-tarball-${name}`, version: '1.0.0', private: true, type: 'module' }, null, 2));
  writeFileSync(join(dir, 'train.mjs'), trainScript);
  return dir;
}

function install(dir, tgz, env, extra = []) {
  return run(npm, ['install', tgz, '--prefer-offline', '--no-audit', '--no-fund', '--no-save', '--foreground-scripts', ...extra], { cwd: dir, env, allowFail: true });
}

/** Trains in the project; checks the result and that the binary came from `expect` (a path fragment). */
function trains(dir, env, expectFrom, label) {
  const r = run('node', ['train.mjs'], { cwd: dir, env, allowFail: true });
  if (!check(r.status === 0, `${label}: trains`, `${r.stdout}${r.stderr}`)) return null;
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  check(out.lossN < 1e-8 * Math.max(1, out.loss0) + 1e-9 && out.err < 1e-4, `${label}: least squares with kiln.grad converged (loss ${out.loss0.toExponential(2)} -> ${out.lossN.toExponential(2)}, max |w - w*| ${out.err.toExponential(1)})`, JSON.stringify(out));
  check(out.last < out.first / 10, `${label}: nn.Linear + loss.backward() + SGD learned (loss ${out.first.toFixed(3)} -> ${out.last.toFixed(5)})`);
  check(out.cjs === 'function', `${label}: require('kiln') works too`);
  const rel = out.addon.slice(join(dir, 'node_modules', 'kiln').length + 1);
  check(out.addon.startsWith(join(dir, 'node_modules', 'kiln')) && rel.replace(/\\/g, '/').startsWith(expectFrom), `${label}: loaded ${rel}`, `expected ${expectFrom}..., got ${out.addon}`);
  return out;
}

function doctor(dir, env, label) {
  const r = run(npm, ['exec', '--no', '--', 'kiln', 'doctor', '--json'], { cwd: dir, env, allowFail: true });
  if (!check(r.status === 0, `${label}: npx kiln doctor runs`, `${r.stdout}${r.stderr}`)) return null;
  return JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
}

// 1. prebuild, scripts ignored, no compilers
log(`1. npm install --ignore-scripts, compilers hidden`);
const a = project('prebuild-ignore-scripts');
let r = install(a, tarball, noCompilers, ['--ignore-scripts']);
if (check(r.status === 0, 'installs', `${r.stdout}${r.stderr}`)) {
  trains(a, noCompilers, `prebuilds/${tuple}/`, 'ignore-scripts');
  const d = doctor(a, noCompilers, 'ignore-scripts');
  if (d) {
    check(d.addon.kind === 'prebuild', `doctor: binary is the prebuild (${d.addon.kind})`);
    if (manifest?.cudaPlugin) {
      const reason = d.cuda.reason ?? '';
      check(d.cuda.plugin?.includes(`prebuilds`) && !/built without|failed to load|not a kiln plugin|plugin ABI/.test(reason), `doctor: the prebuilt CUDA plugin loads (${d.cuda.available ? 'CUDA available' : reason})`, JSON.stringify(d.cuda));
    }
  }
}

// 2. prebuild, install script, no compilers
log(`2. npm install (install script runs), compilers hidden`);
const b = project('prebuild-install-script');
r = install(b, tarball, noCompilers);
if (check(r.status === 0, 'installs', `${r.stdout}${r.stderr}`)) {
  check(/kiln: using the prebuilt binary/.test(r.stdout + r.stderr), 'the install script test-loaded and kept the prebuild', `${r.stdout}${r.stderr}`);
  check(!existsSync(join(b, 'node_modules', 'kiln', 'build')), 'and built nothing');
  trains(b, noCompilers, `prebuilds/${tuple}/`, 'install script');

  // 3. a forced source build without compilers: a clear failure (compilers are not hidden on Windows)
  if (process.platform !== 'win32') {
    log(`3. KILN_BUILD_FROM_SOURCE=1 without compilers`);
    r = run('node', [join('node_modules', 'kiln', 'scripts', 'install.mjs')], { cwd: b, env: { ...noCompilers, KILN_BUILD_FROM_SOURCE: '1' }, allowFail: true });
    const msg = r.stdout + r.stderr;
    check(r.status !== 0 && /Missing: .*cmake.*C\+\+17 compiler.*make or ninja/s.test(msg), 'fails, naming cmake, the C++ compiler and make/ninja', msg);
  }
}

// 4. no prebuild: the source build
if (!opts['no-source']) {
  log(`4. a tarball without prebuilds/: npm install builds from source (KILN_CUDA=${process.env.KILN_CUDA || 'off'})`);
  const unpack = join(work, 'unpacked');
  mkdirSync(unpack);
  run('tar', ['xzf', tarball, '-C', unpack]);
  rmSync(join(unpack, 'package', 'prebuilds'), { recursive: true, force: true });
  const bare = join(work, 'kiln-no-prebuilds.tgz');
  run('tar', ['czf', bare, '-C', unpack, 'package']);
  const c = project('source-build');
  const env = { ...baseEnv, KILN_CUDA: process.env.KILN_CUDA || 'off' };
  const t0 = performance.now();
  r = install(c, bare, env);
  if (check(r.status === 0 && /kiln: built build/.test(r.stdout + r.stderr), `builds from source (${((performance.now() - t0) / 1000).toFixed(0)} s)`, `${r.stdout.slice(-4000)}${r.stderr.slice(-4000)}`)) {
    trains(c, noCompilers, 'build/Release/', 'source build');
    const d = doctor(c, noCompilers, 'source build');
    if (d) check(d.addon.kind === 'local build', `doctor: binary is the local build (${d.addon.kind})`);
  }
}

log(failures ? `${failures} check(s) failed` : 'all checks passed');
cleanup();
process.exit(failures ? 1 : 0);
