// Convolutions (conv1d/2d/3d, convTranspose, the weight-gradient primitive) against float64 loop
// oracles written here, gradients against the same oracles, checkGrads at order 2 in both modes,
// and the errors for bad shapes and attributes.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../../lib/index.js';
import type { Tensor } from '../../../lib/index.js';
import { conv1d, conv2d, conv3d, convP, convTranspose1d, convTranspose2d, convTransposeP, convWeightGradP, type ConvGeometry, type ConvOptions } from '../../../lib/ops/nn/index.js';
import { bind } from '../../../lib/ops/primitive.js';
import * as O from '../../helpers/oracle.js';
import { Arr, rng } from '../../helpers/oracle.js';
import { convRef, convTransposeRef, outSize, weightGradRef, type Geo } from './conv-oracle.js';
import { expectError, expectTensor, LAYOUTS, make, values } from '../../helpers/tensors.js';

kiln.manualSeed(99);

const f64 = (a: Arr) => make(a, 'float64');
const rand = (shape: number[], r: () => number) => O.randomArr(shape, 'float64', r, -1, 1);

// A float32 result summed over `terms` products of values in [-1, 1] is within terms · 2^-23.
const f32tol = (terms: number) => ({ rtol: 1e-5, atol: terms * 1.2e-7 * 4 });

// ------------------------------------------------------------------ forward

interface Case {
  name: string;
  x: number[];
  w: number[];
  opts: ConvOptions;
  before: number[];
  after: number[];
}

const cases2d: Case[] = [
  { name: 'plain 3x3', x: [2, 3, 7, 6], w: [4, 3, 3, 3], opts: {}, before: [0, 0], after: [0, 0] },
  { name: 'stride 2, padding 1', x: [2, 3, 7, 8], w: [5, 3, 3, 3], opts: { stride: 2, padding: 1 }, before: [1, 1], after: [1, 1] },
  { name: 'per-dim stride/padding/dilation', x: [1, 2, 9, 7], w: [3, 2, 3, 2], opts: { stride: [2, 1], padding: [2, 0], dilation: [2, 3] }, before: [2, 0], after: [2, 0] },
  { name: 'groups 2', x: [2, 4, 6, 6], w: [6, 2, 3, 3], opts: { groups: 2, padding: 1 }, before: [1, 1], after: [1, 1] },
  { name: 'depthwise', x: [1, 3, 5, 5], w: [3, 1, 3, 3], opts: { groups: 3 }, before: [0, 0], after: [0, 0] },
  { name: 'explicit per-side padding', x: [1, 2, 5, 6], w: [2, 2, 3, 3], opts: { padding: [[1, 2], [0, 3]] }, before: [1, 0], after: [2, 3] },
  { name: "'same' with an even kernel", x: [1, 2, 6, 5], w: [3, 2, 4, 2], opts: { padding: 'same' }, before: [1, 0], after: [2, 1] },
  { name: '1x1 (pointwise)', x: [3, 5, 4, 3], w: [4, 5, 1, 1], opts: {}, before: [0, 0], after: [0, 0] },
  { name: '1x1 stride 2', x: [2, 3, 5, 5], w: [2, 3, 1, 1], opts: { stride: 2 }, before: [0, 0], after: [0, 0] },
  { name: 'kernel as large as the input', x: [2, 2, 3, 4], w: [3, 2, 3, 4], opts: {}, before: [0, 0], after: [0, 0] },
];

