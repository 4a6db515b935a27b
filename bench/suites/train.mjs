// Training steps and inference of small networks, kiln beside tfjs (cpu, wasm) and, for
// inference, onnxruntime-node. Every engine trains the same architecture from the same data with
// Adam; one timed call is a full step (forward, loss, backward, update), nothing read back.
//   MLP 784-256-256-10, batch 128, cross entropy          (kiln goal: <= 1 ms)
//   LeNet CNN (conv5x5 32, pool, conv5x5 64, pool, 1024->10), batch 64 (kiln goal: <= 8 ms)
//   LSTM input 128, hidden 256, 32 steps, batch 32, linear head on the last state, MSE (<= 20 ms)
//   MLP inference forward, batch 128 (kiln goal: <= 1.1x onnxruntime-node)
import { ENGINE_IDS, ENGINE_LABELS, shortError, tryLoad } from '../harness/engines.mjs';
import { maxAbsDiff, measure, uniform } from '../harness/measure.mjs';
import { ms, pct, printTable, ratio, sci, sig } from '../harness/table.mjs';

export const name = 'train';
export const order = 40;
export const description = 'training steps (MLP, LeNet CNN, LSTM; Adam) and MLP inference: kiln vs tfjs (cpu, wasm), onnxruntime-node (inference)';

const GOALS = { 'MLP step': 1, 'CNN step': 8, 'LSTM step': 20 };

// Shared weights: deterministic, PyTorch-like scale (uniform in +-1/sqrt(fan_in)).
function weight(shape, fanIn, seed) {
  const w = uniform(shape.reduce((a, b) => a * b, 1), seed);
  const s = 1 / Math.sqrt(fanIn);
  for (let i = 0; i < w.length; i++) w[i] *= s;
  return w;
}
const labels = (n, seed) => Int32Array.from(uniform(n, seed), (v) => Math.floor((v + 1) * 5) % 10);
const oneHot = (y, k = 10) => {
  const o = new Float32Array(y.length * k);
  y.forEach((c, i) => (o[i * k + c] = 1));
  return o;
};

const MLP = { batch: 128, sizes: [784, 256, 256, 10] };
const CNN = { batch: 64 };
const LSTM = { batch: 32, steps: 32, input: 128, hidden: 256, out: 128 };

// -------------------------------------------------------------------- kiln
const kilnCases = {
  'MLP step'({ kiln }) {
    const { nn, optim } = kiln;
    const model = new nn.Sequential(new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 256), new nn.ReLU(), new nn.Linear(256, 10));
    const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
    const x = kiln.tensor(uniform(MLP.batch * 784, 11), { shape: [MLP.batch, 784] });
    const y = kiln.tensor(labels(MLP.batch, 12));
    return {
      run: () => kiln.tidy(() => {
        opt.zeroGrad();
        nn.functional.crossEntropy(model.forward(x), y).backward();
        opt.step();
      }),
      dispose: () => { model.dispose(); opt.dispose(); x.dispose(); y.dispose(); },
    };
  },
  'CNN step'({ kiln }) {
    const { nn, optim } = kiln;
    const model = new nn.Sequential(
      new nn.Conv2d(1, 32, 5), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Conv2d(32, 64, 5), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(1024, 10));
    const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
    const x = kiln.tensor(uniform(CNN.batch * 784, 21), { shape: [CNN.batch, 1, 28, 28] });
    const y = kiln.tensor(labels(CNN.batch, 22));
    return {
      run: () => kiln.tidy(() => {
        opt.zeroGrad();
        nn.functional.crossEntropy(model.forward(x), y).backward();
        opt.step();
      }),
      dispose: () => { model.dispose(); opt.dispose(); x.dispose(); y.dispose(); },
    };
  },
  'LSTM step'({ kiln }) {
    const { nn, optim } = kiln;
    const lstm = new nn.LSTM(LSTM.input, LSTM.hidden);
    const head = new nn.Linear(LSTM.hidden, LSTM.out);
    const opt = new optim.Adam([...lstm.parameters(), ...head.parameters()], { lr: 1e-3 });
    const x = kiln.tensor(uniform(LSTM.steps * LSTM.batch * LSTM.input, 31), { shape: [LSTM.steps, LSTM.batch, LSTM.input] });
    const y = kiln.tensor(uniform(LSTM.batch * LSTM.out, 32), { shape: [LSTM.batch, LSTM.out] });
    return {
      run: () => kiln.tidy(() => {
        opt.zeroGrad();
        const [, [h]] = lstm.forward(x);
        nn.functional.mseLoss(head.forward(h.select(0, 0)), y).backward();
        opt.step();
      }),
      dispose: () => { lstm.dispose(); head.dispose(); opt.dispose(); x.dispose(); y.dispose(); },
    };
  },
  'MLP inference'({ kiln }, w) {
    const { nn } = kiln;
    const model = new nn.Sequential(new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 256), new nn.ReLU(), new nn.Linear(256, 10)).eval();
    const lin = [0, 2, 4].map((i) => model.at(i));
    kiln.noGrad(() => lin.forEach((l, i) => {
      l.weight.copy_(kiln.tensor(w.W[i], { shape: l.weight.shape }));
      l.bias.copy_(kiln.tensor(w.b[i]));
    }));
    const x = kiln.tensor(w.x, { shape: [MLP.batch, 784] });
    const f = () => kiln.noGrad(() => model.forward(x));
    return {
      run: () => f().dispose(),
      read: () => kiln.tidy(() => f().dataSync()),
      dispose: () => { model.dispose(); x.dispose(); },
    };
  },
};

