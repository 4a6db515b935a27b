// toString against PyTorch's printing of the same small tensors (strings written out by hand
// from torch's _tensor_str rules; kiln prints `dtype=float64` where torch prints
// `dtype=torch.float64`), plus reading back: data()/dataSync()/array()/item() round trips.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import { DTYPES } from '../helpers/tensors.js';

describe('toString like PyTorch', () => {
  const cases: [string, () => kiln.Tensor, string][] = [
    ['2-D integers', () => kiln.tensor([[1, 2], [3, 4]]), 'tensor([[1., 2.],\n        [3., 4.]])'],
    ['fractions', () => kiln.tensor([1.5, 2.25]), 'tensor([1.5000, 2.2500])'],
    ['0-d', () => kiln.tensor(3), 'tensor(3.)'],
    ['0-d float64', () => kiln.tensor(2.5, { dtype: 'float64' }), 'tensor(2.5000, dtype=float64)'],
    ['right-aligned columns', () => kiln.tensor([100, 2.5]), 'tensor([100.0000,   2.5000])'],
    ['aligned integers', () => kiln.tensor([1, 10, 100]), 'tensor([  1.,  10., 100.])'],
    ['negative integers', () => kiln.tensor([-1, 2]), 'tensor([-1.,  2.])'],
    ['negative fractions', () => kiln.tensor([-0.5, 0.25]), 'tensor([-0.5000,  0.2500])'],
    ['zeros', () => kiln.zeros([2, 3]), 'tensor([[0., 0., 0.],\n        [0., 0., 0.]])'],
    ['zero and a fraction', () => kiln.tensor([0, 0.5]), 'tensor([0.0000, 0.5000])'],
    ['3-D', () => kiln.ones([2, 2, 2]), 'tensor([[[1., 1.],\n         [1., 1.]],\n\n        [[1., 1.],\n         [1., 1.]]])'],
    ['int32', () => kiln.tensor([1, -20, 3], { dtype: 'int32' }), 'tensor([  1, -20,   3], dtype=int32)'],
    ['float64', () => kiln.tensor([1.5, 2], { dtype: 'float64' }), 'tensor([1.5000, 2.0000], dtype=float64)'],
    ['bool', () => kiln.tensor([true, false]), 'tensor([ True, False], dtype=bool)'],
    ['small values: scientific', () => kiln.tensor([1e-5, 1]), 'tensor([1.0000e-05, 1.0000e+00])'],
    ['large values: scientific', () => kiln.tensor([1e10, 1]), 'tensor([1.0000e+10, 1.0000e+00])'],
    ['integers spanning > 1000x: scientific', () => kiln.tensor([1, 2000]), 'tensor([1.0000e+00, 2.0000e+03])'],
    ['NaN is not padded to the width of finite values', () => kiln.tensor([NaN, 1]), 'tensor([nan, 1.])'],
    ['inf and -inf', () => kiln.tensor([Infinity, -Infinity, 1]), 'tensor([inf, -inf, 1.])'],
    ['non-contiguous view prints logical order', () => kiln.tensor([[1, 2], [3, 4]]).t(), 'tensor([[1., 3.],\n        [2., 4.]])'],
    ['flipped int32 2-D', () => kiln.tensor([[1, 2, 3], [40, 50, 60]], { dtype: 'int32' }).flip(0, 1), 'tensor([[60, 50, 40],\n        [ 3,  2,  1]], dtype=int32)'],
  ];
  for (const [name, make, want] of cases) {
    it(name, () => {
      expect(make().toString()).toBe(want);
    });
  }

  it('summarizes large tensors with ... and includes the shape', () => {
    const s = kiln.arange(2000).toString();
    expect(s.startsWith('tensor([')).toBe(true);
    expect(s).toContain('...');
    expect(s).toContain('2000');
    expect(s.length).toBeLessThan(300);
    const m = kiln.zeros([100, 100]).toString();
    expect(m.split('\n').length).toBe(7); // 3 rows, a '...' row, 3 rows
    expect(m).toMatch(/100,\s*100/);
  });

  it('empty tensors print as tensor([...', () => {
    expect(kiln.zeros([0]).toString().startsWith('tensor([]')).toBe(true);
  });
});