describe('conv2d forward', () => {
  for (const c of cases2d) {
    it(`${c.name}: float64 and float32, with and without bias, every input layout`, () => {
      const r = rng(c.x.reduce((a, b) => a * 7 + b, 3));
      const x = rand(c.x, r);
      const w = rand(c.w, r);
      const b = rand([c.w[0]], r);
      const stride = typeof c.opts.stride === 'number' ? [c.opts.stride, c.opts.stride] : (c.opts.stride as number[] | undefined) ?? [1, 1];
      const dilation = typeof c.opts.dilation === 'number' ? [c.opts.dilation, c.opts.dilation] : (c.opts.dilation as number[] | undefined) ?? [1, 1];
      const geo: Geo = { stride, before: c.before, dilation, groups: c.opts.groups ?? 1 };
      const out = outSize(c.x.slice(2), c.w.slice(2), geo, c.after);
      const expected = convRef(x, w, b, geo, out);
      const expectedNoBias = convRef(x, w, null, geo, out);
      const terms = c.w[1] * c.w[2] * c.w[3] + 1;
      for (const layout of LAYOUTS) {
        expectTensor(conv2d(make(x, 'float64', layout), f64(w), f64(b), c.opts), expected, { rtol: 1e-12, atol: 1e-12 }, `${layout} f64`);
        expectTensor(conv2d(make(x, 'float32', layout), make(w, 'float32', 'flipped'), null, c.opts), expectedNoBias, f32tol(terms), `${layout} f32`);
      }
    });
  }

  it('unbatched input [C, H, W]', () => {
    const r = rng(5);
    const x = rand([2, 5, 5], r);
    const w = rand([3, 2, 3, 3], r);
    const y = conv2d(f64(x), f64(w), null, { padding: 1 });
    const ref = convRef(new Arr([1, 2, 5, 5], x.data), w, null, { stride: [1, 1], before: [1, 1], dilation: [1, 1], groups: 1 }, [5, 5]);
    expectTensor(y, new Arr([3, 5, 5], ref.data), { rtol: 1e-12, atol: 1e-12 });
  });

  it('a LeNet-sized batch (multithreaded path) matches the oracle in float32', () => {
    const r = rng(11);
    const x = rand([6, 8, 12, 12], r);
    const w = rand([16, 8, 5, 5], r);
    const b = rand([16], r);
    const geo: Geo = { stride: [1, 1], before: [0, 0], dilation: [1, 1], groups: 1 };
    expectTensor(conv2d(make(x, 'float32'), make(w, 'float32'), make(b, 'float32')), convRef(x, w, b, geo, [8, 8]), f32tol(201));
  });

  it('an output wider than one column block (blocked im2col)', () => {
    const r = rng(12);
    const x = rand([1, 2, 200, 190], r);
    const w = rand([3, 2, 3, 3], r);
    const geo: Geo = { stride: [1, 1], before: [1, 1], dilation: [1, 1], groups: 1 };
    expectTensor(conv2d(make(x, 'float32'), make(w, 'float32'), null, { padding: 1 }), convRef(x, w, null, geo, [200, 190]), f32tol(19));
  });
});

describe('conv1d and conv3d forward', () => {
  it('conv1d: stride, padding, dilation, groups, bias', () => {
    const r = rng(21);
    const x = rand([3, 4, 11], r);
    const w = rand([6, 2, 3], r);
    const b = rand([6], r);
    const geo: Geo = { stride: [2], before: [2], dilation: [2], groups: 2 };
    const out = outSize([11], [3], geo, [2]);
    for (const layout of LAYOUTS) {
      expectTensor(conv1d(make(x, 'float64', layout), f64(w), f64(b), { stride: 2, padding: 2, dilation: 2, groups: 2 }), convRef(x, w, b, geo, out),
        { rtol: 1e-12, atol: 1e-12 }, layout);
    }
  });

  it('conv3d', () => {
    const r = rng(22);
    const x = rand([2, 2, 4, 5, 4], r);
    const w = rand([3, 2, 2, 3, 2], r);
    const geo: Geo = { stride: [1, 2, 1], before: [1, 0, 1], dilation: [1, 1, 2], groups: 1 };
    const out = outSize([4, 5, 4], [2, 3, 2], geo, [1, 0, 1]);
    expectTensor(conv3d(f64(x), f64(w), null, { stride: [1, 2, 1], padding: [1, 0, 1], dilation: [1, 1, 2] }), convRef(x, w, null, geo, out),
      { rtol: 1e-12, atol: 1e-12 });
  });
});

