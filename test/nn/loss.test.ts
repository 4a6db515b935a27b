// Losses against plain-JS float64 oracles, every option, plus gradient checks.
import { describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, gradCheck, i32, sigmoid, t64, uniform, vals } from '../helpers/nn.js';

const F = kiln.nn.functional;
type Red = 'mean' | 'sum' | 'none';

/** Cross entropy over x [N, C, D] (flat) with integer targets [N, D], PyTorch's definition. */
function ceOracle(x: number[], N: number, C: number, D: number, t: number[], o: { weight?: number[]; ignore?: number; ls?: number; red?: Red }) {
  const w = o.weight ?? new Array(C).fill(1);
  const ignore = o.ignore ?? -100;
  const ls = o.ls ?? 0;
  const nll: number[] = [], smooth: number[] = [], wt: number[] = [];
  for (let n = 0; n < N; n++) for (let d = 0; d < D; d++) {
    const z = Array.from({ length: C }, (_, c) => x[(n * C + c) * D + d]);
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
    const logp = z.map((v) => v - lse);
    const target = t[n * D + d];
    if (target === ignore) {
      nll.push(0); smooth.push(0); wt.push(0);
      continue;
    }
    nll.push(-w[target] * logp[target]);
    smooth.push(-logp.reduce((s, v, c) => s + w[c] * v, 0));
    wt.push(w[target]);
  }
  const red = o.red ?? 'mean';
  const sum = (a: number[]) => a.reduce((s, v) => s + v, 0);
  if (red === 'none') return nll.map((v, i) => (1 - ls) * v + (ls / C) * smooth[i]);
  if (red === 'sum') return [(1 - ls) * sum(nll) + (ls / C) * sum(smooth)];
  return [(1 - ls) * (sum(nll) / sum(wt)) + (ls / C) * (sum(smooth) / sum(wt))];
}

describe('crossEntropy with class indices', () => {
  const N = 5, C = 4;
  const xv = uniform(N * C, 1, -3, 3);
  const tv = [0, 3, 1, 1, 2];
  const weight = [0.5, 2, 1, 1.5];
  const cases: { name: string; o: { weight?: number[]; ignore?: number; ls?: number; red?: Red } }[] = [
    { name: 'plain mean', o: {} },
    { name: 'sum', o: { red: 'sum' } },
    { name: 'none', o: { red: 'none' } },
    { name: 'weights', o: { weight } },
    { name: 'weights sum', o: { weight, red: 'sum' } },
    { name: 'ignoreIndex', o: { ignore: 1 } },
    { name: 'weights + ignoreIndex', o: { weight, ignore: 3 } },
    { name: 'label smoothing', o: { ls: 0.1 } },
    { name: 'label smoothing + weights + ignore', o: { ls: 0.2, weight, ignore: 1 } },
    { name: 'label smoothing none', o: { ls: 0.3, weight, red: 'none' } },
  ];
  for (const { name, o } of cases) {
    it(name, () => {
      const x = t64([N, C], xv);
      const opts = { weight: o.weight ? t64([C], o.weight) : undefined, ignoreIndex: o.ignore, labelSmoothing: o.ls, reduction: o.red };
      const got = F.crossEntropy(x, i32([N], tv), opts);
      expectClose(got, ceOracle(xv, N, C, 1, tv, o), 1e-12, 1e-10);
      gradCheck((xx) => F.crossEntropy(xx, i32([N], tv), opts), [x]);
    });
  }
  it('N-d inputs [N, C, d1, d2]', () => {
    const shape = [2, 3, 2, 2];
    const xv2 = uniform(24, 5, -2, 2);
    const tv2 = [0, 2, 1, 1, 2, 0, 0, 1];
    const x = t64(shape, xv2);
    const t = i32([2, 2, 2], tv2);
    for (const red of ['mean', 'none'] as Red[]) {
      expectClose(F.crossEntropy(x, t, { reduction: red, labelSmoothing: 0.1 }), ceOracle(xv2, 2, 3, 4, tv2, { red, ls: 0.1 }), 1e-12, 1e-10);
    }
    gradCheck((xx) => F.crossEntropy(xx, t, { labelSmoothing: 0.1 }), [x]);
  });
  it('an unbatched input [C] with a scalar target', () => {
    const x = t64([4], [1, 2, 0.5, -1]);
    expectClose(F.crossEntropy(x, i32([], [1])), ceOracle([1, 2, 0.5, -1], 1, 4, 1, [1], {}));
  });
  it('rejects float16-like mistakes: wrong target shape and dtype', () => {
    expect(() => F.crossEntropy(t64([2, 3]), i32([3], [0, 1, 2]))).toThrow(/target/);
    expect(() => F.crossEntropy(t64([2, 3]), kiln.tensor([0, 1], { dtype: 'float64' }))).toThrow(/shape/);
  });
  it('nllLoss equals crossEntropy of log-probabilities', () => {
    const x = t64([N, C], xv);
    const a = F.nllLoss(F.logSoftmax(x, 1), i32([N], tv), { weight: t64([C], weight), ignoreIndex: 2 });
    expectClose(a, ceOracle(xv, N, C, 1, tv, { weight, ignore: 2 }), 1e-12, 1e-10);
  });
});

