// Layers against float64 oracles written here, train/eval behaviour, and gradient checks on
// parameters and inputs.
import { describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, gradCheck, i32, matmulT, sigmoid, t64, uniform, vals } from '../helpers/nn.js';

const { nn } = kiln;
const F = nn.functional;

describe('Linear and Bilinear', () => {
  it('Linear: PyTorch layout, default init bounds, y = x W^T + b, gradients', () => {
    kiln.manualSeed(1);
    const lin = new nn.Linear(5, 3, { dtype: 'float64' });
    expect(lin.weight.shape).toEqual([3, 5]);
    expect(lin.bias!.shape).toEqual([3]);
    const bound = 1 / Math.sqrt(5);
    for (const v of [...vals(lin.weight), ...vals(lin.bias!)]) expect(Math.abs(v)).toBeLessThanOrEqual(bound);
    const xv = uniform(4 * 5, 3);
    const want = matmulT(xv, vals(lin.weight), 4, 5, 3).map((v, i) => v + vals(lin.bias!)[i % 3]);
    expectClose(lin.forward(t64([4, 5], xv)), want, 1e-12);
    gradCheck((x, w, b) => F.linear(x, w, b), [t64([4, 5], xv), lin.weight.detach(), lin.bias!.detach()], { order: 2 });
    gradCheck((x, w) => F.linear(x, w), [t64([2, 5], 9), lin.weight.detach()], { order: 2 });
    expect(new nn.Linear(2, 2, { bias: false }).bias).toBeNull();
  });
  it('Linear on [batch, seq, features]', () => {
    const lin = new nn.Linear(3, 2, { dtype: 'float64' });
    expect(lin.forward(t64([2, 4, 3], 5)).shape).toEqual([2, 4, 2]);
  });
  it('Bilinear: y_o = x1^T A_o x2 + b_o', () => {
    const bl = new nn.Bilinear(3, 2, 4, { dtype: 'float64' });
    expect(bl.weight.shape).toEqual([4, 3, 2]);
    const x1 = uniform(6, 7), x2 = uniform(4, 8);
    const A = vals(bl.weight), b = vals(bl.bias!);
    const want: number[] = [];
    for (let n = 0; n < 2; n++) for (let o = 0; o < 4; o++) {
      let s = b[o];
      for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) s += x1[n * 3 + i] * A[o * 6 + i * 2 + j] * x2[n * 2 + j];
      want.push(s);
    }
    expectClose(bl.forward(t64([2, 3], x1), t64([2, 2], x2)), want, 1e-12);
    gradCheck((a, c, w) => F.bilinear(a, c, w), [t64([2, 3], x1), t64([2, 2], x2), bl.weight.detach()]);
  });
});

describe('activations', () => {
  const xs = [-25, -3, -1.2, -0.3, 0.2, 0.7, 2.5, 30];
  const erf = (x: number) => {
    // Abramowitz-Stegun 7.1.26 is too coarse; integrate the series instead (|x| small enough here).
    let sum = 0, term = x, n = 0;
    while (Math.abs(term) > 1e-17 * Math.abs(sum) || n < 5) {
      sum += term / (2 * n + 1);
      n++;
      term *= (-x * x) / n;
      if (n > 200) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  };
  const cases: [string, Tensor | ((x: Tensor) => Tensor), (x: number) => number][] = [
    ['relu', (x) => new nn.ReLU().forward(x), (x) => Math.max(0, x)],
    ['leakyRelu 0.1', (x) => new nn.LeakyReLU(0.1).forward(x), (x) => (x > 0 ? x : 0.1 * x)],
    ['elu 1.5', (x) => new nn.ELU(1.5).forward(x), (x) => (x > 0 ? x : 1.5 * Math.expm1(x))],
    ['gelu', (x) => new nn.GELU().forward(x), (x) => 0.5 * x * (1 + (Math.abs(x) < 6 ? erf(x / Math.SQRT2) : Math.sign(x)))],
    ['gelu tanh', (x) => new nn.GELU('tanh').forward(x), (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))],
    ['silu', (x) => new nn.SiLU().forward(x), (x) => x * sigmoid(x)],
    ['sigmoid', (x) => new nn.Sigmoid().forward(x), sigmoid],
    ['tanh', (x) => new nn.Tanh().forward(x), Math.tanh],
    ['softplus', (x) => new nn.Softplus().forward(x), (x) => (x > 20 ? x : Math.log1p(Math.exp(x)))],
    ['softplus beta 2 threshold 5', (x) => new nn.Softplus(2, 5).forward(x), (x) => (2 * x > 5 ? x : Math.log1p(Math.exp(2 * x)) / 2)],
  ];
  for (const [name, f, oracle] of cases) {
    it(name, () => {
      const fn = f as (x: Tensor) => Tensor;
      expectClose(fn(t64([xs.length], xs)), xs.map(oracle), 1e-12, 1e-9);
      gradCheck(fn, [t64([5], [-1.3, -0.4, 0.35, 0.9, 2.2])], { order: 2 });
    });
  }
  it('Softmax and LogSoftmax along a dim', () => {
    const v = uniform(6, 3, -2, 2);
    const rows = [v.slice(0, 3), v.slice(3)];
    const sm = rows.flatMap((r) => {
      const e = r.map(Math.exp);
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((x) => x / s);
    });
    expectClose(new nn.Softmax(1).forward(t64([2, 3], v)), sm, 1e-14);
    expectClose(new nn.LogSoftmax(1).forward(t64([2, 3], v)), sm.map(Math.log), 1e-13);
  });
});

