// Fused softmax / log-softmax against float64 loop oracles, every dim and layout, extreme values,
// checkGrads at order 2 in both modes, and a cross entropy built on it.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../../lib/index.js';
import type { Tensor } from '../../../lib/index.js';
import { logSoftmax, logSoftmaxP, softmax } from '../../../lib/ops/nn/index.js';
import { bind } from '../../../lib/ops/primitive.js';
import * as O from '../../helpers/oracle.js';
import { rng } from '../../helpers/oracle.js';
import { expectError, expectTensor, LAYOUTS, make, values } from '../../helpers/tensors.js';

kiln.manualSeed(11);

function softmaxRef(a: O.Arr, dim: number, log: boolean): O.Arr {
  return O.alongDim(a, dim, (lane) => {
    const m = Math.max(...lane);
    const s = lane.reduce((acc, v) => acc + Math.exp(v - m), 0);
    return lane.map((v) => (log ? v - m - Math.log(s) : Math.exp(v - m) / s));
  });
}

describe('softmax and logSoftmax', () => {
  it('every dim, every layout, float64 and float32', () => {
    const r = rng(1);
    const x = O.randomArr([3, 4, 5], 'float64', r, -5, 5);
    for (let dim = -3; dim < 3; dim++) {
      const d = (dim + 3) % 3;
      for (const layout of LAYOUTS) {
        expectTensor(softmax(make(x, 'float64', layout), dim), softmaxRef(x, d, false), { rtol: 1e-13, atol: 1e-15 }, `softmax ${dim} ${layout}`);
        expectTensor(logSoftmax(make(x, 'float64', layout), dim), softmaxRef(x, d, true), { rtol: 1e-13, atol: 1e-13 }, `logSoftmax ${dim} ${layout}`);
        expectTensor(logSoftmax(make(x, 'float32', layout), dim), softmaxRef(x, d, true), { rtol: 1e-5, atol: 1e-5 }, `f32 ${dim} ${layout}`);
      }
    }
  });

  it('large magnitudes stay finite; -inf entries get probability 0; NaN spreads over its row', () => {
    const x = kiln.tensor([[1000, 999, -1000], [-Infinity, 0, 0], [NaN, 1, 2]], { dtype: 'float64' });
    const p = values(softmax(x));
    O.assertClose(p.slice(0, 3), [1 / (1 + Math.exp(-1)), Math.exp(-1) / (1 + Math.exp(-1)), 0], { rtol: 1e-14, atol: 1e-300 });
    expect(p.slice(3, 6)).toEqual([0, 0.5, 0.5]);
    expect(p.slice(6).every(Number.isNaN)).toBe(true);
    const lp = values(logSoftmax(x));
    expect(lp[3]).toBe(-Infinity);
    O.assertClose(lp.slice(4, 6), [Math.log(0.5), Math.log(0.5)], { rtol: 1e-14, atol: 0 });
  });

  it('0-d, empty and single-element rows', () => {
    expect(values(softmax(kiln.tensor(3.5)))).toEqual([1]);
    expect(values(logSoftmax(kiln.tensor([[2]])))).toEqual([0]);
    expect(softmax(kiln.zeros([0, 4])).shape).toEqual([0, 4]);
  });

  it('agrees with the composites on a big float32 batch (vectorized exp)', () => {
    const x = kiln.randn([300, 777]).mul(4);
    expect(logSoftmax(x).sub(x.logSoftmax(-1)).abs().max().item()).toBeLessThan(1e-5);
    expect(softmax(x, 0).sub(x.softmax(0)).abs().max().item()).toBeLessThan(1e-6);
  });
});

function check(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[]) {
  const report = kiln.checkGrads(f, inputs, { order: 2, modes: ['fwd', 'rev'], atol: 1e-6, rtol: 1e-4 });
  expect(report.ok).toBe(true);
}
const sample = (shape: number[]) => kiln.rand(shape, { dtype: 'float64', low: -2, high: 2 });

describe('softmax rules: checkGrads order 2, both modes', () => {
  it('softmax and logSoftmax over inner and outer dims', () => {
    check((x) => softmax(x, 1), [sample([2, 3])]);
    check((x) => logSoftmax(x, 0), [sample([3, 2])]);
  });
  it('a cross entropy: -mean(logSoftmax(x)[target])', () => {
    const target = kiln.tensor([[2], [0]], { dtype: 'int32' });
    check((x) => logSoftmax(x, 1).gather(1, target).mean().neg(), [sample([2, 3])]);
  });
});

describe('softmax errors', () => {
  it('dtype, dim, native shape check', () => {
    expectError(() => softmax(kiln.zeros([2, 3], { dtype: 'int32' })), kiln.DTypeError);
    expectError(() => logSoftmax(kiln.zeros([2, 3]), 2), kiln.IndexError);
    expectError(() => bind(logSoftmaxP, [kiln.zeros([2, 3, 4])], undefined), kiln.ShapeError);
  });
});
