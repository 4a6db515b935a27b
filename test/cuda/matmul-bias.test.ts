// CUDA against CPU for matmulBias, which CUDA runs as one cuBLASLt call with the bias added in its
// epilogue (native/cuda/blas_lt.cpp), and as matmul plus an add where cuBLASLt does not apply:
// the op directly (weights transposed, strided, flipped or offset; odd sizes, one row, one column;
// biases strided, reversed, offset so their pointer is misaligned, or expanded from one value; a
// second bias at the same shape, which reuses the cached plan with a new bias pointer), float64,
// int32 (the two-step path), TF32, and nn.functional.linear on 2-D and 3-D inputs with gradients.
//
// Bounds: float32 |cuda - cpu| <= 1e-5 |cpu| + 2e-5 sqrt(K) (the matmul suite's: the summation
// order differs); float64 1e-12 relative + 1e-12 sqrt(K); TF32 (inputs rounded to 10 mantissa
// bits) 1.5e-3 sqrt(K) absolute, about 3e-2 at K = 384.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import { runKernel1 } from '../../lib/ops/kernel.js';
import { available, expectParity, title, twins, type Layout, type ParityOpts } from './helpers.js';

type T = kiln.Tensor;
type DType = kiln.DType;
const F = kiln.nn.functional;

const bound = (dtype: DType, k: number): ParityOpts =>
  dtype === 'float64'
    ? { rtol: 1e-12, atol: 1e-12 * Math.sqrt(Math.max(k, 1)) }
    : { rtol: 1e-5, atol: 2e-5 * Math.sqrt(Math.max(k, 1)) };

/** matmulBias(x, wT, b) on the device of x: out [M, N] = x [M, K] @ wT [K, N] + b [N]. */
const op = (x: T, wT: T, b: T): T =>
  runKernel1('matmulBias', { shape: [x.shape[0], wT.shape[1]], dtype: x.dtype, device: x.device }, [x, wT, b]);

/** Bias twins of length n laid out as `kind` says. */
function biasTwins(n: number, dtype: DType, kind: Layout | 'expanded', seed: number): [T, T] {
  if (kind === 'expanded') {
    const [c, g] = twins([1], dtype, 'contiguous', { seed });
    return [c.expand(n), g.expand(n)];
  }
  return twins([n], dtype, kind, { seed });
}

/** f and its gradients (of sum(f(...) * r) for a random r) on both devices. */
function checkGrad(label: string, f: (...a: T[]) => T, inputs: [T, T][], opts: ParityOpts): void {
  const yc = f(...inputs.map((p) => p[0]));
  const yg = f(...inputs.map((p) => p[1]));
  expectParity(yc, yg, label, opts);
  const [rc, rg] = twins(yc.shape, yc.dtype, 'contiguous', { seed: 77 });
  const argnums = inputs.map((_, i) => i);
  const gc = kiln.grad((...a: T[]) => f(...a).mul(rc).sum(), argnums)(...inputs.map((p) => p[0])) as T[];
  const gg = kiln.grad((...a: T[]) => f(...a).mul(rg).sum(), argnums)(...inputs.map((p) => p[1])) as T[];
  gc.forEach((g, i) => expectParity(g, gg[i], `${label}: gradient ${i}`, opts));
}