describe('convTranspose forward', () => {
  const tcases: { name: string; x: number[]; w: number[]; stride: number[]; pad: number[]; outPad: number[]; dil: number[]; groups: number }[] = [
    { name: 'stride 2', x: [2, 3, 4, 5], w: [3, 2, 3, 3], stride: [2, 2], pad: [0, 0], outPad: [0, 0], dil: [1, 1], groups: 1 },
    { name: 'padding and output padding', x: [1, 2, 4, 3], w: [2, 3, 3, 2], stride: [2, 3], pad: [1, 0], outPad: [1, 2], dil: [1, 1], groups: 1 },
    { name: 'dilation and groups', x: [2, 4, 3, 3], w: [4, 1, 2, 3], stride: [1, 2], pad: [0, 1], outPad: [0, 0], dil: [2, 1], groups: 2 },
    { name: '1x1', x: [2, 3, 3, 4], w: [3, 2, 1, 1], stride: [1, 1], pad: [0, 0], outPad: [0, 0], dil: [1, 1], groups: 1 },
  ];
  for (const c of tcases) {
    it(`convTranspose2d ${c.name}`, () => {
      const r = rng(c.x.reduce((a, b) => a * 5 + b, 9));
      const x = rand(c.x, r);
      const w = rand(c.w, r);
      const b = rand([c.w[1] * c.groups], r);
      const expected = convTransposeRef(x, w, b, { stride: c.stride, before: c.pad, dilation: c.dil, groups: c.groups, outputPadding: c.outPad });
      const opts = { stride: c.stride, padding: c.pad, outputPadding: c.outPad, dilation: c.dil, groups: c.groups };
      for (const layout of LAYOUTS) {
        expectTensor(convTranspose2d(make(x, 'float64', layout), make(w, 'float64', layout), f64(b), opts), expected, { rtol: 1e-12, atol: 1e-12 }, layout);
      }
    });
  }

  it('convTranspose1d', () => {
    const r = rng(31);
    const x = rand([2, 2, 5], r);
    const w = rand([2, 3, 3], r);
    const expected = convTransposeRef(x, w, null, { stride: [3], before: [1], dilation: [1], groups: 1, outputPadding: [2] });
    expectTensor(convTranspose1d(f64(x), f64(w), null, { stride: 3, padding: 1, outputPadding: 2 }), expected, { rtol: 1e-12, atol: 1e-12 });
  });
});

// ------------------------------------------------------------------ gradients against the oracles

