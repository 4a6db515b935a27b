#!/usr/bin/env node
// The `kiln` command (package.json "bin"):
//   npx kiln doctor [--json]   what kiln found on this machine: Node and Node-API versions, which
//                              native binary was loaded (prebuild or local build) and from where,
//                              CPU features, GEMM kernel, threads, and whether CUDA is usable
//                              (the exact reason when it is not; GPU name and memory when it is)
//   npx kiln build [--cuda=off] build the native addon from source (what `npm install` does when
//                              no prebuilt binary loads; needed after `--ignore-scripts` on a
//                              platform without a prebuild)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const [command = 'help', ...rest] = process.argv.slice(2);

const gib = (b) => `${(b / 2 ** 30).toFixed(1)} GiB`;
const readJson = (p) => {
  try {
    return JSON.parse(readFileSync(p, 'utf8'));
  } catch {
    return null;
  }
};

function glibc() {
  if (process.platform !== 'linux') return null;
  const header = process.report?.getReport?.().header;
  return header?.glibcVersionRuntime ?? null;
}

/** Where node-gyp-build looks, in its order: build/Release, build/Debug, then prebuilds/<platform>-<arch>. */
function candidates() {
  const tuple = `${process.platform}-${process.arch}`;
  const list = [];
  for (const d of ['build/Release', 'build/Debug']) {
    const dir = join(root, d);
    if (existsSync(dir)) for (const f of readdirSync(dir)) if (f.endsWith('.node')) list.push(join(d, f));
  }
  const pre = join(root, 'prebuilds', tuple);
  if (existsSync(pre)) for (const f of readdirSync(pre)) if (f.endsWith('.node')) list.push(join('prebuilds', tuple, f));
  return list;
}

function describeBinary(path) {
  const rel = relative(root, path);
  if (rel.split(sep).includes('prebuilds')) {
    const m = readJson(join(dirname(path), 'kiln-prebuild.json'));
    const built = m ? `, built ${m.date?.slice(0, 10)} from ${m.commit ?? '?'} with Node ${m.builtWith?.node}${m.glibc ? `, needs glibc ${m.glibc}` : ''}` : '';
    return { kind: 'prebuild', detail: `prebuilt binary (Node-API ${m?.napi ?? pkg.binary.napi_versions[0]}${built})` };
  }
  const buildDir = join(root, 'build');
  const by = existsSync(join(buildDir, 'CMakeCache.txt')) ? 'cmake-js' : existsSync(join(buildDir, 'config.gypi')) ? 'node-gyp' : 'unknown tool';
  return { kind: 'local build', detail: `built from source on this machine (${by}, Node-API ${pkg.binary.napi_versions[0]})` };
}

