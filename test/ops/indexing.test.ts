// gather / scatterAdd / indexSelect / pad / cat / stack against index loops in the oracle,
// every dim, dtype and layout, plus the out-of-range index errors.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import * as O from '../helpers/oracle.js';
import { Arr, type DType, rng } from '../helpers/oracle.js';
import { DTYPES, LAYOUTS, expectError, expectTensor, make, values } from '../helpers/tensors.js';

const randIndex = (shape: number[], limit: number, r: () => number) =>
  new Arr(shape, Array.from({ length: O.numel(shape) }, () => Math.floor(r() * limit)));

describe('gather', () => {
  for (const dtype of DTYPES) {
    it(`${dtype}: every dim, smaller index shapes, layouts`, () => {
      const r = rng(1 + dtype.length);
      const src = O.randomArr([4, 5, 6], dtype, r);
      for (let dim = -3; dim < 3; dim++) {
        const d = (dim + 3) % 3;
        const ishape = [3, 4, 5];
        ishape[d] = 7; // may exceed src along dim (indices still < src.size(dim))
        const index = randIndex(ishape, src.shape[d], r);
        const expected = O.gather(src, d, index);
        for (const layout of LAYOUTS) {
          const out = make(src, dtype, layout).gather(dim, make(index, 'int32', LAYOUTS[(LAYOUTS.indexOf(layout) + 1) % 5]));
          expectTensor(out, expected, { dtype }, `gather dim ${dim} ${layout}`);
        }
      }
    });
  }

  it('gather along the last dim of a 2-D tensor (the classic label pick)', () => {
    const logits = kiln.tensor([[0.1, 0.2, 0.7], [0.5, 0.4, 0.1]]);
    const idx = kiln.tensor([[2], [0]], { dtype: 'int32' });
    expect(values(logits.gather(1, idx))).toEqual([Math.fround(0.7), Math.fround(0.5)]);
  });

  it('out-of-range and negative indices throw IndexError naming the value', () => {
    const src = kiln.zeros([3, 4]);
    expectError(() => src.gather(1, kiln.tensor([[4]], { dtype: 'int32' })), kiln.IndexError, /4/);
    expectError(() => src.gather(0, kiln.tensor([[0, 3]], { dtype: 'int32' })), kiln.IndexError, /3/);
    expectError(() => src.gather(1, kiln.tensor([[-1]], { dtype: 'int32' })), kiln.IndexError);
    expectError(() => src.gather(0, kiln.tensor([[2 ** 31 - 1]], { dtype: 'int32' })), kiln.IndexError);
    // the source is intact and usable afterwards
    expect(values(src.add(1))).toEqual(new Array(12).fill(1));
  });

  it('rejects float indices and rank mismatches', () => {
    const src = kiln.zeros([3, 4]);
    expectError(() => src.gather(1, kiln.tensor([[1]])), kiln.DTypeError);
    expect(() => src.gather(1, kiln.tensor([1], { dtype: 'int32' }))).toThrow(kiln.KilnError);
    expect(() => src.gather(2, kiln.tensor([[1]], { dtype: 'int32' }))).toThrow(kiln.KilnError);
  });
});

