// The fused mean cross entropy (crossEntropyMean and its backward kernel) against a float64 loop
// oracle and the composite it replaces, checkGrads at order 2 in both modes, and the fallbacks
// crossEntropy takes for ignored targets.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../../lib/index.js';
import type { Tensor } from '../../../lib/index.js';
import { crossEntropyMean, crossEntropyMeanReference } from '../../../lib/ops/nn/index.js';
import { values } from '../../helpers/tensors.js';

kiln.manualSeed(13);

function oracle(x: number[], t: number[], M: number, D: number): { loss: number; grad: number[] } {
  let loss = 0;
  const grad: number[] = [];
  for (let m = 0; m < M; m++) {
    const row = x.slice(m * D, m * D + D);
    const mx = Math.max(...row);
    const s = row.reduce((a, v) => a + Math.exp(v - mx), 0);
    loss -= row[t[m]] - mx - Math.log(s);
    row.forEach((v, c) => grad.push((Math.exp(v - mx) / s - (c === t[m] ? 1 : 0)) / M));
  }
  return { loss: loss / M, grad };
}

describe('crossEntropyMean', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`value and gradient against a float64 oracle (${dtype})`, () => {
      const [M, D] = [37, 10];
      const x = kiln.mul(kiln.randn([M, D], { dtype }), 4).requiresGrad_();
      const t = kiln.tensor(Array.from({ length: M }, (_, i) => (i * 7) % D), { dtype: 'int32' });
      const loss = kiln.nn.functional.crossEntropy(x, t);
      loss.backward();
      const ref = oracle(values(x), values(t), M, D);
      const tol = dtype === 'float64' ? 1e-12 : 2e-6;
      expect(Math.abs((loss.item() as number) - ref.loss)).toBeLessThan(tol * Math.max(1, ref.loss));
      values(x.grad!).forEach((g, i) => expect(Math.abs(g - ref.grad[i])).toBeLessThan(tol));
    });
  }

  it('a strided (transposed) input and target, and a scaled cotangent', () => {
    const x = kiln.randn([6, 5], { dtype: 'float64' }).requiresGrad_();
    const t = kiln.tensor([4, 0, 3, 3, 1, 2, 0, 0, 0, 0, 0, 0], { dtype: 'int32' }).reshape([2, 6]).select(0, 0);
    const xt = x.t().contiguous().t();
    const loss = crossEntropyMean(xt, t)!;
    kiln.mul(loss, 3).backward();
    const ref = oracle(values(x), [4, 0, 3, 3, 1, 2], 6, 5);
    expect(loss.item() as number).toBeCloseTo(ref.loss, 12);
    values(x.grad!).forEach((g, i) => expect(g).toBeCloseTo(3 * ref.grad[i], 12));
  });

  it('checkGrads order 2, both modes', () => {
    const x = kiln.randn([4, 3], { dtype: 'float64' });
    const t = kiln.tensor([2, 0, 1, 2], { dtype: 'int32' });
    const f = (a: Tensor) => kiln.mul(crossEntropyMean(a, t)!, kiln.sum(kiln.mul(a, a)));
    const report = kiln.checkGrads(f, [x], { order: 2, modes: ['fwd', 'rev'], atol: 1e-6, rtol: 1e-4 });
    expect(report.ok).toBe(true);
    const g = (a: Tensor) => crossEntropyMeanReference(a, t);
    expect(values(crossEntropyMean(x, t)!)[0]).toBeCloseTo(values(g(x))[0], 12);
  });

  it('ignored (negative) targets and out-of-range ones take the general path', () => {
    const x = kiln.randn([4, 3], { dtype: 'float64' });
    const t = kiln.tensor([2, -100, 1, 2], { dtype: 'int32' });
    const loss = kiln.nn.functional.crossEntropy(x, t).item() as number;
    const keep = [0, 2, 3];
    const ref = oracle(keep.flatMap((m) => values(x).slice(m * 3, m * 3 + 3)), [2, 1, 2], 3, 3).loss;
    expect(loss).toBeCloseTo(ref, 12);
    expect(() => kiln.nn.functional.crossEntropy(x, kiln.tensor([0, 1, 3, 0], { dtype: 'int32' }))).toThrow(kiln.IndexError);
  });
});
