// Pooling (max with indices, average, adaptive) against float64 loop oracles written here,
// gradients against the same oracles, checkGrads at order 2 in both modes, and errors.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../../lib/index.js';
import type { Tensor } from '../../../lib/index.js';
import {
  adaptiveAvgPool1d, adaptiveAvgPool2d, adaptiveMaxPool2d, adaptiveMaxPool2dWithIndices, avgPool1d, avgPool2d, avgPool3d,
  avgPoolP, maxPool1d, maxPool2d, maxPool2dWithIndices, maxPool3d, maxPoolIndicesP, type PoolGeometry,
} from '../../../lib/ops/nn/index.js';
import { bind } from '../../../lib/ops/primitive.js';
import * as O from '../../helpers/oracle.js';
import { Arr, rng } from '../../helpers/oracle.js';
import { expectError, expectTensor, LAYOUTS, make, values } from '../../helpers/tensors.js';
import { runPoolCases } from './conv-isa-cases.js';

kiln.manualSeed(7);

// ------------------------------------------------------------------ oracles

function* indices(shape: readonly number[]): Generator<number[]> {
  const n = O.numel(shape);
  for (let i = 0; i < n; i++) yield O.unravel(i, shape);
}

interface Win {
  kernel: number[];
  stride: number[];
  padding: number[];
  dilation: number[];
  ceilMode?: boolean;
}

function outLen(size: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const span = size + 2 * p - d * (k - 1) - 1;
  let n = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && (n - 1) * s >= size + p) n--;
  return n;
}

/** Input positions of window o along one dim (inside the input only), and the padded extent. */
function windowDim(o: number, size: number, w: Win, d: number): { pos: number[]; padded: number } {
  const start = o * w.stride[d] - w.padding[d];
  const pos: number[] = [];
  for (let k = 0; k < w.kernel[d]; k++) {
    const p = start + k * w.dilation[d];
    if (p >= 0 && p < size) pos.push(p);
  }
  return { pos, padded: Math.min(start + w.kernel[d], size + w.padding[d]) - start };
}

function adaptiveDim(o: number, size: number, out: number): { pos: number[]; padded: number } {
  const a = Math.floor((o * size) / out);
  const b = Math.ceil(((o + 1) * size) / out);
  return { pos: Array.from({ length: b - a }, (_, i) => a + i), padded: b - a };
}

type Windows = (o: number[]) => { pos: number[][]; padded: number };

function pool(x: Arr, out: number[], windows: Windows, reduce: (vals: number[], at: number[], padded: number) => [number, number]): [Arr, Arr] {
  const [N, C] = x.shape;
  const I = x.shape.slice(2);
  const vals: number[] = [];
  const idx: number[] = [];
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (const o of indices(out)) {
        const { pos, padded } = windows(o);
        const at: number[] = [];
        const vs: number[] = [];
        for (const p of indices(pos.map((l) => l.length))) {
          const sp = p.map((i, d) => pos[d][i]);
          vs.push(x.get([n, c, ...sp]));
          at.push(O.ravel(sp, O.contiguousStrides(I)));
        }
        const [v, i] = reduce(vs, at, padded);
        vals.push(v);
        idx.push(i);
      }
  return [new Arr([N, C, ...out], vals), new Arr([N, C, ...out], idx)];
}

const maxOf = (vs: number[], at: number[]): [number, number] => {
  let best = 0;
  for (let i = 1; i < vs.length; i++) if (vs[i] > vs[best] || (Number.isNaN(vs[i]) && !Number.isNaN(vs[best]))) best = i;
  return [vs[best], at[best]];
};

function maxPoolRef(x: Arr, w: Win): [Arr, Arr] {
  const I = x.shape.slice(2);
  const out = I.map((s, d) => outLen(s, w.kernel[d], w.stride[d], w.padding[d], w.dilation[d], w.ceilMode ?? false));
  return pool(x, out, (o) => {
    const ws = o.map((od, d) => windowDim(od, I[d], w, d));
    return { pos: ws.map((x) => x.pos), padded: 0 };
  }, maxOf);
}

function avgPoolRef(x: Arr, w: Win, countIncludePad: boolean, divisor = 0): Arr {
  const I = x.shape.slice(2);
  const out = I.map((s, d) => outLen(s, w.kernel[d], w.stride[d], w.padding[d], 1, w.ceilMode ?? false));
  return pool(x, out, (o) => {
    const ws = o.map((od, d) => windowDim(od, I[d], w, d));
    return { pos: ws.map((x) => x.pos), padded: ws.reduce((a, x) => a * x.padded, 1) };
  }, (vs, _at, padded) => {
    const s = vs.reduce((a, b) => a + b, 0);
    return [s / (divisor || (countIncludePad ? padded : vs.length)), 0];
  })[0];
}

