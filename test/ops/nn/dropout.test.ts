// The fused dropout primitive: its mask is exactly the bernoulli draw at the same generator
// position, the generator advances as that draw would, its gradient applies the same mask, and
// checkGrads passes at order 2 in both modes.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../../lib/index.js';
import type { DType, Tensor } from '../../../lib/index.js';
import { dropoutP } from '../../../lib/ops/nn/index.js';
import { bind } from '../../../lib/ops/primitive.js';
import * as O from '../../helpers/oracle.js';
import { rng } from '../../helpers/oracle.js';
import { expectError, make, values } from '../../helpers/tensors.js';

const dropout = kiln.nn.functional.dropout;
const SHAPE = [7, 13]; // 91 elements: the last Philox block is partly used

/** The expected output from x, the 0/1 mask and p, in the dtype's arithmetic. */
function expected(x: number[], mask: number[], p: number, dtype: DType): number[] {
  const scale = 1 / (1 - p);
  const s = dtype === 'float32' ? Math.fround(scale) : scale;
  return x.map((v, i) => {
    const y = v * (mask[i] ? s : 0);
    return dtype === 'float32' ? Math.fround(y) : y;
  });
}

describe('dropout: the fused kernel', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    for (const p of [0.1, 0.5, 0.9]) {
      for (const layout of ['contiguous', 'permuted', 'strided'] as const) {
        it(`${dtype} p=${p} ${layout}: mask of bernoulli(1 - p) at the same position, exact values`, () => {
          const xa = O.randomArr(SHAPE, 'float64', rng(Math.round(p * 100)), -3, 3);
          const x = make(xa, dtype, layout);
          kiln.manualSeed(99);
          kiln.rand([5]); // a nonzero offset
          const mask = values(kiln.bernoulli(1 - p, SHAPE, { dtype: 'float64' }));
          const after = kiln.getRngState();
          kiln.manualSeed(99);
          kiln.rand([5]);
          const y = dropout(x, p);
          expect(kiln.getRngState()).toEqual(after);
          expect(y.shape).toEqual(SHAPE);
          expect(y.dtype).toBe(dtype);
          const xs = values(x);
          const got = values(y);
          const want = expected(xs, mask, p, dtype);
          for (let i = 0; i < got.length; i++) {
            if (got[i] !== want[i]) expect.fail(`element ${i}: got ${got[i]}, want ${want[i]} (mask ${mask[i]})`);
          }
          // and close to the formula x * mask / (1 - p)
          O.assertClose(got, xs.map((v, i) => (v * mask[i]) / (1 - p)), dtype === 'float32' ? { rtol: 1e-6, atol: 0 } : { rtol: 1e-15, atol: 0 });
        });
      }
    }
  }

  it('a large tensor keeps about 1 - p of its elements, and the next draw continues the stream', () => {
    kiln.manualSeed(5);
    const y = dropout(kiln.ones([1 << 16]), 0.25);
    const next = values(kiln.rand([8]));
    kiln.manualSeed(5);
    kiln.bernoulli(0.75, [1 << 16]);
    expect(values(kiln.rand([8]))).toEqual(next);
    const kept = values(y).filter((v) => v !== 0);
    expect(kept.every((v) => v === Math.fround(1 / 0.75))).toBe(true);
    expect(Math.abs(kept.length / (1 << 16) - 0.75)).toBeLessThan(0.01);
  });

  it('the mask equals bernoulli at keep probabilities on and next to multiples of 2^-24', () => {
    const n = 1 << 18;
    const ones = kiln.ones([n], { dtype: 'float64' });
    for (const keep of [0.5, 0.75 + 2 ** -24, 0.75 - 2 ** -25, 0.3, 2 ** -24]) {
      kiln.manualSeed(2024);
      const mask = values(kiln.bernoulli(keep, [n], { dtype: 'float64' }));
      kiln.manualSeed(2024);
      const y = values(dropout(ones, 1 - keep));
      const bad = y.findIndex((v, i) => (v !== 0) !== (mask[i] === 1));
      expect(bad, `keep ${keep}`).toBe(-1);
    }
  });

  it('the gradient applies the same mask (scaled), without a stored mask', () => {
    const p = 0.4;
    const x = kiln.randn([6, 5], { dtype: 'float64' }).requiresGrad_();
    const w = kiln.randn([6, 5], { dtype: 'float64' });
    kiln.manualSeed(123);
    const mask = values(kiln.bernoulli(1 - p, [6, 5], { dtype: 'float64' }));
    kiln.manualSeed(123);
    dropout(x, p).mul(w).sum().backward();
    const ws = values(w);
    O.assertClose(values(x.grad!), ws.map((v, i) => v * (mask[i] ? 1 / (1 - p) : 0)), { rtol: 1e-15, atol: 0 });
  });

  it('checkGrads order 2, both modes (the generator reset before each evaluation)', () => {
    const state = kiln.getRngState();
    const f = (x: Tensor) => {
      kiln.setRngState(state);
      return dropout(x.tanh(), 0.3).mul(x);
    };
    const x = kiln.rand([4, 5], { dtype: 'float64', low: -2, high: 2 });
    const report = kiln.checkGrads(f, [x], { order: 2, modes: ['fwd', 'rev'], atol: 1e-6, rtol: 1e-4 });
    expect(report.ok).toBe(true);
    const attrs = { stream: [7, 0, 3, 0] as [number, number, number, number], keep: 0.6, scale: 1 / 0.6 };
    const g = (t: Tensor) => bind(dropoutP, [t.square()], attrs);
    expect(kiln.checkGrads(g, [x], { order: 2, modes: ['fwd', 'rev'], atol: 1e-6, rtol: 1e-4 }).ok).toBe(true);
  });

  it('the other branches: evaluation, p = 0, p = 1 (no draw)', () => {
    const x = kiln.tensor([[1, -2], [3, 4]], { dtype: 'float64' });
    const s = kiln.getRngState();
    expect(values(dropout(x, 0.5, false))).toEqual([1, -2, 3, 4]);
    expect(values(dropout(x, 0))).toEqual([1, -2, 3, 4]);
    expect(values(dropout(x, 1)).every((v) => v === 0)).toBe(true);
    expect(kiln.getRngState()).toEqual(s);
  });

  it('bad inputs', () => {
    expectError(() => dropout(kiln.ones([2]), 1.5), kiln.KilnError);
    const attrs = { stream: [1, 0, 0, 0] as [number, number, number, number], keep: 0.5, scale: 2 };
    expectError(() => bind(dropoutP, [kiln.ones([2], { dtype: 'int32' })], attrs), kiln.DTypeError);
    expectError(() => bind(dropoutP, [kiln.ones([2])], { ...attrs, keep: 1.5 }), kiln.KilnError, /keep/);
    expectError(() => bind(dropoutP, [kiln.ones([2])], { ...attrs, scale: Infinity }), kiln.KilnError, /scale/);
  });
});
