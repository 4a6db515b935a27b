// Creation functions: tensor(), zeros/ones/full, arange/linspace/eye, *Like, and the tensor
// properties they set. Expected values are written out or computed with plain JS loops.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import { Arr, type DType, fromFn, fromNested, numel } from '../helpers/oracle.js';
import { DTYPES, expectError, expectTensor, values } from '../helpers/tensors.js';

describe('kiln.tensor', () => {
  it('builds from nested arrays (float32 by default, like a float list in PyTorch)', () => {
    const t = kiln.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.device).toBe('cpu');
    expect(t.ndim).toBe(2);
    expect(t.numel()).toBe(6);
    expect(t.strides).toEqual([3, 1]);
    expect(t.isContiguous()).toBe(true);
    expect(t.dataSync()).toBeInstanceOf(Float32Array);
    expect(values(t)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('rounds JS numbers to float32 on the way in', () => {
    const t = kiln.tensor([0.1, 1 / 3, 1e-40, 3.4e39]);
    expect(values(t)).toEqual([Math.fround(0.1), Math.fround(1 / 3), Math.fround(1e-40), Infinity]);
  });

  it('builds a 0-d tensor from a number and a boolean', () => {
    const t = kiln.tensor(2.5);
    expect(t.shape).toEqual([]);
    expect(t.ndim).toBe(0);
    expect(t.numel()).toBe(1);
    expect(t.strides).toEqual([]);
    expect(t.item()).toBe(2.5);
    const b = kiln.tensor(true);
    expect(b.dtype).toBe('bool');
    expect(b.shape).toEqual([]);
    expect(b.item()).toBe(true);
  });

  it('infers bool from booleans', () => {
    const t = kiln.tensor([true, false, true]);
    expect(t.dtype).toBe('bool');
    expect(t.dataSync()).toBeInstanceOf(Uint8Array);
    expect(values(t)).toEqual([1, 0, 1]);
    expect(t.arraySync()).toEqual([true, false, true]);
  });

  it.each(DTYPES)('honours dtype %s for nested numbers', (dtype) => {
    const data = [
      [[1.7, -2.2], [0, 3]],
      [[-0.5, 5], [6.9, -7]],
    ];
    const t = kiln.tensor(data, { dtype });
    const cast = (v: number) =>
      dtype === 'float32' ? Math.fround(v) : dtype === 'int32' ? Math.trunc(v) | 0 : dtype === 'bool' ? (v !== 0 ? 1 : 0) : v;
    expect(t.dtype).toBe(dtype);
    expect(t.shape).toEqual([2, 2, 2]);
    expect(values(t)).toEqual(data.flat(2).map(cast));
  });

  it('takes typed arrays with their dtype, reshaped by opts.shape', () => {
    const f64 = kiln.tensor(new Float64Array([1, 2, 3, 4, 5, 6]), { shape: [3, 2] });
    expect(f64.dtype).toBe('float64');
    expect(f64.shape).toEqual([3, 2]);
    expect(f64.arraySync()).toEqual([[1, 2], [3, 4], [5, 6]]);
    const i32 = kiln.tensor(new Int32Array([7, -8, 9]));
    expect(i32.dtype).toBe('int32');
    expect(i32.shape).toEqual([3]);
    expect(values(i32)).toEqual([7, -8, 9]);
    const f32 = kiln.tensor(new Float32Array([0.25, 0.5]));
    expect(f32.dtype).toBe('float32');
    const b = kiln.tensor(new Uint8Array([0, 1, 1, 0]), { dtype: 'bool', shape: [2, 2] });
    expect(b.dtype).toBe('bool');
    expect(b.arraySync()).toEqual([[false, true], [true, false]]);
  });

  it('copies its input: later changes to the source array do not leak in', () => {
    const src = new Float32Array([1, 2, 3]);
    const t = kiln.tensor(src);
    src[0] = 100;
    expect(values(t)).toEqual([1, 2, 3]);
  });

  it('keeps empty dimensions from typed arrays', () => {
    const t = kiln.tensor(new Float32Array(0), { shape: [2, 0, 3] });
    expect(t.shape).toEqual([2, 0, 3]);
    expect(t.numel()).toBe(0);
    expect(values(t)).toEqual([]);
    expect(t.arraySync()).toEqual([[], []]);
    const e = kiln.tensor([]);
    expect(e.shape).toEqual([0]);
    expect(e.numel()).toBe(0);
  });

  it('round-trips a deep nested array through array()', async () => {
    const a = fromFn([2, 3, 1, 4], (i) => i[0] * 100 + i[1] * 10 + i[2] * 5 + i[3] - 7);
    const nested = a.toNested();
    const t = kiln.tensor(nested, { dtype: 'int32' });
    expect(await t.array()).toEqual(nested);
    expect(t.arraySync()).toEqual(nested);
  });

  it('rejects ragged arrays with ShapeError', () => {
    expectError(() => kiln.tensor([[1, 2], [3]]), kiln.ShapeError);
    expectError(() => kiln.tensor([[1, 2], 3] as never), kiln.ShapeError);
    expectError(() => kiln.tensor([[[1], [2]], [[3], [4, 5]]]), kiln.ShapeError);
  });

  it('rejects a typed array whose length does not fit opts.shape', () => {
    expectError(() => kiln.tensor(new Float32Array(5), { shape: [2, 3] }), kiln.ShapeError);
  });
});

describe('zeros / ones / full', () => {
  const shapes: number[][] = [[], [1], [5], [3, 4], [2, 1, 3], [2, 3, 4, 5], [0], [3, 0]];
  for (const dtype of DTYPES) {
    it.each(shapes.map((s) => [JSON.stringify(s), s] as const))(`${dtype} %s`, (_n, shape) => {
      const z = kiln.zeros(shape, { dtype });
      const o = kiln.ones(shape, { dtype });
      const v = dtype === 'bool' ? 1 : dtype === 'int32' ? -3 : 2.5;
      const f = kiln.full(shape, dtype === 'bool' ? true : v, { dtype });
      for (const [t, val] of [[z, 0], [o, 1], [f, v === -3 || v === 2.5 ? v : 1]] as const) {
        expect(t.dtype).toBe(dtype);
        expect(t.shape).toEqual(shape);
        expect(values(t)).toEqual(new Array(numel(shape)).fill(val));
      }
    });
  }

  it('accepts a number for a 1-D shape and defaults to float32', () => {
    const z = kiln.zeros(4);
    expect(z.shape).toEqual([4]);
    expect(z.dtype).toBe('float32');
    expect(kiln.ones(3).shape).toEqual([3]);
  });

  it('full rounds the value to the dtype', () => {
    expect(values(kiln.full([2], 0.1))).toEqual([Math.fround(0.1), Math.fround(0.1)]);
    expect(values(kiln.full([2], 0.1, { dtype: 'float64' }))).toEqual([0.1, 0.1]);
    expect(values(kiln.full([2], NaN))).toEqual([NaN, NaN]);
    expect(values(kiln.full([1], -Infinity))).toEqual([-Infinity]);
  });

  it('zerosLike / onesLike / fullLike copy shape and dtype', () => {
    const x = kiln.tensor([[1, 2, 3]], { dtype: 'float64' });
    for (const [t, v] of [[kiln.zerosLike(x), 0], [kiln.onesLike(x), 1], [kiln.fullLike(x, 7), 7]] as const) {
      expect(t.shape).toEqual([1, 3]);
      expect(t.dtype).toBe('float64');
      expect(values(t)).toEqual([v, v, v]);
    }
    const xi = kiln.tensor([1, 2], { dtype: 'int32' });
    expect(kiln.zerosLike(xi).dtype).toBe('int32');
  });
});

describe('arange', () => {
  // Closed form: ceil((end - start) / step) elements start + i*step.
  const ref = (start: number, end: number, step: number) => {
    const n = Math.max(0, Math.ceil((end - start) / step));
    return Array.from({ length: n }, (_, i) => start + i * step);
  };

  it('arange(end)', () => {
    const t = kiln.arange(5);
    expect(t.dtype).toBe('float32');
    expect(t.shape).toEqual([5]);
    expect(values(t)).toEqual([0, 1, 2, 3, 4]);
  });

  it.each([
    [1, 10, 3],
    [0, 1, 0.1],
    [5, 0, -1.5],
    [-2, 2, 0.5],
    [0, 0, 1],
    [3, 1, 1],
    [0, 1000, 7],
  ])('arange(%d, %d, %d)', (start, end, step) => {
    const t = kiln.arange(start, end, step);
    const r = ref(start, end, step);
    expect(t.shape).toEqual([r.length]);
    expectTensor(t, new Arr([r.length], r.map(Math.fround)), { rtol: 1e-6, atol: 1e-6 });
  });

  it('float64 and int32 dtypes', () => {
    const d = kiln.arange(0, 1, 0.1, { dtype: 'float64' });
    expect(d.dtype).toBe('float64');
    expectTensor(d, new Arr([10], ref(0, 1, 0.1)), { rtol: 1e-12, atol: 1e-15 });
    const i = kiln.arange(-3, 7, 2, { dtype: 'int32' });
    expect(i.dtype).toBe('int32');
    expect(values(i)).toEqual([-3, -1, 1, 3, 5]);
  });

  it('large float32 arange is accurate (no accumulated drift)', () => {
    const n = 100_000;
    const t = kiln.arange(0, n * 0.5, 0.5);
    expect(t.shape).toEqual([n]);
    const v = values(t);
    expect(v[n - 1]).toBe(Math.fround((n - 1) * 0.5));
    expect(v[12345]).toBe(12345 * 0.5);
  });

  it('rejects step 0', () => {
    expect(() => kiln.arange(0, 5, 0)).toThrow(kiln.KilnError);
  });
});

describe('linspace', () => {
  it.each([
    [0, 1, 5],
    [-1, 1, 2],
    [3, 3, 4],
    [10, -10, 21],
    [0, 1, 1],
    [0, 1, 0],
  ])('linspace(%d, %d, %d) includes both ends', (start, end, steps) => {
    const t = kiln.linspace(start, end, steps);
    const r = Array.from({ length: steps }, (_, i) => (steps === 1 ? start : start + ((end - start) * i) / (steps - 1)));
    expect(t.shape).toEqual([steps]);
    expect(t.dtype).toBe('float32');
    expectTensor(t, new Arr([steps], r), { rtol: 1e-6, atol: 1e-6 });
    if (steps > 1) {
      expect(values(t)[0]).toBe(Math.fround(start));
      expect(values(t)[steps - 1]).toBe(Math.fround(end));
    }
  });

  it('float64', () => {
    const t = kiln.linspace(0, 1, 11, { dtype: 'float64' });
    expect(t.dtype).toBe('float64');
    expectTensor(t, new Arr([11], Array.from({ length: 11 }, (_, i) => i / 10)), { rtol: 1e-14, atol: 1e-15 });
  });
});

describe('eye', () => {
  it.each([
    [1, undefined],
    [3, undefined],
    [2, 4],
    [5, 2],
    [0, 3],
  ])('eye(%d, %s)', (n, m) => {
    const t = kiln.eye(n, m);
    const cols = m ?? n;
    expect(t.shape).toEqual([n, cols]);
    expect(t.dtype).toBe('float32');
    expectTensor(t, fromFn([n, cols], ([i, j]) => (i === j ? 1 : 0)));
  });

  it.each(DTYPES)('eye dtype %s', (dtype: DType) => {
    const t = kiln.eye(3, 3, { dtype });
    expect(t.dtype).toBe(dtype);
    expect(values(t)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  });
});

describe('properties', () => {
  it('size(), size(dim) with negative dims, and shape is a copy', () => {
    const t = kiln.zeros([2, 3, 4]);
    expect(t.size()).toEqual([2, 3, 4]);
    expect(t.size(0)).toBe(2);
    expect(t.size(-1)).toBe(4);
    expect(t.size(-3)).toBe(2);
    const s = t.shape as number[];
    try {
      s[0] = 99; // a frozen array throws in strict mode; a copy just changes the copy
    } catch {
      /* frozen */
    }
    expect(t.shape).toEqual([2, 3, 4]);
    expect(t.strides).toEqual([12, 4, 1]);
  });

  it('requiresGrad is stored', () => {
    expect(kiln.tensor([1, 2]).requiresGrad).toBe(false);
    expect(kiln.tensor([1, 2], { requiresGrad: true }).requiresGrad).toBe(true);
  });

  it('nested input equals fromNested reference for odd shapes', () => {
    const nested = [[[1, 2, 3]], [[4, 5, 6]], [[7, 8, 9]]];
    const ref = fromNested(nested);
    expectTensor(kiln.tensor(nested), ref, { dtype: 'float32' });
  });
});