function adaptiveRef(x: Arr, out: number[], kind: 'avg' | 'max'): [Arr, Arr] {
  const I = x.shape.slice(2);
  return pool(x, out, (o) => ({ pos: o.map((od, d) => adaptiveDim(od, I[d], out[d]).pos), padded: 0 }),
    kind === 'max' ? maxOf : (vs) => [vs.reduce((a, b) => a + b, 0) / vs.length, 0]);
}

const rand = (shape: number[], r: () => number) => O.randomArr(shape, 'float64', r, -2, 2);
const exact = { rtol: 0, atol: 0 };

// ------------------------------------------------------------------ max pooling

describe('maxPool forward', () => {
  const cases: { name: string; shape: number[]; w: Win }[] = [
    { name: '2x2 stride 2 (LeNet)', shape: [2, 3, 8, 6], w: { kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1] } },
    { name: '3x3 stride 2 padding 1', shape: [2, 2, 7, 9], w: { kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1] } },
    { name: 'overlapping, stride 1', shape: [1, 2, 5, 5], w: { kernel: [3, 2], stride: [1, 1], padding: [0, 1], dilation: [1, 1] } },
    { name: 'dilation', shape: [1, 2, 9, 8], w: { kernel: [2, 3], stride: [1, 2], padding: [1, 1], dilation: [3, 2] } },
    { name: 'ceil mode', shape: [1, 3, 7, 8], w: { kernel: [3, 3], stride: [2, 3], padding: [1, 0], dilation: [1, 1], ceilMode: true } },
  ];
  for (const c of cases) {
    it(`${c.name}: values and indices, float32/float64, every layout`, () => {
      const r = rng(c.shape.reduce((a, b) => a * 3 + b, 1));
      const x = rand(c.shape, r);
      const [vals, idx] = maxPoolRef(x, c.w);
      const opts = { stride: c.w.stride, padding: c.w.padding, dilation: c.w.dilation, ceilMode: c.w.ceilMode };
      for (const layout of LAYOUTS) {
        for (const dtype of ['float64', 'float32'] as const) {
          const [v, i] = maxPool2dWithIndices(make(x, dtype, layout), c.w.kernel, opts);
          expectTensor(v, dtype === 'float32' ? vals.map(Math.fround) : vals, exact, `${layout} ${dtype} values`);
          expectTensor(i, idx, { ...exact, dtype: 'int32' }, `${layout} ${dtype} indices`);
        }
      }
    });
  }

  it('maxPool1d and maxPool3d, default stride = kernel', () => {
    const r = rng(3);
    const x1 = rand([2, 3, 11], r);
    expectTensor(maxPool1d(make(x1, 'float64'), 3, { padding: 1 }),
      maxPoolRef(x1, { kernel: [3], stride: [3], padding: [1], dilation: [1] })[0], exact);
    const x3 = rand([1, 2, 4, 5, 6], r);
    expectTensor(maxPool3d(make(x3, 'float64'), [2, 2, 3], { stride: [1, 2, 2] }),
      maxPoolRef(x3, { kernel: [2, 2, 3], stride: [1, 2, 2], padding: [0, 0, 0], dilation: [1, 1, 1] })[0], exact);
  });

  it('ties pick the first maximum; NaN wins; -Infinity inputs are handled', () => {
    const x = kiln.tensor([[[[1, 1, 2, 2], [1, 1, 2, 2]]]]);
    const [v, i] = maxPool2dWithIndices(x, 2);
    expect(values(v)).toEqual([1, 2]);
    expect(values(i)).toEqual([0, 2]);
    const y = kiln.tensor([[[[0, NaN, -Infinity, -Infinity]]]]);
    const [v2] = maxPool2dWithIndices(y, [1, 2]);
    expect(values(v2)[0]).toBeNaN();
    expect(values(v2)[1]).toBe(-Infinity);
  });

  it('unbatched input [C, H, W]', () => {
    const r = rng(4);
    const x = rand([2, 4, 4], r);
    const ref = maxPoolRef(new Arr([1, 2, 4, 4], x.data), { kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1] })[0];
    expectTensor(maxPool2d(make(x, 'float64'), 2), new Arr([2, 2, 2], ref.data), exact);
  });

  it('adaptive max pooling, with indices', () => {
    const r = rng(5);
    const x = rand([2, 2, 7, 5], r);
    const [vals, idx] = adaptiveRef(x, [3, 4], 'max');
    const [v, i] = adaptiveMaxPool2dWithIndices(make(x, 'float64', 'permuted'), [3, 4]);
    expectTensor(v, vals, exact);
    expectTensor(i, idx, exact);
    expectTensor(adaptiveMaxPool2d(make(x, 'float64'), [null, 2]), adaptiveRef(x, [7, 2], 'max')[0], exact);
  });

  it('the gradient goes to the argmax of each window (overlapping windows add up)', () => {
    const r = rng(6);
    const x = rand([2, 2, 6, 5], r);
    const w: Win = { kernel: [3, 3], stride: [1, 2], padding: [1, 1], dilation: [1, 1] };
    const [vals, idx] = maxPoolRef(x, w);
    const g = rand(vals.shape, r);
    const expected = new Arr(x.shape, new Array(x.data.length).fill(0));
    const plane = 30;
    for (let q = 0; q < idx.data.length; q++) {
      const p = Math.floor(q / O.numel(vals.shape.slice(2)));
      expected.data[p * plane + idx.data[q]] += g.data[q];
    }
    const xt = make(x, 'float64').requiresGrad_();
    maxPool2d(xt, [3, 3], { stride: [1, 2], padding: 1 }).backward(make(g, 'float64'));
    expectTensor(xt.grad!, expected, { rtol: 1e-15, atol: 1e-15 });
  });
});

