// CUDA against CPU: matmul through cuBLAS (transposed operands as flags, copies only for strides
// cuBLAS cannot take, batched and broadcast batches, float64), the int32 kernel, and TF32.
// Float32 bound: 2e-5 sqrt(K) absolute (summation order differs); TF32: 3e-2 at K = 512.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import { LAYOUTS, OTHER, SHAPE, available, dev, expectParity, fake, title, twins, type Layout } from './helpers.js';

type T = kiln.Tensor;
type DType = kiln.DType;
const K = kiln as unknown as Record<string, (...args: unknown[]) => T>;

describe.skipIf(!available)(title('CUDA parity: matmul'), () => {
  describe('matmul (cuBLAS; int32 own kernel)', () => {
    const tol = (k: number) => ({ rtol: 1e-5, atol: 2e-5 * Math.sqrt(k) });
    it('shapes, transposed operands passed as flags, and non-GEMM-able strides', () => {
      const shapes: [number, number, number][] = [[1, 1, 1], [3, 4, 5], [64, 128, 32], [257, 129, 65], [1, 300, 1], [300, 1, 7]];
      for (const [m, k, n] of shapes) {
        const [a, ga] = twins([m, k], 'float32', 'contiguous', { lo: -1, hi: 1, seed: 19 });
        const [b, gb] = twins([k, n], 'float32', 'contiguous', { lo: -1, hi: 1, seed: 20 });
        expectParity(a.matmul(b), ga.matmul(gb), `NN ${m}x${k}x${n}`, tol(k));
        const [at, gat] = twins([k, m], 'float32', 'contiguous', { lo: -1, hi: 1, seed: 21 });
        const [bt, gbt] = twins([n, k], 'float32', 'contiguous', { lo: -1, hi: 1, seed: 22 });
        expectParity(at.t().matmul(b), gat.t().matmul(gb), `TN ${m}x${k}x${n}`, tol(k));
        expectParity(a.matmul(bt.t()), ga.matmul(gbt.t()), `NT ${m}x${k}x${n}`, tol(k));
        expectParity(at.t().matmul(bt.t()), gat.t().matmul(gbt.t()), `TT ${m}x${k}x${n}`, tol(k));
        for (const layout of ['strided', 'flipped', 'offset'] as Layout[]) {
          const [s, gs] = twins([m, k], 'float32', layout, { lo: -1, hi: 1, seed: 23 });
          expectParity(s.matmul(b), gs.matmul(gb), `${layout} ${m}x${k}x${n}`, tol(k));
        }
      }
    });
    it('batched, broadcast batch (stride 0), float64 and int32', () => {
      const [a, ga] = twins([4, 3, 5, 6], 'float32', 'contiguous', { seed: 24 });
      const [b, gb] = twins([4, 3, 6, 2], 'float32', 'permuted', { seed: 25 });
      expectParity(a.matmul(b), ga.matmul(gb), 'batched', tol(6));
      const [w, gw] = twins([6, 9], 'float32', 'contiguous', { seed: 26 });
      expectParity(a.matmul(w), ga.matmul(gw), 'broadcast right operand', tol(6));
      const [v, gv] = twins([4, 1, 5, 6], 'float32', 'contiguous', { seed: 27 });
      expectParity(v.matmul(b), gv.matmul(gb), 'partly broadcast batch', tol(6));
      const [d, gd] = twins([2, 33, 17], 'float64', 'strided', { seed: 28 });
      const [e, ge] = twins([2, 17, 9], 'float64', 'contiguous', { seed: 29 });
      expectParity(d.matmul(e), gd.matmul(ge), 'float64', { rtol: 1e-12, atol: 1e-12 });
      const [i, gi] = twins([3, 20, 30], 'int32', 'permuted', { lo: -1000, hi: 1000, seed: 30 });
      const [j, gj] = twins([30, 11], 'int32', 'strided', { lo: -1000, hi: 1000, seed: 31 });
      expectParity(i.matmul(j), gi.matmul(gj), 'int32 exact');
    });
    it('TF32 is off by default and within its bound when allowed', () => {
      const [a, ga] = twins([512, 512], 'float32', 'contiguous', { lo: -1, hi: 1, seed: 32 });
      const [b, gb] = twins([512, 512], 'float32', 'contiguous', { lo: -1, hi: 1, seed: 33 });
      expect(kiln.backends.cuda.allowTF32).toBe(false);
      const ref = a.matmul(b);
      expectParity(ref, ga.matmul(gb), 'fp32', tol(512));
      kiln.backends.cuda.allowTF32 = true;
      try {
        // TF32 rounds inputs to 10 mantissa bits: |error| ~ sqrt(K) 2^-11 E|ab|, about 3e-3 here.
        expectParity(ref, ga.matmul(gb), 'tf32', { rtol: 0, atol: 3e-2 });
      } finally {
        kiln.backends.cuda.allowTF32 = false;
      }
      expectParity(ref, ga.matmul(gb), 'fp32 again', tol(512));
    });
  });
});
