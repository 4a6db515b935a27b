// CUDA against CPU: the convolutions through cuDNN. conv1d/2d/3d forward with and without bias,
// their input and weight gradients (convTranspose, convWeightGrad) through autograd, over stride,
// dilation, groups (depthwise too) and padding: symmetric (cuDNN pads), and asymmetric or cut
// short (explicitly padded copy of x). The primitives straight, with output extents that leave
// input rows unused or run past them, on non-contiguous operands; convTranspose2d with
// outputPadding; a Conv2d layer's gradients; float64; TF32.
// Float32 bound: 1e-5 relative plus 5e-6 sqrt(terms) absolute for sums of `terms` products of
// values in [-1, 1] (the summation orders differ); float64 1e-11.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import {
  conv1d, conv2d, conv3d, convP, convTranspose2d, convTransposeP, convWeightGradP, type ConvGeometry, type ConvOptions,
} from '../../lib/ops/nn/index.js';
import { bind } from '../../lib/ops/primitive.js';
import { LAYOUTS, OTHER, available, dev, expectParity, title, twins, type Layout } from './helpers.js';

type T = kiln.Tensor;
type DType = kiln.DType;

const tol = (dtype: DType, terms: number) =>
  dtype === 'float64' ? { rtol: 1e-11, atol: 1e-11 } : { rtol: 1e-5, atol: 5e-6 * Math.sqrt(terms) };
const prod = (a: readonly number[]) => a.reduce((p, v) => p * v, 1);

interface Case {
  name: string;
  x: number[];
  w: number[];
  opts: ConvOptions;
}

const CONV = [conv1d, conv2d, conv3d];

const cases: Case[] = [
  { name: '1-D plain', x: [2, 3, 11], w: [4, 3, 3], opts: {} },
  { name: '1-D stride 2, padding 1, dilation 2', x: [2, 4, 13], w: [6, 4, 3], opts: { stride: 2, padding: 1, dilation: 2 } },
  { name: "1-D 'same' with an even kernel", x: [2, 3, 10], w: [2, 3, 4], opts: { padding: 'same' } },
  { name: '1-D depthwise', x: [1, 4, 9], w: [4, 1, 5], opts: { groups: 4, padding: 2 } },
  { name: '2-D plain 3x3', x: [2, 3, 7, 6], w: [4, 3, 3, 3], opts: {} },
  { name: '2-D stride 2, padding 1', x: [2, 3, 7, 8], w: [5, 3, 3, 3], opts: { stride: 2, padding: 1 } },
  { name: '2-D per-dim stride, padding, dilation', x: [1, 2, 9, 7], w: [3, 2, 3, 2], opts: { stride: [2, 1], padding: [2, 0], dilation: [2, 3] } },
  { name: '2-D groups 2', x: [2, 4, 6, 6], w: [6, 2, 3, 3], opts: { groups: 2, padding: 1 } },
  { name: '2-D depthwise', x: [2, 3, 5, 5], w: [3, 1, 3, 3], opts: { groups: 3, padding: 1 } },
  { name: '2-D depthwise, channel multiplier 2', x: [1, 3, 6, 6], w: [6, 1, 3, 3], opts: { groups: 3 } },
  { name: "2-D 'same' with an even kernel", x: [1, 2, 6, 5], w: [3, 2, 4, 2], opts: { padding: 'same' } },
  { name: '2-D per-side padding, fewer after than before', x: [2, 2, 7, 6], w: [2, 2, 3, 3], opts: { padding: [[2, 0], [1, 3]] } },
  { name: '2-D stride 3 leaving the last rows unused', x: [1, 2, 8, 10], w: [2, 2, 3, 3], opts: { stride: 3 } },
  { name: '2-D 1x1', x: [3, 5, 4, 3], w: [4, 5, 1, 1], opts: {} },
  { name: '2-D 64 input channels', x: [2, 64, 10, 10], w: [8, 64, 3, 3], opts: { padding: 1 } },
  { name: '3-D padding 1', x: [2, 2, 5, 6, 4], w: [3, 2, 3, 2, 3], opts: { padding: 1 } },
  { name: '3-D stride, dilation, groups', x: [1, 4, 6, 5, 7], w: [4, 2, 2, 3, 2], opts: { stride: [2, 1, 2], dilation: [1, 2, 1], groups: 2 } },
  { name: "3-D 'same' with an even kernel", x: [1, 2, 5, 4, 5], w: [2, 2, 2, 3, 2], opts: { padding: 'same' } },
];

/** The products summed per element of y, x's gradient and w's gradient. */
function terms(c: Case, y: readonly number[]): [number, number, number] {
  const k = prod(c.w.slice(2));
  return [c.w[1] * k + 1, c.w[0] * k, c.x[0] * prod(y.slice(2))];
}

