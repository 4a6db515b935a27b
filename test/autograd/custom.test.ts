// customVjp, customJvp, stopGradient, checkpoint.
import { describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';

const f64 = { dtype: 'float64' as const };
const scalar = (v: number) => kiln.tensor(v, f64);

describe('custom rules', () => {
  it('customVjp replaces the derivative (a clipped gradient) and still nests', () => {
    // Identity in the forward pass, gradient scaled by 10 in the backward pass.
    const loud = kiln.customVjp((x) => x.mul(1), (_inputs, _out, g) => [g.mul(10)]);
    expect((kiln.grad((x: Tensor) => loud(x).sum())(kiln.ones([3], f64)) as Tensor).arraySync()).toEqual([10, 10, 10]);
    // A rule written with differentiable ops can be differentiated again: d/dx of (g * x^2)
    const sq = kiln.customVjp((x) => x.square(), ([x], _out, g) => [g.mul(x).mul(2)]);
    const d2 = kiln.grad((x: Tensor) => kiln.grad((y: Tensor) => sq(y).sum())(x).sum())(scalar(3)) as Tensor;
    expect(d2.item()).toBe(2);
    // and the PyTorch style uses it too
    const w = kiln.tensor([1, 2], { ...f64, requiresGrad: true });
    loud(w).sum().backward();
    expect(Array.from(w.grad!.dataSync())).toEqual([10, 10]);
  });
  it('customJvp sets the forward-mode derivative', () => {
    // A numerically stable log(1 + exp(x)) whose tangent is sigmoid(x) t.
    const softplus = kiln.customJvp((x) => x.exp().log1p(), ([x], _out, [t]) => t!.mul(x.sigmoid()));
    const x = scalar(0.3);
    const [, t] = kiln.jvp(softplus, [x], [scalar(2)]) as [Tensor, Tensor];
    expect(Math.abs((t.item() as number) - 2 / (1 + Math.exp(-0.3)))).toBeLessThan(1e-12);
  });
  it('stopGradient zeroes the derivative in both modes', () => {
    const f = (x: Tensor) => x.mul(kiln.stopGradient(x));
    expect((kiln.grad(f)(scalar(3)) as Tensor).item()).toBe(3);
    expect((kiln.jvp(f, [scalar(3)], [scalar(1)])[1] as Tensor).item()).toBe(3);
  });
  it('checkpoint recomputes and gives the same gradients', () => {
    const block = (x: Tensor) => x.tanh().mul(x.sin()).exp().sum(0);
    const x = kiln.rand([4, 3], { ...f64, low: -1, high: 1 });
    const plain = Array.from((kiln.grad((t: Tensor) => block(t).sum())(x) as Tensor).dataSync());
    const ck = kiln.checkpoint(block);
    const viaCk = Array.from((kiln.grad((t: Tensor) => ck(t).sum())(x) as Tensor).dataSync());
    viaCk.forEach((v, i) => expect(Math.abs(v - plain[i])).toBeLessThan(1e-12));
    const report = kiln.checkGrads((t) => ck(t), [x], { order: 2 });
    expect(report.ok).toBe(true);
  });
  it('checkGrads reports the worst element of a wrong rule', () => {
    const wrong = kiln.customVjp((x) => x.square(), ([x], _out, g) => [g.mul(x).mul(3)], {
      jvp: ([x], _out, [t]) => t!.mul(x).mul(2),
    });
    const report = kiln.checkGrads((x) => wrong(x), [kiln.tensor([1, 2], f64)], { modes: ['rev'], raise: false });
    expect(report.ok).toBe(false);
    expect(report.worst!.check).toBe('rev');
    expect(report.worst!.index).toBe(1);
    expect(() => kiln.checkGrads((x) => wrong(x), [kiln.tensor([1, 2], f64)], { modes: ['rev'] })).toThrow(/index 1/);
  });
});
