// CUDA against CPU for the fused ops: dropout (bit-identical masks and values), the softmax and
// log-softmax VJPs, ReLU's VJP, cross entropy and its gradient, max pooling's values and its two
// reverse kernels (recomputing, and scattering at given indices), and the linear layer's
// product-plus-bias. Each op is run directly (its native kernel on the device) and through the
// TS API and autograd.
//
// Tolerances: dropout, reluBackward, maxPool values and maxPoolGrad do the same float operations
// in the same order on both devices (bit for bit). Softmax VJPs and cross entropy sum rows in
// double in another order, and exp differs by an ulp: float32 rtol 1e-4 / atol 1e-5.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import { runKernel1 } from '../../lib/ops/kernel.js';
import {
  crossEntropyMean, dropoutP, logSoftmaxBackwardP, maxPool1dWithIndices, maxPool2dWithIndices, maxPool3dWithIndices, softmaxBackwardP,
} from '../../lib/ops/nn/index.js';
import { bind } from '../../lib/ops/primitive.js';
import { available, dev, expectBitIdentical, expectParity, fake, title, twins, type Layout, type ParityOpts } from './helpers.js';

type T = kiln.Tensor;
type DType = kiln.DType;
const F = kiln.nn.functional;
const FLOATS: DType[] = ['float32', 'float64'];
const SUMS: Record<'float32' | 'float64', ParityOpts> = {
  float32: { rtol: 1e-4, atol: 1e-5 },
  float64: { rtol: 1e-10, atol: 1e-10 },
};

/** f and its gradients (of sum(f(...) * w) for a random w) on both devices. */
function checkGrad(label: string, f: (...a: T[]) => T, inputs: [T, T][], opts: ParityOpts = {}, exact = false): void {
  const yc = f(...inputs.map((p) => p[0]));
  const yg = f(...inputs.map((p) => p[1]));
  if (exact) expectBitIdentical(yc, yg, label);
  else expectParity(yc, yg, label, opts);
  const [wc, wg] = twins(yc.shape, yc.dtype, 'contiguous', { seed: 77 });
  const argnums = inputs.map((_, i) => i);
  const gc = kiln.grad((...a: T[]) => f(...a).mul(wc).sum(), argnums)(...inputs.map((p) => p[0])) as T[];
  const gg = kiln.grad((...a: T[]) => f(...a).mul(wg).sum(), argnums)(...inputs.map((p) => p[1])) as T[];
  gc.forEach((g, i) => (exact ? expectBitIdentical(g, gg[i], `${label}: gradient ${i}`) : expectParity(g, gg[i], `${label}: gradient ${i}`, opts)));
}

