// Cases for the float32 convolution and max-pool kernels, which come in SIMD variants (AVX-512, AVX2) chosen
// at run time and a portable fallback. The main suite runs the best one this CPU has;
// conv-avx2.test.ts and conv-portable.test.ts run the others (KILN_NN_ISA is read once, at the
// first convolution of the process, and every test file runs in its own process) against the
// same oracles, on geometries that reach every code path: whole interior runs, padded edges,
// runs longer than a vector (clipped, or inside the input), dilation, strided inputs.
import { describe, it } from 'vitest';

import * as kiln from '../../../lib/index.js';
import { convP, convTransposeP, convWeightGradP, maxPool2dWithIndices, type ConvGeometry } from '../../../lib/ops/nn/index.js';
import { bind } from '../../../lib/ops/primitive.js';
import * as O from '../../helpers/oracle.js';
import { rng } from '../../helpers/oracle.js';
import { expectTensor, make } from '../../helpers/tensors.js';
import { convRef, convTransposeRef, weightGradRef, type Geo } from './conv-oracle.js';

const cases: { name: string; x: number[]; w: number[]; geo: Geo }[] = [
  { name: 'LeNet-like 5x5', x: [3, 4, 12, 12], w: [5, 4, 5, 5], geo: { stride: [1, 1], before: [0, 0], dilation: [1, 1], groups: 1 } },
  { name: 'padded 3x3', x: [2, 3, 9, 7], w: [4, 3, 3, 3], geo: { stride: [1, 1], before: [1, 1], dilation: [1, 1], groups: 1 } },
  { name: 'long rows, padding 2', x: [1, 2, 5, 37], w: [3, 2, 3, 5], geo: { stride: [1, 1], before: [2, 2], dilation: [1, 1], groups: 1 } },
  { name: 'dilation 2, groups 2', x: [2, 4, 9, 11], w: [4, 2, 3, 3], geo: { stride: [2, 1], before: [1, 2], dilation: [1, 2], groups: 2 } },
  { name: 'wide kernel', x: [1, 2, 4, 30], w: [2, 2, 2, 11], geo: { stride: [1, 1], before: [0, 3], dilation: [1, 1], groups: 1 } },
  { name: 'LeNet conv1-like, rows of 24 inside', x: [3, 1, 28, 28], w: [4, 1, 5, 5], geo: { stride: [1, 1], before: [0, 0], dilation: [1, 1], groups: 1 } },
  { name: 'rows of 32 inside, dilation 2', x: [1, 2, 3, 40], w: [2, 2, 2, 5], geo: { stride: [1, 1], before: [0, 0], dilation: [1, 2], groups: 1 } },
];

export function runCases(isa: string) {
  describe(`float32 conv kernels with KILN_NN_ISA=${isa}`, () => {
    for (const c of cases) {
      it(c.name, () => {
        const r = rng(c.x.reduce((a, b) => a * 11 + b, 1));
        const x = O.randomArr(c.x, 'float64', r, -1, 1);
        const w = O.randomArr(c.w, 'float64', r, -1, 1);
        const g = c.geo;
        const I = c.x.slice(2), K = c.w.slice(2);
        const out = I.map((s, d) => Math.floor((s + 2 * g.before[d] - g.dilation[d] * (K[d] - 1) - 1) / g.stride[d]) + 1);
        const attrs: ConvGeometry = { stride: g.stride, padding: g.before, dilation: g.dilation, groups: g.groups, inSize: I, kernelSize: K, outSize: out };
        const gy = O.randomArr([c.x[0], c.w[0], ...out], 'float64', r, -1, 1);
        const tol = { rtol: 1e-5, atol: 1e-4 };
        for (const layout of ['contiguous', 'strided'] as const) {
          expectTensor(bind(convP, [make(x, 'float32', layout), make(w, 'float32')], attrs), convRef(x, w, null, g, out), tol, `conv ${layout}`);
          expectTensor(bind(convWeightGradP, [make(x, 'float32', layout), make(gy, 'float32')], attrs), weightGradRef(x, gy, c.w, g), tol, `dw ${layout}`);
        }
        const dxFull = convTransposeRef(gy, w, null, { ...g, outputPadding: [0, 0] });
        const dx = O.fromFn(c.x, (idx) => (idx.every((v, d) => v < dxFull.shape[d]) ? dxFull.get(idx) : 0));
        expectTensor(bind(convTransposeP, [make(gy, 'float32'), make(w, 'float32')], attrs), dx, tol, 'dx');
      });
    }
  });
}


/** The max-pool argmax kernels (a SIMD one for 2 x 2 / stride 2) against a loop, ties and NaN included. */
export function runPoolCases(isa: string) {
  describe(`float32 max-pool kernels with KILN_NN_ISA=${isa}`, () => {
    it('2 x 2 stride 2 over rows of every length mod 16, ties, NaN, a padded edge', () => {
      const r = rng(77);
      for (const W of [2, 6, 16, 18, 32, 34, 50]) {
        const H = 4;
        const vals = O.randomArr([2, 3, H, W], 'float64', r, -2, 2);
        // Ties (quantized values) and a NaN.
        const data = vals.data.map((v, i) => (i === 5 ? NaN : Math.round(v * 2) / 2));
        const x = new O.Arr([2, 3, H, W], data);
        for (const padding of [0, 1]) {
          const Wo = Math.floor((W + 2 * padding - 2) / 2) + 1, Ho = Math.floor((H + 2 * padding - 2) / 2) + 1;
          const idx: number[] = [];
          for (let p = 0; p < 6; p++)
            for (let oh = 0; oh < Ho; oh++)
              for (let ow = 0; ow < Wo; ow++) {
                let best = NaN, at = -1;
                for (let a = 0; a < 2; a++)
                  for (let c = 0; c < 2; c++) {
                    const ih = oh * 2 - padding + a, iw = ow * 2 - padding + c;
                    if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                    const v = data[p * H * W + ih * W + iw];
                    if (at < 0 || v > best || (Number.isNaN(v) && !Number.isNaN(best))) {
                      best = v;
                      at = ih * W + iw;
                    }
                  }
                idx.push(at);
              }
          const [, got] = maxPool2dWithIndices(make(x, 'float32'), 2, { padding });
          expectTensor(got, new O.Arr([2, 3, Ho, Wo], idx), { rtol: 0, atol: 0 }, `W ${W} padding ${padding}`);
        }
      }
    });
  });
}
