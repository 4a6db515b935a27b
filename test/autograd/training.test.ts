// Differentiating through whole computations: a hypergradient through 50 unrolled SGD steps, and
// the implicit-function-theorem gradient of a fixed point.
import { describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';

describe('hypergradient through unrolled training', () => {
  // Least squares: loss(w) = mean((X w - y)^2). Train 50 SGD steps from w0 with learning rate
  // lr; the final loss is a function of lr whose derivative must match finite differences.
  kiln.manualSeed(7);
  const X = kiln.randn([20, 3], { dtype: 'float64' });
  const y = kiln.randn([20], { dtype: 'float64' });
  const w0 = kiln.zeros([3], { dtype: 'float64' });
  const loss = (w: Tensor) => X.matmul(w).sub(y).square().mean();
  const finalLoss = (lr: Tensor) => {
    let w = w0;
    for (let step = 0; step < 50; step++) {
      const g = kiln.grad(loss)(w) as Tensor;
      w = w.sub(g.mul(lr));
    }
    return loss(w);
  };

  it('matches a finite difference of the whole training run', () => {
    const lr = 0.05;
    const hyper = (kiln.grad(finalLoss)(kiln.tensor(lr, { dtype: 'float64' })) as Tensor).item() as number;
    const eps = 1e-5;
    const at = (v: number) => kiln.tidy(() => finalLoss(kiln.tensor(v, { dtype: 'float64' })).item() as number);
    const numeric = (at(lr + eps) - at(lr - eps)) / (2 * eps);
    expect(Math.abs(hyper - numeric)).toBeLessThan(1e-6 * Math.max(1, Math.abs(numeric)));
    expect(Math.abs(hyper)).toBeGreaterThan(1e-6); // the learning rate does matter here
  });
});

describe('fixedPoint (implicit function theorem)', () => {
  // x* = tanh(W x* + b): a contraction for small W.
  const W = kiln.tensor([[0.3, -0.2, 0.1], [0.05, 0.25, -0.15], [-0.1, 0.2, 0.3]], { dtype: 'float64' });
  const b0 = kiln.tensor([0.5, -0.3, 0.8], { dtype: 'float64' });
  const x0 = kiln.zeros([3], { dtype: 'float64' });
  const step = (p: { W: Tensor; b: Tensor }, x: Tensor) => p.W.matmul(x).add(p.b).tanh();
  const objective = (x: Tensor) => x.mul(kiln.tensor([1, 2, -1], { dtype: 'float64' })).sum();

  const viaFixedPoint = (b: Tensor) => objective(kiln.fixedPoint(step, { W, b }, x0));
  const unrolled = (b: Tensor) => {
    let x = x0;
    for (let i = 0; i < 100; i++) x = step({ W, b }, x);
    return objective(x);
  };

  it('the forward pass reaches the fixed point', () => {
    const x = kiln.fixedPoint(step, { W, b: b0 }, x0);
    const again = step({ W, b: b0 }, x);
    const diff = Math.max(...Array.from(x.sub(again).abs().dataSync()));
    expect(diff).toBeLessThan(1e-9);
  });
  it('the gradient with respect to b matches the unrolled gradient and finite differences', () => {
    const implicit = Array.from((kiln.grad(viaFixedPoint)(b0) as Tensor).dataSync());
    const unroll = Array.from((kiln.grad(unrolled)(b0) as Tensor).dataSync());
    const eps = 1e-6;
    const base = Array.from(b0.dataSync());
    const numeric = base.map((_, i) => {
      const shifted = (delta: number) => {
        const v = [...base];
        v[i] += delta;
        return viaFixedPoint(kiln.tensor(v, { dtype: 'float64' })).item() as number;
      };
      return (shifted(eps) - shifted(-eps)) / (2 * eps);
    });
    implicit.forEach((g, i) => {
      expect(Math.abs(g - unroll[i])).toBeLessThan(1e-8);
      expect(Math.abs(g - numeric[i])).toBeLessThan(1e-6);
    });
  });
  it('forward mode through the fixed point agrees with reverse mode', () => {
    const v = kiln.tensor([1, 0.5, -2], { dtype: 'float64' });
    const [, t] = kiln.jvp(viaFixedPoint, [b0], [v]) as [Tensor, Tensor];
    const g = kiln.grad(viaFixedPoint)(b0) as Tensor;
    expect(Math.abs((t.item() as number) - (g.mul(v).sum().item() as number))).toBeLessThan(1e-8);
  });
});
