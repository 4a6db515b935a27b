// Fused softmax / log-softmax against float64 loop oracles, every dim and layout, extreme values,
// checkGrads at order 2 in both modes, and a cross entropy built on it.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../../lib/index.js';
import type { Tensor } from '../../../lib/index.js';
import { logSoftmax, logSoftmaxBackwardP, logSoftmaxP, softmax, softmaxBackwardP } from '../../../lib/ops/nn/index.js';
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

// Float64 loop oracles of the two VJPs, row by row over [M, D].
function softmaxBackwardRef(y: O.Arr, g: O.Arr, log: boolean): O.Arr {
  const [M, D] = y.shape;
  const out: number[] = [];
  for (let m = 0; m < M; m++) {
    const yr = y.data.slice(m * D, (m + 1) * D), gr = g.data.slice(m * D, (m + 1) * D);
    if (log) {
      const s = gr.reduce((a, v) => a + v, 0);
      for (let i = 0; i < D; i++) out.push(gr[i] - Math.exp(yr[i]) * s);
    } else {
      const s = gr.reduce((a, v, i) => a + v * yr[i], 0);
      for (let i = 0; i < D; i++) out.push(yr[i] * (gr[i] - s));
    }
  }
  return new O.Arr([M, D], out);
}

describe('softmaxBackward and logSoftmaxBackward: the fused VJPs', () => {
  it('match float64 oracles, every layout, float64 and float32, short and long rows', () => {
    for (const [M, D] of [[5, 7], [3, 1500]]) {
      const r = rng(M * D);
      const x = O.randomArr([M, D], 'float64', r, -4, 4);
      const g = O.randomArr([M, D], 'float64', r, -2, 2);
      for (const log of [false, true]) {
        const y = softmaxRef(x, 1, log);
        const want = softmaxBackwardRef(y, g, log);
        const prim = log ? logSoftmaxBackwardP : softmaxBackwardP;
        for (const layout of LAYOUTS) {
          const yt = make(y, 'float64', layout), gt = make(g, 'float64', layout === 'contiguous' ? 'strided' : 'contiguous');
          expectTensor(bind(prim, [yt, gt], undefined), want, { rtol: 1e-12, atol: 1e-14 }, `${log} ${D} ${layout}`);
          const y32 = make(y, 'float32', layout), g32 = make(g, 'float32', layout);
          expectTensor(bind(prim, [y32, g32], undefined), softmaxBackwardRef(new O.Arr([M, D], values(y32)), new O.Arr([M, D], values(g32)), log),
            { rtol: 1e-4, atol: 1e-6 }, `f32 ${log} ${D} ${layout}`);
        }
      }
    }
  });

  it('are the reverse rules of softmax and logSoftmax: gradients against the oracle', () => {
    const r = rng(77);
    const xa = O.randomArr([4, 6], 'float64', r, -3, 3);
    const ga = O.randomArr([4, 6], 'float64', r, -1, 1);
    for (const log of [false, true]) {
      const x = make(xa, 'float64').requiresGrad_();
      const g = make(ga, 'float64');
      (log ? logSoftmax(x, 1) : softmax(x, 1)).mul(g).sum().backward();
      expectTensor(x.grad!, softmaxBackwardRef(softmaxRef(xa, 1, log), ga, log), { rtol: 1e-12, atol: 1e-14 }, `log=${log}`);
    }
    // along an outer dim (a transposed view goes in)
    const x = make(xa, 'float64').requiresGrad_();
    softmax(x, 0).mul(make(ga, 'float64')).sum().backward();
    const want = O.transpose(softmaxBackwardRef(O.transpose(softmaxRef(xa, 0, false), 0, 1), O.transpose(ga, 0, 1), false), 0, 1);
    expectTensor(x.grad!, want, { rtol: 1e-12, atol: 1e-14 }, 'dim 0');
  });

  it('checkGrads order 2, both modes, in y and g', () => {
    for (const prim of [softmaxBackwardP, logSoftmaxBackwardP]) {
      const y = prim === softmaxBackwardP ? softmax(sample([3, 4]), 1) : logSoftmax(sample([3, 4]), 1);
      check((a, b) => bind(prim, [a, b], undefined), [y, sample([3, 4])]);
    }
  });

  it('shape and dtype checks', () => {
    expectError(() => bind(softmaxBackwardP, [kiln.zeros([2, 3]), kiln.zeros([2, 4])], undefined), kiln.ShapeError);
    expectError(() => bind(logSoftmaxBackwardP, [kiln.zeros([2, 3, 4]), kiln.zeros([2, 3, 4])], undefined), kiln.ShapeError);
    expectError(() => bind(softmaxBackwardP, [kiln.zeros([2, 3]), kiln.zeros([2, 3], { dtype: 'float64' })], undefined), kiln.DTypeError);
    expectError(() => bind(softmaxBackwardP, [kiln.zeros([2, 3], { dtype: 'int32' }), kiln.zeros([2, 3], { dtype: 'int32' })], undefined), kiln.DTypeError);
  });
});

describe('softmax errors', () => {
  it('dtype, dim, native shape check', () => {
    expectError(() => softmax(kiln.zeros([2, 3], { dtype: 'int32' })), kiln.DTypeError);
    expectError(() => logSoftmax(kiln.zeros([2, 3]), 2), kiln.IndexError);
    expectError(() => bind(logSoftmaxP, [kiln.zeros([2, 3, 4])], undefined), kiln.ShapeError);
  });
});