describe('crossEntropy with class probabilities', () => {
  const N = 3, C = 4;
  const xv = uniform(N * C, 11, -2, 2);
  const pv = uniform(N * C, 12, 0, 1);
  const probs = pv.map((v, i) => v / pv.slice(Math.floor(i / C) * C, Math.floor(i / C) * C + C).reduce((s, u) => s + u, 0));
  const weight = [1, 0.5, 2, 1];
  function oracle(red: Red, ls: number, w?: number[]) {
    const rows: number[] = [];
    for (let n = 0; n < N; n++) {
      const z = xv.slice(n * C, n * C + C);
      const m = Math.max(...z);
      const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
      rows.push(z.reduce((s, v, c) => s - (w ? w[c] : 1) * (v - lse) * (probs[n * C + c] * (1 - ls) + ls / C), 0));
    }
    const sum = rows.reduce((a, b) => a + b, 0);
    return red === 'none' ? rows : red === 'sum' ? [sum] : [sum / N];
  }
  for (const red of ['mean', 'sum', 'none'] as Red[]) {
    it(`reduction ${red}, with weights and label smoothing`, () => {
      const x = t64([N, C], xv);
      const p = t64([N, C], probs);
      expectClose(F.crossEntropy(x, p, { reduction: red }), oracle(red, 0), 1e-12, 1e-10);
      expectClose(F.crossEntropy(x, p, { reduction: red, labelSmoothing: 0.1, weight: t64([C], weight) }), oracle(red, 0.1, weight), 1e-12, 1e-10);
    });
  }
  it('gradients with respect to logits and target', () => {
    gradCheck((x, p) => F.crossEntropy(x, p, { labelSmoothing: 0.2 }), [t64([N, C], xv), t64([N, C], probs)]);
  });
});

describe('regression and binary losses', () => {
  const n = 7;
  const a = uniform(n, 21, -2, 2);
  const b = uniform(n, 22, -2, 2);
  const red = (l: number[], r: Red) => (r === 'none' ? l : r === 'sum' ? [l.reduce((s, v) => s + v, 0)] : [l.reduce((s, v) => s + v, 0) / l.length]);
  const reductions: Red[] = ['mean', 'sum', 'none'];
  const pointwise: [string, (x: Tensor, y: Tensor, r: Red) => Tensor, (d: number) => number][] = [
    ['mseLoss', (x, y, r) => F.mseLoss(x, y, { reduction: r }), (d) => d * d],
    ['l1Loss', (x, y, r) => F.l1Loss(x, y, { reduction: r }), (d) => Math.abs(d)],
    ['smoothL1Loss beta 0.5', (x, y, r) => F.smoothL1Loss(x, y, { reduction: r, beta: 0.5 }), (d) => (Math.abs(d) < 0.5 ? (0.5 * d * d) / 0.5 : Math.abs(d) - 0.25)],
    ['smoothL1Loss beta 0 (= l1)', (x, y, r) => F.smoothL1Loss(x, y, { reduction: r, beta: 0 }), (d) => Math.abs(d)],
    ['huberLoss delta 0.7', (x, y, r) => F.huberLoss(x, y, { reduction: r, delta: 0.7 }), (d) => (Math.abs(d) <= 0.7 ? 0.5 * d * d : 0.7 * (Math.abs(d) - 0.35))],
  ];
  for (const [name, f, l] of pointwise) {
    it(name, () => {
      for (const r of reductions) expectClose(f(t64([n], a), t64([n], b), r), red(a.map((v, i) => l(v - b[i])), r), 1e-12, 1e-10);
      gradCheck((x, y) => f(x, y, 'mean'), [t64([n], a), t64([n], b)]);
    });
  }
  const probs = uniform(n, 23, 0.05, 0.95);
  const targets = uniform(n, 24, 0, 1);
  const w = uniform(n, 25, 0.5, 2);
  it('bceLoss with weights', () => {
    const l = probs.map((p, i) => -w[i] * (targets[i] * Math.log(p) + (1 - targets[i]) * Math.log(1 - p)));
    for (const r of reductions) expectClose(F.bceLoss(t64([n], probs), t64([n], targets), { weight: t64([n], w), reduction: r }), red(l, r), 1e-12, 1e-10);
    gradCheck((p) => F.bceLoss(p, t64([n], targets)), [t64([n], probs)]);
  });
  it('bceLoss clamps log(0) at -100 as PyTorch', () => {
    expectClose(F.bceLoss(t64([2], [0, 1]), t64([2], [1, 0]), { reduction: 'none' }), [100, 100]);
  });
  it('bceWithLogits with weight and posWeight, stable for large logits', () => {
    const x = uniform(n, 26, -4, 4);
    const pw = uniform(n, 27, 0.5, 3);
    const l = x.map((v, i) => -w[i] * (pw[i] * targets[i] * Math.log(sigmoid(v)) + (1 - targets[i]) * Math.log(1 - sigmoid(v))));
    for (const r of reductions) {
      expectClose(F.bceWithLogits(t64([n], x), t64([n], targets), { weight: t64([n], w), posWeight: t64([n], pw), reduction: r }), red(l, r), 1e-12, 1e-9);
    }
    expectClose(F.bceWithLogits(t64([2], [200, -200]), t64([2], [0, 1]), { reduction: 'none' }), [200, 200]);
    gradCheck((xx, tt) => F.bceWithLogits(xx, tt, { posWeight: t64([n], pw) }), [t64([n], x), t64([n], targets)]);
  });
  it('klDiv: mean, batchmean, sum, none, logTarget, zeros in the target', () => {
    const logq = uniform(6, 28, -3, -0.1);
    const p = [0.2, 0, 0.5, 0.1, 0.2, 0];
    const pointwiseKl = p.map((pi, i) => (pi > 0 ? pi * Math.log(pi) : 0) - pi * logq[i]);
    const x = t64([2, 3], logq);
    const t = t64([2, 3], p);
    expectClose(F.klDiv(x, t, { reduction: 'none' }), pointwiseKl, 1e-12, 1e-10);
    expectClose(F.klDiv(x, t), pointwiseKl.reduce((s, v) => s + v, 0) / 6, 1e-12, 1e-10);
    expectClose(F.klDiv(x, t, { reduction: 'batchmean' }), pointwiseKl.reduce((s, v) => s + v, 0) / 2, 1e-12, 1e-10);
    expectClose(F.klDiv(x, t, { reduction: 'sum' }), pointwiseKl.reduce((s, v) => s + v, 0), 1e-12, 1e-10);
    const lt = uniform(6, 29, -3, -0.1);
    expectClose(F.klDiv(x, t64([2, 3], lt), { logTarget: true, reduction: 'none' }), lt.map((v, i) => Math.exp(v) * (v - logq[i])), 1e-12, 1e-10);
    gradCheck((xx) => F.klDiv(xx, t, { reduction: 'batchmean' }), [x]);
  });
});