describe.skipIf(!available)(title('CUDA parity: fused ops'), () => {
  describe('dropout', () => {
    for (const dtype of FLOATS) {
      it(`${dtype}: the same seed gives bit-identical outputs and gradients, any layout`, () => {
        for (const layout of ['contiguous', 'strided', 'permuted', 'flipped'] as Layout[]) {
          const [xc, xg] = twins([9, 11, 5], dtype, layout, { seed: 11 });
          for (const p of [0.1, 0.5]) {
            kiln.manualSeed(31);
            const yc = F.dropout(xc, p);
            const sc = kiln.getRngState();
            kiln.manualSeed(31);
            const yg = F.dropout(xg, p);
            expect(kiln.getRngState()).toEqual(sc);
            if (!fake) expect(yg.device).toMatch(/^cuda/);
            expectBitIdentical(yc, yg, `dropout ${layout} p=${p}`);
            // the mask is bernoulli's on either device
            kiln.manualSeed(31);
            const mask = kiln.bernoulli(1 - p, [9, 11, 5], { dtype, device: dev });
            expectBitIdentical(yc.ne(0).logicalOr(xc.eq(0)), mask.ne(0).logicalOr(xg.eq(0)).cpu(), `mask ${layout}`);
          }
          const state = kiln.getRngState();
          checkGrad(`dropout grad ${layout}`, (a) => {
            kiln.setRngState(state);
            return F.dropout(a.square(), 0.3);
          }, [[xc, xg]], {}, true);
        }
      });
    }

    it('a large float32 tensor (many Philox blocks, an odd length) and the primitive directly', () => {
      const n = (1 << 20) + 3;
      const [xc, xg] = twins([n], 'float32', 'contiguous', { seed: 2 });
      const attrs = { stream: [123, 456, 789, 1] as [number, number, number, number], keep: 0.9, scale: 1 / 0.9 };
      expectBitIdentical(bind(dropoutP, [xc], attrs), bind(dropoutP, [xg], attrs), 'large');
      const big = kiln.ones([n], { device: dev });
      const attrs2 = { ...attrs, keep: 0.25, scale: 4 };
      expectBitIdentical(bind(dropoutP, [kiln.ones([n])], attrs2), bind(dropoutP, [big], attrs2), 'ones');
    });
  });

  describe('softmax and logSoftmax VJPs', () => {
    for (const dtype of FLOATS) {
      it(`${dtype}: the kernels directly (short and long rows, strided operands) and through autograd`, () => {
        for (const [M, D] of [[7, 33], [3, 2000], [300, 5]]) {
          for (const layout of ['contiguous', 'permuted', 'strided'] as Layout[]) {
            const [xc, xg] = twins([M, D], dtype, layout, { seed: M + D, lo: -4, hi: 4 });
            const [gc, gg] = twins([M, D], dtype, layout === 'contiguous' ? 'flipped' : 'contiguous', { seed: 5 });
            const yc = kiln.softmax(xc, 1), yg = kiln.softmax(xg, 1);
            expectParity(bind(softmaxBackwardP, [yc, gc], undefined), bind(softmaxBackwardP, [yg, gg], undefined), `softmaxBackward ${M}x${D} ${layout}`, SUMS[dtype as 'float32']);
            const lc = kiln.logSoftmax(xc, 1), lg = kiln.logSoftmax(xg, 1);
            expectParity(bind(logSoftmaxBackwardP, [lc, gc], undefined), bind(logSoftmaxBackwardP, [lg, gg], undefined), `logSoftmaxBackward ${M}x${D} ${layout}`, SUMS[dtype as 'float32']);
          }
        }
        const [xc, xg] = twins([4, 6, 10], dtype, 'permuted', { seed: 9 });
        checkGrad('softmax dim 1', (a) => kiln.softmax(a, 1), [[xc, xg]], SUMS[dtype as 'float32']);
        checkGrad('logSoftmax dim -1', (a) => kiln.logSoftmax(a, -1), [[xc, xg]], SUMS[dtype as 'float32']);
        // second order: the backward primitives' own rules (composites) on the device
        const [zc, zg] = twins([5, 7], dtype, 'contiguous', { seed: 4 });
        const hc = kiln.grad((a: T) => kiln.grad((b: T) => kiln.softmax(b, 1).square().sum())(a).sin().sum())(zc) as T;
        const hg = kiln.grad((a: T) => kiln.grad((b: T) => kiln.softmax(b, 1).square().sum())(a).sin().sum())(zg) as T;
        expectParity(hc, hg, 'softmax second order', SUMS[dtype as 'float32']);
      });
    }
  });

  describe('the fused ops the CPU had first', () => {
    for (const dtype of FLOATS) {
      it(`${dtype} reluBackward: bit-identical, NaN and inf cotangents where x <= 0 give 0`, () => {
        for (const layout of ['contiguous', 'strided', 'flipped'] as Layout[]) {
          const [gc, gg] = twins([6, 7, 8], dtype, layout, { seed: 3, choices: [1.5, -2, NaN, Infinity, 0.25, -0] });
          const [xc, xg] = twins([6, 7, 8], dtype, 'permuted', { seed: 8, choices: [1, -1, 0, -0, NaN, 3] });
          const spec = (g: T) => ({ shape: g.shape, dtype: g.dtype, device: g.device });
          expectBitIdentical(runKernel1('reluBackward', spec(gc), [gc, xc]), runKernel1('reluBackward', spec(gg), [gg, xg]), `direct ${layout}`);
        }
        const [xc, xg] = twins([5, 9], dtype, 'strided', { seed: 21 });
        checkGrad('relu', (a) => kiln.relu(a.mul(3)), [[xc, xg]], {}, true);
      });

      it(`${dtype} crossEntropy and its backward: the kernels directly and through autograd`, () => {
        for (const [M, D] of [[8, 10], [4, 1500], [1, 1]]) {
          const [xc, xg] = twins([M, D], dtype, 'strided', { seed: D, lo: -5, hi: 5 });
          const t = Array.from({ length: M }, (_, i) => (i * 7) % D);
          const tc = kiln.tensor(t, { dtype: 'int32' }), tg = tc.to(dev);
          checkGrad(`crossEntropy ${M}x${D}`, (a) => {
            const r = crossEntropyMean(a, a.device === tc.device ? tc : tg);
            if (!r) throw new Error('no fused crossEntropy');
            return r;
          }, [[xc, xg]], SUMS[dtype as 'float32']);
          const [gc, gg] = twins([], dtype, 'contiguous', { seed: 1 });
          const spec = (x: T) => ({ shape: x.shape, dtype: x.dtype, device: x.device });
          expectParity(runKernel1('crossEntropyBackward', spec(xc), [xc, tc, gc]), runKernel1('crossEntropyBackward', spec(xg), [xg, tg, gg]), `backward ${M}x${D}`, SUMS[dtype as 'float32']);
        }
      });

      it(`${dtype} maxPool values, maxPoolGrad (recomputing) and maxPoolBackward (indices): bit-identical`, () => {
        const cases: [number, number[], number | number[], object][] = [
          [1, [2, 3, 23], 3, { stride: 2, padding: 1 }],
          [2, [2, 3, 11, 13], 2, {}],
          [2, [2, 3, 11, 13], [3, 2], { stride: [2, 1], padding: [1, 1], dilation: [2, 1], ceilMode: true }],
          [3, [2, 2, 5, 6, 7], 3, { stride: 2, padding: 1, ceilMode: true }],
          // windows that cannot overlap (CUDA scatters at the argmax instead of gathering)
          [1, [2, 3, 23], 3, { stride: 3, padding: 1, ceilMode: true }],
          [2, [2, 3, 12, 16], [2, 3], { stride: [2, 5], dilation: [1, 2] }],
          [3, [2, 2, 6, 6, 7], 2, {}],
        ];
        const pools = [F.maxPool1d, F.maxPool2d, F.maxPool3d] as unknown as ((x: T, k: unknown, o: unknown) => T)[];
        const withIdx = [maxPool1dWithIndices, maxPool2dWithIndices, maxPool3dWithIndices] as unknown as ((x: T, k: unknown, o: unknown) => [T, T])[];
        for (const [nd, shape, k, o] of cases) {
          for (const layout of ['contiguous', 'strided', 'permuted'] as Layout[]) {
            const x = twins(shape, dtype, layout, { seed: 3 + nd, choices: [0, 1, 2, 3, -1, 2.5] }); // ties
            checkGrad(`maxPool${nd}d ${JSON.stringify([k, o])} ${layout}`, (a) => pools[nd - 1](a, k, o), [x], {}, true);
            // maxPoolBackward: the values scattered back at the indices (CUDA adds atomically:
            // where windows overlap, sums may round differently)
            const [vc, ic] = withIdx[nd - 1](x[0], k, o);
            const [vg, ig] = withIdx[nd - 1](x[1], k, o);
            expectBitIdentical(ic, ig.cpu(), `indices ${nd}d ${layout}`);
            const planes = (t: T) => t.reshape([t.shape[0], t.shape[1], -1]);
            const xShape = [shape[0], shape[1], shape.slice(2).reduce((a, b) => a * b, 1)];
            const bc = runKernel1('maxPoolBackward', { shape: xShape, dtype, device: 'cpu' }, [planes(vc), planes(ic)]);
            const bg = runKernel1('maxPoolBackward', { shape: xShape, dtype, device: vg.device }, [planes(vg), planes(ig)]);
            expectParity(bc, bg, `maxPoolBackward ${nd}d ${JSON.stringify([k, o])} ${layout}`);
          }
        }
      });

      it(`${dtype} matmulBias: the dispatcher's product plus bias, and linear through autograd`, () => {
        const [xc, xg] = twins([17, 9], dtype, 'contiguous', { seed: 6 });
        const [wc, wg] = twins([5, 9], dtype, 'strided', { seed: 7 });
        const [bc, bg] = twins([5], dtype, 'contiguous', { seed: 8 });
        const spec = (x: T) => ({ shape: [17, 5], dtype, device: x.device });
        const tol = dtype === 'float32' ? { rtol: 1e-4, atol: 1e-5 } : { rtol: 1e-12, atol: 1e-12 };
        expectParity(runKernel1('matmulBias', spec(xc), [xc, wc.t(), bc]), runKernel1('matmulBias', spec(xg), [xg, wg.t(), bg]), 'matmulBias', tol);
        checkGrad('linear', (x, w, b) => F.linear(x, w, b), [[xc, xg], [wc, wg], [bc, bg]], tol);
      });
    }

    it('index errors surface from CUDA kernels', () => {
      const x = kiln.zeros([2, 3], { device: dev });
      const bad = kiln.tensor([0, 3], { dtype: 'int32', device: dev });
      expect(() => {
        const r = runKernel1('crossEntropy', { shape: [], dtype: 'float32', device: x.device }, [x, bad]);
        r.dataSync();
      }).toThrow(kiln.IndexError);
      const y = kiln.ones([1, 1, 2], { device: dev });
      const idx = kiln.tensor([[[0, 9]]], { dtype: 'int32', device: dev });
      expect(() => runKernel1('maxPoolBackward', { shape: [1, 1, 4], dtype: 'float32', device: y.device }, [y, idx]).dataSync()).toThrow(kiln.IndexError);
      // and the device keeps working afterwards
      expect(Array.from(kiln.ones([2], { device: dev }).add(1).dataSync() as Float32Array)).toEqual([2, 2]);
    });
  });
});
