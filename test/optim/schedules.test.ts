// Learning-rate schedules (closed forms), L-BFGS, and the differentiable functional optimizers
// (a hypergradient through an unrolled training run).
import { describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, t64, uniform } from '../helpers/nn.js';

const { optim } = kiln;

function lrs(make: (o: kiln.optim.SGD) => { step(): void }, steps: number, lr = 1): number[] {
  const p = kiln.zeros([1]).requiresGrad_();
  const opt = new optim.SGD([p], { lr, momentum: 0.9 });
  const s = make(opt);
  const out = [opt.paramGroups[0].lr];
  for (let i = 1; i < steps; i++) {
    s.step();
    out.push(opt.paramGroups[0].lr);
  }
  return out;
}

describe('learning-rate schedules', () => {
  it('StepLR, MultiStepLR, ExponentialLR', () => {
    expectClose(lrs((o) => new optim.StepLR(o, 2, 0.5), 6), [1, 1, 0.5, 0.5, 0.25, 0.25]);
    expectClose(lrs((o) => new optim.MultiStepLR(o, [3, 1], 0.1), 5), [1, 0.1, 0.1, 0.01, 0.01], 1e-15);
    expectClose(lrs((o) => new optim.ExponentialLR(o, 0.9), 4), [1, 0.9, 0.81, 0.729], 1e-15);
  });
  it('CosineAnnealingLR and LinearWarmup', () => {
    const T = 4;
    expectClose(lrs((o) => new optim.CosineAnnealingLR(o, T, 0.1), 5, 2), [0, 1, 2, 3, 4].map((e) => 0.1 + (1.9 * (1 + Math.cos((Math.PI * e) / T))) / 2), 1e-14);
    expectClose(lrs((o) => new optim.LinearWarmup(o, 4), 6), [0, 0.25, 0.5, 0.75, 1, 1]);
    expectClose(lrs((o) => new optim.LinearLR(o, 0.5, 1, 2), 4), [0.5, 0.75, 1, 1]);
  });
  it('OneCycleLR: warm up to maxLr, anneal to maxLr / (div * finalDiv), momentum inverse', () => {
    const p = kiln.zeros([1]).requiresGrad_();
    const opt = new optim.SGD([p], { lr: 1, momentum: 0.9 });
    const s = new optim.OneCycleLR(opt, { maxLr: 1, totalSteps: 10 });
    const seen: [number, number][] = [[opt.paramGroups[0].lr, opt.paramGroups[0].momentum]];
    for (let i = 1; i < 10; i++) {
      s.step();
      seen.push([opt.paramGroups[0].lr, opt.paramGroups[0].momentum]);
    }
    expectClose([seen[0][0], seen[1][0], seen[2][0], seen[9][0]], [0.04, 0.52, 1, 0.04 / 1e4], 1e-12);
    expectClose([seen[0][1], seen[2][1], seen[9][1]], [0.95, 0.85, 0.95], 1e-12);
    expect(seen[5][0]).toBeLessThan(seen[3][0]);
    s.step();
    expect(() => s.step()).toThrow(/totalSteps/);
  });
  it('ReduceLROnPlateau: patience, cooldown, minLr', () => {
    const p = kiln.zeros([1]).requiresGrad_();
    const opt = new optim.SGD([p], { lr: 1 });
    const s = new optim.ReduceLROnPlateau(opt, { patience: 1, factor: 0.5, cooldown: 1, minLr: 0.2 });
    const seen = [5, 4, 4, 4, 4, 4, 4, 4].map((m) => {
      s.step(m);
      return opt.paramGroups[0].lr;
    });
    expect(seen).toEqual([1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]);
    for (let i = 0; i < 6; i++) s.step(4);
    expect(opt.paramGroups[0].lr).toBe(0.2);
  });
});

