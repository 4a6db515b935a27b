// Where the time of the CUDA training steps goes. The MLP 784-256-256-10 Adam step at batch
// 128, split into forward, backward and optimizer step (each synchronized), then a V8 CPU
// profile of 300 steps summarized as the functions with the most self time; then kiln.profile
// tables (each op synchronized) of one step of the LeNet CNN at batch 1024, the LSTM and the
// Transformer encoder layer of bench/gpu/kiln.mjs. Prints text.
//   node bench/gpu/profile.mjs            (KILN_BENCH_DEVICE=cpu for a dry run without a GPU)
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';

const kiln = await import(process.env.KILN_DIST ?? new URL('../../dist/esm/index.js', import.meta.url).href);
const device = process.env.KILN_BENCH_DEVICE ?? 'cuda';
const sync = async () => {
  if (device !== 'cpu') await kiln.cuda.synchronize();
};
const { nn, optim } = kiln;

const model = new nn.Sequential(new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 256), new nn.ReLU(), new nn.Linear(256, 10));
model.to(device);
const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
const x = kiln.randn([128, 784], { device });
const y = kiln.randint(0, 10, [128], { device });
const step = () => kiln.tidy(() => {
  opt.zeroGrad();
  nn.functional.crossEntropy(model.forward(x), y).backward();
  opt.step();
});
for (let i = 0; i < 20; i++) step();
await sync();

// Phases, each synchronized, best of 50. Reading one element waits for the stream, and unlike
// cuda.synchronize() it can run inside tidy.
const probe = kiln.zeros([1], { device });
const syncNow = () => probe.item();
const best = { forward: Infinity, backward: Infinity, step: Infinity };
for (let i = 0; i < 50; i++) {
  kiln.tidy(() => {
    opt.zeroGrad();
    let t = performance.now();
    const loss = nn.functional.crossEntropy(model.forward(x), y);
    syncNow();
    best.forward = Math.min(best.forward, performance.now() - t);
    t = performance.now();
    loss.backward();
    syncNow();
    best.backward = Math.min(best.backward, performance.now() - t);
    t = performance.now();
    opt.step();
    syncNow();
    best.step = Math.min(best.step, performance.now() - t);
  });
}
console.log(`phases (best of 50, ms): ${Object.entries(best).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}`);

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 50 });
await session.post('Profiler.start');
const t0 = performance.now();
for (let i = 0; i < 300; i++) step();
await sync();
const total = performance.now() - t0;
const { profile } = await session.post('Profiler.stop');
console.log(`300 steps: ${(total / 300).toFixed(3)} ms/step under the profiler`);

const self = new Map();
const dt = profile.timeDeltas;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const hits = new Map();
for (let i = 0; i < profile.samples.length; i++) hits.set(profile.samples[i], (hits.get(profile.samples[i]) ?? 0) + (dt[i] ?? 0));
for (const [id, us] of hits) {
  const f = byId.get(id).callFrame;
  const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + us);
}
const sum = [...self.values()].reduce((a, b) => a + b, 0);
console.log('top self time:');
for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
  console.log(`  ${((100 * us) / sum).toFixed(1).padStart(5)}%  ${k}`);
}

// Per-op device time of one step of the bigger workloads.
function opTable(name, model, x, loss, byShape = false) {
  model.to(device);
  const o = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const once = () => kiln.tidy(() => {
    o.zeroGrad();
    loss(model, x).backward();
    o.step();
  });
  for (let i = 0; i < 5; i++) once();
  syncNow();
  const report = kiln.profile(once, { byShape });
  console.log(`\n${name}: one step, every op synchronized\n${report.table(byShape ? 30 : 20)}`);
  o.dispose();
  model.dispose();
  x.dispose();
}
const target = (shape) => kiln.randn(shape, { device });
{
  const y = kiln.randint(0, 10, [1024], { device });
  opTable('LeNet CNN, batch 1024',
    new nn.Sequential(new nn.Conv2d(1, 32, 5), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Conv2d(32, 64, 5), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(1024, 10)),
    kiln.randn([1024, 1, 28, 28], { device }), (m, xs) => nn.functional.crossEntropy(m.forward(xs), y));
}
{
  const y = target([32, 128]);
  const m = new nn.ModuleDict({ lstm: new nn.LSTM(128, 256), head: new nn.Linear(256, 128) });
  opTable('LSTM 128->256, 32 steps, batch 32', m, target([32, 32, 128]), (mm, xs) => {
    const [, [h]] = mm.get('lstm').forward(xs);
    return nn.functional.mseLoss(mm.get('head').forward(h.select(0, 0)), y);
  });
}
{
  const y = target([32, 256, 512]);
  opTable('Transformer encoder layer d512 h8 ff2048, seq 256, batch 32',
    new nn.TransformerEncoderLayer(512, 8, { dimFeedforward: 2048, batchFirst: true }), target([32, 256, 512]),
    (m, xs) => nn.functional.mseLoss(m.forward(xs), y), true);
}
