// Single ops, kiln beside each peer: matmul, elementwise add and relu, sum, softmax.
// Every engine gets the same inputs; its result is checked against a float64 reference (and kiln's
// result) once before timing, so a wrong kernel cannot look fast. Timed calls produce the result
// in the engine's own memory and free it; nothing is read back to JS inside the timed loop.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ENGINE_IDS, ENGINE_LABELS, kilnEntry, shortError, tryLoad } from '../harness/engines.mjs';
import { maxAbsDiff, measure, sizeOf, uniform } from '../harness/measure.mjs';
import { singleOpModel } from '../harness/onnx.mjs';
import { ms, pct, printTable, ratio, sci, sig } from '../harness/table.mjs';

export const name = 'ops';
export const order = 10;
export const description = 'matmul 256/512/1024, add/relu/sum on 2^20, softmax [1024,1024]: kiln vs tfjs (cpu, wasm), onnxruntime-node';

const N = 1 << 20;
const F32 = 4;

/**
 * A case: op name, input shapes, output shape, work per call (flops or bytes moved) and the
 * tolerance on max |result - float64 reference|.
 */
const matmulCase = (n) => ({
  id: `matmul ${n}`,
  op: 'matmul',
  shapes: [[n, n], [n, n]],
  out: [n, n],
  unit: 'GFLOP/s',
  work: 2 * n ** 3,
  tol: 1e-5 * n, // |a|,|b| < 1: float32 rounding grows at most ~linearly with K
});

export const CASES = [
  matmulCase(256),
  matmulCase(512),
  matmulCase(1024),
  { id: 'add 2^20', op: 'add', shapes: [[N], [N]], out: [N], unit: 'GB/s', work: 3 * N * F32, tol: 1e-6 },
  { id: 'relu 2^20', op: 'relu', shapes: [[N]], out: [N], unit: 'GB/s', work: 2 * N * F32, tol: 0 },
  { id: 'sum 2^20', op: 'sum', shapes: [[N]], out: [], unit: 'GB/s', work: N * F32, tol: 1e-6 * N },
  { id: 'softmax [1024,1024]', op: 'softmax', shapes: [[1024, 1024]], out: [1024, 1024], unit: 'GB/s', work: 2 * N * F32, tol: 1e-6 },
];

// float64 references, written plainly.
const reference = {
  matmul([a, b], [[m, k], [, n]]) {
    const out = new Float64Array(m * n);
    for (let i = 0; i < m; i++)
      for (let p = 0; p < k; p++) {
        const aip = a[i * k + p];
        const row = p * n;
        const o = i * n;
        for (let j = 0; j < n; j++) out[o + j] += aip * b[row + j];
      }
    return out;
  },
  add: ([a, b]) => Float64Array.from(a, (x, i) => x + b[i]),
  relu: ([a]) => Float64Array.from(a, (x) => (x > 0 ? x : 0)),
  sum: ([a]) => Float64Array.of(a.reduce((s, x) => s + x, 0)),
  softmax([a], [[rows, cols]]) {
    const out = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      let mx = -Infinity;
      for (let c = 0; c < cols; c++) mx = Math.max(mx, a[r * cols + c]);
      let s = 0;
      for (let c = 0; c < cols; c++) s += out[r * cols + c] = Math.exp(a[r * cols + c] - mx);
      for (let c = 0; c < cols; c++) out[r * cols + c] /= s;
    }
    return out;
  },
};

// Each engine: prepare(handle, case, inputs) -> { run, read, dispose }.
// run() is what is timed; read() returns the result as a typed array (untimed).
const KILN_OPS = {
  matmul: (a, b) => a.matmul(b),
  add: (a, b) => a.add(b),
  relu: (a) => a.relu(),
  sum: (a) => a.sum(),
  softmax: (a) => a.softmax(-1),
};

/**
 * Runs each kiln op once in a child process first: a native crash (missing symbol, segfault) in
 * one kernel then marks that row instead of killing the whole table.
 * @returns {Record<string, string>} case id -> why kiln cannot run it
 */
