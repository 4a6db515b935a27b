// Every differentiable primitive passes checkGrads at order 2 in both modes (float64, CPU),
// including broadcast and non-contiguous (permuted, sliced, flipped, expanded) inputs.
import { describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';

kiln.manualSeed(1234);

/** Values in (lo, hi), float64, away from kinks. */
function sample(shape: number[], lo = -1.5, hi = 1.5): Tensor {
  return kiln.rand(shape, { dtype: 'float64', low: lo, high: hi });
}
const positive = (shape: number[]) => sample(shape, 0.5, 2);

function check(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], order: 1 | 2 = 2) {
  const report = kiln.checkGrads(f, inputs, { order, modes: ['fwd', 'rev'], atol: 1e-6, rtol: 1e-4 });
  expect(report.ok).toBe(true);
}

const unary: [string, (x: Tensor) => Tensor, (s: number[]) => Tensor][] = [
  ['neg', (x) => x.neg(), sample],
  ['exp', (x) => x.exp(), sample],
  ['log', (x) => x.log(), positive],
  ['sqrt', (x) => x.sqrt(), positive],
  ['rsqrt', (x) => x.rsqrt(), positive],
  ['tanh', (x) => x.tanh(), sample],
  ['sigmoid', (x) => x.sigmoid(), sample],
  ['sin', (x) => x.sin(), sample],
  ['cos', (x) => x.cos(), sample],
  ['abs', (x) => x.abs(), positive],
  ['erf', (x) => x.erf(), sample],
  ['reciprocal', (x) => x.reciprocal(), positive],
  ['log1p', (x) => x.log1p(), positive],
  ['expm1', (x) => x.expm1(), sample],
  ['relu', (x) => x.relu(), positive],
  ['square', (x) => x.square(), sample],
];

describe('unary primitives', () => {
  for (const [name, f, gen] of unary) {
    it(`${name}: order 2, both modes, contiguous and strided`, () => {
      check(f, [gen([2, 3])]);
      // non-contiguous: a transposed view
      check((x) => f(x.t()), [gen([3, 2])]);
    });
  }
});

const binary: [string, (a: Tensor, b: Tensor) => Tensor, (s: number[]) => Tensor, (s: number[]) => Tensor][] = [
  ['add', (a, b) => a.add(b), sample, sample],
  ['sub', (a, b) => a.sub(b), sample, sample],
  ['mul', (a, b) => a.mul(b), sample, sample],
  ['div', (a, b) => a.div(b), sample, positive],
  ['pow', (a, b) => a.pow(b), positive, sample],
  ['maximum', (a, b) => a.maximum(b), sample, sample],
  ['minimum', (a, b) => a.minimum(b), sample, sample],
  ['atan2', (a, b) => a.atan2(b), positive, positive],
];

describe('binary primitives', () => {
  for (const [name, f, ga, gb] of binary) {
    it(`${name}: equal shapes and broadcasting, order 2, both modes`, () => {
      check(f, [ga([2, 3]), gb([2, 3])]);
      check(f, [ga([2, 1, 3]), gb([4, 1])]); // broadcast through expand's rule
      check((a, b) => f(a.flip(0), b.slice(1, 0, 3, 2)), [ga([2, 2]), gb([2, 3])]); // flipped, stepped
    });
  }
  it('fmod away from its discontinuities', () => {
    check((a, b) => a.fmod(b), [sample([2, 3], 0.1, 0.9), sample([2, 3], 1.1, 2)]);
  });
  it('where: gradient flows to the chosen branch only', () => {
    const cond = kiln.tensor([[true, false, true], [false, false, true]]);
    check((a, b) => kiln.where(cond, a, b), [sample([2, 3]), sample([1, 3])]);
  });
});

