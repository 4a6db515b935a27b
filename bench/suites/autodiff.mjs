// The autodiff engine's own cost, kiln beside tfjs (cpu, wasm) in the same run:
//   - a 20-op elementwise chain on a tiny tensor, forward + backward through the functional
//     grad transform (kiln.grad vs tf.grad): microseconds per op, i.e. the engine's overhead;
//   - the same chain through the PyTorch style (requiresGrad + backward) in kiln;
//   - forward + backward of the MLP 784-256-256-10 at batch 128 written with raw ops (matmul,
//     add, relu, logSoftmax) — no nn layers — with the gradients of all six parameters.
import { ENGINE_LABELS, shortError, tryLoad } from '../harness/engines.mjs';
import { maxAbsDiff, measure, uniform } from '../harness/measure.mjs';
import { ms, pct, printTable, ratio, sci, sig } from '../harness/table.mjs';

export const name = 'autodiff';
export const order = 30;
export const description = 'autodiff overhead (20-op chain, us/op) and raw-op MLP forward+backward: kiln vs tfjs (cpu, wasm)';

const CHAIN_OPS = 20;
const MLP = { batch: 128, sizes: [784, 256, 256, 10] };

// The chain: 20 cheap elementwise ops, written once per engine with the same sequence.
// x -> sin, mul 1.1, add 0.1, tanh, exp, mul 0.5, sigmoid, sub 0.2, square, add 1, log,
//      neg, add 2, sqrt, mul x, abs, add 0.3, reciprocal, mul 2, sum
const kilnChain = (x) =>
  x.sin().mul(1.1).add(0.1).tanh().exp().mul(0.5).sigmoid().sub(0.2).square().add(1).log()
    .neg().add(2).sqrt().mul(x).abs().add(0.3).reciprocal().mul(2).sum();
const tfChain = (tf, x) =>
  tf.sum(tf.mul(tf.reciprocal(tf.add(tf.abs(tf.mul(tf.sqrt(tf.add(tf.neg(tf.log(tf.add(tf.square(tf.sub(tf.sigmoid(
    tf.mul(tf.exp(tf.tanh(tf.add(tf.mul(tf.sin(x), 1.1), 0.1))), 0.5)), 0.2)), 1))), 2)), x)), 0.3)), 2));

function weights() {
  const { sizes } = MLP;
  const w = [];
  for (let i = 0; i < 3; i++) {
    const s = 1 / Math.sqrt(sizes[i]);
    w.push(uniform(sizes[i] * sizes[i + 1], 70 + i).map((v) => v * s));
    w.push(uniform(sizes[i + 1], 80 + i).map((v) => v * s));
  }
  return w;
}
const labels = Int32Array.from(uniform(MLP.batch, 91), (v) => Math.floor((v + 1) * 5) % 10);
const oneHot = () => {
  const o = new Float32Array(MLP.batch * 10);
  labels.forEach((c, i) => (o[i * 10 + c] = 1));
  return o;
};

const kilnCases = {
  chain({ kiln }) {
    const x = kiln.tensor(uniform(16, 5), { shape: [16] });
    const g = kiln.grad(kilnChain);
    return { run: () => g(x).dispose(), read: () => kiln.tidy(() => g(x).dataSync()), dispose: () => x.dispose() };
  },
  'chain (backward)'({ kiln }) {
    const x = kiln.tensor(uniform(16, 5), { shape: [16], requiresGrad: true });
    const step = () =>
      kiln.tidy(() => {
        kilnChain(x).backward();
        const g = x.grad;
        x.grad = null;
        return g;
      });
    return { run: () => step().dispose(), read: () => { const g = step(); const d = g.dataSync(); g.dispose(); return d; }, dispose: () => x.dispose() };
  },
  mlp({ kiln }, w) {
    const { sizes, batch } = MLP;
    const params = w.map((data, i) =>
      kiln.tensor(data, { shape: i % 2 === 0 ? [sizes[i / 2], sizes[i / 2 + 1]] : [sizes[(i - 1) / 2 + 1]] }));
    const x = kiln.tensor(uniform(batch * 784, 60), { shape: [batch, 784] });
    const y = kiln.tensor(oneHot(), { shape: [batch, 10] });
    const loss = (p) => {
      let h = x;
      for (let l = 0; l < 3; l++) {
        h = h.matmul(p[2 * l]).add(p[2 * l + 1]);
        if (l < 2) h = h.relu();
      }
      return h.logSoftmax(1).mul(y).sum().neg().div(batch);
    };
    const g = kiln.grad(loss);
    return {
      run: () => kiln.tidy(() => { g(params); }),
      read: () => kiln.tidy(() => g(params)[0].dataSync()),
      dispose: () => [...params, x, y].forEach((t) => t.dispose()),
    };
  },
};

