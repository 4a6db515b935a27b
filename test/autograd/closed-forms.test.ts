// Derivatives with known closed forms, and identities between the transforms.
import { describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';

const scalar = (v: number) => kiln.tensor(v, { dtype: 'float64' });
const value = (t: Tensor) => t.item() as number;
const close = (a: number, b: number, tol = 1e-10) => expect(Math.abs(a - b)).toBeLessThan(tol * Math.max(1, Math.abs(b)));
type F = (x: Tensor) => Tensor;
const d = (f: F): F => kiln.grad(f) as F;

describe('closed forms', () => {
  it('d/dx tanh = 1 - tanh^2', () => {
    for (const x of [-2, -0.3, 0, 0.7, 3]) close(value(d((t) => t.tanh())(scalar(x))), 1 - Math.tanh(x) ** 2);
  });
  it('second and third derivatives of sin, exp, log', () => {
    for (const x of [0.3, 1.1, 2.5]) {
      close(value(d(d((t) => t.sin()))(scalar(x))), -Math.sin(x));
      close(value(d(d(d((t) => t.sin())))(scalar(x))), -Math.cos(x));
      close(value(d(d((t) => t.exp()))(scalar(x))), Math.exp(x));
      close(value(d(d(d((t) => t.exp())))(scalar(x))), Math.exp(x));
      close(value(d(d((t) => t.log()))(scalar(x))), -1 / x ** 2);
      close(value(d(d(d((t) => t.log())))(scalar(x))), 2 / x ** 3);
    }
  });
  it('the same higher derivatives through the PyTorch style with createGraph', () => {
    const x = kiln.tensor(0.8, { dtype: 'float64', requiresGrad: true });
    const [g1] = kiln.autograd.grad(x.sin(), x, { createGraph: true }) as Tensor[];
    const [g2] = kiln.autograd.grad(g1, x, { createGraph: true }) as Tensor[];
    const [g3] = kiln.autograd.grad(g2, x) as Tensor[];
    close(value(g1), Math.cos(0.8));
    close(value(g2), -Math.sin(0.8));
    close(value(g3), -Math.cos(0.8));
  });
});

describe('Hessians and Jacobians', () => {
  // f(x) = 1/2 x^T A x + b^T x has Hessian (A + A^T)/2 ... with A symmetric, exactly A.
  const A = kiln.tensor([[3, 1, 0.5], [1, 2, -1], [0.5, -1, 4]], { dtype: 'float64' });
  const b = kiln.tensor([1, -2, 0.5], { dtype: 'float64' });
  const quad = (x: Tensor) => x.matmul(A).matmul(x).mul(0.5).add(b.matmul(x));
  const x0 = kiln.tensor([0.2, -0.7, 1.3], { dtype: 'float64' });

  it('the Hessian of a quadratic equals its matrix', () => {
    const H = kiln.hessian(quad)(x0);
    expect(H.shape).toEqual([3, 3]);
    const h = H.arraySync() as number[][];
    const a = A.arraySync() as number[][];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) close(h[i][j], a[i][j]);
  });
  it('hvp equals hessian @ v', () => {
    const cubic = (x: Tensor) => x.pow(3).sum().add(quad(x)).add(x.sin().prod());
    const v = kiln.tensor([0.5, 1.5, -1], { dtype: 'float64' });
    const hv = Array.from(kiln.hvp(cubic, x0, v).dataSync() as Float64Array);
    const Hv = Array.from(kiln.hessian(cubic)(x0).matmul(v).dataSync());
    hv.forEach((h, i) => close(h, Hv[i]));
  });
  it('jacfwd equals jacrev', () => {
    const f = (x: Tensor) => kiln.stack([x.sin().mul(x.sum()), x.exp().cumsum(0)]).reshape(-1);
    const jf = Array.from(kiln.jacfwd(f)(x0).dataSync());
    const jr = Array.from(kiln.jacrev(f)(x0).dataSync());
    expect(jf.length).toBe(18);
    jf.forEach((v, i) => close(v, jr[i]));
  });
  it('jvp equals the double-VJP construction', () => {
    // jvp(f, x, v) = d/du [ vjp(f, x)(u) . v ] : the transpose of the transpose.
    const f = (x: Tensor) => x.tanh().mul(x.flip(0)).cumsum(0);
    const v = kiln.tensor([0.3, -1.2, 0.8], { dtype: 'float64' });
    const [, direct] = kiln.jvp(f, [x0], [v]) as [Tensor, Tensor];
    const u0 = kiln.zeros([3], { dtype: 'float64' });
    const viaVjp = kiln.grad((u: Tensor) => (kiln.vjp(f, x0)[1](u) as Tensor).mul(v).sum())(u0) as Tensor;
    const a = Array.from(direct.dataSync());
    Array.from(viaVjp.dataSync()).forEach((x, i) => close(x, a[i]));
  });
  it('grad takes pytrees and argnums', () => {
    const params = { w: kiln.tensor([1, 2], { dtype: 'float64' }), b: [kiln.tensor(0.5, { dtype: 'float64' })] };
    const loss = (p: typeof params, x: Tensor) => p.w.mul(x).sum().add(p.b[0]).square();
    const x = kiln.tensor([3, -1], { dtype: 'float64' });
    const g = kiln.grad(loss)(params, x) as { w: Tensor; b: Tensor[] };
    const s = 1 * 3 + 2 * -1 + 0.5; // 1.5
    expect(Array.from(g.w.dataSync())).toEqual([2 * s * 3, 2 * s * -1]);
    close(value(g.b[0]), 2 * s);
    const [gp, gx] = kiln.grad(loss, [0, 1])(params, x) as [typeof g, Tensor];
    expect(Array.from(gx.dataSync())).toEqual([2 * s * 1, 2 * s * 2]);
    expect(Array.from(gp.w.dataSync())).toEqual(Array.from(g.w.dataSync()));
  });
});
