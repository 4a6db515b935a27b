// GPU workloads with kiln on cuda:0, timed with the host clock around a synchronized loop.
// Prints one JSON object: { device, rows: [{ name, unit, value, ms }] }. The same workloads
// written with PyTorch are in torch_ref.py; table.mjs puts the two side by side.
//   node bench/gpu/kiln.mjs
// KILN_BENCH_DEVICE=cpu KILN_BENCH_SMALL=1 runs the same code small on the CPU (a dry run of the
// script itself on a machine without a GPU).
import { performance } from 'node:perf_hooks';

const kiln = await import(process.env.KILN_DIST ?? new URL('../../dist/esm/index.js', import.meta.url).href);
const device = process.env.KILN_BENCH_DEVICE ?? 'cuda';
const small = process.env.KILN_BENCH_SMALL === '1';
const sync = async () => {
  if (device !== 'cpu') await kiln.cuda.synchronize();
};

if (device !== 'cpu' && !kiln.cuda.isAvailable()) {
  console.log(JSON.stringify({ error: `CUDA not available: ${kiln.cuda.unavailableReason()}` }));
  process.exit(0);
}

const rows = [];
const log = (...a) => console.error('[kiln]', ...a);

// Median of `reps` timings of `iters` calls of fn each (fn enqueues; we sync around the loop).
async function time(fn, { warmup = 3, iters = 10, reps = 5 } = {}) {
  for (let i = 0; i < warmup; i++) fn();
  await sync();
  const ms = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) fn();
    await sync();
    ms.push((performance.now() - t0) / iters);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)];
}

async function gemm(n, tf32) {
  kiln.backends.cuda.allowTF32 = tf32;
  const a = kiln.randn([n, n], { device });
  const b = kiln.randn([n, n], { device });
  const ms = await time(() => a.matmul(b).dispose(), { iters: n >= 8192 ? 5 : 20, reps: 5 });
  kiln.backends.cuda.allowTF32 = false;
  a.dispose();
  b.dispose();
  const tflops = (2 * n ** 3) / (ms * 1e-3) / 1e12;
  rows.push({ name: `sgemm ${n} ${tf32 ? 'tf32' : 'fp32'}`, unit: 'TFLOP/s', value: tflops, ms });
  log(`sgemm ${n} ${tf32 ? 'tf32' : 'fp32'}: ${ms.toFixed(3)} ms, ${tflops.toFixed(1)} TFLOP/s`);
}

async function add() {
  const n = (small ? 1 : 64) * 2 ** 20;
  const a = kiln.rand([n], { device });
  const b = kiln.rand([n], { device });
  const ms = await time(() => a.add(b).dispose(), { iters: 50, reps: 5 });
  const gbs = (3 * 4 * n) / (ms * 1e-3) / 1e9;
  rows.push({ name: 'add 64M float32', unit: 'GB/s', value: gbs, ms });
  log(`add 64M: ${ms.toFixed(3)} ms, ${gbs.toFixed(0)} GB/s`);
  a.dispose();
  b.dispose();
}

// MLP 784-256-256-10, softmax cross-entropy, plain SGD, with raw ops and kiln's autodiff.
async function mlp(batch) {
  const dims = [784, 256, 256, 10];
  let params = [];
  for (let i = 0; i < 3; i++) {
    const bound = 1 / Math.sqrt(dims[i]);
    params.push(kiln.rand([dims[i], dims[i + 1]], { device, low: -bound, high: bound }));
    params.push(kiln.rand([dims[i + 1]], { device, low: -bound, high: bound }));
  }
  const x = kiln.randn([batch, 784], { device });
  const y = kiln.randint(0, 10, [batch], { device });
  const loss = (w1, b1, w2, b2, w3, b3) => {
    const h1 = x.matmul(w1).add(b1).relu();
    const h2 = h1.matmul(w2).add(b2).relu();
    const logits = h2.matmul(w3).add(b3);
    return logits.logSoftmax(1).gather(1, y.unsqueeze(1)).neg().mean();
  };
  const vg = kiln.valueAndGrad(loss, [0, 1, 2, 3, 4, 5]);
  const lr = 0.01;
  let last = null;
  const step = () => {
    const next = kiln.tidy(() => {
      const [value, grads] = vg(...params);
      const updated = kiln.noGrad(() => params.map((p, i) => p.sub(grads[i].mul(lr))));
      return [value, ...updated];
    });
    for (const p of params) p.dispose();
    last?.dispose();
    last = next[0];
    params = next.slice(1);
  };
  const ms = await time(step, { warmup: 5, iters: 20, reps: 5 });
  const final = last.item();
  rows.push({ name: `MLP 784-256-256-10 SGD step, batch ${batch}`, unit: 'ms', value: ms, ms, loss: final });
  log(`MLP batch ${batch}: ${ms.toFixed(3)} ms/step (loss ${final.toFixed(4)})`);
  for (const p of params) p.dispose();
  last.dispose();
  x.dispose();
  y.dispose();
}

const deviceName = device === 'cpu' ? 'cpu' : kiln.cuda.deviceName(0);
log(`device ${deviceName}; ${kiln.cuda.info().versions}`);
const [g1, g2] = small ? [256, 512] : [4096, 8192];
const tasks = [
  [`sgemm ${g1} fp32`, () => gemm(g1, false)],
  [`sgemm ${g1} tf32`, () => gemm(g1, true)],
  [`sgemm ${g2} fp32`, () => gemm(g2, false)],
  [`sgemm ${g2} tf32`, () => gemm(g2, true)],
  ['add 64M', () => add()],
  ['MLP 128', () => mlp(128)],
  ['MLP 4096', () => mlp(small ? 512 : 4096)],
];
for (const [name, task] of tasks) {
  try {
    await task();
  } catch (e) {
    log(`${name} failed: ${e.stack ?? e}`);
    rows.push({ name, unit: '', value: null, error: String(e.message ?? e) });
  }
}
const memory = device === 'cpu' ? kiln.memory() : kiln.cuda.memoryStats();
console.log(JSON.stringify({ device: deviceName, versions: kiln.cuda.info().versions, memory, rows }));