describe.skipIf(!available)(title('CUDA parity: convolutions (cuDNN)'), () => {
  for (const c of cases) {
    it(`${c.name}: forward with and without bias, gradients of x, w and bias (float32 and float64)`, () => {
      const f = CONV[c.x.length - 3];
      for (const dtype of ['float32', 'float64'] as DType[]) {
        const [x, gx] = twins(c.x, dtype, 'contiguous', { lo: -1, hi: 1, seed: 41 });
        const [w, gw] = twins(c.w, dtype, 'contiguous', { lo: -1, hi: 1, seed: 42 });
        const [b, gb] = twins([c.w[0]], dtype, 'contiguous', { lo: -1, hi: 1, seed: 43 });
        const y = f(x, w, b, c.opts);
        const [ty, tx, tw] = terms(c, y.shape);
        expectParity(y, f(gx, gw, gb, c.opts), `${dtype} y`, tol(dtype, ty));
        expectParity(f(x, w, null, c.opts), f(gx, gw, null, c.opts), `${dtype} y without bias`, tol(dtype, ty));

        const [g, gg] = twins([...y.shape], dtype, 'contiguous', { lo: -1, hi: 1, seed: 44 });
        const loss = (xx: T, ww: T, bb: T, gy: T) => f(xx, ww, bb, c.opts).mul(gy).sum();
        const [dx, dw, db] = kiln.grad(loss, [0, 1, 2])(x, w, b, g) as T[];
        const [gdx, gdw, gdb] = kiln.grad(loss, [0, 1, 2])(gx, gw, gb, gg) as T[];
        expectParity(dx, gdx, `${dtype} dx (convTranspose)`, tol(dtype, tx));
        expectParity(dw, gdw, `${dtype} dw (convWeightGrad)`, tol(dtype, tw));
        expectParity(db, gdb, `${dtype} dbias`, tol(dtype, tw));
      }
    });
  }

  // The primitives with explicit geometries: outputs shorter than cuDNN's symmetric padding gives
  // (input rows never read), longer (windows past the end), and padding past the whole window.
  const geometries: { name: string; x: number[]; w: number[]; g: Omit<ConvGeometry, 'inSize' | 'kernelSize'> }[] = [
    { name: 'symmetric (cuDNN pads)', x: [2, 3, 9, 8], w: [4, 3, 3, 3], g: { stride: [1, 2], padding: [1, 1], dilation: [1, 1], groups: 1, outSize: [9, 4] } },
    { name: 'outputs leave input rows unused', x: [2, 3, 9, 9], w: [4, 3, 3, 3], g: { stride: [1, 2], padding: [1, 0], dilation: [1, 1], groups: 1, outSize: [5, 2] } },
    { name: 'windows run past the input', x: [1, 2, 4, 5], w: [2, 2, 3, 2], g: { stride: [1, 1], padding: [0, 2], dilation: [1, 2], groups: 1, outSize: [4, 6] } },
    { name: 'padding beyond every window', x: [2, 2, 3, 3], w: [4, 1, 1, 1], g: { stride: [1, 1], padding: [5, 0], dilation: [1, 1], groups: 2, outSize: [1, 3] } },
    { name: '1-D, groups 3, rows unused', x: [2, 6, 12], w: [3, 2, 2], g: { stride: [3], padding: [1], dilation: [2], groups: 3, outSize: [2] } },
    { name: '3-D, mixed', x: [1, 2, 5, 4, 6], w: [2, 2, 2, 2, 3], g: { stride: [2, 1, 1], padding: [1, 0, 3], dilation: [1, 1, 2], groups: 1, outSize: [3, 3, 5] } },
  ];
  for (const geo of geometries) {
    it(`primitives, ${geo.name}: conv, convTranspose, convWeightGrad on every operand layout`, () => {
      const g: ConvGeometry = { ...geo.g, inSize: geo.x.slice(2), kernelSize: geo.w.slice(2) };
      const yShape = [geo.x[0], geo.w[0], ...geo.g.outSize];
      const k = prod(geo.w.slice(2));
      for (const dtype of ['float32', 'float64'] as DType[]) {
        for (const layout of LAYOUTS) {
          const other: Layout = OTHER[layout];
          const [x, gx] = twins(geo.x, dtype, layout, { lo: -1, hi: 1, seed: 51 });
          const [w, gw] = twins(geo.w, dtype, other, { lo: -1, hi: 1, seed: 52 });
          const [y, gy] = twins(yShape, dtype, layout, { lo: -1, hi: 1, seed: 53 });
          const [b, gb] = twins([geo.w[0]], dtype, other, { lo: -1, hi: 1, seed: 54 });
          const label = `${dtype} ${layout}`;
          expectParity(bind(convP, [x, w], g), bind(convP, [gx, gw], g), `${label} conv`, tol(dtype, geo.w[1] * k));
          expectParity(bind(convP, [x, w, b], g), bind(convP, [gx, gw, gb], g), `${label} conv + bias`, tol(dtype, geo.w[1] * k + 1));
          expectParity(bind(convTransposeP, [y, w], g), bind(convTransposeP, [gy, gw], g), `${label} convTranspose`, tol(dtype, geo.w[0] * k));
          expectParity(bind(convWeightGradP, [x, y], g), bind(convWeightGradP, [gx, gy], g), `${label} convWeightGrad`,
            tol(dtype, geo.x[0] * prod(geo.g.outSize)));
        }
      }
    });
  }

  it('convTranspose2d with stride, outputPadding and dilation, and bias', () => {
    for (const [opts, xs, ws] of [
      [{ stride: 2, padding: 1, outputPadding: 1 }, [2, 4, 5, 6], [4, 3, 3, 3]],
      [{ stride: 1, dilation: 3, outputPadding: 2, groups: 2 }, [1, 4, 4, 5], [4, 1, 2, 2]],
    ] as [object, number[], number[]][]) {
      const [x, gx] = twins(xs, 'float32', 'permuted', { lo: -1, hi: 1, seed: 61 });
      const [w, gw] = twins(ws, 'float32', 'contiguous', { lo: -1, hi: 1, seed: 62 });
      const [b, gb] = twins([ws[1] * ((opts as { groups?: number }).groups ?? 1)], 'float32', 'contiguous', { seed: 63 });
      expectParity(convTranspose2d(x, w, b, opts), convTranspose2d(gx, gw, gb, opts), JSON.stringify(opts), tol('float32', ws[0] * 9));
    }
  });

  it('a Conv2d layer with bias: output and parameter gradients', () => {
    kiln.manualSeed(3);
    const cpu = new kiln.nn.Conv2d(3, 5, 3, { stride: 2, padding: 1 });
    const gpu = cpu.clone().to(dev);
    const [x, gx] = twins([4, 3, 9, 9], 'float32', 'strided', { lo: -1, hi: 1, seed: 71 });
    const y = cpu.forward(x) as T;
    const gyv = gpu.forward(gx) as T;
    expectParity(y, gyv, 'layer output', tol('float32', 28));
    const [g, gg] = twins([...y.shape], 'float32', 'contiguous', { lo: -1, hi: 1, seed: 72 });
    y.mul(g).sum().backward();
    gyv.mul(gg).sum().backward();
    expectParity(cpu.weight.grad!, gpu.weight.grad!, 'weight grad', tol('float32', 4 * 25));
    expectParity(cpu.bias!.grad!, gpu.bias!.grad!, 'bias grad', tol('float32', 4 * 25));
  });

  it('TF32 is off by default, and within its looser bound when allowed', () => {
    const [x, gx] = twins([2, 64, 12, 12], 'float32', 'contiguous', { lo: -1, hi: 1, seed: 81 });
    const [w, gw] = twins([16, 64, 3, 3], 'float32', 'contiguous', { lo: -1, hi: 1, seed: 82 });
    expect(kiln.backends.cuda.allowTF32).toBe(false);
    const ref = conv2d(x, w, null, { padding: 1 });
    expectParity(ref, conv2d(gx, gw, null, { padding: 1 }), 'fp32', tol('float32', 576));
    kiln.backends.cuda.allowTF32 = true;
    try {
      // TF32 keeps 10 mantissa bits: |error| ~ sqrt(576) 2^-11 E|xw|, about 4e-3 here.
      expectParity(ref, conv2d(gx, gw, null, { padding: 1 }), 'tf32', { rtol: 0, atol: 3e-2 });
    } finally {
      kiln.backends.cuda.allowTF32 = false;
    }
    expectParity(ref, conv2d(gx, gw, null, { padding: 1 }), 'fp32 again', tol('float32', 576));
  });

  it('empty operands: no input channels, an empty batch', () => {
    const [x, gx] = twins([2, 0, 5, 5], 'float32');
    const [w, gw] = twins([3, 0, 3, 3], 'float32');
    const [b, gb] = twins([3], 'float32', 'contiguous', { seed: 91 });
    expectParity(conv2d(x, w, b, { padding: 1 }), conv2d(gx, gw, gb, { padding: 1 }), 'y = bias');
    const [e, ge] = twins([0, 2, 5, 5], 'float32');
    const [v, gv] = twins([3, 2, 3, 3], 'float32', 'contiguous', { seed: 92 });
    expectParity(conv2d(e, v, null), conv2d(ge, gv, null), 'empty batch');
    const g: ConvGeometry = { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1, inSize: [5, 5], kernelSize: [3, 3], outSize: [3, 3] };
    const [ey, gey] = twins([0, 3, 3, 3], 'float32');
    expectParity(bind(convWeightGradP, [e, ey], g), bind(convWeightGradP, [ge, gey], g), 'weight grad of an empty batch');
  });
});