// ------------------------------------------------------------------ average pooling

describe('avgPool forward', () => {
  const cases: { name: string; shape: number[]; w: Win; include: boolean; divisor?: number }[] = [
    { name: '2x2', shape: [2, 3, 6, 8], w: { kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1] }, include: true },
    { name: 'padding, countIncludePad', shape: [1, 2, 7, 6], w: { kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1] }, include: true },
    { name: 'padding, exclude pad', shape: [1, 2, 7, 6], w: { kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1] }, include: false },
    { name: 'ceil mode, include pad', shape: [2, 1, 8, 7], w: { kernel: [3, 2], stride: [2, 2], padding: [1, 1], dilation: [1, 1], ceilMode: true }, include: true },
    { name: 'ceil mode, exclude pad', shape: [2, 1, 8, 7], w: { kernel: [3, 2], stride: [2, 2], padding: [1, 1], dilation: [1, 1], ceilMode: true }, include: false },
    { name: 'divisor override', shape: [1, 2, 5, 5], w: { kernel: [2, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1] }, include: true, divisor: 5 },
  ];
  for (const c of cases) {
    it(`${c.name}`, () => {
      const r = rng(c.shape.reduce((a, b) => a * 5 + b, 2));
      const x = rand(c.shape, r);
      const expected = avgPoolRef(x, c.w, c.include, c.divisor);
      const opts = { stride: c.w.stride, padding: c.w.padding, ceilMode: c.w.ceilMode, countIncludePad: c.include, divisorOverride: c.divisor };
      for (const layout of LAYOUTS) {
        expectTensor(avgPool2d(make(x, 'float64', layout), c.w.kernel, opts), expected, { rtol: 1e-14, atol: 1e-14 }, `${layout} f64`);
        expectTensor(avgPool2d(make(x, 'float32', layout), c.w.kernel, opts), expected, { rtol: 1e-6, atol: 1e-6 }, `${layout} f32`);
      }
    });
  }

  it('avgPool1d and avgPool3d', () => {
    const r = rng(8);
    const x1 = rand([2, 2, 9], r);
    expectTensor(avgPool1d(make(x1, 'float64'), 4, { stride: 2, padding: 2, countIncludePad: false }),
      avgPoolRef(x1, { kernel: [4], stride: [2], padding: [2], dilation: [1] }, false), { rtol: 1e-14, atol: 1e-14 });
    const x3 = rand([1, 2, 4, 4, 5], r);
    expectTensor(avgPool3d(make(x3, 'float64'), 2), avgPoolRef(x3, { kernel: [2, 2, 2], stride: [2, 2, 2], padding: [0, 0, 0], dilation: [1, 1, 1] }, true),
      { rtol: 1e-14, atol: 1e-14 });
  });

  it('adaptive average pooling (sizes that do not divide), 1-D and 2-D', () => {
    const r = rng(9);
    const x = rand([2, 3, 7, 10], r);
    for (const out of [[1, 1], [3, 4], [7, 10], [5, 3]]) {
      expectTensor(adaptiveAvgPool2d(make(x, 'float64', 'flipped'), out), adaptiveRef(x, out, 'avg')[0], { rtol: 1e-14, atol: 1e-14 }, `${out}`);
    }
    const x1 = rand([2, 2, 9], r);
    expectTensor(adaptiveAvgPool1d(make(x1, 'float64'), 4), adaptiveRef(x1, [4], 'avg')[0], { rtol: 1e-14, atol: 1e-14 });
  });

  it('the gradient spreads g / divisor over each window', () => {
    const r = rng(10);
    const x = rand([1, 2, 5, 6], r);
    const w: Win = { kernel: [3, 2], stride: [2, 2], padding: [1, 1], dilation: [1, 1] };
    const y = avgPoolRef(x, w, false);
    const g = rand(y.shape, r);
    // Reference by linearity: dL/dx_j = Σ_windows g_o · [j in window o] / |window o|.
    const expected = new Arr(x.shape, x.data.map((_, j) => {
      const e = new Arr(x.shape, x.data.map((__, k) => (k === j ? 1 : 0)));
      const col = avgPoolRef(e, w, false);
      return col.data.reduce((a, v, i) => a + v * g.data[i], 0);
    }));
    const xt = make(x, 'float64').requiresGrad_();
    avgPool2d(xt, [3, 2], { stride: 2, padding: 1, countIncludePad: false }).backward(make(g, 'float64'));
    expectTensor(xt.grad!, expected, { rtol: 1e-14, atol: 1e-14 });
  });
});

