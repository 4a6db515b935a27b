// CUDA against CPU for the fused layer norm (native/cuda/norm.cu: a warp per row up to 1024
// features, a block per row above; the weight and bias gradients as column sums over chunks of
// rows added in a fixed order): values and the gradients of x, weight and bias, with and without
// weight/bias, strided inputs, both sides of the warp/block switch, many rows (several chunks),
// reproducibility of the backward pass, and checkGrads of the CUDA ops.
//
// Tolerances: both devices round the same float operations, but the CPU sums in float lanes then
// double and CUDA in double: float32 within rtol 1e-4 / atol 1e-5 (the column sums over many rows
// scaled by sqrt(M)), float64 within 1e-10.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import { fusedLayerNormApplies } from '../../lib/ops/nn/index.js';
import { available, dev, expectBitIdentical, expectParity, title, twins, type Layout, type ParityOpts } from './helpers.js';

type T = kiln.Tensor;
const F = kiln.nn.functional;

function tolerance(dtype: 'float32' | 'float64', rows = 1): ParityOpts {
  const scale = Math.sqrt(rows);
  return dtype === 'float32' ? { rtol: 1e-4, atol: 1e-5 * scale } : { rtol: 1e-10, atol: 1e-10 * scale };
}

/** layerNorm over the last dim of x [...lead, D] and the gradients of sum(y * c), on both devices. */
function checkLayerNorm(label: string, shape: number[], dtype: 'float32' | 'float64', opts: { layout?: Layout; weight?: boolean;
  bias?: boolean } = {}): void {
  const { layout = 'contiguous', weight = true, bias = true } = opts;
  const D = shape[shape.length - 1];
  const rows = shape.slice(0, -1).reduce((a, v) => a * v, 1);
  const x = twins(shape, dtype, layout, { seed: 5 });
  const w = weight ? twins([D], dtype, 'contiguous', { seed: 6 }) : null;
  const b = bias ? twins([D], dtype, 'contiguous', { seed: 7 }) : null;
  const c = twins(shape, dtype, 'contiguous', { seed: 8 });
  expect(fusedLayerNormApplies(x[1], w?.[1], b?.[1]), label).toBe(true);
  const side = (k: 0 | 1) => {
    const params = [x[k], ...(w ? [w[k]] : []), ...(b ? [b[k]] : [])];
    const f = (...a: T[]) => F.layerNorm(a[0], D, w ? a[1] : null, b ? a[w ? 2 : 1] : null);
    const y = f(...params);
    const grads = kiln.grad((...a: T[]) => f(...a).mul(c[k]).sum(), params.map((_, i) => i))(...params) as T[];
    return [y, ...grads];
  };
  const cpu = side(0), gpu = side(1);
  const names = ['y', 'dx', ...(weight ? ['dw'] : []), ...(bias ? ['db'] : [])];
  cpu.forEach((v, i) => expectParity(v, gpu[i], `${label} ${names[i]}`, tolerance(dtype, names[i] === 'dw' || names[i] === 'db' ? rows : 1)));
}

describe.skipIf(!available)(title('CUDA parity: fused layer norm'), () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`${dtype}: warp rows (D <= 1024), every layout of x`, () => {
      for (const layout of ['contiguous', 'permuted', 'strided', 'flipped', 'offset'] as Layout[]) {
        checkLayerNorm(`${dtype} ${layout}`, [3, 5, 96], dtype, { layout });
      }
      checkLayerNorm(`${dtype} D=1024`, [7, 1024], dtype);
      checkLayerNorm(`${dtype} D=1`, [6, 1], dtype);
      checkLayerNorm(`${dtype} M=1`, [1, 37], dtype);
    });
    it(`${dtype}: block rows (D > 1024), strided too`, () => {
      checkLayerNorm(`${dtype} D=1025`, [5, 1025], dtype);
      checkLayerNorm(`${dtype} D=3000`, [4, 3000], dtype, { layout: 'strided' });
    });
    it(`${dtype}: without weight, without bias, without both`, () => {
      checkLayerNorm(`${dtype} no weight`, [9, 48], dtype, { weight: false });
      checkLayerNorm(`${dtype} no bias`, [9, 48], dtype, { bias: false });
      checkLayerNorm(`${dtype} neither`, [9, 2048], dtype, { weight: false, bias: false });
    });
    it(`${dtype}: many rows (the column sums over several chunks)`, () => {
      checkLayerNorm(`${dtype} M=4100`, [4100, 64], dtype);
      checkLayerNorm(`${dtype} M=70000`, [70000, 8], dtype, { layout: 'permuted' });
    });
  }

  it('the backward pass is bit-for-bit reproducible', () => {
    const [, x] = twins([3000, 256], 'float32', 'contiguous', { seed: 9 });
    const [, w] = twins([256], 'float32', 'contiguous', { seed: 10 });
    const [, b] = twins([256], 'float32', 'contiguous', { seed: 11 });
    const [, c] = twins([3000, 256], 'float32', 'contiguous', { seed: 12 });
    const run = () => kiln.grad((a: T, ww: T, bb: T) => F.layerNorm(a, 256, ww, bb).mul(c).sum(), [0, 1, 2])(x, w, b) as T[];
    const first = run(), second = run();
    first.forEach((g, i) => expectBitIdentical(g, second[i], `gradient ${i}`));
  });

  it('checkGrads of the CUDA ops, order 2, both modes (float64)', () => {
    const sample = (shape: number[]) => kiln.rand(shape, { dtype: 'float64', low: -1.5, high: 1.5, device: dev });
    const report = kiln.checkGrads((x: T, w: T, b: T) => F.layerNorm(x, 5, w, b, 1e-3), [sample([3, 5]), sample([5]), sample([5])],
      { order: 2, modes: ['fwd', 'rev'], atol: 1e-6, rtol: 1e-4 });
    expect(report.ok).toBe(true);
  });
});
