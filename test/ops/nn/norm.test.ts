// Fused normalization (batch, layer and group norm over one native kernel) against float64 loop
// oracles written here, the running statistics, checkGrads at order 2 in both modes (the fused
// backward kernel at first order, the reference composite beyond), and errors.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../../lib/index.js';
import type { Tensor } from '../../../lib/index.js';
import { batchNorm, groupNorm, layerNorm, normalize, normalizeBackwardP, normalizeBackwardReference, normalizeP } from '../../../lib/ops/nn/index.js';
import { bind } from '../../../lib/ops/primitive.js';
import * as O from '../../helpers/oracle.js';
import { Arr, rng } from '../../helpers/oracle.js';
import { expectError, expectTensor, LAYOUTS, make, values } from '../../helpers/tensors.js';

kiln.manualSeed(5);

/** x normalized over the elements that share a key (keyOf maps a multi-index to its group). */
function normalizeRef(x: Arr, keyOf: (idx: number[]) => number, eps: number): Arr {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < x.data.length; i++) {
    const k = keyOf(O.unravel(i, x.shape));
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(i);
  }
  const out = new Array<number>(x.data.length);
  for (const members of groups.values()) {
    const vals = members.map((i) => x.data[i]);
    const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
    const v = vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length;
    for (const i of members) out[i] = (x.data[i] - mean) / Math.sqrt(v + eps);
  }
  return new Arr([...x.shape], out);
}

const affine = (y: Arr, w: Arr | null, b: Arr | null, channelOf: (idx: number[]) => number) =>
  new Arr([...y.shape], y.data.map((v, i) => {
    const c = channelOf(O.unravel(i, y.shape));
    return v * (w ? w.data[c] : 1) + (b ? b.data[c] : 0);
  }));

const rand = (shape: number[], r: () => number, lo = -2, hi = 2) => O.randomArr(shape, 'float64', r, lo, hi);
const f64 = (a: Arr, layout: (typeof LAYOUTS)[number] = 'contiguous') => make(a, 'float64', layout);

describe('batchNorm', () => {
  it('training: batch statistics per channel, affine, every layout, float32 too', () => {
    const r = rng(1);
    const x = rand([4, 3, 5, 2], r);
    const w = rand([3], r);
    const b = rand([3], r);
    const expected = affine(normalizeRef(x, (i) => i[1], 1e-5), w, b, (i) => i[1]);
    for (const layout of LAYOUTS) {
      expectTensor(batchNorm(f64(x, layout), null, null, f64(w), f64(b), { training: true }), expected, { rtol: 1e-12, atol: 1e-12 }, layout);
      expectTensor(batchNorm(make(x, 'float32', layout), null, null, make(w, 'float32'), make(b, 'float32'), { training: true }), expected,
        { rtol: 1e-5, atol: 1e-5 }, `${layout} f32`);
    }
  });

  it('updates the running statistics with the unbiased variance (and evaluates with them)', () => {
    const r = rng(2);
    const x = rand([3, 2, 4], r);
    const rm = kiln.tensor([0.5, -1], { dtype: 'float64' });
    const rv = kiln.tensor([2, 0.5], { dtype: 'float64' });
    batchNorm(f64(x), rm, rv, null, null, { training: true, momentum: 0.2 });
    const expectedMean: number[] = [];
    const expectedVar: number[] = [];
    for (let c = 0; c < 2; c++) {
      const vals: number[] = [];
      for (let n = 0; n < 3; n++) for (let q = 0; q < 4; q++) vals.push(x.get([n, c, q]));
      const m = vals.reduce((a, v) => a + v, 0) / vals.length;
      const v = vals.reduce((a, u) => a + (u - m) ** 2, 0) / (vals.length - 1);
      expectedMean.push(0.8 * [0.5, -1][c] + 0.2 * m);
      expectedVar.push(0.8 * [2, 0.5][c] + 0.2 * v);
    }
    O.assertClose(values(rm), expectedMean, { rtol: 1e-12, atol: 1e-12 });
    O.assertClose(values(rv), expectedVar, { rtol: 1e-12, atol: 1e-12 });
    const y = batchNorm(f64(x), rm, rv, null, null, { training: false, eps: 1e-3 });
    const ref = new Arr(x.shape, x.data.map((v, i) => {
      const c = O.unravel(i, x.shape)[1];
      return (v - expectedMean[c]) / Math.sqrt(expectedVar[c] + 1e-3);
    }));
    expectTensor(y, ref, { rtol: 1e-12, atol: 1e-12 });
  });

  it('a large batch (multithreaded channels) in float32', () => {
    const r = rng(3);
    const x = rand([16, 8, 12, 12], r);
    expectTensor(batchNorm(make(x, 'float32'), null, null, null, null, { training: true }), normalizeRef(x, (i) => i[1], 1e-5), { rtol: 1e-4, atol: 1e-4 });
  });
});

