// The one-pass reverse rules on the CPU: reluBackward (ReLU's VJP) and maxPoolBackward (the
// scatter into zeros behind max pooling's and gather's VJPs), against plain loops, on strided
// and broadcast cotangents, float32 and float64.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import { gather } from '../../lib/ops/indexing.js';
import { maxPool2dWithIndices } from '../../lib/ops/nn/index.js';
import { values } from '../helpers/tensors.js';

kiln.manualSeed(11);

describe('reluBackward', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`g where x > 0, else 0 (${dtype}); non-finite g at x <= 0 and NaN x give 0`, () => {
      const x = kiln.tensor([-1, 0, 2, NaN, 3, -0, -5, 1], { dtype }).requiresGrad_();
      const g = kiln.tensor([Infinity, NaN, 4, 5, -6, 7, NaN, Infinity], { dtype });
      kiln.relu(x).backward(g);
      expect(values(x.grad!)).toEqual([0, 0, 4, 0, -6, 0, 0, Infinity]);
    });
  }

  it('a broadcast and a transposed cotangent', () => {
    const x = kiln.randn([5, 7]).requiresGrad_();
    kiln.relu(x).sum().backward();
    expect(values(x.grad!)).toEqual(values(x).map((v) => (v > 0 ? 1 : 0)));
    x.grad = null;
    const gt = kiln.randn([7, 5]);
    kiln.relu(x).backward(gt.t());
    const gv = values(gt.t().contiguous());
    expect(values(x.grad!)).toEqual(values(x).map((v, i) => (v > 0 ? gv[i] : 0)));
  });

  it('second order: the gradient of the gradient is the same mask', () => {
    const x = kiln.randn([4, 6], { dtype: 'float64' });
    const v = kiln.randn([4, 6], { dtype: 'float64' });
    const [, pullback] = kiln.vjp((t: kiln.Tensor) => kiln.relu(t), x);
    const [, pb2] = kiln.vjp((g: kiln.Tensor) => pullback(g) as kiln.Tensor, v);
    const w = kiln.randn([4, 6], { dtype: 'float64' });
    const mask = values(x).map((e) => (e > 0 ? 1 : 0));
    expect(values(pb2(w) as kiln.Tensor)).toEqual(values(w).map((e, i) => (mask[i] ? e : 0)));
  });
});

describe('maxPoolBackward', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`max pooling's gradient lands on the argmax of each window (${dtype}; ties, NaN, wide rows)`, () => {
      for (const [H, W] of [[6, 8], [4, 40], [2, 34]]) {
        const data = values(kiln.randn([3, 4, H, W], { dtype }));
        data[5] = NaN;
        data[W + 2] = data[W + 3] = data[2] = data[3];  // a window of four equal values
        const x = kiln.tensor(data, { dtype, shape: [3, 4, H, W] }).requiresGrad_();
        const y = kiln.nn.functional.maxPool2d(x, 2);
        const [, idx] = maxPool2dWithIndices(x, 2);
        const g = kiln.randn(y.shape, { dtype });
        y.backward(g);
        const expected = new Array(x.numel()).fill(0);
        const iv = values(idx), gv = values(g), O = (H / 2) * Math.floor(W / 2);
        for (let q = 0; q < iv.length; q++) expected[Math.floor(q / O) * H * W + iv[q]] += gv[q];
        expect(values(x.grad!)).toEqual(expected);
      }
    });
  }

  it("gather's gradient along the last dim adds repeated indices in order; broadcast cotangent", () => {
    const x = kiln.randn([2, 3, 5], { dtype: 'float64' }).requiresGrad_();
    const index = kiln.tensor([0, 4, 4, 1, 4, 2, 3, 3, 0, 0, 1, 2, 4, 4, 4, 0, 1, 0], { dtype: 'int32' }).reshape([2, 3, 3]);
    const g = kiln.randn([2, 3, 3], { dtype: 'float64' });
    gather(x, 2, index).backward(g);
    const expected = new Array(30).fill(0);
    const iv = values(index), gv = values(g);
    for (let q = 0; q < 18; q++) expected[Math.floor(q / 3) * 5 + iv[q]] += gv[q];
    expect(values(x.grad!)).toEqual(expected);
    x.grad = null;
    gather(x, 2, index).sum().backward();
    const counts = new Array(30).fill(0);
    for (let q = 0; q < 18; q++) counts[Math.floor(q / 3) * 5 + iv[q]] += 1;
    expect(values(x.grad!)).toEqual(counts);
  });
});