describe('conv gradients', () => {
  it('dx, dw and db of conv2d match the transposed-convolution and weight-gradient oracles', () => {
    const r = rng(41);
    const x = rand([2, 4, 7, 6], r);
    const w = rand([6, 2, 3, 2], r);
    const b = rand([6], r);
    const geo: Geo = { stride: [2, 1], before: [1, 1], dilation: [1, 2], groups: 2 };
    const opts = { stride: [2, 1], padding: [1, 1], dilation: [1, 2], groups: 2 };
    const out = outSize([7, 6], [3, 2], geo, [1, 1]);
    const gy = rand([2, 6, ...out], r);
    const xt = f64(x).requiresGrad_();
    const wt = f64(w).requiresGrad_();
    const bt = f64(b).requiresGrad_();
    conv2d(xt, wt, bt, opts).backward(f64(gy));
    // dx: the transposed convolution of gy with the same weight (PyTorch layout [Cout, Cin/g, ...]
    // is the transposed conv's [in, out/g, ...]), cropped to x's size.
    const dxFull = convTransposeRef(gy, w, null, { ...geo, outputPadding: [0, 0] });
    const dx = O.fromFn(x.shape, (idx) => (idx[2] < dxFull.shape[2] && idx[3] < dxFull.shape[3] ? dxFull.get(idx) : 0));
    expectTensor(xt.grad!, dx, { rtol: 1e-12, atol: 1e-12 }, 'dx');
    expectTensor(wt.grad!, weightGradRef(x, gy, w.shape, geo), { rtol: 1e-12, atol: 1e-12 }, 'dw');
    expectTensor(bt.grad!, O.reduce(gy, [0, 2, 3], false, (v) => v.reduce((a, c) => a + c, 0)), { rtol: 1e-12, atol: 1e-12 }, 'db');
  });

  it('the weight gradient over a large batch (chunked reduction) matches the oracle in float32', () => {
    // 20 images x 36 positions = 720 columns of 400 rows: more than one 1 MiB column chunk, with
    // chunk boundaries inside images.
    const r = rng(42);
    const x = rand([20, 16, 10, 10], r);
    const w = rand([4, 16, 5, 5], r);
    const gy = rand([20, 4, 6, 6], r);
    const geo: Geo = { stride: [1, 1], before: [0, 0], dilation: [1, 1], groups: 1 };
    const attrs: ConvGeometry = { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1, inSize: [10, 10], kernelSize: [5, 5], outSize: [6, 6] };
    const dw = bind(convWeightGradP, [make(x, 'float32', 'strided'), make(gy, 'float32', 'permuted')], attrs);
    expectTensor(dw, weightGradRef(x, gy, w.shape, geo), f32tol(20 * 36));
    const dx = bind(convTransposeP, [make(gy, 'float32', 'flipped'), make(w, 'float32', 'permuted')], attrs);
    expectTensor(dx, convTransposeRef(gy, w, null, { ...geo, outputPadding: [0, 0] }), f32tol(4 * 25));
  });

  it('images with many output positions: one block per image (forward straight into y, weight gradient reading y in place)', () => {
    const r = rng(46);
    const x = rand([3, 2, 20, 21], r);
    const w = rand([4, 2, 3, 3], r);
    const gy = rand([3, 4, 18, 19], r);
    const geo: Geo = { stride: [1, 1], before: [0, 0], dilation: [1, 1], groups: 1 };
    const attrs: ConvGeometry = { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1, inSize: [20, 21], kernelSize: [3, 3], outSize: [18, 19] };
    for (const layout of ['contiguous', 'permuted'] as const) {
      expectTensor(bind(convWeightGradP, [make(x, 'float32', layout), make(gy, 'float32', layout)], attrs), weightGradRef(x, gy, w.shape, geo), f32tol(3 * 342), layout);
      expectTensor(bind(convP, [make(x, 'float32', layout), make(w, 'float32')], attrs), convRef(x, w, null, geo, [18, 19]), f32tol(19), layout);
    }
  });

  it('the transposed convolution of a wide output (several column blocks per image)', () => {
    const r = rng(44);
    const gy = rand([1, 3, 200, 190], r);
    const w = rand([3, 2, 3, 3], r);
    const attrs: ConvGeometry = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1, inSize: [200, 190], kernelSize: [3, 3], outSize: [200, 190] };
    const full = convTransposeRef(gy, w, null, { stride: [1, 1], before: [1, 1], dilation: [1, 1], groups: 1, outputPadding: [0, 0] });
    expectTensor(bind(convTransposeP, [make(gy, 'float32'), make(w, 'float32')], attrs), full, f32tol(27));
  });

  it('only the gradients that flow anywhere are computed (an input without requiresGrad)', () => {
    const r = rng(45);
    const x = rand([2, 2, 5, 5], r);
    const w = rand([3, 2, 3, 3], r);
    const gy = rand([2, 3, 3, 3], r);
    const wt = f64(w).requiresGrad_();
    const xt = f64(x);
    conv2d(xt, wt).backward(f64(gy));
    expect(xt.grad).toBeNull();
    const geo: Geo = { stride: [1, 1], before: [0, 0], dilation: [1, 1], groups: 1 };
    expectTensor(wt.grad!, weightGradRef(x, gy, w.shape, geo), { rtol: 1e-12, atol: 1e-12 });
    // and through a functional transform, differentiating with respect to x alone
    const dx = kiln.grad((xx: Tensor) => conv2d(xx, f64(w)).mul(f64(gy)).sum())(f64(x)) as Tensor;
    expectTensor(dx, O.fromFn(x.shape, (idx) => convTransposeRef(gy, w, null, { ...geo, outputPadding: [0, 0] }).get(idx)), { rtol: 1e-12, atol: 1e-12 });
  });

  it('results do not depend on the thread count', () => {
    const r = rng(43);
    const x = make(rand([8, 3, 9, 9], r), 'float32');
    const w = make(rand([5, 3, 3, 3], r), 'float32');
    const gy = make(rand([8, 5, 7, 7], r), 'float32');
    const attrs: ConvGeometry = { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1, inSize: [9, 9], kernelSize: [3, 3], outSize: [7, 7] };
    const run = () => [bind(convP, [x, w], attrs), bind(convTransposeP, [gy, w], attrs), bind(convWeightGradP, [x, gy], attrs)].map(values);
    const threads = kiln.getNumThreads();
    const many = run();
    kiln.setNumThreads(1);
    try {
      expect(run()).toEqual(many);
    } finally {
      kiln.setNumThreads(threads);
    }
  });
});

// ------------------------------------------------------------------ derivative rules at order 2

function check(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[]) {
  const report = kiln.checkGrads(f, inputs, { order: 2, modes: ['fwd', 'rev'], atol: 1e-6, rtol: 1e-4 });
  expect(report.ok).toBe(true);
}
const sample = (shape: number[]) => kiln.rand(shape, { dtype: 'float64', low: -1, high: 1 });

describe('conv rules: checkGrads order 2, both modes', () => {
  it('conv2d with bias, stride, padding, dilation and groups', () => {
    check((x, w, b) => conv2d(x, w, b, { stride: [2, 1], padding: 1, dilation: [1, 2], groups: 2 }), [sample([1, 2, 4, 4]), sample([2, 1, 2, 2]), sample([2])]);
  });
  it('conv1d on a strided (transposed) input', () => {
    check((x, w) => conv1d(x.transpose(1, 2), w, null, { padding: 1 }), [sample([2, 4, 2]), sample([2, 2, 3])]);
  });
  it('convTranspose2d with bias, stride and output padding', () => {
    check((x, w, b) => convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 }), [sample([1, 2, 2, 2]), sample([2, 1, 3, 2]), sample([1])]);
  });
  it('the weight-gradient primitive', () => {
    const attrs: ConvGeometry = { stride: [2], padding: [1], dilation: [1], groups: 1, inSize: [5], kernelSize: [2], outSize: [3] };
    check((x, y) => bind(convWeightGradP, [x, y], attrs), [sample([2, 2, 5]), sample([2, 2, 3])]);
  });
  it('a conv of a conv (second derivative through both weights)', () => {
    check((x, w1, w2) => conv2d(conv2d(x, w1, null, { padding: 1 }).tanh(), w2), [sample([1, 1, 3, 3]), sample([2, 1, 2, 2]), sample([1, 2, 2, 2])]);
  });
});