function probeKiln(cases) {
  const broken = {};
  for (const c of cases) {
    const script = `const kiln = await import(${JSON.stringify(pathToFileURL(kilnEntry).href)});
      const xs = ${JSON.stringify(c.shapes)}.map((s, i) =>
        kiln.tensor(new Float32Array(s.reduce((a, b) => a * b, 1)).map((_, j) => Math.sin(j + i)), { shape: s }));
      const f = ${KILN_OPS[c.op].toString()};
      f(...xs).dataSync();`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    if (r.status !== 0) {
      const lines = `${r.stderr}\n${r.stdout}`.split('\n');
      broken[c.id] = 'crashed: ' + shortError(lines.find((l) => /error/i.test(l)) ?? `exit ${r.status ?? r.signal}`);
    }
  }
  return broken;
}

const engines = {
  kiln: {
    prepare({ kiln }, c, data) {
      const xs = data.map((d, i) => kiln.tensor(d, { shape: c.shapes[i] }));
      const f = KILN_OPS[c.op];
      return {
        run: () => f(...xs).dispose(),
        read: () => kiln.tidy(() => f(...xs).dataSync()),
        dispose: () => xs.forEach((x) => x.dispose()),
      };
    },
  },

  // tfjs cpu and wasm share one module; prepare switches the backend before making inputs.
  tfjs: {
    async prepare({ tf, use }, c, data) {
      await use();
      const xs = data.map((d, i) => tf.tensor(d, c.shapes[i], 'float32'));
      const f = {
        matmul: (a, b) => tf.matMul(a, b),
        add: (a, b) => tf.add(a, b),
        relu: (a) => tf.relu(a),
        sum: (a) => tf.sum(a),
        softmax: (a) => tf.softmax(a, -1),
      }[c.op];
      return {
        run: () => tf.tidy(() => void f(...xs)),
        read: () => tf.tidy(() => f(...xs).dataSync()),
        dispose: () => xs.forEach((x) => x.dispose()),
      };
    },
  },

  ort: {
    async prepare({ ort, session }, c, data) {
      const opType = { matmul: 'MatMul', add: 'Add', relu: 'Relu', sum: 'ReduceSum', softmax: 'Softmax' }[c.op];
      const attrs = { sum: { keepdims: 0 }, softmax: { axis: -1 } }[c.op] ?? {};
      const inputs = c.shapes.map((shape, i) => ({ name: 'AB'[i], shape }));
      const s = await session(singleOpModel(opType, inputs, c.out, attrs));
      const feeds = Object.fromEntries(inputs.map((x, i) => [x.name, new ort.Tensor('float32', data[i], x.shape)]));
      // A pre-allocated output, as a serving loop would bind it; the fair analogue of an output
      // tensor that stays in kiln's or tfjs's memory.
      const out = { Y: new ort.Tensor('float32', new Float32Array(sizeOf(c.out)), c.out) };
      return {
        run: () => s.run(feeds, out),
        read: async () => (await s.run(feeds)).Y.data,
        dispose: () => s.release(),
      };
    },
  },
};
engines['tfjs-cpu'] = engines.tfjs;
engines['tfjs-wasm'] = engines.tfjs;