describe('scatterAdd (out of place)', () => {
  for (const dtype of ['float32', 'float64', 'int32'] as DType[]) {
    it(`${dtype}: duplicates accumulate, every dim, layouts`, () => {
      const r = rng(2 + dtype.length);
      const base = O.randomArr([4, 5, 3], dtype, r);
      for (let dim = -3; dim < 3; dim++) {
        const d = (dim + 3) % 3;
        const ishape = [3, 4, 2];
        ishape[d] = 6; // more indices than slots: duplicates guaranteed
        const index = randIndex(ishape, base.shape[d], r);
        const src = O.randomArr(ishape, dtype, r);
        const expected = O.scatterAdd(base, d, index, src);
        for (const layout of LAYOUTS) {
          const t = make(base, dtype, layout);
          const out = t.scatterAdd(dim, make(index, 'int32', layout), make(src, dtype, 'flipped'));
          expectTensor(out, expected, { dtype, ...(dtype === 'float32' ? { rtol: 1e-6, atol: 1e-6 } : {}) }, `scatterAdd dim ${dim} ${layout}`);
          expectTensor(t, base, {}, 'input is not modified');
        }
      }
    });
  }

  it('out-of-range index throws IndexError and leaves the input untouched', () => {
    const t = kiln.zeros([2, 3]);
    expectError(() => t.scatterAdd(1, kiln.tensor([[3]], { dtype: 'int32' }), kiln.tensor([[1]])), kiln.IndexError, /3/);
    expectError(() => t.scatterAdd(0, kiln.tensor([[-2]], { dtype: 'int32' }), kiln.tensor([[1]])), kiln.IndexError);
    expect(values(t)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describe('indexSelect', () => {
  for (const dtype of DTYPES) {
    it(`${dtype}: every dim, duplicates, empty index, layouts`, () => {
      const r = rng(3 + dtype.length);
      const src = O.randomArr([3, 4, 5], dtype, r);
      for (let dim = -3; dim < 3; dim++) {
        const d = (dim + 3) % 3;
        for (const picks of [[0], [2, 0, 2, 1], [], Array.from({ length: 9 }, () => Math.floor(r() * src.shape[d]))]) {
          const expected = O.take(src, d, picks);
          for (const layout of LAYOUTS) {
            const idx = make(new Arr([picks.length], picks), 'int32', layout);
            expectTensor(make(src, dtype, layout).indexSelect(dim, idx), expected, { dtype }, `indexSelect dim ${dim} [${picks}] ${layout}`);
          }
        }
      }
    });
  }

  it('out-of-range index throws IndexError', () => {
    const t = kiln.zeros([3, 4]);
    expectError(() => t.indexSelect(0, kiln.tensor([0, 3], { dtype: 'int32' })), kiln.IndexError, /3/);
    expectError(() => t.indexSelect(1, kiln.tensor([-1], { dtype: 'int32' })), kiln.IndexError);
    expectError(() => t.indexSelect(1, kiln.tensor([[0]], { dtype: 'int32' })), kiln.ShapeError);
  });
});

describe('pad (torch.nn.functional.pad ordering)', () => {
  for (const dtype of DTYPES) {
    it(`${dtype}: ranks 1-3, values, layouts`, () => {
      const r = rng(4 + dtype.length);
      const cases: [number[], number[]][] = [
        [[5], [1, 2]],
        [[3, 4], [0, 1]],
        [[3, 4], [2, 0, 1, 3]],
        [[2, 3, 4], [1, 1, 0, 2, 3, 0]],
        [[2, 3, 4], [0, 0, 0, 0, 0, 0]],
        [[2, 0, 3], [1, 1, 1, 1]],
      ];
      for (const [shape, pads] of cases) {
        const a = O.randomArr(shape, dtype, r);
        const value = dtype === 'bool' ? 1 : dtype === 'int32' ? -7 : 2.5;
        for (const layout of LAYOUTS) {
          expectTensor(make(a, dtype, layout).pad(pads), O.pad(a, pads, 0), { dtype }, `pad [${shape}] ${pads} ${layout}`);
          expectTensor(make(a, dtype, layout).pad(pads, value), O.pad(a, pads, value), { dtype }, `pad value [${shape}] ${pads} ${layout}`);
        }
      }
    });
  }

  it('rejects an odd-length or too-long pad list', () => {
    expect(() => kiln.zeros([2, 2]).pad([1])).toThrow(kiln.KilnError);
    expect(() => kiln.zeros([2]).pad([1, 1, 1, 1])).toThrow(kiln.KilnError);
  });
});

describe('cat / stack', () => {
  for (const dtype of DTYPES) {
    it(`cat ${dtype}: every dim incl. negative, uneven sizes, layouts`, () => {
      const r = rng(5 + dtype.length);
      for (let dim = -3; dim < 3; dim++) {
        const d = (dim + 3) % 3;
        const parts = [1, 3, 2, 0].map((n) => {
          const s = [2, 3, 4];
          s[d] = n;
          return O.randomArr(s, dtype, r);
        });
        const expected = O.cat(parts, d);
        const ts = parts.map((p, i) => make(p, dtype, LAYOUTS[i % LAYOUTS.length]));
        expectTensor(kiln.cat(ts, dim), expected, { dtype }, `cat dim ${dim}`);
      }
      const single = O.randomArr([3, 2], dtype, r);
      expectTensor(kiln.cat([make(single, dtype, 'flipped')]), single, { dtype });
    });

    it(`stack ${dtype}: every dim incl. negative, layouts`, () => {
      const r = rng(6 + dtype.length);
      for (let dim = -3; dim < 3; dim++) {
        const parts = [0, 1, 2].map(() => O.randomArr([3, 4], dtype, r));
        const expected = O.stack(parts, dim);
        const ts = parts.map((p, i) => make(p, dtype, LAYOUTS[(i + 2) % LAYOUTS.length]));
        expectTensor(kiln.stack(ts, dim), expected, { dtype }, `stack dim ${dim}`);
      }
    });
  }

  it('default dim is 0', () => {
    const a = kiln.tensor([[1, 2]]), b = kiln.tensor([[3, 4]]);
    expect(kiln.cat([a, b]).arraySync()).toEqual([[1, 2], [3, 4]]);
    expect(kiln.stack([a, b]).shape).toEqual([2, 1, 2]);
  });

  it('mismatched shapes throw ShapeError; empty lists throw', () => {
    expectError(() => kiln.cat([kiln.zeros([2, 3]), kiln.zeros([2, 4])], 0), kiln.ShapeError, /cat/);
    expectError(() => kiln.cat([kiln.zeros([2, 3]), kiln.zeros([2, 3, 1])], 0), kiln.ShapeError);
    expectError(() => kiln.stack([kiln.zeros([2, 3]), kiln.zeros([3, 2])]), kiln.ShapeError, /stack/);
    expect(() => kiln.cat([])).toThrow(kiln.KilnError);
    expect(() => kiln.stack([])).toThrow(kiln.KilnError);
  });
});