describe('normalization', () => {
  it('BatchNorm1d in training normalizes with batch statistics and updates running ones (unbiased var)', () => {
    const N = 6, C = 3;
    const xv = uniform(N * C, 41, -2, 3);
    const bn = new nn.BatchNorm1d(C, { dtype: 'float64', momentum: 0.2 });
    kiln.noGrad(() => {
      bn.weight!.copy_(t64([C], [1.5, 0.5, -1]));
      bn.bias!.copy_(t64([C], [0.1, -0.2, 0.3]));
    });
    const y = vals(bn.forward(t64([N, C], xv)));
    const rm = vals(bn.running_mean!), rv = vals(bn.running_var!);
    for (let c = 0; c < C; c++) {
      const col = Array.from({ length: N }, (_, n) => xv[n * C + c]);
      const mean = col.reduce((a, b) => a + b, 0) / N;
      const varB = col.reduce((a, b) => a + (b - mean) ** 2, 0) / N;
      const w = [1.5, 0.5, -1][c], b = [0.1, -0.2, 0.3][c];
      for (let n = 0; n < N; n++) expect(Math.abs(y[n * C + c] - ((col[n] - mean) / Math.sqrt(varB + 1e-5)) * w - b)).toBeLessThan(1e-12);
      expect(Math.abs(rm[c] - 0.2 * mean)).toBeLessThan(1e-14);
      expect(Math.abs(rv[c] - (0.8 + 0.2 * varB * N / (N - 1)))).toBeLessThan(1e-14);
    }
    expect(bn.num_batches_tracked!.item()).toBe(1);
    // Evaluation uses the running statistics.
    bn.eval();
    const ye = vals(bn.forward(t64([N, C], xv)));
    for (let c = 0; c < C; c++) {
      const w = [1.5, 0.5, -1][c], b = [0.1, -0.2, 0.3][c];
      for (let n = 0; n < N; n++) expect(Math.abs(ye[n * C + c] - (((xv[n * C + c] - rm[c]) / Math.sqrt(rv[c] + 1e-5)) * w + b))).toBeLessThan(1e-12);
    }
    expect(bn.num_batches_tracked!.item()).toBe(1);
  });
  it('BatchNorm2d over (N, H, W); momentum null is a cumulative average', () => {
    const bn = new nn.BatchNorm2d(2, { dtype: 'float64', momentum: null });
    const a = t64([2, 2, 3, 3], 50), b = t64([2, 2, 3, 3], 51);
    bn.forward(a);
    bn.forward(b);
    const chanMean = (t: Tensor) => vals(t.mean([0, 2, 3]));
    const want = chanMean(a).map((m, i) => (m + chanMean(b)[i]) / 2);
    expectClose(bn.running_mean!, want, 1e-14);
    expect(bn.num_batches_tracked!.item()).toBe(2);
  });
  it('BatchNorm gradients (training mode) for input, weight and bias', () => {
    gradCheck((x, w, b) => F.batchNorm(x, null, null, w, b, { training: true }), [t64([4, 3, 2], 52), t64([3], [1, 2, 0.5]), t64([3], 53)]);
  });
  it('BatchNorm without trackRunningStats uses batch statistics in eval too', () => {
    const bn = new nn.BatchNorm1d(2, { dtype: 'float64', trackRunningStats: false }).eval();
    expect(bn.running_mean).toBeNull();
    const y = bn.forward(t64([4, 2], 54));
    expectClose(y.mean(0), [0, 0], 1e-12);
  });
  it('LayerNorm over the trailing dims, with gradients', () => {
    const xv = uniform(2 * 6, 61, -2, 2);
    const ln = new nn.LayerNorm([2, 3], { dtype: 'float64' });
    kiln.noGrad(() => ln.weight!.copy_(t64([2, 3], 62)));
    const w = vals(ln.weight!);
    const y = vals(ln.forward(t64([2, 2, 3], xv)));
    for (let n = 0; n < 2; n++) {
      const row = xv.slice(n * 6, n * 6 + 6);
      const m = row.reduce((a, b) => a + b, 0) / 6;
      const v = row.reduce((a, b) => a + (b - m) ** 2, 0) / 6;
      row.forEach((x, i) => expect(Math.abs(y[n * 6 + i] - ((x - m) / Math.sqrt(v + 1e-5)) * w[i])).toBeLessThan(1e-12));
    }
    gradCheck((x, ww, b) => F.layerNorm(x, [3], ww, b), [t64([2, 3], 63), t64([3], 64), t64([3], 65)]);
  });
  it('GroupNorm per (sample, group), affine per channel', () => {
    const N = 2, C = 4, L = 3, G = 2;
    const xv = uniform(N * C * L, 71, -2, 2);
    const gn = new nn.GroupNorm(G, C, { dtype: 'float64' });
    kiln.noGrad(() => gn.bias!.copy_(t64([C], [0.1, 0.2, 0.3, 0.4])));
    const y = vals(gn.forward(t64([N, C, L], xv)));
    for (let n = 0; n < N; n++) for (let g = 0; g < G; g++) {
      const start = n * C * L + g * (C / G) * L;
      const part = xv.slice(start, start + (C / G) * L);
      const m = part.reduce((a, b) => a + b, 0) / part.length;
      const v = part.reduce((a, b) => a + (b - m) ** 2, 0) / part.length;
      part.forEach((x, i) => {
        const c = g * (C / G) + Math.floor(i / L);
        expect(Math.abs(y[start + i] - ((x - m) / Math.sqrt(v + 1e-5) + [0.1, 0.2, 0.3, 0.4][c]))).toBeLessThan(1e-12);
      });
    }
    gradCheck((x, w, b) => F.groupNorm(x, 2, w, b), [t64([2, 4, 2], 72), t64([4], 73), t64([4], 74)]);
  });
});

