// Reductions and scans against loops over the oracle: every dim combination (single, several,
// negative, all), keepdim, every layout, the dtypes each takes, empty and NaN edge cases, and
// float32 accuracy on long sums.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import * as O from '../helpers/oracle.js';
import { Arr, type DType, rng } from '../helpers/oracle.js';
import { LAYOUTS, expectError, expectTensor, make, values } from '../helpers/tensors.js';
import { runReductionCases } from './reduce-cases.js';

runReductionCases('best');

describe('reductions', () => {
  it('defaults: sum()/mean()/max()/argmax() over everything give 0-d tensors', () => {
    const a = O.fromNested([[3, -1, 7], [7, 2, -5]]);
    const t = make(a, 'float32', 'permuted');
    expect(t.sum().shape).toEqual([]);
    expect(t.sum().item()).toBe(13);
    expect(t.mean().item()).toBeCloseTo(13 / 6, 6);
    expect(t.max().item()).toBe(7);
    expect(t.min().item()).toBe(-5);
    const am = t.argmax();
    expect(am.shape).toEqual([]);
    expect(am.dtype).toBe('int32');
    expect(am.item()).toBe(2); // first occurrence of the max in the flattened order
    expect(t.argmin().item()).toBe(5);
    expect(t.prod().item()).toBe(3 * -1 * 7 * 7 * 2 * -5);
  });

  it('argmax/argmin pick the first of tied values along a dim', () => {
    const t = kiln.tensor([[1, 5, 5, 0], [2, 2, 2, 2], [-1, -3, -3, 4]]);
    expect(values(t.argmax(1))).toEqual([1, 0, 3]);
    expect(values(t.argmin(1))).toEqual([3, 0, 1]);
    expect(values(t.argmax(0))).toEqual([1, 0, 0, 2]);
  });

  it('sum of int32 stays int32 and sum of bool counts trues', () => {
    const i = kiln.tensor([[1, 2], [3, 4]], { dtype: 'int32' });
    expect(i.sum().dtype).toBe('int32');
    expect(i.sum(0).dtype).toBe('int32');
    expect(values(i.sum(0))).toEqual([4, 6]);
    const b = kiln.tensor([[true, false, true], [true, true, true]]);
    expect(b.sum().dtype).toBe('int32');
    expect(b.sum().item()).toBe(5);
    expect(values(b.sum(1))).toEqual([2, 3]);
  });

  it('empty reductions: sum -> 0, prod -> 1, mean -> NaN, max over an empty dim throws', () => {
    const e = kiln.zeros([3, 0]);
    expect(values(e.sum(1))).toEqual([0, 0, 0]);
    expect(values(e.prod(1))).toEqual([1, 1, 1]);
    expect(e.sum(0).shape).toEqual([0]);
    expect(e.sum().item()).toBe(0);
    expect(Number.isNaN(e.mean().item() as number)).toBe(true);
    expect(() => e.max(1)).toThrow(kiln.KilnError);
    expect(() => e.argmax(1)).toThrow(kiln.KilnError);
    expect(e.max(0).shape).toEqual([0]);
  });

  it('max/min propagate NaN like PyTorch', () => {
    const t = kiln.tensor([[1, NaN, 3], [4, 5, 6]]);
    const m = values(t.max(1));
    expect(Number.isNaN(m[0])).toBe(true);
    expect(m[1]).toBe(6);
    expect(Number.isNaN(values(t.min(1))[0])).toBe(true);
    expect(Number.isNaN(t.max().item() as number)).toBe(true);
    expect(Number.isNaN(values(t.sum(1))[0])).toBe(true);
  });

  it('var with one element and correction 1 is NaN; std matches sqrt(var)', () => {
    expect(Number.isNaN(kiln.tensor([3]).var().item() as number)).toBe(true);
    expect(kiln.tensor([3]).var(undefined, { correction: 0 }).item()).toBe(0);
    const t = kiln.tensor([[1, 2, 3, 4], [2, 4, 6, 8]], { dtype: 'float64' });
    O.assertClose(values(t.var(1)), [5 / 3, 20 / 3], { rtol: 1e-14 });
    O.assertClose(values(t.std(1)), [Math.sqrt(5 / 3), Math.sqrt(20 / 3)], { rtol: 1e-14 });
  });

  it('var of large-offset data is numerically stable (two-pass or Welford)', () => {
    const r = rng(99);
    const a = O.randomArr([4096], 'float64', r, 1e8, 1e8 + 1);
    const v = kiln.tensor(a.data, { dtype: 'float64' }).var().item() as number;
    O.assertClose([v], [O.varOf(a.data)], { rtol: 1e-6 });
  });

  it('float32 sum of 2^20 elements is accurate (pairwise/blocked accumulation)', () => {
    const r = rng(7);
    const n = 1 << 20;
    const data = new Float32Array(n);
    let exact = 0;
    for (let i = 0; i < n; i++) {
      data[i] = Math.fround(r());
      exact += data[i];
    }
    const t = kiln.tensor(data);
    O.assertClose([t.sum().item() as number], [exact], { rtol: 1e-5, atol: 0 }, 'sum');
    O.assertClose([t.mean().item() as number], [exact / n], { rtol: 1e-5, atol: 0 }, 'mean');
    // along a dim, with a strided (transposed) input
    const m = t.reshape([1024, 1024]).t().sum(1);
    const ref = new Array(1024).fill(0);
    for (let i = 0; i < n; i++) ref[i % 1024] += data[i];
    O.assertClose(values(m), ref, { rtol: 1e-5, atol: 0 }, 'column sums');
  });

  it('rejects dims out of range', () => {
    const t = kiln.zeros([2, 3]);
    expect(() => t.sum(2)).toThrow(kiln.KilnError);
    expect(() => t.sum(-3)).toThrow(kiln.KilnError);
    expect(() => t.argmax(5)).toThrow(kiln.KilnError);
    expect(() => t.softmax(2)).toThrow(kiln.KilnError);
  });
});