// ------------------------------------------------------------------ errors

describe('conv errors', () => {
  it('mismatched channels, groups, ranks, kernels larger than the input', () => {
    const x = kiln.zeros([1, 3, 5, 5]);
    expectError(() => conv2d(x, kiln.zeros([2, 2, 3, 3])), kiln.ShapeError, /input channels/);
    expectError(() => conv2d(x, kiln.zeros([2, 1, 3, 3]), null, { groups: 2 }), kiln.ShapeError, /groups/);
    expectError(() => conv2d(kiln.zeros([3, 5]), kiln.zeros([2, 3, 3, 3])), kiln.ShapeError);
    expectError(() => conv2d(x, kiln.zeros([2, 3, 6, 3])), kiln.ShapeError, /smaller than the kernel/);
    expectError(() => conv2d(x, kiln.zeros([2, 3, 3, 3]), kiln.zeros([3])), kiln.ShapeError, /bias/);
    expectError(() => conv2d(x, kiln.zeros([2, 3, 3, 3]), null, { stride: 0 }), kiln.KilnError, /stride/);
    expectError(() => conv2d(x, kiln.zeros([2, 3, 3, 3]), null, { padding: 'same', stride: 2 }), kiln.KilnError, /same/);
    expectError(() => conv2d(kiln.zeros([1, 3, 5, 5], { dtype: 'int32' }), kiln.zeros([2, 3, 3, 3], { dtype: 'int32' })), kiln.DTypeError);
    expectError(() => convTranspose2d(x, kiln.zeros([2, 1, 3, 3])), kiln.ShapeError);
    expectError(() => convTranspose2d(x, kiln.zeros([3, 1, 3, 3]), null, { stride: 2, outputPadding: 2 }), kiln.KilnError, /outputPadding/);
  });

  it('the native ops re-check every shape and attribute (no crash on a direct bad call)', () => {
    const x = kiln.zeros([1, 2, 4, 4]);
    const w = kiln.zeros([3, 2, 3, 3]);
    const good: ConvGeometry = { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1, inSize: [4, 4], kernelSize: [3, 3], outSize: [2, 2] };
    expect(bind(convP, [x, w], good).shape).toEqual([1, 3, 2, 2]);
    expectError(() => bind(convP, [x, kiln.zeros([3, 1, 3, 3])], good), kiln.ShapeError);
    expectError(() => bind(convP, [x, w], { ...good, groups: 2 }), kiln.ShapeError);
    expectError(() => bind(convP, [x, w], { ...good, stride: [0, 1] }), kiln.KilnError, /stride/);
    expectError(() => bind(convP, [x, w], { ...good, padding: [-1, 0] }), kiln.KilnError, /padding/);
    expectError(() => bind(convP, [x, w], { ...good, stride: [2 ** 40, 1] }), kiln.KilnError);
    expectError(() => bind(convP, [x, w], { ...good, dilation: [1.5, 1] }), kiln.KilnError);
    expectError(() => bind(convP, [kiln.zeros([1, 2, 4]), w], good), kiln.ShapeError);
    expectError(() => bind(convP, [x, w.double()], good), kiln.DTypeError);
    expectError(() => bind(convTransposeP, [kiln.zeros([1, 4, 2, 2]), w], good), kiln.ShapeError);
    expectError(() => bind(convWeightGradP, [x, kiln.zeros([2, 3, 2, 2])], good), kiln.ShapeError);
    // geometry that makes the view extents overflow is refused, not computed
    expectError(() => bind(convP, [x, w], { ...good, outSize: [2 ** 45, 1] }), kiln.KilnError);
    // everything still works afterwards
    expect(values(bind(convP, [kiln.ones([1, 2, 4, 4]), kiln.ones([3, 2, 3, 3])], good))).toEqual(new Array(12).fill(18));
  });
});
