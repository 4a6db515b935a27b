// Views: shape/stride bookkeeping (checked against hand-computed strides), values (checked
// against the strided reference and the oracle's copying versions of each view), and storage
// sharing (a write through a view is seen by its base).
import { describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import * as O from '../helpers/oracle.js';
import { Arr, fromFn } from '../helpers/oracle.js';
import { expectError, expectTensor, make, values } from '../helpers/tensors.js';

const iota = (shape: number[]) => fromFn(shape, (_i) => 0).map((_, k) => k);
const base = (shape: number[]) => kiln.arange(O.numel(shape)).reshape(shape);

describe('reshape / view', () => {
  it('reshape keeps storage and computes contiguous strides, -1 inferred', () => {
    const t = base([2, 3, 4]);
    const r = t.reshape([4, -1]);
    expect(r.shape).toEqual([4, 6]);
    expect(r.strides).toEqual([6, 1]);
    expect(values(r)).toEqual(iota([24]).data);
    expect(t.reshape(3, 8).shape).toEqual([3, 8]);
    expect(t.reshape([24]).strides).toEqual([1]);
    expect(t.reshape([-1]).shape).toEqual([24]);
    expect(t.reshape([1, 2, 1, 12, 1]).strides.length).toBe(5);
  });

  it('reshape of a 0-d and into a 0-d', () => {
    const s = kiln.tensor([5]).reshape([]);
    expect(s.shape).toEqual([]);
    expect(s.item()).toBe(5);
    expect(kiln.tensor(3).reshape([1, 1]).shape).toEqual([1, 1]);
  });

  it('reshape copies when a view is impossible, with correct values', () => {
    const t = base([3, 4]).t(); // [4,3] non-contiguous
    const r = t.reshape([12]);
    expectTensor(r, new Arr([12], O.transpose(iota([3, 4]), 0, 1).data));
  });

  it('view throws ShapeError when not viewable', () => {
    expectError(() => base([3, 4]).t().view([12]), kiln.ShapeError);
  });

  it('view of a viewable non-contiguous tensor (splitting a dim) works', () => {
    const t = base([4, 6]).t(); // [6,4], strides [1,6]
    const v = t.view([2, 3, 4]);
    expect(v.strides).toEqual([3, 1, 6]);
    expectTensor(v, O.reshape(O.transpose(iota([4, 6]), 0, 1), [2, 3, 4]));
  });

  it('rejects a reshape to a different numel and two -1s', () => {
    expectError(() => base([2, 3]).reshape([4, 2]), kiln.ShapeError, /2.*3|6/);
    expectError(() => base([2, 3]).reshape([-1, -1]), kiln.ShapeError);
  });
});

describe('permute / transpose / t', () => {
  it('permute reorders shape and strides', () => {
    const t = base([2, 3, 4]);
    const p = t.permute(2, 0, 1);
    expect(p.shape).toEqual([4, 2, 3]);
    expect(p.strides).toEqual([1, 12, 4]);
    expect(p.isContiguous()).toBe(false);
    expectTensor(p, O.permute(iota([2, 3, 4]), [2, 0, 1]));
    expect(t.permute(-1, -3, -2).shape).toEqual([4, 2, 3]);
  });

  it('transpose and t()', () => {
    const t = base([2, 3, 4]);
    const tr = t.transpose(0, -1);
    expect(tr.shape).toEqual([4, 3, 2]);
    expect(tr.strides).toEqual([1, 4, 12]);
    expectTensor(tr, O.transpose(iota([2, 3, 4]), 0, 2));
    const m = base([3, 5]).t();
    expect(m.shape).toEqual([5, 3]);
    expect(m.strides).toEqual([1, 5]);
    expectTensor(m, O.transpose(iota([3, 5]), 0, 1));
  });

  it('rejects bad permutations', () => {
    expect(() => base([2, 3]).permute(0, 0)).toThrow(kiln.KilnError);
    expect(() => base([2, 3]).permute(0)).toThrow(kiln.KilnError);
    expect(() => base([2, 3]).permute(0, 2)).toThrow(kiln.KilnError);
  });
});

describe('expand', () => {
  it('stride 0 on expanded dims, new leading dims, -1 keeps', () => {
    const t = base([3, 1]);
    const e = t.expand(2, 3, 4);
    expect(e.shape).toEqual([2, 3, 4]);
    expect(e.strides).toEqual([0, 1, 0]);
    expectTensor(e, O.broadcastTo(iota([3, 1]), [2, 3, 4]));
    expect(t.expand(-1, 5).shape).toEqual([3, 5]);
    expect(t.expand([2, -1, 2]).shape).toEqual([2, 3, 2]);
  });

  it('expandAs', () => {
    const t = base([1, 4]);
    const o = kiln.zeros([3, 4]);
    expectTensor(t.expandAs(o), O.broadcastTo(iota([1, 4]), [3, 4]));
  });

  it('rejects expanding a non-1 dim', () => {
    expectError(() => base([3, 2]).expand(3, 4), kiln.ShapeError);
  });
});

describe('slice / narrow / select', () => {
  const a = iota([5, 7]);
  it.each([
    [1, 2, 6, 1],
    [1, 0, 7, 3],
    [0, -3, undefined, 1],
    [0, -100, 100, 2],
    [1, 5, 2, 1],
    [1, undefined, undefined, 4],
    [-1, 1, -1, 2],
  ] as [number, number | undefined, number | undefined, number][])('slice(%d, %s, %s, %d)', (dim, start, end, step) => {
    const s = base([5, 7]).slice(dim, start, end, step);
    expectTensor(s, O.slice(a, dim, start, end, step));
  });

  it('slice strides and offset addressing', () => {
    const s = base([5, 7]).slice(1, 1, 7, 3); // columns 1, 4
    expect(s.shape).toEqual([5, 2]);
    expect(s.strides).toEqual([7, 3]);
    const s2 = s.slice(0, 1, 5, 2); // rows 1, 3
    expect(s2.strides).toEqual([14, 3]);
    expect(s2.arraySync()).toEqual([[8, 11], [22, 25]]);
  });

  it('narrow', () => {
    const n = base([4, 6]).narrow(1, 2, 3);
    expect(n.shape).toEqual([4, 3]);
    expect(n.strides).toEqual([6, 1]);
    expectTensor(n, O.slice(iota([4, 6]), 1, 2, 5));
    expectTensor(base([4, 6]).narrow(-2, 1, 2), O.slice(iota([4, 6]), 0, 1, 3));
    expectError(() => base([4, 6]).narrow(1, 4, 3), kiln.KilnError);
  });

  it('select drops the dim', () => {
    const s = base([3, 4, 5]).select(1, 2);
    expect(s.shape).toEqual([3, 5]);
    expect(s.strides).toEqual([20, 1]);
    expectTensor(s, O.select(iota([3, 4, 5]), 1, 2));
    expectTensor(base([3, 4, 5]).select(-1, -1), O.select(iota([3, 4, 5]), 2, 4));
    expect(() => base([3, 4]).select(0, 3)).toThrow(kiln.IndexError);
    expect(() => base([3, 4]).select(0, -4)).toThrow(kiln.IndexError);
  });
});

describe('empty views', () => {
  it('views of empty tensors read as empty, whatever their offset', () => {
    // offset 1 into a 0-element storage: nothing is addressed, so nothing may fail
    const views = [
      kiln.zeros([0, 2]).select(1, 1),
      kiln.zeros([0, 3]).narrow(1, 2, 1),
      kiln.zeros([0, 3]).flip(1),
      kiln.zeros([2, 0]).t().select(1, 1),
      kiln.zeros([0, 2]).select(1, 1).unsqueeze(0),
    ];
    for (const v of views) {
      expect(v.numel()).toBe(0);
      expect(values(v)).toEqual([]);
      expect(values(v.add(1))).toEqual([]);
    }
  });
});

describe('squeeze / unsqueeze / flatten', () => {
  it('squeeze all and by dim', () => {
    const t = base([1, 3, 1, 2]);
    expect(t.squeeze().shape).toEqual([3, 2]);
    expect(t.squeeze(0).shape).toEqual([3, 1, 2]);
    expect(t.squeeze(-2).shape).toEqual([1, 3, 2]);
    expect(t.squeeze(1).shape).toEqual([1, 3, 1, 2]); // not size 1: unchanged, like PyTorch
    expect(values(t.squeeze())).toEqual(iota([6]).data);
  });

  it('unsqueeze with negative dims', () => {
    const t = base([3, 2]);
    expect(t.unsqueeze(0).shape).toEqual([1, 3, 2]);
    expect(t.unsqueeze(2).shape).toEqual([3, 2, 1]);
    expect(t.unsqueeze(-1).shape).toEqual([3, 2, 1]);
    expect(t.unsqueeze(-3).shape).toEqual([1, 3, 2]);
    expect(t.unsqueeze(1).strides[0]).toBe(2);
    expect(kiln.tensor(4).unsqueeze(0).shape).toEqual([1]);
    expect(() => t.unsqueeze(4)).toThrow(kiln.KilnError);
  });

  it('flatten', () => {
    const t = base([2, 3, 4, 5]);
    expect(t.flatten().shape).toEqual([120]);
    expect(t.flatten(1).shape).toEqual([2, 60]);
    expect(t.flatten(1, 2).shape).toEqual([2, 12, 5]);
    expect(t.flatten(-2, -1).shape).toEqual([2, 3, 20]);
    expect(kiln.tensor(3).flatten().shape).toEqual([1]);
    const p = t.permute(3, 2, 1, 0).flatten();
    expectTensor(p, new Arr([120], O.permute(iota([2, 3, 4, 5]), [3, 2, 1, 0]).data));
  });
});

describe('flip', () => {
  it('negative strides and correct values', () => {
    const f = base([3, 4]).flip(1);
    expect(f.shape).toEqual([3, 4]);
    expect(f.strides).toEqual([4, -1]);
    expectTensor(f, O.flip(iota([3, 4]), [1]));
    const g = base([2, 3, 4]).flip(0, -1);
    expect(g.strides).toEqual([-12, 4, -1]);
    expectTensor(g, O.flip(iota([2, 3, 4]), [0, 2]));
  });

  it('flip of a flip is the original; flip of a slice', () => {
    expectTensor(base([3, 4]).flip(0).flip(0), iota([3, 4]));
    const s = base([6, 5]).slice(0, 1, 6, 2).flip(0, 1);
    expectTensor(s, O.flip(O.slice(iota([6, 5]), 0, 1, 6, 2), [0, 1]));
  });
});

describe('contiguous / clone / detach and storage sharing', () => {
  it('contiguous() produces row-major strides and the same values', () => {
    const p = base([2, 3, 4]).permute(1, 2, 0).flip(1);
    const c = p.contiguous();
    expect(c.isContiguous()).toBe(true);
    expect(c.strides).toEqual([8, 2, 1]);
    expectTensor(c, O.flip(O.permute(iota([2, 3, 4]), [1, 2, 0]), [1]));
  });

  it('views share storage: fill_ through a view is visible in the base', () => {
    const t = kiln.zeros([3, 4]);
    t.slice(1, 1, 4, 2).fill_(5); // columns 1 and 3
    expect(t.arraySync()).toEqual([
      [0, 5, 0, 5],
      [0, 5, 0, 5],
      [0, 5, 0, 5],
    ]);
    t.select(0, 2).flip(0).copy_(kiln.tensor([1, 2, 3, 4]));
    expect(t.arraySync()[2]).toEqual([4, 3, 2, 1]);
    t.t().select(0, 0).zero_();
    expect(values(t.select(1, 0))).toEqual([0, 0, 0]);
  });

  it('clone and contiguous of a contiguous tensor: clone never aliases', () => {
    const t = kiln.ones([2, 2]);
    const c = t.clone();
    c.fill_(3);
    expect(values(t)).toEqual([1, 1, 1, 1]);
    expect(values(c)).toEqual([3, 3, 3, 3]);
  });

  it('detach shares data and drops requiresGrad', () => {
    const t = kiln.ones([2], { requiresGrad: true });
    const d = t.detach();
    expect(d.requiresGrad).toBe(false);
    expect(values(d)).toEqual([1, 1]);
  });

  it('views of views over every layout kind read the right elements', () => {
    const a = O.fromFn([3, 4, 5], (i) => i[0] * 100 + i[1] * 10 + i[2]);
    for (const kind of ['contiguous', 'permuted', 'strided', 'flipped', 'offset'] as const) {
      const t = make(a, 'float64', kind);
      expectTensor(t, a, {}, kind);
      const v = t.permute(2, 0, 1).slice(0, 1, 5, 2).flip(2).unsqueeze(1).expand(-1, 2, -1, -1);
      const ref = O.broadcastTo(
        new Arr([2, 1, 3, 4], O.flip(O.slice(O.permute(a, [2, 0, 1]), 0, 1, 5, 2), [2]).data),
        [2, 2, 3, 4],
      );
      expectTensor(v, ref, {}, `${kind} chained`);
      expectTensor(v.reshape([4, 12]), O.reshape(ref, [4, 12]), {}, `${kind} reshape`);
    }
  });

  it('stride bookkeeping agrees with the strided reference over the storage', () => {
    // Build views from a known storage and recompute each view element from (strides, offset).
    const storage = iota([60]).data;
    const t = kiln.tensor(storage, { dtype: 'float64' }).reshape([3, 4, 5]);
    const views = [
      t.permute(1, 0, 2),
      t.slice(2, 1, 5, 3),
      t.flip(1),
      t.select(0, 1).t(),
      t.narrow(1, 1, 2).flip(0, 2),
    ];
    for (const v of views) {
      // offset: the storage index of element [0,...,0], which is its value here (values = positions)
      const offset = v.numel() ? values(v)[0] : 0;
      expectTensor(v, O.stridedView(storage, v.shape, v.strides, offset));
    }
  });
});
