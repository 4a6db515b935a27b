// Cases for the float32 convolution kernels, which come in SIMD variants (AVX-512, AVX2) chosen
// at run time and a portable fallback. The main suite runs the best one this CPU has;
// conv-avx2.test.ts and conv-portable.test.ts run the others (KILN_CONV_ISA is read once, at the
// first convolution of the process, and every test file runs in its own process) against the
// same oracles, on geometries that reach every code path: whole interior runs, padded edges,
// runs longer than a vector, dilation, strided inputs.
import { describe, it } from 'vitest';

import * as kiln from '../../../lib/index.js';
import { convP, convTransposeP, convWeightGradP, type ConvGeometry } from '../../../lib/ops/nn/index.js';
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
];

export function runCases(isa: string) {
  describe(`float32 conv kernels with KILN_CONV_ISA=${isa}`, () => {
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

