// The fused layer norm (lib/ops/nn/layer-norm.ts: one native op forward, one backward) against a
// float64 loop oracle written here: values and the gradients of x, weight and bias, with and
// without weight/bias, one row, one feature, wide rows, strided inputs; its primitives against
// the reference composites; checkGrads at order 2 in both modes.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../../lib/index.js';
import type { Tensor } from '../../../lib/index.js';
import {
  fusedLayerNormApplies, layerNorm, layerNormBackwardP, layerNormBackwardReference, layerNormP, layerNormReference,
} from '../../../lib/ops/nn/index.js';
import { bind } from '../../../lib/ops/primitive.js';
import * as O from '../../helpers/oracle.js';
import { Arr, rng } from '../../helpers/oracle.js';
import { expectTensor, LAYOUTS, make } from '../../helpers/tensors.js';

kiln.manualSeed(11);

interface Oracle {
  y: Arr;
  dx: Arr;
  dw: Arr;
  db: Arr;
}

/**
 * Layer norm over the last D elements of x (row-major), y = xhat w + b, and the gradients of
 * sum(y * g) by the textbook formulas, all in float64 loops.
 */
function layerNormOracle(x: Arr, D: number, w: Arr | null, b: Arr | null, g: Arr, eps: number): Oracle {
  const M = x.data.length / D;
  const y = new Array<number>(M * D), dx = new Array<number>(M * D);
  const dw = new Array<number>(D).fill(0), db = new Array<number>(D).fill(0);
  const wv = (i: number) => (w ? w.data[i] : 1);
  for (let m = 0; m < M; m++) {
    const row = x.data.slice(m * D, (m + 1) * D);
    const mean = row.reduce((a, v) => a + v, 0) / D;
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / D;
    const rstd = 1 / Math.sqrt(variance + eps);
    const xhat = row.map((v) => (v - mean) * rstd);
    let s1 = 0, s2 = 0;
    for (let i = 0; i < D; i++) {
      const gi = g.data[m * D + i];
      y[m * D + i] = xhat[i] * wv(i) + (b ? b.data[i] : 0);
      s1 += gi * wv(i);
      s2 += gi * wv(i) * xhat[i];
      dw[i] += gi * xhat[i];
      db[i] += gi;
    }
    for (let i = 0; i < D; i++) dx[m * D + i] = rstd * (g.data[m * D + i] * wv(i) - s1 / D - xhat[i] * (s2 / D));
  }
  return { y: new Arr([...x.shape], y), dx: new Arr([...x.shape], dx), dw: new Arr([D], dw), db: new Arr([D], db) };
}

const rand = (shape: number[], r: () => number, lo = -2, hi = 2) => O.randomArr(shape, 'float64', r, lo, hi);

const TOL = {
  float64: { rtol: 1e-10, atol: 1e-10 },
  float32: { rtol: 2e-4, atol: 2e-4 },
} as const;

/**
 * layerNorm over the trailing `ns` dims of x and the gradients of sum(y * g) in x, weight and
 * bias (those given), against the oracle.
 */
function expectLayerNorm(label: string, xs: number[], ns: number[], opts: { weight?: boolean; bias?: boolean; eps?: number;
  dtype?: 'float32' | 'float64'; layout?: (typeof LAYOUTS)[number]; seed?: number } = {}): void {
  const { weight = true, bias = true, eps = 1e-5, dtype = 'float64', layout = 'contiguous' } = opts;
  const r = rng(opts.seed ?? 7);
  const D = ns.reduce((a, v) => a * v, 1);
  const x = rand(xs, r);
  const w = weight ? rand(ns, r) : null;
  const b = bias ? rand(ns, r) : null;
  const g = rand(xs, r);
  const want = layerNormOracle(x, D, w, b, g, eps);
  const xt = make(x, dtype, layout);
  const wt = w ? make(w, dtype) : null;
  const bt = b ? make(b, dtype) : null;
  expect(fusedLayerNormApplies(xt, wt, bt), label).toBe(true);
  const tol = TOL[dtype];
  expectTensor(layerNorm(xt, ns, wt, bt, eps), want.y, tol, `${label} y`);
  const gt = make(g, dtype);
  const params = [xt, wt, bt].filter((v): v is Tensor => v !== null);
  const grads = kiln.grad((...a: Tensor[]) => {
    let k = 1;
    const wa = weight ? a[k++] : null;
    const ba = bias ? a[k++] : null;
    return layerNorm(a[0], ns, wa, ba, eps).mul(gt).sum();
  }, params.map((_, i) => i))(...params) as Tensor[];
  expectTensor(grads[0], want.dx, tol, `${label} dx`);
  let k = 1;
  if (weight) expectTensor(grads[k++].reshape([D]), want.dw, { ...tol, atol: tol.atol * Math.sqrt(x.data.length / D) }, `${label} dw`);
  if (bias) expectTensor(grads[k++].reshape([D]), want.db, { ...tol, atol: tol.atol * Math.sqrt(x.data.length / D) }, `${label} db`);
}

