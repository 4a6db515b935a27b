// CUDA against CPU for the fused nn kernels (native/cuda/pool.cu, norm.cu, softmax.cu, rnn.cu),
// through kiln's functional API, layers and autograd: values and gradients of max/avg/adaptive
// pooling, batch/layer/group norm, softmax, log-softmax and cross-entropy, LSTM and GRU layers.
//
// Tolerances: pooling and the recurrent cells compute the same float operations in the same
// order as the CPU (float32 rtol 1e-5). Norms and softmax sum in a different order (CUDA in
// double, the CPU in float lanes then double), and matmuls (cuBLAS) in another: float32 within
// rtol 1e-4 / atol 1e-5 there; float64 within 1e-10.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import { runKernel1 } from '../../lib/ops/kernel.js';
import { available, dev, expectParity, title, twins, type Layout, type ParityOpts } from './helpers.js';

type T = kiln.Tensor;
type DType = kiln.DType;
const F = kiln.nn.functional;
const { nn } = kiln;

const EXACT: ParityOpts = {};
const SUMS: Record<'float32' | 'float64', ParityOpts> = {
  float32: { rtol: 1e-4, atol: 1e-5 },
  float64: { rtol: 1e-10, atol: 1e-10 },
};

/**
 * f and its gradients (of sum(f(...) * w) for a random w) on both devices: inputs are [cpu, cuda]
 * twins, compared value by value.
 */
function checkGrad(label: string, f: (...a: T[]) => T, inputs: [T, T][], opts: ParityOpts = EXACT): void {
  const yc = f(...inputs.map((p) => p[0]));
  const yg = f(...inputs.map((p) => p[1]));
  expectParity(yc, yg, label, opts);
  const [wc, wg] = twins(yc.shape, yc.dtype, 'contiguous', { seed: 77 });
  const argnums = inputs.map((_, i) => i);
  const gc = kiln.grad((...a: T[]) => f(...a).mul(wc).sum(), argnums)(...inputs.map((p) => p[0])) as T[];
  const gg = kiln.grad((...a: T[]) => f(...a).mul(wg).sum(), argnums)(...inputs.map((p) => p[1])) as T[];
  gc.forEach((g, i) => expectParity(g, gg[i], `${label}: gradient ${i}`, opts));
}

const FLOATS: DType[] = ['float32', 'float64'];