// -------------------------------------------------------------------- tfjs (same math with tf ops)
const tfCases = {
  'MLP step'({ tf }) {
    const [a, b, c, d] = MLP.sizes;
    const vars = [
      tf.variable(tf.tensor(weight([a, b], a, 1), [a, b])), tf.variable(tf.zeros([b])),
      tf.variable(tf.tensor(weight([b, c], b, 2), [b, c])), tf.variable(tf.zeros([c])),
      tf.variable(tf.tensor(weight([c, d], c, 3), [c, d])), tf.variable(tf.zeros([d])),
    ];
    const opt = tf.train.adam(1e-3);
    const x = tf.tensor(uniform(MLP.batch * 784, 11), [MLP.batch, 784]);
    const y = tf.tensor(oneHot(labels(MLP.batch, 12)), [MLP.batch, 10]);
    const [W1, b1, W2, b2, W3, b3] = vars;
    const loss = () => tf.losses.softmaxCrossEntropy(y, x.matMul(W1).add(b1).relu().matMul(W2).add(b2).relu().matMul(W3).add(b3));
    return {
      run: () => tf.tidy(() => void opt.minimize(loss, false, vars)),
      dispose: () => { vars.forEach((v) => v.dispose()); opt.dispose(); x.dispose(); y.dispose(); },
    };
  },
  'CNN step'({ tf }) {
    const vars = [
      tf.variable(tf.tensor(weight([5, 5, 1, 32], 25, 4), [5, 5, 1, 32])), tf.variable(tf.zeros([32])),
      tf.variable(tf.tensor(weight([5, 5, 32, 64], 800, 5), [5, 5, 32, 64])), tf.variable(tf.zeros([64])),
      tf.variable(tf.tensor(weight([1024, 10], 1024, 6), [1024, 10])), tf.variable(tf.zeros([10])),
    ];
    const opt = tf.train.adam(1e-3);
    const x = tf.tensor(uniform(CNN.batch * 784, 21), [CNN.batch, 28, 28, 1]);
    const y = tf.tensor(oneHot(labels(CNN.batch, 22)), [CNN.batch, 10]);
    const [k1, c1, k2, c2, W, b] = vars;
    const loss = () => {
      let h = tf.maxPool(tf.conv2d(x, k1, 1, 'valid').add(c1).relu(), 2, 2, 'valid');
      h = tf.maxPool(tf.conv2d(h, k2, 1, 'valid').add(c2).relu(), 2, 2, 'valid');
      return tf.losses.softmaxCrossEntropy(y, h.reshape([CNN.batch, 1024]).matMul(W).add(b));
    };
    return {
      run: () => tf.tidy(() => void opt.minimize(loss, false, vars)),
      dispose: () => { vars.forEach((v) => v.dispose()); opt.dispose(); x.dispose(); y.dispose(); },
    };
  },
  'LSTM step'({ tf }) {
    const { input: I, hidden: H, steps: T, batch: B, out: O } = LSTM;
    const vars = [
      tf.variable(tf.tensor(weight([I, 4 * H], H, 7), [I, 4 * H])),
      tf.variable(tf.tensor(weight([H, 4 * H], H, 8), [H, 4 * H])),
      tf.variable(tf.zeros([4 * H])),
      tf.variable(tf.tensor(weight([H, O], H, 9), [H, O])), tf.variable(tf.zeros([O])),
    ];
    const opt = tf.train.adam(1e-3);
    const xs = tf.tensor(uniform(T * B * I, 31), [T, B, I]);
    const y = tf.tensor(uniform(B * O, 32), [B, O]);
    const [Wi, Wh, bias, Wo, bo] = vars;
    const loss = () => {
      const pre = xs.reshape([T * B, I]).matMul(Wi).add(bias).reshape([T, B, 4 * H]);
      let h = tf.zeros([B, H]);
      let c = tf.zeros([B, H]);
      const steps = tf.unstack(pre);
      for (let t = 0; t < T; t++) {
        const [i, f, g, o] = tf.split(steps[t].add(h.matMul(Wh)), 4, 1);
        c = f.sigmoid().mul(c).add(i.sigmoid().mul(g.tanh()));
        h = o.sigmoid().mul(c.tanh());
      }
      return tf.losses.meanSquaredError(y, h.matMul(Wo).add(bo));
    };
    return {
      run: () => tf.tidy(() => void opt.minimize(loss, false, vars)),
      dispose: () => { vars.forEach((v) => v.dispose()); opt.dispose(); xs.dispose(); y.dispose(); },
    };
  },
  'MLP inference'({ tf }, w) {
    // kiln's weights are [out, in]; tf multiplies by [in, out].
    const Ws = w.W.map((m, i) => tf.tensor(m, [MLP.sizes[i + 1], MLP.sizes[i]]).transpose());
    const bs = w.b.map((v) => tf.tensor(v));
    const x = tf.tensor(w.x, [MLP.batch, 784]);
    const f = () => x.matMul(Ws[0]).add(bs[0]).relu().matMul(Ws[1]).add(bs[1]).relu().matMul(Ws[2]).add(bs[2]);
    return {
      run: () => tf.tidy(() => void f()),
      read: () => tf.tidy(() => f().dataSync()),
      dispose: () => [...Ws, ...bs, x].forEach((t) => t.dispose()),
    };
  },
};

