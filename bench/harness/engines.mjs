// Loads kiln and its peers once per process. Each loader returns a handle or throws an Error whose
// message says why the engine is unavailable; suites print that reason instead of a number.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const rootDir = join(benchDir, '..');
export const requireFromBench = createRequire(join(benchDir, 'package.json'));

/** Engine ids in the order suites print them; kiln first so every peer is compared with it. */
export const ENGINE_IDS = ['kiln', 'tfjs-cpu', 'tfjs-wasm', 'ort'];

export const ENGINE_LABELS = {
  kiln: 'kiln',
  'tfjs-cpu': 'tfjs (cpu)',
  'tfjs-wasm': 'tfjs-wasm',
  ort: 'onnxruntime-node',
};

export const NOT_BENCHMARKED = [
  '@tensorflow/tfjs-node is not benchmarked: its install downloads libtensorflow, which cannot be fetched offline.',
];

export function pkgVersion(name) {
  try {
    // Read the file directly: some packages (tinybench) do not export ./package.json.
    return JSON.parse(readFileSync(join(benchDir, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

/** Threads a multi-threaded engine gets: --threads, else every core the process may use. */
export const defaultThreads = () => (os.availableParallelism ? os.availableParallelism() : os.cpus().length);

// tfjs greets Node users on stdout/stderr once ("looks like you are running TensorFlow.js in Node.js");
// it is noise inside a table.
async function quietly(fn) {
  const { log, warn } = console;
  const skip = (orig) => (...args) => {
    const s = args.map(String).join(' ');
    if (s.includes('TensorFlow.js in Node.js') || /^=+$/.test(s.trim())) return;
    orig.apply(console, args);
  };
  console.log = skip(log);
  console.warn = skip(warn);
  try {
    return await fn();
  } finally {
    console.log = log;
    console.warn = warn;
  }
}

// What `import 'kiln'` resolves to (package.json exports): the bundled ESM entry.
export const kilnEntry = join(rootDir, 'dist', 'kiln.mjs');
export const kilnCjsEntry = join(rootDir, 'dist', 'cjs', 'index.cjs');

const loaders = {
  async kiln({ threads }) {
    if (!existsSync(kilnEntry)) throw new Error('dist/kiln.mjs missing (npm run build:ts failed?)');
    const kiln = await import(pathToFileURL(kilnEntry).href);
    // Touch the native core now, so a missing addon is reported as "unavailable", not mid-table.
    kiln.tidy(() => kiln.tensor([1, 2]).dataSync());
    if (threads) kiln.setNumThreads(threads);
    const info = kiln.backendInfo?.().cpu ?? {};
    const used = kiln.getNumThreads?.() ?? info.threads;
    const details = [info.gemmKernel && `gemm ${info.gemmKernel}`, info.features?.length && `${[].concat(info.features).join(' ')}`]
      .filter(Boolean)
      .join(', ');
    return { kiln, threads: used, info: `${used} thread(s)${details ? `, ${details}` : ''}` };
  },

  async tfjs() {
    const tf = await quietly(() => import('@tensorflow/tfjs'));
    // The greeting comes with the first tensor the cpu backend stores; take it here, quietly.
    await quietly(async () => {
      await tf.setBackend('cpu');
      tf.tensor([0]).dispose();
    });
    return { tf };
  },

  async 'tfjs-cpu'(opts) {
    const { tf } = await load('tfjs', opts);
    const use = () => quietly(() => tf.setBackend('cpu'));
    await use();
    return { tf, use, threads: 1, info: `${pkgVersion('@tensorflow/tfjs')}, plain JS, 1 thread` };
  },

  async 'tfjs-wasm'(opts) {
    const { tf } = await load('tfjs', opts);
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const dir = join(dirname(requireFromBench.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
    wasm.setWasmPaths(dir + '/');
    const use = async () => {
      if (!(await quietly(() => tf.setBackend('wasm')))) throw new Error('tf.setBackend("wasm") failed');
    };
    await use();
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    const threads = wasm.getThreadsCount();
    return { tf, use, threads, info: `${pkgVersion('@tensorflow/tfjs-backend-wasm')}, ${simd ? 'simd' : 'no simd'}, ${threads} thread(s)` };
  },

  async ort({ threads }) {
    const ort = (await import('onnxruntime-node')).default ?? (await import('onnxruntime-node'));
    const n = threads || defaultThreads();
    const sessionOptions = {
      intraOpNumThreads: n,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    };
    const session = (modelBytes) => ort.InferenceSession.create(modelBytes, sessionOptions);
    return { ort, session, threads: n, info: `${pkgVersion('onnxruntime-node')}, cpu EP, ${n} intra-op thread(s), inference only` };
  },
};

const cache = new Map();

/**
 * @param {string} id one of ENGINE_IDS
 * @param {{ threads?: number }} opts
 * @returns {Promise<any>} the engine handle; rejects with the reason it is unavailable
 */
export function load(id, opts = {}) {
  if (!cache.has(id)) cache.set(id, loaders[id](opts));
  return cache.get(id);
}

/** Like load, but resolves to `{ error }` instead of rejecting. */
export async function tryLoad(id, opts) {
  try {
    return await load(id, opts);
  } catch (e) {
    return { error: shortError(e) };
  }
}

/** First line of an error, cut to fit a table cell. */
export function shortError(e, max = 100) {
  const line = String(e?.message ?? e)
    .trim()
    .split('\n')[0]
    .replace(/^\S*node: /, '') // "/usr/bin/node: symbol lookup error: ..."
    .replace(/\/\S*\/([^/\s]+)/g, '$1'); // absolute paths -> file names
  return line.length > max ? line.slice(0, max - 1) + '…' : line;
}