describe('scans and normalizations along a dim', () => {
  const shapes: number[][] = [[6], [3, 4], [2, 3, 5]];

  it('cumsum float32/float64/int32 over every dim and layout', () => {
    const r = rng(41);
    for (const dtype of ['float32', 'float64', 'int32'] as DType[]) {
      for (const shape of shapes) {
        const a = O.randomArr(shape, dtype, r, -5, 5);
        for (let d = -shape.length; d < shape.length; d++) {
          const expected = O.alongDim(a, d, O.cumsumLane);
          for (const layout of LAYOUTS) {
            expectTensor(make(a, dtype, layout).cumsum(d), expected, { dtype, ...(dtype === 'float32' ? { rtol: 1e-5, atol: 1e-5 } : {}) }, `cumsum ${dtype} [${shape}] dim ${d} ${layout}`);
          }
        }
      }
    }
  });

  it('softmax / logSoftmax over every dim and layout', () => {
    const r = rng(42);
    for (const dtype of ['float32', 'float64'] as DType[]) {
      const t32 = dtype === 'float32';
      for (const shape of shapes) {
        const a = O.randomArr(shape, dtype, r, -6, 6);
        for (let d = -shape.length; d < shape.length; d++) {
          for (const layout of LAYOUTS) {
            const t = make(a, dtype, layout);
            expectTensor(t.softmax(d), O.alongDim(a, d, O.softmaxLane), { dtype, rtol: t32 ? 1e-5 : 1e-12, atol: t32 ? 1e-7 : 1e-15 }, `softmax ${dtype} [${shape}] ${d} ${layout}`);
            expectTensor(t.logSoftmax(d), O.alongDim(a, d, O.logSoftmaxLane), { dtype, rtol: t32 ? 1e-5 : 1e-12, atol: t32 ? 1e-5 : 1e-13 }, `logSoftmax ${dtype} [${shape}] ${d} ${layout}`);
          }
        }
      }
    }
  });

  it('softmax, logSoftmax and logsumexp are stable for large inputs', () => {
    const t = kiln.tensor([[1000, 1001, 1002], [-1000, -1000, -1000]]);
    O.assertClose(values(t.softmax(1)), [...O.softmaxLane([0, 1, 2]), 1 / 3, 1 / 3, 1 / 3], { rtol: 1e-5, atol: 1e-7 });
    O.assertClose(values(t.logSoftmax(1)), [...O.logSoftmaxLane([0, 1, 2]), -Math.log(3), -Math.log(3), -Math.log(3)], { rtol: 1e-5, atol: 1e-5 });
    O.assertClose(values(t.logsumexp(1)), [1002 + Math.log(1 + Math.exp(-1) + Math.exp(-2)), -1000 + Math.log(3)], { rtol: 1e-6, atol: 1e-4 });
    const inf = kiln.tensor([-Infinity, -Infinity, 0]);
    expect(values(inf.softmax(0))).toEqual([0, 0, 1]);
  });

  it('softmax on a dim of size 1 is all ones; cumsum of an empty tensor is empty', () => {
    expect(values(kiln.tensor([[3], [-7]]).softmax(1))).toEqual([1, 1]);
    expect(kiln.zeros([0, 3]).cumsum(0).shape).toEqual([0, 3]);
  });

  it('mean/var/softmax reject int tensors or promote them to float', () => {
    // PyTorch rejects mean() on ints; kiln may promote instead. Either way no silent int truncation.
    const t = kiln.tensor([1, 2], { dtype: 'int32' });
    let mean: number | undefined;
    try {
      mean = t.mean().item() as number;
    } catch (e) {
      expect(e).toBeInstanceOf(kiln.DTypeError);
    }
    if (mean !== undefined) expect(mean).toBe(1.5);
  });
});

describe('reduction error messages', () => {
  it('name the op', () => {
    expectError(() => kiln.zeros([2, 0]).max(1), kiln.KilnError, /max/);
  });
});