// ------------------------------------------------------------------ rules at order 2

function check(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[]) {
  const report = kiln.checkGrads(f, inputs, { order: 2, modes: ['fwd', 'rev'], atol: 1e-6, rtol: 1e-4 });
  expect(report.ok).toBe(true);
}
const sample = (shape: number[]) => kiln.rand(shape, { dtype: 'float64', low: -1, high: 1 });

describe('pooling rules: checkGrads order 2, both modes', () => {
  it('maxPool2d (overlapping, padded) inside a smooth function', () => {
    check((x) => maxPool2d(x.mul(x), 3, { stride: 2, padding: 1 }), [sample([1, 2, 5, 4])]);
  });
  it('maxPool1d on a strided input', () => {
    check((x) => maxPool1d(x.transpose(1, 2), 2), [sample([2, 4, 2])]);
  });
  it('avgPool2d with padding and ceil mode, both divisor rules', () => {
    check((x) => avgPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }).square(), [sample([1, 2, 4, 5])]);
    check((x) => avgPool2d(x, [2, 3], { stride: 1, padding: 1 }).square(), [sample([1, 1, 3, 4])]);
  });
  it('adaptiveAvgPool2d', () => {
    check((x) => adaptiveAvgPool2d(x, [2, 3]).exp(), [sample([1, 2, 5, 4])]);
  });
});

// ------------------------------------------------------------------ errors

describe('pooling errors', () => {
  it('bad kernels, paddings, dtypes and inputs that are too small', () => {
    const x = kiln.zeros([1, 2, 4, 4]);
    expectError(() => maxPool2d(x, 2, { padding: 2 }), kiln.KilnError, /half the kernel/);
    expectError(() => maxPool2d(x, 5), kiln.ShapeError, /too small/);
    expectError(() => maxPool2d(x, 0), kiln.KilnError, /kernel size/);
    expectError(() => maxPool2d(kiln.zeros([1, 2, 4, 4], { dtype: 'int32' }), 2), kiln.DTypeError);
    expectError(() => maxPool2d(kiln.zeros([4, 4]), 2), kiln.ShapeError);
    expectError(() => avgPool2d(x, 2, { divisorOverride: -1 }), kiln.KilnError);
    expectError(() => adaptiveAvgPool2d(x, [0, 2]), kiln.KilnError);
    expectError(() => adaptiveAvgPool2d(x, [2, 2, 2]), kiln.KilnError);
  });

  it('the native ops refuse windows that hold no input element, and bad attributes', () => {
    const x = kiln.ones([1, 1, 4, 4]);
    const good: PoolGeometry = { adaptive: false, kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1], countIncludePad: true, divisor: 0, inSize: [4, 4], outSize: [2, 2] };
    expect(values(bind(avgPoolP, [x], good))).toEqual([1, 1, 1, 1]);
    // A window that starts past the input:
    expectError(() => bind(maxPoolIndicesP, [x], { ...good, outSize: [3, 2] }), kiln.ShapeError, /no input element/);
    // ... or lies entirely in the padding:
    expectError(() => bind(avgPoolP, [x], { ...good, padding: [2, 0], outSize: [3, 2] }), kiln.ShapeError, /no input element/);
    expectError(() => bind(maxPoolIndicesP, [x], { ...good, kernel: [0, 2] }), kiln.KilnError, /kernel/);
    expectError(() => bind(avgPoolP, [x], { ...good, dilation: [2, 1] }), kiln.KilnError, /dilation/);
    expectError(() => bind(avgPoolP, [kiln.ones([1, 4, 4])], good), kiln.ShapeError);
    expectError(() => bind(avgPoolP, [kiln.ones([1, 1, 0, 4])], { ...good, adaptive: true }), kiln.ShapeError, /adaptively/);
    expectError(() => bind(maxPoolIndicesP, [x], { ...good, stride: [2 ** 33, 1] }), kiln.KilnError);
    expect(values(bind(avgPoolP, [x], good))).toEqual([1, 1, 1, 1]);
  });
});

// The max-pool argmax kernel this CPU runs best (a SIMD one for 2 x 2 / stride 2) against a loop.
runPoolCases('default');