describe('Dropout, Embedding, Flatten, Identity', () => {
  it('Dropout zeroes about p of the elements and scales the rest by 1/(1-p) in training; identity in eval', () => {
    kiln.manualSeed(3);
    const d = new nn.Dropout(0.3);
    const y = vals(d.forward(kiln.ones([20000], { dtype: 'float64' })));
    const zeros = y.filter((v) => v === 0).length / y.length;
    expect(Math.abs(zeros - 0.3)).toBeLessThan(0.02);
    for (const v of y) if (v !== 0) expect(Math.abs(v - 1 / 0.7)).toBeLessThan(1e-12);
    d.eval();
    expectClose(d.forward(t64([5], 4)), vals(t64([5], 4)));
    expect(() => new nn.Dropout(1.5)).toThrow(/probability/);
  });
  it('Embedding looks rows up; the padding row starts at zero and gets no gradient', () => {
    kiln.manualSeed(4);
    const e = new nn.Embedding(5, 3, { dtype: 'float64', paddingIdx: 0 });
    expectClose(e.weight.select(0, 0), [0, 0, 0]);
    const idx = i32([2, 2], [1, 0, 4, 1]);
    const out = e.forward(idx);
    expect(out.shape).toEqual([2, 2, 3]);
    const w = vals(e.weight);
    expectClose(out, [1, 0, 4, 1].flatMap((r) => w.slice(r * 3, r * 3 + 3)));
    out.mul(t64([2, 2, 3], 5)).sum().backward();
    expectClose(e.weight.grad!.select(0, 0), [0, 0, 0]);
    expect(Math.abs(vals(e.weight.grad!.select(0, 1))[0])).toBeGreaterThan(0);
    gradCheck((w) => F.embedding(i32([3], [2, 0, 2]), w), [t64([4, 2], 6)], { order: 2 });
  });
  it('Flatten and Identity', () => {
    expect(new nn.Flatten().forward(t64([2, 3, 4], 1)).shape).toEqual([2, 12]);
    expect(new nn.Flatten(0, 1).forward(t64([2, 3, 4], 1)).shape).toEqual([6, 4]);
    expectClose(new nn.Identity().forward(t64([3], 2)), vals(t64([3], 2)));
  });
});