const tfCases = {
  chain({ tf }) {
    const x = tf.tensor1d(uniform(16, 5));
    const g = tf.grad((t) => tfChain(tf, t));
    return { run: () => tf.tidy(() => { g(x); }), read: () => tf.tidy(() => g(x).dataSync()), dispose: () => x.dispose() };
  },
  mlp({ tf }, w) {
    const { sizes, batch } = MLP;
    const params = w.map((data, i) =>
      i % 2 === 0 ? tf.tensor2d(data, [sizes[i / 2], sizes[i / 2 + 1]]) : tf.tensor1d(data));
    const x = tf.tensor2d(uniform(batch * 784, 60), [batch, 784]);
    const y = tf.tensor2d(oneHot(), [batch, 10]);
    const loss = (...p) => {
      let h = x;
      for (let l = 0; l < 3; l++) {
        h = tf.add(tf.matMul(h, p[2 * l]), p[2 * l + 1]);
        if (l < 2) h = tf.relu(h);
      }
      return tf.div(tf.neg(tf.sum(tf.mul(tf.logSoftmax(h, 1), y))), batch);
    };
    const g = tf.grads(loss);
    return {
      run: () => tf.tidy(() => { g(params); }),
      read: () => tf.tidy(() => g(params)[0].dataSync()),
      dispose: () => [...params, x, y].forEach((t) => t.dispose()),
    };
  },
};

export async function run(ctx) {
  const { time, threads } = ctx.options;
  const engineIds = (ctx.options.engineIds ?? ['kiln', 'tfjs-cpu', 'tfjs-wasm']).filter((id) => id !== 'ort');
  const handles = {};
  for (const id of engineIds) handles[id] = await tryLoad(id, { threads });
  const w = weights();
  const rows = [];
  const cases = [
    ['20-op chain, grad (16 elements)', 'chain', CHAIN_OPS],
    ['20-op chain, backward() (16 elements)', 'chain (backward)', CHAIN_OPS],
    ['MLP 784-256-256-10 fwd+bwd, batch 128, raw ops', 'mlp', 0],
  ];
  const reference = {};
  for (const [label, key, ops] of cases) {
    let kilnP50 = null;
    for (const id of engineIds) {
      const h = handles[id];
      const engine = ENGINE_LABELS[id];
      const table = id === 'kiln' ? kilnCases : tfCases;
      if (!table[key]) continue;
      if (h.error) {
        rows.push([label, engine, 'unavailable: ' + h.error, '', '', '', '', '']);
        continue;
      }
      let prepared;
      try {
        if (id.startsWith('tfjs')) await h.use();
        prepared = table[key](h, w);
        const got = Float64Array.from(await prepared.read());
        const refKey = key.startsWith('chain') ? 'chain' : key;
        reference[refKey] ??= got;
        const err = maxAbsDiff(got, reference[refKey]);
        const scale = reference[refKey].reduce((m, v) => Math.max(m, Math.abs(v)), 1);
        if (!(err <= 1e-3 * scale)) {
          rows.push([label, engine, `WRONG RESULT: max|Δ| vs kiln ${sci(err)}`, '', '', '', '', '']);
          continue;
        }
        const t = await measure(`${key} ${id}`, prepared.run, { time });
        if (id === 'kiln') kilnP50 = t.p50;
        const perOp = ops ? sig((t.p50 * 1000) / ops) : '—';
        rows.push([label, engine, ms(t.mean), ms(t.p50), pct(t.rme), perOp, ratio(kilnP50 ? t.p50 / kilnP50 : null), sci(err)]);
      } catch (e) {
        rows.push([label, engine, 'error: ' + shortError(e), '', '', '', '', '']);
      } finally {
        prepared?.dispose?.();
      }
    }
  }
  printTable(
    'Autodiff: engine overhead and raw-op MLP forward+backward',
    ['case', 'engine', '>mean ms', '>p50 ms', '>±', '>µs per op (fwd+bwd)', '>time vs kiln', '>max|Δ| vs kiln'],
    rows,
    [
      'The chain is 20 elementwise ops on 16 floats, so its time is almost all engine overhead (recording, rule dispatch, native calls).',
      'kiln computes in float32 like tfjs; the MLP row returns the gradients of all six parameters (compared: the first weight).',
    ],
  );
}