async function doctor(json) {
  const report = {
    kiln: pkg.version,
    node: process.version,
    napi: process.versions.napi,
    electron: process.versions.electron ?? null,
    platform: `${process.platform}-${process.arch}`,
    glibc: glibc(),
    addon: null,
    cpu: null,
    cuda: null,
    problems: [],
  };
  let kiln;
  const entry = join(root, 'dist', 'esm', 'index.js');
  if (!existsSync(entry)) {
    report.problems.push(`${relative(process.cwd(), entry)} is missing: build the TypeScript with \`npm run build:ts\` (a development checkout)`);
  } else {
    try {
      kiln = await import(pathToFileURL(entry).href);
    } catch (e) {
      report.problems.push(String(e.message ?? e));
      report.addon = { loaded: null, candidates: candidates() };
    }
  }
  if (kiln) {
    const info = kiln.backendInfo();
    const bin = describeBinary(info.addon);
    report.addon = { loaded: info.addon, kind: bin.kind, detail: bin.detail, candidates: candidates(), prebuildEnv: process.env.KILN_PREBUILD ?? null };
    report.cpu = { features: info.cpu.features, gemmKernel: info.cpu.gemmKernel, threads: kiln.getNumThreads(), KILN_NUM_THREADS: process.env.KILN_NUM_THREADS ?? null };
    const c = info.cuda;
    report.cuda = { available: c.available, reason: c.reason, plugin: c.plugin, versions: c.versions, devices: [] };
    if (c.available) {
      for (let i = 0; i < c.deviceCount; i++) {
        const p = kiln.cuda.getDeviceProperties(i);
        const m = kiln.cuda.memoryStats(i);
        report.cuda.devices.push({ index: i, name: p.name, totalMemory: p.totalMemory, freeMemory: m.deviceFree, capability: `${p.major}.${p.minor}`, multiprocessors: p.multiprocessors });
      }
    }
  }
  if (json) {
    console.log(JSON.stringify(report, null, 2));
    return report.problems.length ? 1 : 0;
  }

  const rows = [];
  const row = (k, v) => rows.push([k, v]);
  row('kiln', `${report.kiln} (${root})`);
  row('Node.js', `${report.node}, Node-API ${report.napi} (kiln needs ${pkg.binary.napi_versions[0]}), ${report.platform}${report.glibc ? `, glibc ${report.glibc}` : ''}${report.electron ? `, Electron ${report.electron}` : ''}`);
  if (report.addon?.loaded) {
    row('binary', `${report.addon.kind}: ${report.addon.loaded}`);
    row('', report.addon.detail);
    const others = report.addon.candidates.filter((p) => join(root, p) !== report.addon.loaded);
    if (others.length) row('', `also present: ${others.join(', ')} (a local build in build/ takes precedence over prebuilds/)`);
    if (report.addon.prebuildEnv) row('', `KILN_PREBUILD=${report.addon.prebuildEnv}`);
  }
  if (report.cpu) {
    row('CPU', `features: ${report.cpu.features || 'none beyond the baseline'}; GEMM kernel: ${report.cpu.gemmKernel}`);
    row('threads', `${report.cpu.threads}${report.cpu.KILN_NUM_THREADS ? ` (KILN_NUM_THREADS=${report.cpu.KILN_NUM_THREADS})` : ` (KILN_NUM_THREADS unset: one per logical CPU; this machine has ${os.availableParallelism?.() ?? os.cpus().length})`}`);
  }
  if (report.cuda) {
    const c = report.cuda;
    row('CUDA', c.available ? `available, ${c.devices.length} device(s)` : `unavailable: ${c.reason}`);
    row('', `plugin: ${c.plugin ?? 'none found'}`);
    if (c.versions) row('', c.versions);
    for (const d of c.devices) row(`cuda:${d.index}`, `${d.name}, ${gib(d.totalMemory)} (${gib(d.freeMemory)} free), compute capability ${d.capability}, ${d.multiprocessors} SMs`);
  }
  for (const p of report.problems) row('PROBLEM', p);
  if (report.problems.length && report.addon && !report.addon.loaded) {
    row('', report.addon.candidates.length ? `binaries present: ${report.addon.candidates.join(', ')}` : 'no native binary is present (no prebuild for this platform, and no local build)');
    row('', 'build one with `npx kiln build` (needs a C++17 compiler and CMake 3.18+)');
  }
  const w = Math.max(...rows.map(([k]) => k.length));
  console.log(`kiln doctor\n${rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n')}`);
  return report.problems.length ? 1 : 0;
}

function build(args) {
  const env = { ...process.env, KILN_BUILD_FROM_SOURCE: '1' };
  for (const a of args) {
    const m = /^--cuda=(\w+)$/.exec(a);
    if (m) env.KILN_CUDA = m[1];
    else {
      console.error(`kiln build: unknown option ${a}`);
      return 2;
    }
  }
  return spawnSync(process.execPath, [join(root, 'scripts', 'install.mjs')], { stdio: 'inherit', env }).status ?? 1;
}

const usage = `usage: kiln doctor [--json]     report Node, the native binary, CPU, threads and CUDA
       kiln build [--cuda=off]   build the native addon from source`;
let code;
if (command === 'doctor') code = await doctor(rest.includes('--json'));
else if (command === 'build') code = build(rest);
else if (['help', '--help', '-h'].includes(command)) {
  console.log(usage);
  code = 0;
} else {
  console.error(`kiln: unknown command '${command}'\n${usage}`);
  code = 2;
}
process.exitCode = code;