describe('convolution and pooling layers', () => {
  it('Conv2d: weight [out, in/groups, kh, kw], default init bounds, output shapes incl. same padding', () => {
    kiln.manualSeed(5);
    const c = new nn.Conv2d(4, 6, 3, { groups: 2, padding: 'same', dtype: 'float64' });
    expect(c.weight.shape).toEqual([6, 2, 3, 3]);
    const bound = 1 / Math.sqrt(2 * 9);
    for (const v of vals(c.weight)) expect(Math.abs(v)).toBeLessThanOrEqual(bound);
    expect(c.forward(t64([2, 4, 5, 7], 1)).shape).toEqual([2, 6, 5, 7]);
    const s = new nn.Conv2d(1, 2, [3, 2], { stride: 2, padding: 1, dilation: [1, 2] });
    expect(s.forward(kiln.randn([1, 1, 9, 9])).shape).toEqual([1, 2, 5, 5]);
  });
  it('Conv2d matches a direct loop and passes checkGrads', () => {
    const c = new nn.Conv2d(2, 3, 2, { dtype: 'float64', stride: 1 });
    const xv = uniform(2 * 2 * 3 * 3, 81);
    const x = t64([2, 2, 3, 3], xv);
    const W = vals(c.weight), B = vals(c.bias!);
    const want: number[] = [];
    for (let n = 0; n < 2; n++) for (let o = 0; o < 3; o++) for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) {
      let s = B[o];
      for (let ci = 0; ci < 2; ci++) for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) s += W[((o * 2 + ci) * 2 + a) * 2 + b] * xv[((n * 2 + ci) * 3 + i + a) * 3 + j + b];
      want.push(s);
    }
    expectClose(c.forward(x), want, 1e-12);
    gradCheck((xx, w, b) => F.conv2d(xx, w, b, { padding: 1 }), [t64([1, 2, 3, 3], 82), c.weight.detach(), c.bias!.detach()]);
  });
  it('Conv1d and ConvTranspose2d (output padding) shapes and parameter layouts', () => {
    const c1 = new nn.Conv1d(3, 5, 3, { padding: 1 });
    expect(c1.weight.shape).toEqual([5, 3, 3]);
    expect(c1.forward(kiln.randn([2, 3, 10])).shape).toEqual([2, 5, 10]);
    const ct = new nn.ConvTranspose2d(4, 2, 3, { stride: 2, padding: 1, outputPadding: 1 });
    expect(ct.weight.shape).toEqual([4, 2, 3, 3]);
    expect(ct.forward(kiln.randn([1, 4, 5, 5])).shape).toEqual([1, 2, 10, 10]);
  });
  it('pooling layers', () => {
    const x = t64([1, 1, 4, 4], Array.from({ length: 16 }, (_, i) => i));
    expectClose(new nn.MaxPool2d(2).forward(x), [5, 7, 13, 15]);
    expectClose(new nn.AvgPool2d(2).forward(x), [2.5, 4.5, 10.5, 12.5]);
    expectClose(new nn.AvgPool2d(3, { stride: 1, padding: 1, countIncludePad: false }).forward(x).narrow(2, 0, 1).narrow(3, 0, 1), [(0 + 1 + 4 + 5) / 4]);
    expectClose(new nn.AdaptiveAvgPool2d(1).forward(x), [7.5]);
    expectClose(new nn.MaxPool1d(2).forward(t64([1, 1, 4], [1, 3, 2, 0])), [3, 2]);
    expectClose(new nn.AvgPool1d(2).forward(t64([1, 1, 4], [1, 3, 2, 0])), [2, 1]);
  });
});
