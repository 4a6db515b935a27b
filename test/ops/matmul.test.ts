// matmul / mm / bmm against a naive triple loop in float64. Float results are held to the
// classic dot-product error bound |C - C_ref| <= c * K * u * (|A||B|) (u = unit roundoff), so the
// tolerance scales with K instead of being one loose constant.
import { afterAll, describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import * as O from '../helpers/oracle.js';
import { Arr, type DType, rng } from '../helpers/oracle.js';
import { type LayoutKind, expectError, expectTensor, make, values } from '../helpers/tensors.js';

type T = kiln.Tensor;
const SIZES = [1, 7, 17, 64, 257];
const UNIT: Record<string, number> = { float32: 2 ** -24, float64: 2 ** -53 };

/** Checks kiln's a@b against the oracle for oracle operands a, b. */
function check(out: T, a: Arr, b: Arr, dtype: DType, label: string): void {
  const ref = O.matmul(a, b);
  if (dtype === 'int32') {
    expectTensor(out, ref, { dtype, rtol: 0, atol: 0 }, label);
    return;
  }
  const K = a.shape[a.ndim - 1];
  const scale = O.absMatmul(a, b).data;
  const atolPer = scale.map((s) => 4 * Math.max(K, 1) * UNIT[dtype] * s);
  expectTensor(out, ref, { dtype, rtol: 0, atol: 1e-30, atolPer }, label);
}

const data = (shape: number[], dtype: DType, r: () => number) => O.randomArr(shape, dtype, r, dtype === 'int32' ? -10 : -1, dtype === 'int32' ? 10 : 1);

describe('matmul 2-D: every (M, K, N) from {1, 7, 17, 64, 257}', () => {
  for (const dtype of ['float32', 'float64'] as DType[]) {
    for (const M of SIZES)
      for (const K of SIZES)
        for (const N of SIZES) {
          it(`${dtype} ${M}x${K} @ ${K}x${N}`, () => {
            const r = rng(M * 1_000_003 + K * 1009 + N);
            const a = data([M, K], dtype, r), b = data([K, N], dtype, r);
            const out = make(a, dtype).matmul(make(b, dtype));
            expect(out.shape).toEqual([M, N]);
            check(out, a, b, dtype, `${M}x${K}x${N}`);
          });
        }
  }

  it.each([
    [7, 17, 64],
    [64, 257, 7],
    [257, 64, 17],
    [17, 1, 257],
  ])('int32 %dx%d @ %dx? exact', (M, K, N) => {
    const r = rng(M + K + N);
    const a = data([M, K], 'int32', r), b = data([K, N], 'int32', r);
    check(make(a, 'int32').matmul(make(b, 'int32')), a, b, 'int32', 'int32');
  });

  it('a larger float32 product exercises blocking (300x1000 @ 1000x129)', () => {
    const r = rng(5);
    const a = data([300, 1000], 'float32', r), b = data([1000, 129], 'float32', r);
    check(make(a, 'float32').matmul(make(b, 'float32')), a, b, 'float32', 'large');
  });
});

describe('transposed and strided operands', () => {
  const shapes = [
    [7, 17, 64],
    [257, 64, 17],
    [1, 257, 7],
    [64, 64, 64],
    [17, 1, 257],
    [33, 65, 31],
  ];
  for (const dtype of ['float32', 'float64', 'int32'] as DType[]) {
    it(`${dtype}: a.t(), b.t(), both`, () => {
      const r = rng(17);
      for (const [M, K, N] of shapes) {
        const a = data([M, K], dtype, r), b = data([K, N], dtype, r);
        const at = make(O.transpose(a, 0, 1), dtype).t(); // [M,K] with strides [1,M]
        const bt = make(O.transpose(b, 0, 1), dtype).t();
        expect(at.isContiguous()).toBe(M === 1 || K === 1);
        check(at.matmul(make(b, dtype)), a, b, dtype, `TN ${M},${K},${N}`);
        check(make(a, dtype).matmul(bt), a, b, dtype, `NT ${M},${K},${N}`);
        check(at.matmul(bt), a, b, dtype, `TT ${M},${K},${N}`);
        check(kiln.mm(at, bt), a, b, dtype, `mm TT ${M},${K},${N}`);
      }
    });

    it(`${dtype}: step-sliced, flipped and offset operands`, () => {
      const r = rng(18);
      const kinds: LayoutKind[] = ['strided', 'flipped', 'offset', 'permuted'];
      for (const [M, K, N] of shapes) {
        const a = data([M, K], dtype, r), b = data([K, N], dtype, r);
        for (const ka of kinds)
          for (const kb of kinds) check(make(a, dtype, ka).matmul(make(b, dtype, kb)), a, b, dtype, `${ka}@${kb} ${M},${K},${N}`);
      }
    });
  }
});

describe('batched matmul', () => {
  for (const dtype of ['float32', 'float64', 'int32'] as DType[]) {
    it(`${dtype}: equal batch dims, broadcast batch dims, permuted and expanded batches`, () => {
      const r = rng(23);
      const cases: [number[], number[]][] = [
        [[3, 7, 17], [3, 17, 5]],
        [[2, 1, 7, 17], [3, 17, 5]],
        [[4, 5, 6], [6, 2]],
        [[5, 6], [4, 6, 3]],
        [[1, 3, 4], [2, 1, 4, 9]],
        [[2, 3, 1, 64], [3, 64, 1]],
        [[0, 3, 4], [4, 2]],
      ];
      for (const [sa, sb] of cases) {
        const a = data(sa, dtype, r), b = data(sb, dtype, r);
        for (const kind of ['contiguous', 'permuted', 'flipped', 'strided'] as LayoutKind[]) {
          const out = make(a, dtype, kind).matmul(make(b, dtype, kind));
          check(out, a, b, dtype, `[${sa}]@[${sb}] ${kind}`);
        }
      }
      // batch dim permuted in from the middle: a stored as [M, B, K]
      const base = data([7, 4, 9], dtype, r), b = data([4, 9, 5], dtype, r);
      const a = O.permute(base, [1, 0, 2]);
      check(make(base, dtype).permute(1, 0, 2).matmul(make(b, dtype)), a, b, dtype, 'permuted batch');
      // expanded (stride-0) batch
      const a1 = data([1, 6, 8], dtype, r), b3 = data([3, 8, 2], dtype, r);
      const ae = make(a1, dtype).expand(3, 6, 8);
      check(ae.matmul(make(b3, dtype)), O.broadcastTo(a1, [3, 6, 8]), b3, dtype, 'expanded batch');
      check(kiln.bmm(ae, make(b3, dtype)), O.broadcastTo(a1, [3, 6, 8]), b3, dtype, 'bmm expanded');
    });
  }

  it('bmm requires 3-D operands with equal batch', () => {
    expect(() => kiln.bmm(kiln.zeros([2, 3, 4]), kiln.zeros([3, 4, 5]))).toThrow(kiln.ShapeError);
    expect(() => kiln.bmm(kiln.zeros([3, 4]), kiln.zeros([4, 5]))).toThrow(kiln.ShapeError);
    expect(() => kiln.mm(kiln.zeros([2, 3, 4]), kiln.zeros([4, 5]))).toThrow(kiln.ShapeError);
  });
});

describe('1-D operands like torch.matmul', () => {
  for (const dtype of ['float32', 'float64', 'int32'] as DType[]) {
    it(`${dtype}`, () => {
      const r = rng(31);
      const cases: [number[], number[], number[]][] = [
        [[17], [17], []],
        [[1], [1], []],
        [[7], [7, 5], [5]],
        [[6, 7], [7], [6]],
        [[3, 6, 7], [7], [3, 6]],
        [[7], [2, 7, 4], [2, 4]],
        [[257], [257, 3], [3]],
      ];
      for (const [sa, sb, so] of cases) {
        const a = data(sa, dtype, r), b = data(sb, dtype, r);
        for (const kind of ['contiguous', 'flipped', 'strided'] as LayoutKind[]) {
          const out = make(a, dtype, kind).matmul(make(b, dtype, kind));
          expect(out.shape, `[${sa}]@[${sb}]`).toEqual(so);
          check(out, a, b, dtype, `[${sa}]@[${sb}] ${kind}`);
        }
      }
    });
  }
});

describe('edge cases and errors', () => {
  it('K = 0 gives zeros; M = 0 / N = 0 give empty results', () => {
    const z = kiln.zeros([3, 0]).matmul(kiln.zeros([0, 4]));
    expect(z.shape).toEqual([3, 4]);
    expect(values(z)).toEqual(new Array(12).fill(0));
    expect(kiln.ones([0, 3]).matmul(kiln.ones([3, 4])).shape).toEqual([0, 4]);
    expect(kiln.ones([2, 3]).matmul(kiln.ones([3, 0])).shape).toEqual([2, 0]);
  });

  it('NaN and Inf propagate through the product', () => {
    const a = kiln.tensor([[1, NaN], [1, 1]]);
    const b = kiln.tensor([[1, 0], [1, 1]]);
    const v = values(a.matmul(b));
    expect(Number.isNaN(v[0]) && Number.isNaN(v[1])).toBe(true);
    expect(v.slice(2)).toEqual([2, 1]);
    const inf = values(kiln.tensor([[Infinity, 1]]).matmul(kiln.tensor([[1], [1]])));
    expect(inf).toEqual([Infinity]);
  });

  it('mismatched inner dims: ShapeError naming both shapes', () => {
    const e = expectError(() => kiln.zeros([3, 4]).matmul(kiln.zeros([5, 6])), kiln.ShapeError, /matmul/);
    expect(e.message).toMatch(/\[3,\s*4\]/);
    expect(e.message).toMatch(/\[5,\s*6\]/);
    expectError(() => kiln.zeros([2, 3, 4]).matmul(kiln.zeros([2, 5, 6])), kiln.ShapeError);
    expectError(() => kiln.zeros([2, 3, 4]).matmul(kiln.zeros([3, 4, 6])), kiln.ShapeError); // batch 2 vs 3
    expectError(() => kiln.zeros([4]).matmul(kiln.zeros([5])), kiln.ShapeError);
  });

  it('0-d operands are rejected', () => {
    expect(() => kiln.tensor(2).matmul(kiln.tensor(3))).toThrow(kiln.KilnError);
  });
});

describe('thread count does not change results', () => {
  const initial = kiln.getNumThreads();
  afterAll(() => kiln.setNumThreads(initial));

  it('single-threaded matmul matches the oracle too', () => {
    const r = rng(77);
    const a = data([129, 200], 'float32', r), b = data([200, 65], 'float32', r);
    kiln.setNumThreads(1);
    expect(kiln.getNumThreads()).toBe(1);
    check(make(a, 'float32').matmul(make(b, 'float32')), a, b, 'float32', '1 thread');
    kiln.setNumThreads(Math.max(2, initial));
    check(make(a, 'float32', 'permuted').matmul(make(b, 'float32')), a, b, 'float32', 'n threads');
  });
});

describe('a batch of inputs times one matrix', () => {
  it('runs as one [B*M, K] product, forward and backward, with the oracle gradients', () => {
    const r = rng(5);
    const B = 3, M = 4, K = 5, N = 6;
    const xv = Array.from({ length: B * M * K }, () => r() * 2 - 1);
    const wv = Array.from({ length: K * N }, () => r() * 2 - 1);
    const gv = Array.from({ length: B * M * N }, () => r() * 2 - 1);
    const x = kiln.tensor(xv, { shape: [B, M, K], dtype: 'float64', requiresGrad: true });
    const w = kiln.tensor(wv, { shape: [K, N], dtype: 'float64', requiresGrad: true });
    const report = kiln.profile(() => x.matmul(w).mul(kiln.tensor(gv, { shape: [B, M, N], dtype: 'float64' })).sum().backward(), { byShape: true });
    // no batched product and no [B, K, N] temporary reduced afterwards
    const keys = report.ops.map((o) => o.op);
    expect(keys.filter((k) => k.startsWith('matmul')).every((k) => !/\[\d+,\d+,\d+\]/.test(k)), keys.join('; ')).toBe(true);
    expect(keys.some((k) => k.startsWith(`sum [${B},${K},${N}]`))).toBe(false);
    // dW[k][n] = sum_{b,m} x[b][m][k] g[b][m][n]; dx[b][m][k] = sum_n g[b][m][n] w[k][n]
    const dw = Array.from({ length: K * N }, (_, i) => {
      const k = Math.floor(i / N), n = i % N;
      let s = 0;
      for (let bm = 0; bm < B * M; bm++) s += xv[bm * K + k] * gv[bm * N + n];
      return s;
    });
    const dx = Array.from({ length: B * M * K }, (_, i) => {
      const bm = Math.floor(i / K), k = i % K;
      let s = 0;
      for (let n = 0; n < N; n++) s += gv[bm * N + n] * wv[k * N + n];
      return s;
    });
    const got = (t: kiln.Tensor) => Array.from(t.dataSync() as Float64Array);
    got(w.grad!).forEach((v, i) => expect(v).toBeCloseTo(dw[i], 12));
    got(x.grad!).forEach((v, i) => expect(v).toBeCloseTo(dx[i], 12));
    expect(x.matmul(w).shape).toEqual([B, M, N]);
    expect(x.matmul(kiln.ones([K], { dtype: 'float64' })).shape).toEqual([B, M]);
    expect(x.matmul(kiln.ones([1, K, N], { dtype: 'float64' })).shape).toEqual([B, M, N]);
  });
});