describe('reductions and scans', () => {
  it('sum over dims, keepdim, all', () => {
    check((x) => x.sum(), [sample([2, 3, 4])]);
    check((x) => x.sum([0, 2], true), [sample([2, 3, 4])]);
    check((x) => x.permute(2, 0, 1).sum(1), [sample([2, 3, 4])]);
  });
  it('prod', () => check((x) => x.prod(1), [positive([2, 3])]));
  it('max and min (distinct values)', () => {
    const x = kiln.tensor([[0.3, -1.2, 2.5], [1.1, 0.7, -0.4]], { dtype: 'float64' });
    check((t) => t.max(1), [x]);
    check((t) => t.min(0, true), [x]);
    check((t) => t.max(), [x]);
  });
  it('cumsum', () => check((x) => x.cumsum(1), [sample([2, 4])]));
  it('mean, var, std, logsumexp, softmax, logSoftmax (composites)', () => {
    check((x) => x.mean(0), [sample([3, 2])]);
    check((x) => x.var(1), [sample([2, 4])]);
    check((x) => x.std(), [sample([2, 3])]);
    check((x) => x.logsumexp(1), [sample([2, 3])]);
    check((x) => x.softmax(-1), [sample([2, 3])]);
    check((x) => x.logSoftmax(0), [sample([3, 2])]);
  });
});

describe('views, copies and shape ops', () => {
  it('reshape, permute, expand, slice, flip, squeeze, select, contiguous, cast', () => {
    check((x) => x.reshape(3, 2), [sample([2, 3])]);
    check((x) => x.t().reshape(-1), [sample([2, 3])]); // non-viewable: copies
    check((x) => x.permute(1, 2, 0), [sample([2, 3, 2])]);
    check((x) => x.expand(2, 3, 2), [sample([3, 1])]);
    check((x) => x.slice(1, 1, 5, 2), [sample([2, 6])]);
    check((x) => x.flip(0, 1), [sample([2, 3])]);
    check((x) => x.unsqueeze(1).squeeze(1), [sample([2, 3])]);
    check((x) => x.select(0, 1), [sample([3, 2])]);
    check((x) => x.t().contiguous(), [sample([2, 3])]);
    // Through float32 the finite differences need a coarse step and a float32-sized tolerance.
    const viaF32 = kiln.checkGrads((x) => x.to('float32').mul(x.to('float32')).to('float64'), [sample([2, 2])], { eps: 1e-2, atol: 1e-3, rtol: 1e-3 });
    expect(viaF32.ok).toBe(true);
  });
  it('matmul (batched, broadcast, transposed, vector)', () => {
    check((a, b) => a.matmul(b), [sample([2, 3]), sample([3, 4])]);
    check((a, b) => a.matmul(b), [sample([2, 2, 3]), sample([3, 2])]);
    check((a, b) => a.t().matmul(b.t()), [sample([3, 2]), sample([4, 3])]);
    check((a, b) => a.matmul(b), [sample([3]), sample([3, 2])]);
  });
  it('gather, scatterAdd, indexSelect', () => {
    const index = kiln.tensor([[0, 2, 1], [1, 1, 0]], { dtype: 'int32' });
    check((x) => x.gather(1, index), [sample([2, 3])]);
    check((x, s) => x.scatterAdd(1, index, s), [sample([2, 3]), sample([2, 3])]);
    const rows = kiln.tensor([2, 0, 2], { dtype: 'int32' });
    check((x) => x.indexSelect(0, rows), [sample([3, 2])]);
  });
  it('pad (positive and cropping), cat, stack', () => {
    check((x) => x.pad([1, 2, 0, 1], 3), [sample([2, 2])]);
    check((x) => x.pad([-1, 1]), [sample([2, 3])]);
    check((a, b) => kiln.cat([a, b], 1), [sample([2, 1]), sample([2, 3])]);
    check((a, b) => kiln.stack([a, b], 0), [sample([2]), sample([2])]);
  });
});

describe('nondifferentiable operations', () => {
  it('comparisons, argmax, random and rounding produce no gradient', () => {
    const x = sample([4]);
    const g = kiln.grad((t: Tensor) => t.gt(0).to('float64').sum().add(t.floor().sum()))(x) as Tensor;
    expect(Array.from(g.dataSync())).toEqual([0, 0, 0, 0]);
    const y = kiln.tensor([1.0, 2.0], { requiresGrad: true });
    const idx = y.argmax();
    expect(idx.requiresGrad).toBe(false);
    expect(idx.gradFn).toBe(null);
  });
  it('differentiating with respect to an int tensor says so', () => {
    expect(() => kiln.grad((t: Tensor) => t.sum())(kiln.tensor([1, 2], { dtype: 'int32' }))).toThrow(/float/);
  });
});