describe.skipIf(!available)(title('CUDA parity: matmulBias (cuBLASLt bias epilogue)'), () => {
  const shapes: [number, number, number][] = [
    [17, 9, 5], [1, 300, 7], [1, 1, 1], [300, 64, 1], [33, 1, 20], [64, 128, 96], [257, 129, 65],
  ];

  for (const dtype of ['float32', 'float64'] as DType[]) {
    it(`${dtype}: weights as stored (transposed view, row-major, strided, flipped, offset), odd sizes`, () => {
      for (const [m, k, n] of shapes) {
        const tol = bound(dtype, k);
        const [bc, bg] = biasTwins(n, dtype, 'contiguous', 8);
        for (const xLayout of ['contiguous', 'permuted', 'strided', 'offset'] as Layout[]) {
          const [xc, xg] = twins([m, k], dtype, xLayout, { lo: -1, hi: 1, seed: 6 });
          // w [N, K] as a linear layer holds it: w.t() is a column-major [K, N] (op T, no copy)
          for (const wLayout of ['contiguous', 'strided', 'flipped', 'offset'] as Layout[]) {
            const [wc, wg] = twins([n, k], dtype, wLayout, { lo: -1, hi: 1, seed: 7 });
            expectParity(op(xc, wc.t(), bc), op(xg, wg.t(), bg), `${m}x${k}x${n} x ${xLayout}, w ${wLayout}`, tol);
          }
          // a row-major [K, N] right operand (op N)
          const [vc, vg] = twins([k, n], dtype, 'contiguous', { lo: -1, hi: 1, seed: 9 });
          expectParity(op(xc, vc, bc), op(xg, vg, bg), `${m}x${k}x${n} x ${xLayout}, [K, N] row-major`, tol);
        }
      }
    });

    it(`${dtype}: biases strided, reversed, offset (misaligned), expanded; a new bias at a cached shape`, () => {
      for (const [m, k, n] of [[17, 9, 5], [64, 48, 40], [3, 16, 129]] as [number, number, number][]) {
        const tol = bound(dtype, k);
        const [xc, xg] = twins([m, k], dtype, 'contiguous', { lo: -1, hi: 1, seed: 16 });
        const [wc, wg] = twins([n, k], dtype, 'contiguous', { lo: -1, hi: 1, seed: 17 });
        for (const kind of ['contiguous', 'strided', 'flipped', 'offset', 'expanded'] as const) {
          const [bc, bg] = biasTwins(n, dtype, kind, 18);
          expectParity(op(xc, wc.t(), bc), op(xg, wg.t(), bg), `${m}x${k}x${n} bias ${kind}`, tol);
        }
        // Same shape and alignments, another bias tensor: the cached descriptor must take the new pointer.
        const [b1c, b1g] = twins([n], dtype, 'contiguous', { lo: 50, hi: 100, seed: 19 });
        const [b2c, b2g] = twins([n], dtype, 'contiguous', { lo: -100, hi: -50, seed: 20 });
        expectParity(op(xc, wc.t(), b1c), op(xg, wg.t(), b1g), `${m}x${k}x${n} first bias`, tol);
        expectParity(op(xc, wc.t(), b2c), op(xg, wg.t(), b2g), `${m}x${k}x${n} second bias`, tol);
      }
    });

    it(`${dtype}: nn.functional.linear on 2-D and 3-D inputs, with gradients`, () => {
      const tol = bound(dtype, 24);
      const [wc, wg] = twins([10, 24], dtype, 'contiguous', { seed: 21 });
      const [bc, bg] = twins([10], dtype, 'contiguous', { seed: 22 });
      const [x2c, x2g] = twins([13, 24], dtype, 'contiguous', { seed: 23 });
      checkGrad('linear 2-D', (x, w, b) => F.linear(x, w, b), [[x2c, x2g], [wc, wg], [bc, bg]], tol);
      const [x3c, x3g] = twins([3, 7, 24], dtype, 'permuted', { seed: 24 });
      checkGrad('linear 3-D', (x, w, b) => F.linear(x, w, b), [[x3c, x3g], [wc, wg], [bc, bg]], tol);
      const [x1c, x1g] = twins([1, 24], dtype, 'contiguous', { seed: 25 });
      checkGrad('linear one row', (x, w, b) => F.linear(x, w, b), [[x1c, x1g], [wc, wg], [bc, bg]], tol);
    });
  }

  it('int32 (matmul and add) and an empty sum (K = 0: the bias alone)', () => {
    const [xc, xg] = twins([6, 11], 'int32', 'contiguous', { lo: -100, hi: 100, seed: 30 });
    const [wc, wg] = twins([4, 11], 'int32', 'strided', { lo: -100, hi: 100, seed: 31 });
    const [bc, bg] = twins([4], 'int32', 'contiguous', { lo: -100, hi: 100, seed: 32 });
    expectParity(op(xc, wc.t(), bc), op(xg, wg.t(), bg), 'int32 exact');
    const [ec, eg] = twins([5, 0], 'float32', 'contiguous', { seed: 33 });
    const [vc, vg] = twins([0, 3], 'float32', 'contiguous', { seed: 34 });
    const [b3c, b3g] = twins([3], 'float32', 'contiguous', { seed: 35 });
    expectParity(op(ec, vc, b3c), op(eg, vg, b3g), 'K = 0');
  });

  it('a layer-sized product, and TF32 within its bound when allowed', () => {
    const [xc, xg] = twins([640, 384], 'float32', 'contiguous', { lo: -1, hi: 1, seed: 40 });
    const [wc, wg] = twins([512, 384], 'float32', 'contiguous', { lo: -1, hi: 1, seed: 41 });
    const [bc, bg] = twins([512], 'float32', 'contiguous', { seed: 42 });
    const ref = op(xc, wc.t(), bc);
    expectParity(ref, op(xg, wg.t(), bg), 'float32 640x384x512', bound('float32', 384));
    expect(kiln.backends.cuda.allowTF32).toBe(false);
    kiln.backends.cuda.allowTF32 = true;
    try {
      expectParity(ref, op(xg, wg.t(), bg), 'tf32', { rtol: 0, atol: 1.5e-3 * Math.sqrt(384) });
      checkGrad('tf32 linear', (x, w, b) => F.linear(x, w, b), [[xc, xg], [wc, wg], [bc, bg]], { rtol: 0, atol: 1.5e-3 * Math.sqrt(640) });
    } finally {
      kiln.backends.cuda.allowTF32 = false;
    }
    // Back to full float32: the TF32 plan is not reused.
    expectParity(ref, op(xg, wg.t(), bg), 'float32 again', bound('float32', 384));
  });
});