describe('layerNorm and groupNorm', () => {
  it('layerNorm over the trailing dims with weight and bias of that shape', () => {
    const r = rng(4);
    const x = rand([2, 3, 4, 5], r);
    const w = rand([4, 5], r);
    const b = rand([4, 5], r);
    const y = normalizeRef(x, (i) => i[0] * 3 + i[1], 1e-5);
    const expected = new Arr(x.shape, y.data.map((v, i) => v * w.data[i % 20] + b.data[i % 20]));
    for (const layout of LAYOUTS) {
      expectTensor(layerNorm(f64(x, layout), [4, 5], f64(w), f64(b)), expected, { rtol: 1e-12, atol: 1e-12 }, layout);
    }
    expectTensor(layerNorm(f64(x), 5, null, null, 0.1), normalizeRef(x, (i) => (i[0] * 3 + i[1]) * 4 + i[2], 0.1), { rtol: 1e-12, atol: 1e-12 });
  });

  it('groupNorm over groups of channels and the spatial dims', () => {
    const r = rng(5);
    const x = rand([2, 6, 3, 2], r);
    const w = rand([6], r);
    const b = rand([6], r);
    const expected = affine(normalizeRef(x, (i) => i[0] * 3 + Math.floor(i[1] / 2), 1e-5), w, b, (i) => i[1]);
    for (const layout of LAYOUTS) {
      expectTensor(groupNorm(f64(x, layout), 3, f64(w), f64(b)), expected, { rtol: 1e-12, atol: 1e-12 }, layout);
    }
  });

  it('the fused backward kernel equals the reference composite (float32, multithreaded)', () => {
    const x = kiln.randn([8, 16, 40]);
    const v = kiln.randn([8, 16, 40]);
    const fused = bind(normalizeBackwardP, [x, v], { eps: 1e-5 });
    const ref = normalizeBackwardReference(x, v, 1e-5);
    expect(fused.sub(ref).abs().max().item()).toBeLessThan(1e-4);
  });
});

function check(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[]) {
  const report = kiln.checkGrads(f, inputs, { order: 2, modes: ['fwd', 'rev'], atol: 1e-6, rtol: 1e-4 });
  expect(report.ok).toBe(true);
}
const sample = (shape: number[]) => kiln.rand(shape, { dtype: 'float64', low: -1.5, high: 1.5 });

describe('normalization rules: checkGrads order 2, both modes', () => {
  it('the normalize primitive', () => {
    check((x) => bind(normalizeP, [x], { eps: 1e-3 }), [sample([2, 2, 3])]);
  });
  it('its backward primitive, in both arguments', () => {
    check((x, v) => bind(normalizeBackwardP, [x, v], { eps: 1e-3 }), [sample([2, 1, 3]), sample([2, 1, 3])]);
  });
  it('batchNorm with weight and bias on a strided input', () => {
    check((x, w, b) => batchNorm(x.transpose(0, 2), null, null, w, b, { training: true, eps: 1e-3 }), [sample([3, 2, 2]), sample([2]), sample([2])]);
  });
  it('layerNorm and groupNorm', () => {
    check((x, w) => layerNorm(x, 3, w, null, 1e-3), [sample([2, 3]), sample([3])]);
    check((x) => groupNorm(x, 2, null, null, 1e-3).square(), [sample([1, 4, 2])]);
  });
  it('normalize as a plain function', () => {
    check((x) => normalize(x, 1, 2, 3, 1e-3).sin(), [sample([2, 3])]);
  });
});

describe('normalization errors', () => {
  it('shapes, dtypes, eps, statistics', () => {
    const x = kiln.zeros([2, 3, 4]);
    expectError(() => batchNorm(kiln.zeros([3]), null, null), kiln.ShapeError);
    expectError(() => batchNorm(x, null, null, kiln.ones([2])), kiln.ShapeError, /weight/);
    expectError(() => batchNorm(x, null, null), kiln.KilnError, /running statistics/);
    expectError(() => batchNorm(kiln.zeros([1, 3]), null, null, null, null, { training: true }), kiln.ShapeError, /more than 1 value/);
    expectError(() => batchNorm(x, null, null, null, null, { training: true, eps: -1 }), kiln.KilnError, /eps/);
    expectError(() => layerNorm(x, [3]), kiln.ShapeError);
    expectError(() => layerNorm(x, 4, kiln.ones([3])), kiln.ShapeError, /weight/);
    expectError(() => groupNorm(x, 2), kiln.ShapeError, /groups/);
    expectError(() => layerNorm(kiln.zeros([2, 4], { dtype: 'int32' }), 4), kiln.DTypeError);
    expectError(() => bind(normalizeP, [kiln.zeros([2, 4])], { eps: 0 }), kiln.ShapeError);
    expectError(() => bind(normalizeP, [x], { eps: NaN }), kiln.KilnError, /eps/);
    expectError(() => bind(normalizeBackwardP, [x, kiln.zeros([2, 3, 5])], { eps: 0 }), kiln.ShapeError);
  });
});