// -------------------------------------------------------------------- onnxruntime-node (inference)
// A 3-layer Gemm/Relu graph with its weights as initializers, written with a few lines of protobuf.
const enc = new TextEncoder();
function varint(v) {
  let x = BigInt.asUintN(64, BigInt(v));
  const out = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x !== 0n) b |= 0x80;
    out.push(b);
  } while (x !== 0n);
  return out;
}
class Msg {
  constructor() { this.parts = []; }
  int(f, v) { this.parts.push(varint(f << 3), varint(v)); return this; }
  bytes(f, u8) { this.parts.push(varint((f << 3) | 2), varint(u8.length), u8); return this; }
  str(f, s) { return this.bytes(f, enc.encode(s)); }
  msg(f, m) { return this.bytes(f, m.finish()); }
  finish() {
    const out = new Uint8Array(this.parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of this.parts) { out.set(p, o); o += p.length; }
    return out;
  }
}
const valueInfo = (name, shape) => {
  const dims = new Msg();
  for (const d of shape) dims.msg(1, new Msg().int(1, d));
  return new Msg().str(1, name).msg(2, new Msg().msg(1, new Msg().int(1, 1).msg(2, dims)));
};
const initializer = (name, shape, data) => {
  const t = new Msg();
  for (const d of shape) t.int(1, d); // dims
  return t.int(2, 1).str(8, name).bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)); // FLOAT, name, raw_data
};
function mlpModel(w) {
  const g = new Msg();
  const node = (inputs, output, op, attrs = {}) => {
    const n = new Msg();
    inputs.forEach((i) => n.str(1, i));
    n.str(2, output).str(3, output).str(4, op);
    for (const [k, v] of Object.entries(attrs)) n.msg(5, new Msg().str(1, k).int(3, v).int(20, 2));
    g.msg(1, n);
  };
  node(['X', 'W0', 'b0'], 'h0', 'Gemm', { transB: 1 });
  node(['h0'], 'r0', 'Relu');
  node(['r0', 'W1', 'b1'], 'h1', 'Gemm', { transB: 1 });
  node(['h1'], 'r1', 'Relu');
  node(['r1', 'W2', 'b2'], 'Y', 'Gemm', { transB: 1 });
  g.str(2, 'mlp');
  for (let i = 0; i < 3; i++) {
    g.msg(5, initializer(`W${i}`, [MLP.sizes[i + 1], MLP.sizes[i]], w.W[i]));
    g.msg(5, initializer(`b${i}`, [MLP.sizes[i + 1]], w.b[i]));
  }
  g.msg(11, valueInfo('X', [MLP.batch, 784]));
  g.msg(12, valueInfo('Y', [MLP.batch, 10]));
  return new Msg().int(1, 8).str(2, 'kiln-bench').msg(7, g).msg(8, new Msg().str(1, '').int(2, 13)).finish();
}
async function ortInference({ ort, session }, w) {
  const s = await session(mlpModel(w));
  const feeds = { X: new ort.Tensor('float32', w.x, [MLP.batch, 784]) };
  const out = { Y: new ort.Tensor('float32', new Float32Array(MLP.batch * 10), [MLP.batch, 10]) };
  return {
    run: () => s.run(feeds, out),
    read: async () => (await s.run(feeds)).Y.data,
    dispose: () => s.release(),
  };
}

