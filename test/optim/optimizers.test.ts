// Optimizers: a few steps on a small problem against the update equations written out here,
// for the fused native kernels and for the fallback written with kiln ops; param groups and
// state dicts.
import { afterEach, describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { setFusedEnabled } from '../../lib/optim/fused.js';
import { expectClose, t64, uniform, vals } from '../helpers/nn.js';

const { optim } = kiln;

// loss(p) = sum(c * p^2) + sum(d * p): grad = 2 c p + d (a fixed, element-wise problem).
const n = 6;
const c = uniform(n, 201, 0.5, 2);
const d = uniform(n, 202, -1, 1);
const p0 = uniform(n, 203, -1, 1);
const gradOf = (p: number[]) => p.map((v, i) => 2 * c[i] * v + d[i]);

function run(make: (p: Tensor) => kiln.optim.Optimizer<any>, steps: number, dtype: 'float64' | 'float32' = 'float64'): number[][] {
  const p = kiln.tensor(Float64Array.from(p0), { dtype }).requiresGrad_();
  const opt = make(p);
  const ct = kiln.tensor(c, { dtype }), dt = kiln.tensor(d, { dtype });
  const trace: number[][] = [];
  for (let s = 0; s < steps; s++) {
    opt.zeroGrad();
    kiln.tidy(() => ct.mul(p.square()).sum().add(dt.mul(p).sum()).backward());
    opt.step();
    trace.push(vals(p));
  }
  return trace;
}

function oracle(update: (p: number[], g: number[], state: Record<string, any>, step: number) => number[], steps: number): number[][] {
  let p = [...p0];
  const state: Record<string, any> = {};
  const trace: number[][] = [];
  for (let s = 1; s <= steps; s++) {
    p = update(p, gradOf(p), state, s);
    trace.push([...p]);
  }
  return trace;
}

const zeros = () => new Array(n).fill(0);

const sgdRef = (lr: number, mom: number, damp: number, wd: number, nesterov: boolean, maximize = false) =>
  (p: number[], g: number[], st: Record<string, any>, step: number) => {
    let dp = g.map((v, i) => (maximize ? -v : v) + wd * p[i]);
    if (mom !== 0) {
      st.buf = step === 1 ? [...dp] : st.buf.map((b: number, i: number) => mom * b + (1 - damp) * dp[i]);
      dp = nesterov ? dp.map((v, i) => v + mom * st.buf[i]) : st.buf;
    }
    return p.map((v, i) => v - lr * dp[i]);
  };

const adamRef = (lr: number, b1: number, b2: number, eps: number, wd: number, amsgrad: boolean, decoupled: boolean) =>
  (p: number[], g: number[], st: Record<string, any>, step: number) => {
    st.m ??= zeros();
    st.v ??= zeros();
    st.vmax ??= zeros();
    const q = decoupled ? p.map((v) => v * (1 - lr * wd)) : p;
    const gg = decoupled ? g : g.map((v, i) => v + wd * p[i]);
    st.m = st.m.map((m: number, i: number) => b1 * m + (1 - b1) * gg[i]);
    st.v = st.v.map((v: number, i: number) => b2 * v + (1 - b2) * gg[i] ** 2);
    if (amsgrad) st.vmax = st.vmax.map((v: number, i: number) => Math.max(v, st.v[i]));
    const second = amsgrad ? st.vmax : st.v;
    const bc1 = 1 - b1 ** step, bc2 = 1 - b2 ** step;
    return q.map((v, i) => v - (lr / bc1) * st.m[i] / (Math.sqrt(second[i]) / Math.sqrt(bc2) + eps));
  };

const adagradRef = (lr: number, lrDecay: number, wd: number, init: number, eps: number) =>
  (p: number[], g: number[], st: Record<string, any>, step: number) => {
    st.sum ??= new Array(n).fill(init);
    const gg = g.map((v, i) => v + wd * p[i]);
    st.sum = st.sum.map((s: number, i: number) => s + gg[i] ** 2);
    const clr = lr / (1 + (step - 1) * lrDecay);
    return p.map((v, i) => v - clr * gg[i] / (Math.sqrt(st.sum[i]) + eps));
  };

const rmspropRef = (lr: number, alpha: number, eps: number, wd: number, mom: number, centered: boolean) =>
  (p: number[], g: number[], st: Record<string, any>) => {
    st.sq ??= zeros();
    st.buf ??= zeros();
    st.ga ??= zeros();
    const gg = g.map((v, i) => v + wd * p[i]);
    st.sq = st.sq.map((s: number, i: number) => alpha * s + (1 - alpha) * gg[i] ** 2);
    let avg: number[];
    if (centered) {
      st.ga = st.ga.map((a: number, i: number) => alpha * a + (1 - alpha) * gg[i]);
      avg = st.sq.map((s: number, i: number) => Math.sqrt(s - st.ga[i] ** 2) + eps);
    } else avg = st.sq.map((s: number) => Math.sqrt(s) + eps);
    if (mom > 0) {
      st.buf = st.buf.map((b: number, i: number) => mom * b + gg[i] / avg[i]);
      return p.map((v, i) => v - lr * st.buf[i]);
    }
    return p.map((v, i) => v - lr * gg[i] / avg[i]);
  };

const cases: [string, (p: Tensor) => kiln.optim.Optimizer<any>, ReturnType<typeof sgdRef>][] = [
  ['SGD', (p) => new optim.SGD([p], { lr: 0.1 }), sgdRef(0.1, 0, 0, 0, false)],
  ['SGD momentum + dampening + weight decay', (p) => new optim.SGD([p], { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 }), sgdRef(0.05, 0.9, 0.1, 0.01, false)],
  ['SGD nesterov', (p) => new optim.SGD([p], { lr: 0.05, momentum: 0.8, nesterov: true }), sgdRef(0.05, 0.8, 0, 0, true)],
  ['SGD maximize', (p) => new optim.SGD([p], { lr: 0.01, maximize: true }), sgdRef(0.01, 0, 0, 0, false, true)],
  ['Adam', (p) => new optim.Adam([p], { lr: 0.05 }), adamRef(0.05, 0.9, 0.999, 1e-8, 0, false, false)],
  ['Adam amsgrad + weight decay', (p) => new optim.Adam([p], { lr: 0.05, betas: [0.8, 0.99], weightDecay: 0.1, amsgrad: true }), adamRef(0.05, 0.8, 0.99, 1e-8, 0.1, true, false)],
  ['AdamW', (p) => new optim.AdamW([p], { lr: 0.05 }), adamRef(0.05, 0.9, 0.999, 1e-8, 0.01, false, true)],
  ['Adagrad', (p) => new optim.Adagrad([p], { lr: 0.1, lrDecay: 0.01, weightDecay: 0.05, initialAccumulatorValue: 0.1 }), adagradRef(0.1, 0.01, 0.05, 0.1, 1e-10)],
  ['RMSprop', (p) => new optim.RMSprop([p], { lr: 0.01 }), rmspropRef(0.01, 0.99, 1e-8, 0, 0, false)],
  ['RMSprop momentum + centered + weight decay', (p) => new optim.RMSprop([p], { lr: 0.01, alpha: 0.9, momentum: 0.5, centered: true, weightDecay: 0.1 }), rmspropRef(0.01, 0.9, 1e-8, 0.1, 0.5, true)],
];

describe('optimizer update equations', () => {
  afterEach(() => setFusedEnabled(true));
  for (const [name, make, ref] of cases) {
    for (const fused of [true, false]) {
      it(`${name} (${fused ? 'fused kernel' : 'kiln ops'})`, () => {
        setFusedEnabled(fused);
        const got = run(make, 5);
        const want = oracle(ref, 5);
        got.forEach((row, i) => expectClose(row, want[i], 1e-13, 1e-11));
      });
    }
    it(`${name} in float32 agrees with float64`, () => {
      const got = run(make, 3, 'float32');
      const want = oracle(ref, 3);
      got.forEach((row, i) => expectClose(row, want[i], 1e-5, 1e-4));
    });
  }
});

describe('parameter groups and state', () => {
  it('per-group options override the defaults', () => {
    const a = t64([2], [1, 1], { requiresGrad: true });
    const b = t64([2], [1, 1], { requiresGrad: true });
    const opt = new optim.SGD([{ params: [a] }, { params: [b], lr: 0.5 }], { lr: 0.1 });
    a.sum().add(b.sum()).backward();
    opt.step();
    expect(vals(a)).toEqual([0.9, 0.9]);
    expect(vals(b)).toEqual([0.5, 0.5]);
    expect(() => new optim.SGD([a, a])).toThrow(/more than one group/);
    expect(() => new optim.Adam([a], { betas: [1.2, 0.9] })).toThrow(/betas/);
  });
  it('parameters without gradients are skipped', () => {
    const a = t64([2], [1, 2], { requiresGrad: true });
    new optim.Adam([a]).step();
    expect(vals(a)).toEqual([1, 2]);
  });
  it('stateDict / loadStateDict continue the same trajectory', () => {
    const make = (p: Tensor) => new optim.Adam([p], { lr: 0.05, amsgrad: true });
    const full = run(make, 6);
    const p = kiln.tensor(Float64Array.from(p0), { dtype: 'float64' }).requiresGrad_();
    const opt = make(p);
    const ct = kiln.tensor(c, { dtype: 'float64' }), dt = kiln.tensor(d, { dtype: 'float64' });
    const stepOnce = (o: kiln.optim.Optimizer<any>) => {
      o.zeroGrad();
      kiln.tidy(() => ct.mul(p.square()).sum().add(dt.mul(p).sum()).backward());
      o.step();
    };
    for (let i = 0; i < 3; i++) stepOnce(opt);
    const sd = opt.stateDict();
    expect(sd.paramGroups[0].params).toEqual([0]);
    expect(sd.state[0].step).toBe(3);
    const resumed = make(p);
    resumed.loadStateDict(sd);
    for (let i = 0; i < 3; i++) stepOnce(resumed);
    expectClose(vals(p), full[5], 1e-13);
  });
  it('clipGradNorm and clipGradValue', () => {
    const a = t64([2], [0, 0], { requiresGrad: true });
    const b = t64([1], [0], { requiresGrad: true });
    a.grad = t64([2], [3, 4]);
    b.grad = t64([1], [12]);
    const norm = optim.clipGradNorm([a, b], 6.5);
    expect(norm).toBeCloseTo(13, 12);
    expectClose(a.grad!, [1.5, 2], 1e-6);
    expectClose(b.grad!, [6], 1e-6);
    expect(optim.clipGradNorm([a, b], 100, { normType: Infinity })).toBeCloseTo(6, 5);
    optim.clipGradValue([a, b], 1.8);
    expectClose(a.grad!, [1.5, 1.8], 1e-6);
    expectClose(b.grad!, [1.8], 1e-6);
  });
});

describe('fused update kernels: the native op validates its operands', () => {
  it('refuses mismatched shapes, dtypes, missing state, aliased buffers and wrong attributes', async () => {
    const { runInPlaceN } = await import('../../lib/ops/kernel.js');
    const p = kiln.zeros([4]);
    const g = kiln.ones([4]);
    const m = kiln.zeros([4]);
    const v = kiln.zeros([4]);
    const none = kiln.zeros([0]);
    const attrs = [0.1, 0.9, 0.999, 1e-8, 0, 0, 0, 0, 1];
    runInPlaceN('adamStep', [p, m, v, none], [g], attrs);
    expect(vals(p).every((x) => Math.abs(x + 0.1) < 1e-6)).toBe(true);
    expect(() => runInPlaceN('adamStep', [p, m, v, none], [kiln.ones([5])], attrs)).toThrow(kiln.ShapeError);
    expect(() => runInPlaceN('adamStep', [p, m, v, none], [kiln.ones([4], { dtype: 'float64' })], attrs)).toThrow(kiln.DTypeError);
    expect(() => runInPlaceN('adamStep', [p, none, v, none], [g], attrs)).toThrow(/required/);
    expect(() => runInPlaceN('adamStep', [p, m, m, none], [g], attrs)).toThrow(/same tensor/);
    expect(() => runInPlaceN('adamStep', [p, m, v, none], [g], attrs.slice(0, 5))).toThrow(/attributes/);
    expect(() => runInPlaceN('adamStep', [p, m, v, none], [g], [NaN, ...attrs.slice(1)])).toThrow(/not finite/);
    expect(() => runInPlaceN('sgdStep', [kiln.zeros([2], { dtype: 'int32' }), none], [kiln.zeros([2], { dtype: 'int32' })], [0.1, 0, 0, 0, 0, 0, 1])).toThrow(/float32 or float64/);
    expect(() => runInPlaceN('sgdStep', [p.expand([2, 4]), none], [g.expand([2, 4])], [0.1, 0, 0, 0, 0, 0, 1])).toThrow(/contiguous/);
  });
});
