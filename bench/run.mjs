#!/usr/bin/env node
// kiln benchmarks: `npm run bench` (all suites) or `node bench/run.mjs <suite...> [options]`.
// Installs bench/'s own dependencies (the peers) on first use, rebuilds dist/ when lib/ changed,
// then runs each suite in bench/suites/ and prints markdown tables. A suite is a file in
// bench/suites/ that exports `name`, `order`, `description` and `async run(ctx)`; nothing else
// needs to change to add one.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const benchDir = dirname(fileURLToPath(import.meta.url));
const rootDir = join(benchDir, '..');

const USAGE = `usage: node bench/run.mjs [suite ...] [options]
  suites run in order; default: all (see --list)
  --list              list the suites and exit
  --time=MS           time budget per measured task (default 500)
  --warmup=MS         train: untimed steps before each measured one (default 1000)
  --threads=N         threads for kiln and onnxruntime-node (default: their own default / all cores)
  --reps=N            fresh processes per runtime in coldstart (default 11)
  --only=a,b          ops: only cases whose name starts with one of these (e.g. --only=matmul,add)
  --engines=a,b       ops: engines to run (kiln,tfjs-cpu,tfjs-wasm,ort)
  --json=FILE         also write every suite's raw results to FILE
  --no-install        do not install bench/ dependencies
  --no-build          do not rebuild dist/ from lib/`;

function parseArgs(argv) {
  const options = { time: 500, install: true, build: true };
  const suites = [];
  for (const a of argv) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (!m) { suites.push(a); continue; }
    const [, k, v] = m;
    const num = () => { const n = Number(v); if (!(n > 0)) throw new Error(`--${k} needs a positive number`); return n; };
    const list = () => (v ?? '').split(',').filter(Boolean);
    switch (k) {
      case 'help': console.log(USAGE); process.exit(0);
      case 'list': options.list = true; break;
      case 'time': options.time = num(); break;
      case 'warmup': options.warmup = num(); break;
      case 'threads': options.threads = num(); break;
      case 'reps': options.reps = num(); break;
      case 'only': options.only = list(); break;
      case 'engines': options.engineIds = list(); break;
      case 'json': options.json = v; break;
      case 'no-install': options.install = false; break;
      case 'no-build': options.build = false; break;
      default: throw new Error(`unknown option --${k}\n${USAGE}`);
    }
  }
  return { suites, options };
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', shell: process.platform === 'win32', ...opts });
  return r.status === 0;
}

/** npm-installs bench/package.json when any of its dependencies is missing from bench/node_modules. */
function ensureBenchDeps() {
  const pkg = JSON.parse(readFileSync(join(benchDir, 'package.json'), 'utf8'));
  const missing = Object.keys(pkg.dependencies).filter((d) => !existsSync(join(benchDir, 'node_modules', d, 'package.json')));
  if (!missing.length) return;
  const ci = existsSync(join(benchDir, 'package-lock.json'));
  console.error(`bench: installing benchmark peers (${missing.join(', ')}) into bench/node_modules — first run only`);
  // onnxruntime-node's postinstall would download CUDA libraries; its CPU build is bundled.
  const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' };
  if (!sh('npm', [ci ? 'ci' : 'install', '--prefix', benchDir, '--no-audit', '--no-fund'], { cwd: benchDir, env })) {
    throw new Error('bench: npm install in bench/ failed');
  }
}

function newestMtime(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let t = 0;
  for (const e of readdirSync(path)) t = Math.max(t, newestMtime(join(path, e)));
  return t;
}

/** Rebuilds dist/ (npm run build:ts) when it is missing or older than lib/: kiln is measured as users import it. */
function ensureKilnBuilt() {
  const entry = join(rootDir, 'dist', 'esm', 'index.js');
  if (!existsSync(join(rootDir, 'lib', 'index.ts'))) return;
  const sources = ['lib', 'tsconfig.json', 'scripts/build-ts.mjs'].map((p) => join(rootDir, p)).filter(existsSync);
  const stale = !existsSync(entry) || Math.max(...sources.map(newestMtime)) > statSync(entry).mtimeMs;
  if (!stale) return;
  console.error('bench: dist/ is missing or older than lib/ — running npm run build:ts');
  if (!sh(process.execPath, [join(rootDir, 'scripts', 'build-ts.mjs')], { cwd: rootDir })) {
    console.error('bench: build:ts failed; kiln rows will say why kiln is unavailable');
  }
}

async function loadSuites() {
  const dir = join(benchDir, 'suites');
  const mods = await Promise.all(
    readdirSync(dir).filter((f) => f.endsWith('.mjs')).map((f) => import(pathToFileURL(join(dir, f)).href)),
  );
  return mods.filter((m) => m.name && typeof m.run === 'function').sort((a, b) => (a.order ?? 50) - (b.order ?? 50));
}

function header(engines) {
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  const v = (n) => engines.pkgVersion(n) ?? 'not installed';
  console.log(`# kiln benchmarks — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`);
  console.log('');
  console.log(`- machine: ${cpu}, ${engines.defaultThreads()} cores available, ${os.platform()}-${os.arch()}, node ${process.version}`);
  console.log(`- peers: @tensorflow/tfjs ${v('@tensorflow/tfjs')}, @tensorflow/tfjs-backend-wasm ${v('@tensorflow/tfjs-backend-wasm')}, onnxruntime-node ${v('onnxruntime-node')}, tinybench ${v('tinybench')}`);
  const git = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: rootDir, encoding: 'utf8' });
  if (git.status === 0) console.log(`- kiln: ${git.stdout.trim()} (dist/kiln.mjs, addon as its loader finds it)`);
  for (const n of engines.NOT_BENCHMARKED) console.log(`- ${n}`);
  const [load1] = os.loadavg();
  if (load1 > 0.5 * engines.defaultThreads()) {
    console.log(`- WARNING: load average ${load1.toFixed(1)} on ${engines.defaultThreads()} cores: other processes are competing; timings are noisy.`);
  }
}

async function main() {
  const { suites: wanted, options } = parseArgs(process.argv.slice(2));
  if (options.install) ensureBenchDeps();
  const all = await loadSuites();
  if (options.list) {
    for (const s of all) console.log(`${s.name.padEnd(12)} ${s.description ?? ''}`);
    return 0;
  }
  const unknown = wanted.filter((w) => !all.some((s) => s.name === w));
  if (unknown.length) throw new Error(`unknown suite(s): ${unknown.join(', ')}; available: ${all.map((s) => s.name).join(', ')}`);
  const suites = wanted.length ? wanted.map((w) => all.find((s) => s.name === w)) : all;
  if (options.build) ensureKilnBuilt();

  const engines = await import('./harness/engines.mjs');
  header(engines);
  const results = {};
  let failed = 0;
  for (const s of suites) {
    try {
      results[s.name] = await s.run({ options, rootDir, benchDir });
    } catch (e) {
      failed++;
      console.log(`\n### ${s.name}: failed\n\n${e?.stack ?? e}`);
    }
  }
  if (options.json) writeFileSync(options.json, JSON.stringify({ date: new Date().toISOString(), options, results }, null, 2));
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e?.message ?? e);
    process.exit(2);
  },
);
