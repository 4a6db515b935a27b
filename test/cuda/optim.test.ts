// CUDA against CPU for the fused optimizer steps (native/cuda/optim.cu): a few steps of every
// optimizer on a fixed elementwise problem, on both devices, with the same values. The CUDA run
// must take the fused kernel (one call per parameter per step) and agree with the CPU's fused
// kernel and with the kiln-ops fallback on CUDA. Both kernels do the same float operations in the
// same order; fused multiply-adds may round differently, hence float32 rtol 1e-5.
import { afterEach, describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import { fusedStepCount, setFusedEnabled } from '../../lib/optim/fused.js';
import { available, dev, expectParity, title, twins } from './helpers.js';

type T = kiln.Tensor;
type DType = kiln.DType;
const { optim } = kiln;

type Make = (ps: T[]) => kiln.optim.Optimizer<any>;
const cases: [string, Make][] = [
  ['SGD', (ps) => new optim.SGD(ps, { lr: 0.1 })],
  ['SGD momentum + nesterov + weight decay', (ps) => new optim.SGD(ps, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 })],
  ['SGD momentum + dampening + maximize', (ps) => new optim.SGD(ps, { lr: 0.05, momentum: 0.8, dampening: 0.1, maximize: true })],
  ['Adam', (ps) => new optim.Adam(ps, { lr: 0.05 })],
  ['Adam amsgrad + weight decay', (ps) => new optim.Adam(ps, { lr: 0.05, betas: [0.8, 0.99], weightDecay: 0.1, amsgrad: true })],
  ['AdamW', (ps) => new optim.AdamW(ps, { lr: 0.05, weightDecay: 0.05 })],
  ['AdamW amsgrad + maximize', (ps) => new optim.AdamW(ps, { lr: 0.01, amsgrad: true, maximize: true })],
  ['Adagrad', (ps) => new optim.Adagrad(ps, { lr: 0.1, lrDecay: 0.01, weightDecay: 0.05, initialAccumulatorValue: 0.1 })],
  ['RMSprop', (ps) => new optim.RMSprop(ps, { lr: 0.01 })],
  ['RMSprop centered + momentum + weight decay', (ps) => new optim.RMSprop(ps, { lr: 0.01, alpha: 0.9, momentum: 0.5, centered: true, weightDecay: 0.1 })],
];

const SHAPES = [[37, 29], [5], [1, 1024]];
const STEPS = 3;

/** Parameters of SHAPES on one side of the twins, after STEPS steps of loss = Σ c p² + d p. */
function train(make: Make, side: 0 | 1, dtype: DType): { params: T[]; fused: number } {
  const ps: T[] = [], cs: T[] = [], ds: T[] = [];
  SHAPES.forEach((shape, k) => {
    ps.push(twins(shape, dtype, 'contiguous', { seed: 100 + k })[side].requiresGrad_());
    cs.push(twins(shape, dtype, 'contiguous', { seed: 200 + k, lo: 0.5, hi: 2 })[side]);
    ds.push(twins(shape, dtype, 'contiguous', { seed: 300 + k })[side]);
  });
  const opt = make(ps);
  const before = fusedStepCount();
  for (let s = 0; s < STEPS; s++) {
    opt.zeroGrad();
    kiln.tidy(() => {
      const losses = ps.map((p, k) => cs[k].mul(p.square()).sum().add(ds[k].mul(p).sum()));
      losses.reduce((a, b) => a.add(b)).backward();
    });
    opt.step();
  }
  return { params: ps, fused: fusedStepCount() - before };
}

describe.skipIf(!available)(title('CUDA parity: fused optimizer steps'), () => {
  afterEach(() => setFusedEnabled(true));
  for (const [name, make] of cases) {
    for (const dtype of ['float32', 'float64'] as DType[]) {
      it(`${name} ${dtype}: the fused kernel on CUDA matches the CPU`, () => {
        const cpu = train(make, 0, dtype);
        const gpu = train(make, 1, dtype);
        expect(gpu.params[0].device).toMatch(fakeOr(/^cuda/));
        expect(gpu.fused, 'fused steps on CUDA').toBe(SHAPES.length * STEPS);
        expect(cpu.fused, 'fused steps on the CPU').toBe(SHAPES.length * STEPS);
        cpu.params.forEach((p, k) => expectParity(p, gpu.params[k], `${name} ${dtype} param ${k}`));
      });
    }
    it(`${name}: CUDA fused kernel and kiln-ops fallback agree`, () => {
      const fused = train(make, 1, 'float64');
      setFusedEnabled(false);
      const ops = train(make, 1, 'float64');
      expect(ops.fused).toBe(0);
      fused.params.forEach((p, k) => expectParity(p, ops.params[k], `${name} fallback param ${k}`, { rtol: 1e-12, atol: 1e-12 }));
    });
  }
});

/** The device pattern of the CUDA side (KILN_CUDA_FAKE puts it on the CPU). */
function fakeOr(re: RegExp): RegExp {
  return dev === 'cpu' ? /^cpu/ : re;
}
