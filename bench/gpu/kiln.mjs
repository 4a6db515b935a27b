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

// Per-op host overhead: a chain of adds on 16-element tensors, nothing but dispatch and launch.
async function tinyOps() {
  const a = kiln.rand([16], { device });
  const b = kiln.rand([16], { device });
  const ms = await time(() => kiln.tidy(() => {
    let c = a;
    for (let i = 0; i < 100; i++) c = c.add(b);
    return undefined;
  }), { warmup: 3, iters: 20, reps: 5 });
  const us = (ms * 1e3) / 100;
  rows.push({ name: 'tiny add, per op (host overhead)', unit: 'us', value: us, ms });
  log(`tiny add: ${us.toFixed(2)} us/op`);
  a.dispose();
  b.dispose();
}

// One training step with the nn library and Adam: forward, loss, backward, update, nothing read
// back. make() builds { model, x, y, loss(model, x, y) } on the device.
async function trainStep(name, make, { iters = 20, tf32 = false } = {}) {
  kiln.backends.cuda.allowTF32 = tf32;
  kiln.manualSeed(0);
  const { model, x, y, loss, dispose } = make();
  model.to(device);
  const opt = new kiln.optim.Adam(model.parameters(), { lr: 1e-3 });
  const step = () => kiln.tidy(() => {
    opt.zeroGrad();
    loss(model, x, y).backward();
    opt.step();
  });
  const ms = await time(step, { warmup: 5, iters, reps: 5 });
  const final = kiln.tidy(() => kiln.noGrad(() => loss(model, x, y).item()));
  rows.push({ name, unit: 'ms', value: ms, ms, loss: final });
  log(`${name}: ${ms.toFixed(3)} ms/step (loss ${final.toFixed(4)})`);
  opt.dispose();
  model.dispose();
  dispose?.();
  kiln.backends.cuda.allowTF32 = false;
}

const { nn } = kiln;
const ce = (m, x, y) => nn.functional.crossEntropy(m.forward(x), y);
const mlp = (batch) => () => {
  const model = new nn.Sequential(new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 256), new nn.ReLU(), new nn.Linear(256, 10));
  const x = kiln.randn([batch, 784], { device });
  const y = kiln.randint(0, 10, [batch], { device });
  return { model, x, y, loss: ce, dispose: () => { x.dispose(); y.dispose(); } };
};
const cnn = (batch) => () => {
  const model = new nn.Sequential(
    new nn.Conv2d(1, 32, 5), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(32, 64, 5), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(1024, 10));
  const x = kiln.randn([batch, 1, 28, 28], { device });
  const y = kiln.randint(0, 10, [batch], { device });
  return { model, x, y, loss: ce, dispose: () => { x.dispose(); y.dispose(); } };
};
// LSTM input 128, hidden 256, 32 steps, batch 32, linear head on the last state, MSE.
const lstm = () => {
  const model = new nn.ModuleDict({ lstm: new nn.LSTM(128, 256), head: new nn.Linear(256, 128) });
  const x = kiln.randn([small ? 8 : 32, 32, 128], { device });
  const y = kiln.randn([32, 128], { device });
  const loss = (m, xs, ys) => {
    const [, [h]] = m.get('lstm').forward(xs);
    return nn.functional.mseLoss(m.get('head').forward(h.select(0, 0)), ys);
  };
  return { model, x, y, loss, dispose: () => { x.dispose(); y.dispose(); } };
};
// One Transformer encoder layer d512 h8 ff2048 (dropout 0.1, train mode), seq 256, batch 32, MSE.
const transformer = () => {
  const model = new nn.TransformerEncoderLayer(512, 8, { dimFeedforward: 2048, batchFirst: true });
  const seq = small ? 16 : 256;
  const x = kiln.randn([small ? 2 : 32, seq, 512], { device });
  const y = kiln.randn([small ? 2 : 32, seq, 512], { device });
  const loss = (m, xs, ys) => nn.functional.mseLoss(m.forward(xs), ys);
  return { model, x, y, loss, dispose: () => { x.dispose(); y.dispose(); } };
};

const deviceName = device === 'cpu' ? 'cpu' : kiln.cuda.deviceName(0);
log(`device ${deviceName}; ${kiln.cuda.info().versions}`);
const [g1, g2] = small ? [256, 512] : [4096, 8192];
const tasks = [
  [`sgemm ${g1} fp32`, () => gemm(g1, false)],
  [`sgemm ${g1} tf32`, () => gemm(g1, true)],
  [`sgemm ${g2} fp32`, () => gemm(g2, false)],
  [`sgemm ${g2} tf32`, () => gemm(g2, true)],
  ['add 64M float32', () => add()],
  ['tiny add, per op (host overhead)', () => tinyOps()],
  ...[
    ['MLP 784-256-256-10 Adam step, batch 128', mlp(128)],
    ['MLP 784-256-256-10 Adam step, batch 4096', mlp(small ? 512 : 4096)],
    ['LeNet CNN Adam step, batch 64', cnn(64)],
    ['LeNet CNN Adam step, batch 1024', cnn(small ? 128 : 1024), { iters: 10 }],
    // PyTorch runs cuDNN convolutions in TF32 by default (torch.backends.cudnn.allow_tf32):
    // the same math in kiln is allowTF32 (which also covers its matmuls, tiny here).
    ['LeNet CNN Adam step, batch 64 (kiln with TF32, as PyTorch convs)', cnn(64), { tf32: true }],
    ['LeNet CNN Adam step, batch 1024 (kiln with TF32, as PyTorch convs)', cnn(small ? 128 : 1024), { iters: 10, tf32: true }],
    ['LSTM 128->256, 32 steps, batch 32, Adam step', lstm, { iters: 10 }],
    ['Transformer encoder layer d512 h8 ff2048, seq 256, batch 32, Adam step', transformer, { iters: 10 }],
  ].map(([name, make, opts]) => [name, () => trainStep(name, make, opts)]),
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