export async function run(ctx) {
  const { time, threads, only, engineIds = ENGINE_IDS } = ctx.options;
  const cases = only ? CASES.filter((c) => only.some((o) => c.id.startsWith(o))) : CASES;
  const kilnBroken = engineIds.includes('kiln') && existsSync(kilnEntry) ? probeKiln(cases) : {};
  const handles = {};
  for (const id of engineIds) handles[id] = await tryLoad(id, { threads });

  const rows = [];
  const results = {}; // case id -> engine id -> { mean, rate } | { error }
  for (const c of cases) {
    const data = c.shapes.map((s, i) => uniform(sizeOf(s), 1234 + i));
    const ref = reference[c.op](data, c.shapes);
    const res = (results[c.id] = {});
    let kilnOut = null;
    for (const id of engineIds) {
      const h = handles[id];
      const label = ENGINE_LABELS[id];
      const unavailable = h.error ?? (id === 'kiln' && kilnBroken[c.id]);
      if (unavailable) {
        res[id] = { error: unavailable };
        rows.push([c.id, label, 'unavailable: ' + unavailable, '', '', '', '', '', '']);
        continue;
      }
      let prepared;
      try {
        prepared = await engines[id].prepare(h, c, data);
        const t0 = performance.now();
        const out = await prepared.read();
        const estimate = performance.now() - t0;
        const errRef = maxAbsDiff(out, ref);
        const errKiln = id === 'kiln' ? null : kilnOut && maxAbsDiff(out, kilnOut);
        if (id === 'kiln') kilnOut = out;
        if (!(errRef <= c.tol)) {
          res[id] = { error: 'wrong result' };
          rows.push([c.id, label, `WRONG RESULT: max|Δ| vs float64 ${sci(errRef)} > tol ${sci(c.tol)}`, '', '', '', '', '', '']);
          continue;
        }
        const t = await measure(`${c.id} ${id}`, prepared.run, { time, estimate });
        // Throughput and ratios from the median: robust to the odd preempted call on a shared machine.
        const rate = c.work / (t.p50 * 1e-3) / 1e9;
        res[id] = { mean: t.mean, p50: t.p50, rme: t.rme, rate };
        const vsKiln = res.kiln?.p50 ? t.p50 / res.kiln.p50 : null;
        rows.push([c.id, label, ms(t.mean), ms(t.p50), pct(t.rme), `${sig(rate)} ${c.unit}`, ratio(vsKiln), errKiln == null ? '—' : sci(errKiln), sci(errRef)]);
      } catch (e) {
        res[id] = { error: e.message };
        rows.push([c.id, label, 'error: ' + shortError(e), '', '', '', '', '', '']);
      } finally {
        await prepared?.dispose();
      }
    }
  }

  const info = engineIds.map((id) => `- ${ENGINE_LABELS[id]}: ${handles[id].error ? 'unavailable — ' + handles[id].error : handles[id].info}`);
  printTable(
    `Ops (tinybench, ≥${time} ms and ≥3–5 calls per row; throughput and "time vs kiln" from the median; > 1× means kiln is faster)`,
    ['op', 'engine', '>mean ms', '>median ms', '>± (mean)', '>throughput', '>time vs kiln', '>max|Δ| vs kiln', '>max|Δ| vs f64'],
    rows,
    [
      'Throughput: matmul 2·n³ flops; add reads 2 and writes 1 float32 per element, relu and softmax read 1 and write 1, sum reads 1.',
      'Timed: the op on inputs already in the engine, result left in engine memory and freed. onnxruntime-node: one async session.run() into a pre-allocated output, so its binding\'s per-call overhead is included (it dominates elementwise ops on 4 MB; see bench/README.md).',
      ...info,
    ],
  );

  // Compact pivot: one row per op, one throughput column per engine, and kiln against the best peer.
  const peers = engineIds.filter((id) => id !== 'kiln');
  const cell = (r) => (r?.rate ? sig(r.rate) : r?.error === 'wrong result' ? 'wrong' : '—');
  const pivot = cases.map((c) => {
    const r = results[c.id];
    const best = Math.min(...peers.map((id) => r[id]?.p50 ?? Infinity));
    return [c.id, c.unit, ...engineIds.map((id) => cell(r[id])), ratio(r.kiln?.p50 && Number.isFinite(best) ? best / r.kiln.p50 : null)];
  });
  printTable('Ops summary: median throughput (higher is better)', ['op', 'unit', ...engineIds.map((id) => '>' + ENGINE_LABELS[id]), '>kiln speedup vs best peer'], pivot);
  return results;
}