describe('fused layerNorm against the float64 oracle', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    it(`${dtype}: values and gradients over the last dim, every layout of x`, () => {
      for (const layout of LAYOUTS) expectLayerNorm(`${dtype} ${layout}`, [3, 4, 6], [6], { dtype, layout });
    });
    it(`${dtype}: over the flattened trailing dims, weight and bias of that shape`, () => {
      expectLayerNorm(dtype, [2, 3, 4, 5], [4, 5], { dtype, layout: 'permuted' });
    });
    it(`${dtype}: without weight, without bias, without both`, () => {
      expectLayerNorm(`${dtype} no weight`, [5, 7], [7], { dtype, weight: false });
      expectLayerNorm(`${dtype} no bias`, [5, 7], [7], { dtype, bias: false });
      expectLayerNorm(`${dtype} neither`, [5, 7], [7], { dtype, weight: false, bias: false, eps: 0.1 });
    });
    it(`${dtype}: one row, one feature`, () => {
      expectLayerNorm(`${dtype} M=1`, [1, 9], [9], { dtype });
      expectLayerNorm(`${dtype} D=1`, [4, 1], [1], { dtype });
      expectLayerNorm(`${dtype} M=1 D=1`, [1], [1], { dtype });
    });
    it(`${dtype}: wide rows (D = 3000) and many rows`, () => {
      expectLayerNorm(`${dtype} D=3000`, [3, 3000], [3000], { dtype, seed: 3 });
      expectLayerNorm(`${dtype} M=700`, [700, 24], [24], { dtype, seed: 4, layout: 'strided' });
    });
  }

  it('a transposed input and a stride-0 cotangent (the gradient of a plain sum)', () => {
    const x = kiln.randn([6, 4], { dtype: 'float64' });
    const w = kiln.randn([6], { dtype: 'float64' });
    const fused = kiln.grad((a: Tensor, ww: Tensor) => layerNorm(a.t(), 6, ww).sum(), [0, 1])(x, w) as Tensor[];
    const ref = kiln.grad((a: Tensor, ww: Tensor) => layerNormReference(a.t(), ww, kiln.zeros([6], { dtype: 'float64' }), 1e-5).sum(), [0, 1])(x, w) as Tensor[];
    for (let i = 0; i < 2; i++) expect(fused[i].sub(ref[i]).abs().max().item()).toBeLessThan(1e-12);
  });

  it('a second backward pass (statistics recomputed) gives the same gradients', () => {
    const x = kiln.randn([5, 8], { dtype: 'float64', requiresGrad: true });
    const w = kiln.randn([8], { dtype: 'float64', requiresGrad: true });
    const y = layerNorm(x, 8, w).square().sum();
    y.backward(undefined, { retainGraph: true });
    const first = [x.grad!.clone(), w.grad!.clone()];
    x.grad = null;
    w.grad = null;
    y.backward();
    expect(x.grad!.sub(first[0]).abs().max().item()).toBeLessThan(1e-12);
    expect(w.grad!.sub(first[1]).abs().max().item()).toBeLessThan(1e-12);
  });
});

describe('layerNorm primitives', () => {
  it('the backward op equals the reference composite (float32, many rows)', () => {
    const x = kiln.randn([300, 40]);
    const w = kiln.randn([40]);
    const g = kiln.randn([300, 40]);
    const b = kiln.zeros([40]);
    const y = bind(layerNormP, [x, w, b], { eps: 1e-5 });
    expect(y.sub(layerNormReference(x, w, b, 1e-5)).abs().max().item()).toBeLessThan(1e-5);
    const mean = x.mean(1);
    const rstd = x.sub(mean.unsqueeze(1)).square().mean(1).add(1e-5).rsqrt();
    const fused = bind(layerNormBackwardP, [x, w, kiln.stack([mean, rstd], 0), g], { eps: 1e-5 });
    const ref = layerNormBackwardReference(x, w, g, 1e-5);
    expect(fused.sub(ref).abs().max().item()).toBeLessThan(1e-3);
  });
});

function check(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[]) {
  const report = kiln.checkGrads(f, inputs, { order: 2, modes: ['fwd', 'rev'], atol: 1e-6, rtol: 1e-4 });
  expect(report.ok).toBe(true);
}
const sample = (shape: number[]) => kiln.rand(shape, { dtype: 'float64', low: -1.5, high: 1.5 });

describe('fused layerNorm: checkGrads order 2, both modes', () => {
  it('with weight and bias', () => {
    check((x, w, b) => layerNorm(x, 4, w, b, 1e-3), [sample([3, 4]), sample([4]), sample([4])]);
  });
  it('without weight and bias, a nonlinear loss on top', () => {
    check((x) => layerNorm(x, [2, 3], null, null, 1e-3).sin(), [sample([2, 2, 3])]);
  });
  it('the backward primitive in x, weight and the cotangent', () => {
    check((x, w, g) => {
      const mean = x.mean(1);
      const stats = kiln.stack([mean, x.sub(mean.unsqueeze(1)).square().mean(1).add(1e-3).rsqrt()], 0).detach();
      return bind(layerNormBackwardP, [x, w, stats, g], { eps: 1e-3 });
    }, [sample([3, 4]), sample([4]), sample([3, 4])]);
  });
});