describe('similarity and ranking losses', () => {
  const x1 = uniform(12, 31, -1, 1);
  const x2 = uniform(12, 32, -1, 1);
  const rows = (v: number[], i: number) => v.slice(i * 4, i * 4 + 4);
  const dot = (u: number[], v: number[]) => u.reduce((s, a, i) => s + a * v[i], 0);
  it('cosineSimilarity along dim 1, eps guarding zero vectors', () => {
    const exp = [0, 1, 2].map((i) => dot(rows(x1, i), rows(x2, i)) / (Math.sqrt(dot(rows(x1, i), rows(x1, i))) * Math.sqrt(dot(rows(x2, i), rows(x2, i)))));
    expectClose(F.cosineSimilarity(t64([3, 4], x1), t64([3, 4], x2)), exp, 1e-12, 1e-10);
    expectClose(F.cosineSimilarity(t64([1, 2], [0, 0]), t64([1, 2], [1, 1])), [0]);
    gradCheck((a, b) => F.cosineSimilarity(a, b).sum(), [t64([3, 4], x1), t64([3, 4], x2)]);
  });
  it('cosineEmbeddingLoss with margin', () => {
    const y = [1, -1, -1];
    const exp = [0, 1, 2].map((i) => {
      const c = dot(rows(x1, i), rows(x2, i)) / Math.sqrt((dot(rows(x1, i), rows(x1, i)) + 1e-12) * (dot(rows(x2, i), rows(x2, i)) + 1e-12));
      return y[i] === 1 ? 1 - c : Math.max(0, c - 0.1);
    });
    expectClose(F.cosineEmbeddingLoss(t64([3, 4], x1), t64([3, 4], x2), i32([3], y), { margin: 0.1, reduction: 'none' }), exp, 1e-12, 1e-10);
  });
  it('marginRankingLoss', () => {
    const a = [0.5, -0.2, 1], b = [0.1, 0.3, 1.5], y = [1, -1, 1];
    const exp = a.map((v, i) => Math.max(0, -y[i] * (v - b[i]) + 0.2));
    expectClose(F.marginRankingLoss(t64([3], a), t64([3], b), i32([3], y), { margin: 0.2, reduction: 'none' }), exp);
    expectClose(F.marginRankingLoss(t64([3], a), t64([3], b), i32([3], y), { margin: 0.2 }), exp.reduce((s, v) => s + v, 0) / 3);
  });
  it('loss modules bind their options', () => {
    const m = new kiln.nn.CrossEntropyLoss({ labelSmoothing: 0.1 });
    const x = t64([5, 4], uniform(20, 1, -3, 3));
    const t = i32([5], [0, 3, 1, 1, 2]);
    expectClose(m.forward(x, t), vals(F.crossEntropy(x, t, { labelSmoothing: 0.1 })));
  });
});