describe('reading values back', () => {
  it.each(DTYPES)('data()/dataSync()/array()/arraySync() round trips for %s', async (dtype) => {
    const nested = [[[1, 0], [3, 0]], [[0, 6], [7, 1]]];
    const t = kiln.tensor(nested, { dtype });
    const want = dtype === 'bool' ? nested.map((a) => a.map((b) => b.map((v) => v !== 0))) : nested;
    expect(await t.array()).toEqual(want);
    expect(t.arraySync()).toEqual(want);
    const ctor = { float32: Float32Array, float64: Float64Array, int32: Int32Array, bool: Uint8Array }[dtype];
    const d = await t.data();
    expect(d).toBeInstanceOf(ctor);
    expect(Array.from(d)).toEqual(nested.flat(2).map((v) => (dtype === 'bool' ? (v !== 0 ? 1 : 0) : v)));
    expect(Array.from(t.dataSync())).toEqual(Array.from(d));
  });

  it('dataSync returns a copy', () => {
    const t = kiln.tensor([1, 2, 3]);
    const d = t.dataSync();
    d[0] = 100;
    expect(Array.from(t.dataSync())).toEqual([1, 2, 3]);
  });

  it('non-contiguous tensors read in logical order', async () => {
    const t = kiln.arange(6).reshape([2, 3]).t().flip(0);
    expect(Array.from(await t.data())).toEqual([2, 5, 1, 4, 0, 3]);
    expect(await t.array()).toEqual([[2, 5], [1, 4], [0, 3]]);
  });

  it('item() for each dtype and for any one-element shape', () => {
    expect(kiln.tensor(2.5).item()).toBe(2.5);
    expect(kiln.tensor([[7]], { dtype: 'int32' }).item()).toBe(7);
    expect(kiln.tensor([[[0.1]]], { dtype: 'float64' }).item()).toBe(0.1);
    expect(kiln.tensor([true]).item()).toBe(true);
    expect(kiln.tensor(false).item()).toBe(false);
    expect(kiln.tensor(0.1).item()).toBe(Math.fround(0.1));
    expect(() => kiln.tensor([1, 2]).item()).toThrow(kiln.ShapeError);
  });

  it('0-d array() is a plain value', async () => {
    expect(await kiln.tensor(4).array()).toBe(4);
    expect(kiln.tensor(true).arraySync()).toBe(true);
  });
});

describe('casting and in-place writes', () => {
  it('to(dtype): truncation toward zero, nonzero -> true, float32 rounding', () => {
    const f = kiln.tensor([-1.7, -0.5, 0, 0.5, 1.7, 2.5], { dtype: 'float64' });
    expect(Array.from(f.to('int32').dataSync())).toEqual([-1, 0, 0, 0, 1, 2]);
    expect(Array.from(f.int().dataSync())).toEqual([-1, 0, 0, 0, 1, 2]);
    expect(Array.from(f.bool().dataSync())).toEqual([1, 1, 0, 1, 1, 1]);
    expect(Array.from(kiln.tensor([NaN, -0]).bool().dataSync())).toEqual([1, 0]);
    expect(Array.from(kiln.tensor([16777217, -2147483648], { dtype: 'int32' }).float().dataSync())).toEqual([16777216, -2147483648]);
    expect(Array.from(kiln.tensor([0.1], { dtype: 'float64' }).float().dataSync())).toEqual([Math.fround(0.1)]);
    expect(Array.from(kiln.tensor([true, false]).double().dataSync())).toEqual([1, 0]);
    expect(kiln.tensor([1]).to({ dtype: 'float64' }).dtype).toBe('float64');
    expect(kiln.tensor([1]).to('cpu').device).toBe('cpu');
    expect(kiln.tensor([1]).cpu().device).toBe('cpu');
  });

  it('casting a non-contiguous view', () => {
    const t = kiln.tensor([[1.5, 2.5], [3.5, -4.5]]).t();
    const i = t.int();
    expect(i.dtype).toBe('int32');
    expect(i.arraySync()).toEqual([[1, 3], [2, -4]]);
  });

  it('copy_ broadcasts and casts the source; writes through non-contiguous views', () => {
    const dst = kiln.zeros([2, 3]);
    dst.copy_(kiln.tensor([1, 2, 3], { dtype: 'int32' }));
    expect(dst.arraySync()).toEqual([[1, 2, 3], [1, 2, 3]]);
    dst.t().copy_(kiln.tensor([[10, 20], [30, 40], [50, 60]]));
    expect(dst.arraySync()).toEqual([[10, 30, 50], [20, 40, 60]]);
    dst.copy_(7);
    expect(Array.from(dst.dataSync())).toEqual([7, 7, 7, 7, 7, 7]);
    expect(() => dst.copy_(kiln.zeros([4]))).toThrow(kiln.ShapeError);
  });

  it('fill_ and zero_ on strided, flipped and expanded-free views', () => {
    const t = kiln.ones([4, 4], { dtype: 'int32' });
    t.slice(0, 0, 4, 2).slice(1, 1, 4, 2).fill_(5);
    t.flip(0).select(0, 0).zero_();
    expect(t.arraySync()).toEqual([
      [1, 5, 1, 5],
      [1, 1, 1, 1],
      [1, 5, 1, 5],
      [0, 0, 0, 0],
    ]);
    const b = kiln.zeros([3], { dtype: 'bool' });
    b.fill_(true);
    expect(b.arraySync()).toEqual([true, true, true]);
  });
});