function referenceMlp(w) {
  let h = Float64Array.from(w.x);
  let rows = MLP.batch;
  for (let l = 0; l < 3; l++) {
    const [inF, outF] = [MLP.sizes[l], MLP.sizes[l + 1]];
    const next = new Float64Array(rows * outF);
    for (let r = 0; r < rows; r++) for (let o = 0; o < outF; o++) {
      let s = w.b[l][o];
      for (let i = 0; i < inF; i++) s += h[r * inF + i] * w.W[l][o * inF + i];
      next[r * outF + o] = l < 2 ? Math.max(0, s) : s;
    }
    h = next;
  }
  return h;
}

// Steps run untimed for this long first (--warmup), in every engine. A training run takes
// thousands of steps; the first few hundred are slower while V8 tiers up the JS around the
// kernels (kiln's MLP step: 1.4 ms in its first 150 steps, 1.0 ms from about the 600th on).
const WARMUP_MS = 1000;

export async function run(ctx) {
  const { time, threads, engineIds = ENGINE_IDS, warmup = WARMUP_MS } = ctx.options;
  const handles = {};
  for (const id of engineIds) handles[id] = await tryLoad(id, { threads });
  const w = {
    W: [0, 1, 2].map((i) => weight([MLP.sizes[i + 1], MLP.sizes[i]], MLP.sizes[i], 40 + i)),
    b: [0, 1, 2].map((i) => weight([MLP.sizes[i + 1]], MLP.sizes[i], 50 + i)),
    x: uniform(MLP.batch * 784, 60),
  };
  const ref = referenceMlp(w);
  const cases = ['MLP step', 'CNN step', 'LSTM step', 'MLP inference'];
  const rows = [];
  const results = {};
  for (const c of cases) {
    const res = (results[c] = {});
    for (const id of engineIds) {
      const h = handles[id];
      const label = ENGINE_LABELS[id];
      if (id === 'ort' && c !== 'MLP inference') continue; // inference only
      if (h.error) {
        res[id] = { error: h.error };
        rows.push([c, label, 'unavailable: ' + h.error, '', '', '', '', '']);
        continue;
      }
      let prepared;
      try {
        if (id.startsWith('tfjs')) await h.use();
        prepared = id === 'kiln' ? kilnCases[c](h, w) : id === 'ort' ? await ortInference(h, w) : tfCases[c](h, w);
        let err = '—';
        if (prepared.read) {
          const e = maxAbsDiff(await prepared.read(), ref);
          err = sci(e);
          if (!(e <= 1e-3)) {
            res[id] = { error: 'wrong result' };
            rows.push([c, label, `WRONG RESULT: max|Δ| vs float64 ${err}`, '', '', '', '', '']);
            continue;
          }
        }
        const t0 = performance.now();
        await prepared.run();
        const estimate = performance.now() - t0;
        // A step that takes seconds (tfjs's plain-JS convolutions) is timed once more, not sampled.
        let t;
        if (estimate > 3000) {
          const t1 = performance.now();
          await prepared.run();
          const once = performance.now() - t1;
          t = { mean: once, p50: once, rme: NaN };
        } else t = await measure(`${c} ${id}`, prepared.run, { time, estimate, warmup });
        res[id] = { mean: t.mean, p50: t.p50, rme: t.rme };
        const goal = c === 'MLP inference' ? null : GOALS[c];
        const vsKiln = res.kiln?.p50 ? t.p50 / res.kiln.p50 : null;
        rows.push([c, label, ms(t.mean), ms(t.p50), pct(t.rme), ratio(vsKiln), id === 'kiln' && goal ? `≤ ${goal} ms: ${t.p50 <= goal ? 'met' : 'not met'}` : '', err]);
      } catch (e) {
        res[id] = { error: e.message };
        rows.push([c, label, 'error: ' + shortError(e), '', '', '', '', '']);
      } finally {
        await prepared?.dispose();
      }
    }
  }
  const inf = results['MLP inference'];
  const ortRatio = inf?.kiln?.p50 && inf?.ort?.p50 ? inf.kiln.p50 / inf.ort.p50 : null;
  printTable(
    `Training steps and inference (tinybench, ≥${time} ms per row; "time vs kiln" from the median, > 1× means kiln is faster)`,
    ['case', 'engine', '>mean ms', '>median ms', '>± (mean)', '>time vs kiln', 'kiln goal', '>max|Δ| vs f64'],
    rows,
    [
      `A step: forward, loss, backward and an Adam update of every parameter; inputs already in the engine, nothing read back. Every engine first runs ${warmup / 1000} s of untimed steps.`,
      'tfjs runs the same networks written with tf ops (NHWC convolutions; an LSTM cell with one bias) and tf.train.adam; onnxruntime-node only infers (Gemm/Relu graph with the same weights).',
      `MLP inference, kiln time / onnxruntime-node time: ${ortRatio ? ortRatio.toFixed(2) + '× (goal ≤ 1.1×)' : '—'}.`,
    ],
  );
  return results;
}