describe('LBFGS', () => {
  const rosen = (p: Tensor) => {
    const x = p.narrow(0, 0, 1), y = p.narrow(0, 1, 1);
    return kiln.sub(1, x).square().add(y.sub(x.square()).square().mul(100)).sum();
  };
  for (const lineSearchFn of [null, 'strong_wolfe'] as const) {
    it(`minimizes the Rosenbrock function (${lineSearchFn ?? 'fixed step'})`, () => {
      const p = t64([2], [-1.5, 2], { requiresGrad: true });
      const opt = new optim.LBFGS([p], { lr: lineSearchFn ? 1 : 0.1, maxIter: 200, historySize: 10, lineSearchFn });
      const closure = () => {
        opt.zeroGrad();
        const l = rosen(p);
        l.backward();
        return l;
      };
      for (let i = 0; i < (lineSearchFn ? 3 : 20); i++) opt.step(closure);
      expectClose(p, [1, 1], lineSearchFn ? 1e-4 : 2e-2, 0);
    });
  }
  it('solves least squares in a few strong-Wolfe iterations', () => {
    const A = t64([20, 3], 301);
    const xTrue = t64([3], [0.5, -1, 2]);
    const b = A.matmul(xTrue);
    const x = t64([3], [0, 0, 0], { requiresGrad: true });
    const opt = new optim.LBFGS([x], { lineSearchFn: 'strong_wolfe' });
    opt.step(() => {
      opt.zeroGrad();
      const l = A.matmul(x).sub(b).square().sum();
      l.backward();
      return l;
    });
    expectClose(x, [0.5, -1, 2], 1e-6, 0);
  });
});

describe('functional (differentiable) optimizers', () => {
  const X = t64([16, 3], 311);
  const y = t64([16], 312);
  const loss = (w: Tensor) => X.matmul(w).sub(y).square().mean();
  const w0 = t64([3], [0, 0, 0]);

  function trainWith(kind: 'sgd' | 'momentum' | 'adam', lr: Tensor, steps = 15): Tensor {
    const F = optim.functional;
    let w: Tensor = w0;
    if (kind === 'sgd') {
      let s = F.sgd.init(w);
      for (let i = 0; i < steps; i++) [w, s] = F.sgd.update(w, kiln.grad(loss)(w), s, { lr });
    } else if (kind === 'momentum') {
      let s = F.momentum.init(w);
      for (let i = 0; i < steps; i++) [w, s] = F.momentum.update(w, kiln.grad(loss)(w), s, { lr, momentum: 0.8, nesterov: true });
    } else {
      let s = F.adam.init(w);
      for (let i = 0; i < steps; i++) [w, s] = F.adam.update(w, kiln.grad(loss)(w), s, { lr });
    }
    return loss(w);
  }

  for (const kind of ['sgd', 'momentum', 'adam'] as const) {
    it(`${kind}: the hypergradient d loss_T / d lr matches finite differences`, () => {
      const lr = kind === 'adam' ? 0.05 : 0.03;
      const g = (kiln.grad((h: Tensor) => trainWith(kind, h))(t64([], [lr])) as Tensor).item() as number;
      const eps = 1e-6;
      const at = (v: number) => kiln.tidy(() => trainWith(kind, t64([], [v])).item() as number);
      const numeric = (at(lr + eps) - at(lr - eps)) / (2 * eps);
      expect(Math.abs(g - numeric)).toBeLessThan(1e-6 * Math.max(1, Math.abs(numeric)));
      expect(Math.abs(g)).toBeGreaterThan(1e-8);
    });
  }
  it('functional Adam matches optim.Adam step for step', () => {
    const p = t64([3], [0, 0, 0], { requiresGrad: true });
    const opt = new optim.Adam([p], { lr: 0.1 });
    let w: Tensor = w0;
    let s = optim.functional.adam.init(w);
    for (let i = 0; i < 4; i++) {
      opt.zeroGrad();
      loss(p).backward();
      opt.step();
      [w, s] = optim.functional.adam.update(w, kiln.grad(loss)(w), s, { lr: 0.1 });
    }
    expectClose(p, Array.from(w.dataSync()), 1e-12);
    void uniform;
  });
});