describe.skipIf(!available)(title('CUDA parity: fused nn kernels'), () => {
  describe('pooling', () => {
    const maxPools = [
      { nd: 1, f: F.maxPool1d, shape: [2, 3, 23], cases: [[3, {}], [4, { stride: 3, padding: 2, dilation: 2, ceilMode: true }]] },
      { nd: 2, f: F.maxPool2d, shape: [2, 3, 11, 13], cases: [[2, {}], [[3, 2], { stride: [2, 1], padding: [1, 1], dilation: [2, 1], ceilMode: true }]] },
      { nd: 3, f: F.maxPool3d, shape: [2, 2, 5, 6, 7], cases: [[2, {}], [3, { stride: 2, padding: 1, ceilMode: true }]] },
    ] as const;
    for (const { nd, f, shape, cases } of maxPools) {
      for (const dtype of FLOATS) {
        it(`maxPool${nd}d ${dtype}: values and gradients, plain and strided inputs`, () => {
          for (const [k, o] of cases) {
            for (const layout of ['contiguous', 'strided', 'permuted'] as Layout[]) {
              const x = twins([...shape], dtype, layout, { seed: 3 + nd });
              checkGrad(`maxPool${nd}d ${JSON.stringify([k, o])} ${layout}`, (a) => (f as any)(a, k, o), [x]);
            }
          }
        });
      }
    }
    it('max pooling indices: the first of ties, NaN wins (exact int32 parity)', () => {
      for (const choices of [[0, 1, 2, 2], [0, 1, NaN, 2, NaN]]) {
        for (const dtype of FLOATS) {
          const [c, g] = twins([2, 3, 9, 10], dtype, 'contiguous', { choices, seed: 21 });
          for (const [k, o] of [[2, {}], [3, { stride: 2, padding: 1 }], [[2, 3], { stride: 1, dilation: [1, 2] }]] as const) {
            const [vc, ic] = F.maxPool2dWithIndices(c, k as any, o as any);
            const [vg, ig] = F.maxPool2dWithIndices(g, k as any, o as any);
            expectParity(ic, ig, `indices ${JSON.stringify(choices)} ${dtype} ${JSON.stringify([k, o])}`);
            expectParity(vc, vg, `values ${JSON.stringify(choices)} ${dtype}`);
          }
          const [ac] = F.maxPool1dWithIndices(c.reshape([6, 9, 10]).select(0, 0).unsqueeze(0), 4, { stride: 3 });
          const [ag] = F.maxPool1dWithIndices(g.reshape([6, 9, 10]).select(0, 0).unsqueeze(0), 4, { stride: 3 });
          expectParity(ac, ag, `maxPool1d values ${dtype}`);
        }
      }
    });
    it('adaptive max pooling', () => {
      const x = twins([2, 3, 13, 7], 'float32', 'strided', { seed: 5 });
      checkGrad('adaptiveMaxPool2d', (a) => F.adaptiveMaxPool2d(a, [4, 3]), [x]);
      checkGrad('adaptiveMaxPool1d', (a) => F.adaptiveMaxPool1d(a.select(3, 0), 5), [x]);
    });

    const avgCases: [string, (a: T) => T][] = [
      ['avgPool1d k3 s2 p1 includePad', (a) => F.avgPool1d(a.select(3, 1), 3, { stride: 2, padding: 1 })],
      ['avgPool1d k3 s2 p1 excludePad ceil', (a) => F.avgPool1d(a.select(3, 1), 3, { stride: 2, padding: 1, countIncludePad: false, ceilMode: true })],
      ['avgPool2d k2', (a) => F.avgPool2d(a, 2)],
      ['avgPool2d k3 s2 p1 includePad ceil', (a) => F.avgPool2d(a, 3, { stride: 2, padding: 1, ceilMode: true })],
      ['avgPool2d k3 s2 p1 excludePad ceil', (a) => F.avgPool2d(a, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false })],
      ['avgPool2d k[3,2] divisor 5', (a) => F.avgPool2d(a, [3, 2], { stride: [1, 2], padding: [1, 0], divisorOverride: 5 })],
      ['avgPool3d k2 s1 p1 excludePad', (a) => F.avgPool3d(a.reshape([2, 3, 3, 3, 26]).narrow(4, 1, 20), 2, { stride: 1, padding: 1, countIncludePad: false })],
      ['avgPool3d k[3,2,3] s2 includePad ceil', (a) => F.avgPool3d(a.reshape([2, 3, 3, 3, 26]), [3, 2, 3], { stride: 2, padding: 1, ceilMode: true })],
      ['adaptiveAvgPool2d [4, 5]', (a) => F.adaptiveAvgPool2d(a, [4, 5])],
      ['adaptiveAvgPool2d [1, 1]', (a) => F.adaptiveAvgPool2d(a, 1)],
      ['adaptiveAvgPool2d larger than input', (a) => F.adaptiveAvgPool2d(a, [12, 10])],
      ['adaptiveAvgPool1d 5', (a) => F.adaptiveAvgPool1d(a.select(2, 4), 5)],
      ['adaptiveAvgPool3d [2, 3, 4]', (a) => F.adaptiveAvgPool3d(a.reshape([2, 3, 3, 3, 26]), [2, 3, 4])],
    ];
    for (const dtype of FLOATS) {
      it(`average pooling ${dtype}: countIncludePad on and off, divisor, adaptive; values and gradients`, () => {
        for (const layout of ['contiguous', 'flipped'] as Layout[]) {
          const x = twins([2, 3, 9, 26], dtype, layout, { seed: 8 });
          for (const [label, f] of avgCases) checkGrad(`${label} ${dtype} ${layout}`, (a) => f(layout === 'flipped' ? a.contiguous() : a), [x]);
          // and the kernels on strided views themselves
          const [c, g] = x;
          expectParity(F.avgPool2d(c, 3, { stride: 2, padding: 1 }), F.avgPool2d(g, 3, { stride: 2, padding: 1 }), `avgPool2d ${layout} view`);
        }
      });
    }
    it('layers on CUDA: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d', () => {
      const x = twins([4, 8, 17, 15], 'float32', 'contiguous', { seed: 9 });
      for (const m of [new nn.MaxPool2d(3, { stride: 2, padding: 1 }), new nn.AvgPool2d(2), new nn.AdaptiveAvgPool2d([5, 4])]) {
        checkGrad(m.constructor.name, (a) => m.forward(a) as T, [x]);
      }
    });
  });

  describe('normalization', () => {
    for (const dtype of FLOATS) {
      it(`batchNorm2d ${dtype}: training (batch statistics, running stats) and evaluation, gradients`, () => {
        for (const shape of [[4, 3, 5, 6], [16, 3, 20, 20], [64, 5, 1, 1]]) {
          kiln.manualSeed(11);
          const mc = new nn.BatchNorm2d(shape[1], { dtype });
          kiln.manualSeed(11);
          const mg = new nn.BatchNorm2d(shape[1], { dtype }).to(dev);
          for (const m of [mc, mg]) {
            kiln.noGrad(() => {
              m.weight!.copy_(kiln.linspace(0.5, 1.5, shape[1], { dtype, device: m.weight!.device }));
              m.bias!.copy_(kiln.linspace(-0.2, 0.3, shape[1], { dtype, device: m.bias!.device }));
            });
          }
          const x = twins(shape, dtype, 'contiguous', { seed: 12, lo: -1, hi: 3 });
          const label = `batchNorm2d ${dtype} ${JSON.stringify(shape)}`;
          x[0].requiresGrad_();
          x[1].requiresGrad_();
          const [wc, wg] = twins(shape, dtype, 'contiguous', { seed: 13 });
          const yc = mc.forward(x[0]);
          const yg = mg.forward(x[1]);
          expectParity(yc, yg, label, SUMS[dtype as 'float32']);
          yc.mul(wc).sum().backward();
          yg.mul(wg).sum().backward();
          expectParity(x[0].grad!, x[1].grad!, `${label}: input gradient`, SUMS[dtype as 'float32']);
          expectParity(mc.weight!.grad!, mg.weight!.grad!, `${label}: weight gradient`, SUMS[dtype as 'float32']);
          expectParity(mc.bias!.grad!, mg.bias!.grad!, `${label}: bias gradient`, SUMS[dtype as 'float32']);
          expectParity(mc.running_mean!, mg.running_mean!, `${label}: running mean`, SUMS[dtype as 'float32']);
          expectParity(mc.running_var!, mg.running_var!, `${label}: running var`, SUMS[dtype as 'float32']);
          mc.eval();
          mg.eval();
          expectParity(mc.forward(x[0].detach()), mg.forward(x[1].detach()), `${label}: eval`, SUMS[dtype as 'float32']);
        }
      });
      it(`layerNorm and groupNorm ${dtype}: values and gradients (warp and block schedules)`, () => {
        const tol = SUMS[dtype as 'float32'];
        for (const [shape, ns] of [[[6, 7, 64], [64]], [[3, 4, 5, 6], [5, 6]], [[4, 3000], [3000]]] as [number[], number[]][]) {
          const x = twins(shape, dtype, 'contiguous', { seed: 14 });
          const w = twins(ns, dtype, 'contiguous', { seed: 15, lo: 0.5, hi: 1.5 });
          const b = twins(ns, dtype, 'contiguous', { seed: 16 });
          checkGrad(`layerNorm ${dtype} ${JSON.stringify(shape)}`, (a, ww, bb) => F.layerNorm(a, ns, ww, bb), [x, w, b], tol);
        }
        const xs = twins([3, 6, 7, 5], dtype, 'permuted', { seed: 17 });
        checkGrad(`layerNorm ${dtype} permuted input`, (a) => F.layerNorm(a, [5]), [xs], tol);
        for (const [shape, groups] of [[[4, 6, 5, 7], 3], [[2, 8, 40, 40], 2], [[5, 4, 9], 4]] as [number[], number][]) {
          const x = twins(shape, dtype, 'contiguous', { seed: 18 });
          const w = twins([shape[1]], dtype, 'contiguous', { seed: 19, lo: 0.5, hi: 1.5 });
          const b = twins([shape[1]], dtype, 'contiguous', { seed: 20 });
          checkGrad(`groupNorm ${dtype} ${JSON.stringify(shape)} / ${groups}`, (a, ww, bb) => F.groupNorm(a, groups, ww, bb), [x, w, b], tol);
        }
      });
    }
    it('a channel with a large mean keeps its variance (two-pass statistics)', () => {
      const [c, g] = twins([8, 4, 1000], 'float32', 'contiguous', { seed: 22, lo: 1000, hi: 1001 });
      const m = (t: T) => F.batchNorm(t, null, null, null, null, { training: true });
      expectParity(m(c), m(g), 'batchNorm, offset data', { rtol: 1e-3, atol: 1e-3 });
      const rmC = kiln.zeros([4]), rvC = kiln.ones([4]);
      const rmG = kiln.zeros([4], { device: dev }), rvG = kiln.ones([4], { device: dev });
      F.batchNorm(c, rmC, rvC, null, null, { training: true, momentum: 1 });
      F.batchNorm(g, rmG, rvG, null, null, { training: true, momentum: 1 });
      expectParity(rmC, rmG, 'running mean', { rtol: 1e-6 });
      expectParity(rvC, rvG, 'running var', { rtol: 1e-4, atol: 1e-6 });
    });
  });

  describe('softmax', () => {
    for (const dtype of FLOATS) {
      it(`softmax and logSoftmax ${dtype}: warp and block rows, strided inputs, gradients`, () => {
        const tol = SUMS[dtype as 'float32'];
        for (const [shape, layout] of [[[37, 10], 'contiguous'], [[8, 5000], 'contiguous'], [[3, 1025], 'strided'],
          [[33, 17], 'permuted'], [[9, 1500], 'flipped'], [[5, 1], 'contiguous'], [[2, 3, 4, 6], 'offset']] as [number[], Layout][]) {
          const x = twins(shape, dtype, layout, { seed: 23, lo: -8, hi: 8 });
          checkGrad(`softmax ${dtype} ${JSON.stringify(shape)} ${layout}`, (a) => F.softmax(a, -1), [x], tol);
          checkGrad(`logSoftmax ${dtype} ${JSON.stringify(shape)} ${layout}`, (a) => F.logSoftmax(a, -1), [x], tol);
          checkGrad(`softmax over dim 0 ${dtype} ${JSON.stringify(shape)} ${layout}`, (a) => F.softmax(a, 0), [x], tol);
        }
      });
    }
    it('infinities and NaN as on the CPU', () => {
      for (const D of [7, 2000]) {
        const [c, g] = twins([6, D], 'float32', 'contiguous', { seed: 24, choices: [-Infinity, -1, 0, 2, Infinity, 1.5] });
        expectParity(F.softmax(c), F.softmax(g), `softmax with infinities D=${D}`);
        expectParity(F.logSoftmax(c), F.logSoftmax(g), `logSoftmax with infinities D=${D}`);
        const [cn, gn] = twins([6, D], 'float32', 'contiguous', { seed: 25, choices: [NaN, -1, 0, 2, -3, 1, 4, 5] });
        expectParity(F.softmax(cn), F.softmax(gn), `softmax with NaN D=${D}`);
        const allNeg = kiln.full([2, D], -Infinity);
        expectParity(F.logSoftmax(allNeg), F.logSoftmax(allNeg.to(dev)), `logSoftmax of -inf rows D=${D}`);
      }
    });
    it('crossEntropy through logSoftmax: loss and gradient', () => {
      for (const dtype of FLOATS) {
        const tol = SUMS[dtype as 'float32'];
        const x = twins([16, 10], dtype, 'contiguous', { seed: 26, lo: -4, hi: 4 });
        const [tc, tg] = twins([16], 'int32', 'contiguous', { seed: 27, choices: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] });
        // The targets on the logits' device (with KILN_CUDA_FAKE both twins are on the CPU and equal).
        const on = (a: T, c: T, g: T) => (a.device === c.device ? c : g);
        checkGrad(`crossEntropy ${dtype}`, (a) => F.crossEntropy(a, on(a, tc, tg)), [x], tol);
        checkGrad(`crossEntropy labelSmoothing ${dtype}`, (a) => F.crossEntropy(a, on(a, tc, tg), { labelSmoothing: 0.1 }), [x], tol);
        const x3 = twins([4, 5, 3, 2], dtype, 'contiguous', { seed: 28 });
        const [t3c, t3g] = twins([4, 3, 2], 'int32', 'contiguous', { seed: 29, choices: [0, 1, 2, 3, 4] });
        checkGrad(`crossEntropy [N, C, d1, d2] ${dtype}`, (a) => F.crossEntropy(a, on(a, t3c, t3g), { reduction: 'sum' }), [x3], tol);
      }
    });
  });

  describe('recurrent layers', () => {
    const tol: ParityOpts = { rtol: 1e-4, atol: 1e-5 };
    for (const mode of ['LSTM', 'GRU'] as const) {
      for (const dtype of FLOATS) {
        it(`nn.${mode} ${dtype} (2 layers, bidirectional) forward and backward`, () => {
          const [T_, B, I, H] = [5, 3, 4, 6];
          const make = () => (mode === 'LSTM' ? new nn.LSTM(I, H, { numLayers: 2, bidirectional: true, dtype }) : new nn.GRU(I, H, { numLayers: 2, bidirectional: true, dtype }));
          kiln.manualSeed(31);
          const mc = make();
          kiln.manualSeed(31);
          const mg = make().to(dev);
          const [xc, xg] = twins([T_, B, I], dtype, 'contiguous', { seed: 32 });
          xc.requiresGrad_();
          xg.requiresGrad_();
          const [wc, wg] = twins([T_, B, 2 * H], dtype, 'contiguous', { seed: 33 });
          const run = (m: kiln.nn.Module<any[], any>, x: T, w: T) => {
            const [out, st] = m.forward(x) as [T, T | [T, T]];
            const states = Array.isArray(st) ? st : [st];
            const loss = states.reduce((acc: T, s) => acc.add(s.square().sum()), out.mul(w).sum());
            loss.backward();
            return [out, ...states];
          };
          const rc = run(mc, xc, wc);
          const rg = run(mg, xg, wg);
          const p = dtype === 'float64' ? SUMS.float64 : tol;
          rc.forEach((t, i) => expectParity(t, rg[i], `${mode} ${dtype} output ${i}`, p));
          expectParity(xc.grad!, xg.grad!, `${mode} ${dtype} input gradient`, p);
          const pg = new Map(mg.namedParameters());
          for (const [name, t] of mc.namedParameters()) expectParity(t.grad!, pg.get(name)!.grad!, `${mode} ${dtype} ${name}.grad`, p);
        });
      }
    }
    it('the cell kernels themselves on strided operands (lstmCell, gruCell and their backward kernels)', () => {
      const [B, H] = [7, 9];
      for (const dtype of FLOATS) {
        const gates = twins([B, 4 * H], dtype, 'strided', { seed: 41, lo: -3, hi: 3 });
        const cell = twins([B, H], dtype, 'flipped', { seed: 42 });
        const grad = twins([2, B, H], dtype, 'permuted', { seed: 43 });
        const run = (op: string, shape: number[], ins: [T, T][]) =>
          expectParity(runKernel1(op, { shape, dtype, device: 'cpu' }, ins.map((p) => p[0])),
            runKernel1(op, { shape, dtype, device: ins[0][1].device }, ins.map((p) => p[1])), `${op} ${dtype}`);
        run('lstmCell', [2, B, H], [gates, cell]);
        run('lstmCellBackward', [B, 5 * H], [gates, cell, grad]);
        const gi = twins([B, 3 * H], dtype, 'strided', { seed: 44, lo: -3, hi: 3 });
        const gh = twins([B, 3 * H], dtype, 'offset', { seed: 45, lo: -3, hi: 3 });
        const h = twins([B, H], dtype, 'permuted', { seed: 46 });
        const dh = twins([B, H], dtype, 'flipped', { seed: 47 });
        run('gruCell', [B, H], [gi, gh, h]);
        run('gruCellBackward', [B, 7 * H], [gi, gh, h, dh]);
      }
    });
  });
});
