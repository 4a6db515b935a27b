// The PyTorch-style API on the same engine: requiresGrad, backward, .grad, detach, noGrad.
import { describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';

const f64 = { dtype: 'float64' as const };

describe('backward()', () => {
  it('computes leaf gradients, including through broadcasting', () => {
    const w = kiln.tensor([[1, 2], [3, 4]], { ...f64, requiresGrad: true });
    const b = kiln.tensor([0.5, -1], { ...f64, requiresGrad: true });
    const x = kiln.tensor([[1, -1], [2, 0.5], [0, 1]], f64);
    const loss = x.matmul(w).add(b).square().sum();
    loss.backward();
    // d/dW sum((xW + b)^2) = x^T 2(xW + b);  d/db = sum over rows of 2(xW + b)
    const z = [[1 * 1 + -1 * 3 + 0.5, 1 * 2 + -1 * 4 - 1], [2 * 1 + 0.5 * 3 + 0.5, 2 * 2 + 0.5 * 4 - 1], [3 + 0.5, 4 - 1]];
    const xs = [[1, -1], [2, 0.5], [0, 1]];
    const gw = [[0, 0], [0, 0]];
    for (let r = 0; r < 3; r++) for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) gw[i][j] += xs[r][i] * 2 * z[r][j];
    expect(w.grad!.arraySync()).toEqual(gw);
    expect(b.grad!.arraySync()).toEqual([0, 1].map((j) => z.reduce((s, row) => s + 2 * row[j], 0)));
  });
  it('accumulates across backward calls', () => {
    const x = kiln.tensor([1, 2, 3], { ...f64, requiresGrad: true });
    x.mul(2).sum().backward();
    x.mul(3).sum().backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([5, 5, 5]);
  });
  it('a second backward without retainGraph fails clearly; with it, it works', () => {
    const x = kiln.tensor([1, 2], { ...f64, requiresGrad: true });
    const y = x.exp().sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([2 * Math.exp(1), 2 * Math.exp(2)]);
    expect(() => y.backward()).toThrow(/second time/);
  });
  it('createGraph gives differentiable gradients', () => {
    const x = kiln.tensor([0.5, 1.5], { ...f64, requiresGrad: true });
    const y = x.pow(3).sum();
    const [g] = kiln.autograd.grad(y, x, { createGraph: true }) as Tensor[];
    g.sum().backward(); // d/dx sum(3x^2) = 6x
    expect(Array.from(x.grad!.dataSync())).toEqual([3, 9]);
  });
  it('non-scalar outputs need an explicit gradient', () => {
    const x = kiln.tensor([1, 2], { ...f64, requiresGrad: true });
    expect(() => x.mul(2).backward()).toThrow(kiln.ShapeError);
    x.mul(2).backward(kiln.tensor([1, 10], f64));
    expect(Array.from(x.grad!.dataSync())).toEqual([2, 20]);
  });
});

describe('detach, noGrad, requiresGrad_', () => {
  it('detach cuts the graph', () => {
    const x = kiln.tensor([2], { ...f64, requiresGrad: true });
    const y = x.mul(x.detach());
    y.sum().backward();
    expect(x.grad!.item()).toBe(2);
  });
  it('noGrad records nothing', () => {
    const x = kiln.tensor([2], { ...f64, requiresGrad: true });
    const y = kiln.noGrad(() => x.mul(3));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBe(null);
  });
  it('requiresGrad_ marks leaves; only float tensors can require grad', () => {
    const x = kiln.ones([2], f64).requiresGrad_();
    expect(x.isLeaf && x.requiresGrad).toBe(true);
    expect(() => kiln.ones([2], { dtype: 'int32' }).requiresGrad_()).toThrow(/float/);
    expect(() => x.mul(2).requiresGrad_(false)).toThrow(/leaf/);
  });
});

describe('in-place guard', () => {
  it('modifying a tensor the graph saved throws', () => {
    const a = kiln.tensor([1, 2], { ...f64, requiresGrad: true });
    const h = a.mul(2);
    const y = h.exp(); // exp saves its output ... and mul saved nothing of h
    const z = h.mul(h); // mul saves h
    expect(() => h.fill_(0)).toThrow(/saved by the autodiff graph/);
    y.sum().add(z.sum()).backward();
    // after backward the saved tensors are released and in-place is allowed again
    expect(() => h.fill_(0)).not.toThrow();
  });
  it('modifying a leaf that requires grad needs noGrad', () => {
    const w = kiln.tensor([1, 2], { ...f64, requiresGrad: true });
    expect(() => w.fill_(0)).toThrow(/noGrad/);
    kiln.noGrad(() => w.fill_(0));
    expect(Array.from(w.dataSync())).toEqual([0, 0]);
  });
});
