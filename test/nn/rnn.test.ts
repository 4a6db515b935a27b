// RNN, LSTM and GRU against step-by-step float64 oracles: PyTorch's gate orders, parameter names
// and shapes, multiple layers, both directions, batchFirst, initial states; gradient checks.
import { describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, expectRnnStepsLeakNothing, gradCheck, sigmoid, t64, uniform, vals } from '../helpers/nn.js';

const { nn } = kiln;
type Mode = 'RNN_TANH' | 'LSTM' | 'GRU';

/** y = W x + b for W [rows, cols] flat. */
const affine = (W: number[], x: number[], b: number[] | null, rows: number) =>
  Array.from({ length: rows }, (_, r) => x.reduce((s, v, c) => s + W[r * x.length + c] * v, b ? b[r] : 0));

/** One direction of one layer over xs [T][in] for one batch element. */
function runDir(mode: Mode, xs: number[][], p: Record<string, number[]>, sfx: string, H: number, h0: number[], c0: number[], reverse: boolean) {
  const G = mode === 'LSTM' ? 4 : mode === 'GRU' ? 3 : 1;
  let h = [...h0], c = [...c0];
  const out: number[][] = new Array(xs.length);
  const order = xs.map((_, t) => (reverse ? xs.length - 1 - t : t));
  for (const t of order) {
    const gi = affine(p[`weight_ih${sfx}`], xs[t], p[`bias_ih${sfx}`] ?? null, G * H);
    const gh = affine(p[`weight_hh${sfx}`], h, p[`bias_hh${sfx}`] ?? null, G * H);
    if (mode === 'LSTM') {
      const g = gi.map((v, i) => v + gh[i]);
      const nc = c.map((cv, k) => sigmoid(g[H + k]) * cv + sigmoid(g[k]) * Math.tanh(g[2 * H + k]));
      h = nc.map((cv, k) => sigmoid(g[3 * H + k]) * Math.tanh(cv));
      // PyTorch's proj_size: h = W_hr (o tanh(c)), W_hr [P, H].
      const wHr = p[`weight_hr${sfx}`];
      if (wHr) h = affine(wHr, h, null, wHr.length / H);
      c = nc;
    } else if (mode === 'GRU') {
      h = h.map((hv, k) => {
        const r = sigmoid(gi[k] + gh[k]);
        const z = sigmoid(gi[H + k] + gh[H + k]);
        const n = Math.tanh(gi[2 * H + k] + r * gh[2 * H + k]);
        return (1 - z) * n + z * hv;
      });
    } else {
      h = gi.map((v, k) => Math.tanh(v + gh[k]));
    }
    out[t] = h;
  }
  return { out, h, c };
}

/** The layer's outputs for x [T, B, I]; P is the size of h (the LSTM projection's, else H). */
function oracle(mode: Mode, m: kiln.nn.Module<any[], any>, x: number[], T: number, B: number, I: number, H: number, L: number, dirs: number, h0?: number[], c0?: number[], P = H) {
  const p = Object.fromEntries(m.namedParameters().map(([k, v]) => [k, vals(v)]));
  const outAll: number[] = new Array(T * B * dirs * P).fill(0);
  const hN: number[] = new Array(L * dirs * B * P).fill(0);
  const cN: number[] = new Array(L * dirs * B * H).fill(0);
  for (let b = 0; b < B; b++) {
    let seq = Array.from({ length: T }, (_, t) => x.slice((t * B + b) * I, (t * B + b) * I + I));
    for (let l = 0; l < L; l++) {
      const outs: number[][][] = [];
      for (let d = 0; d < dirs; d++) {
        const k = l * dirs + d;
        const init = (s: number[] | undefined, n: number) => (s ? s.slice((k * B + b) * n, (k * B + b) * n + n) : new Array(n).fill(0));
        const r = runDir(mode, seq, p, `_l${l}${d ? '_reverse' : ''}`, H, init(h0, P), init(c0, H), d === 1);
        outs.push(r.out);
        r.h.forEach((v, j) => (hN[(k * B + b) * P + j] = v));
        r.c.forEach((v, j) => (cN[(k * B + b) * H + j] = v));
      }
      seq = seq.map((_, t) => outs.flatMap((o) => o[t]));
    }
    seq.forEach((row, t) => row.forEach((v, j) => (outAll[(t * B + b) * dirs * P + j] = v)));
  }
  return { out: outAll, hN, cN };
}

describe('recurrent layers', () => {
  const T = 3, B = 2, I = 3, H = 4;
  const x = uniform(T * B * I, 91);
  it('LSTM parameter names and shapes follow PyTorch', () => {
    const m = new nn.LSTM(I, H, { numLayers: 2, bidirectional: true });
    expect(m.namedParameters().map(([k, p]) => `${k}:${p.shape}`)).toEqual([
      'weight_ih_l0:16,3', 'weight_hh_l0:16,4', 'bias_ih_l0:16', 'bias_hh_l0:16',
      'weight_ih_l0_reverse:16,3', 'weight_hh_l0_reverse:16,4', 'bias_ih_l0_reverse:16', 'bias_hh_l0_reverse:16',
      'weight_ih_l1:16,8', 'weight_hh_l1:16,4', 'bias_ih_l1:16', 'bias_hh_l1:16',
      'weight_ih_l1_reverse:16,8', 'weight_hh_l1_reverse:16,4', 'bias_ih_l1_reverse:16', 'bias_hh_l1_reverse:16',
    ]);
    const bound = 1 / Math.sqrt(H);
    for (const p of m.parameters()) for (const v of vals(p)) expect(Math.abs(v)).toBeLessThanOrEqual(bound);
    expect(new nn.GRU(I, H, { bias: false }).namedParameters().map(([k]) => k)).toEqual(['weight_ih_l0', 'weight_hh_l0']);
  });
  for (const mode of ['RNN_TANH', 'LSTM', 'GRU'] as Mode[]) {
    for (const [L, bidir] of [[1, false], [2, true]] as [number, boolean][]) {
      it(`${mode} ${L} layer(s)${bidir ? ', bidirectional' : ''}, with initial states`, () => {
        kiln.manualSeed(7);
        const dirs = bidir ? 2 : 1;
        const opts = { numLayers: L, bidirectional: bidir, dtype: 'float64' as const };
        const m = mode === 'LSTM' ? new nn.LSTM(I, H, opts) : mode === 'GRU' ? new nn.GRU(I, H, opts) : new nn.RNN(I, H, opts);
        const h0 = uniform(L * dirs * B * H, 92);
        const c0 = uniform(L * dirs * B * H, 93);
        const want = oracle(mode, m, x, T, B, I, H, L, dirs, h0, mode === 'LSTM' ? c0 : undefined);
        const xt = t64([T, B, I], x);
        const h0t = t64([L * dirs, B, H], h0);
        if (mode === 'LSTM') {
          const [out, [hN, cN]] = (m as kiln.nn.LSTM).forward(xt, [h0t, t64([L * dirs, B, H], c0)]);
          expectClose(out, want.out, 1e-12);
          expectClose(hN, want.hN, 1e-12);
          expectClose(cN, want.cN, 1e-12);
        } else {
          const [out, hN] = (m as kiln.nn.GRU).forward(xt, h0t);
          expectClose(out, want.out, 1e-12);
          expectClose(hN, want.hN, 1e-12);
        }
      });
    }
  }
  it('batchFirst and unbatched inputs give the same numbers', () => {
    const m = new nn.GRU(I, H, { batchFirst: true, dtype: 'float64' });
    const xt = t64([T, B, I], x);
    const want = oracle('GRU', m, x, T, B, I, H, 1, 1);
    const [out] = m.forward(xt.transpose(0, 1));
    expect(out.shape).toEqual([B, T, H]);
    expectClose(out.transpose(0, 1).contiguous(), want.out, 1e-12);
    const [single] = m.forward(xt.select(1, 0));
    expect(single.shape).toEqual([T, H]);
    expectClose(single, want.out.filter((_, i) => Math.floor(i / H) % B === 0), 1e-12);
  });
  it('dropout between layers only in training', () => {
    kiln.manualSeed(8);
    const m = new nn.LSTM(I, H, { numLayers: 2, dropout: 0.5, dtype: 'float64' });
    const xt = t64([T, B, I], x);
    m.eval();
    const a = vals(m.forward(xt)[0]);
    expectClose(m.forward(xt)[0], a);
    m.train();
    expect(vals(m.forward(xt)[0])).not.toEqual(a);
  });
  it('gradients through an LSTM and a GRU (inputs and weights)', () => {
    const lstm = new nn.LSTM(2, 2, { dtype: 'float64' });
    const [wi, wh, bi, bh] = lstm.parameters().map((p) => p.detach());
    const f = (xx: Tensor, a: Tensor, b: Tensor, c: Tensor, d: Tensor) =>
      nn.functional.rnnForward(xx, [{ wIh: a, wHh: b, bIh: c, bHh: d }], { mode: 'LSTM', hiddenSize: 2, numLayers: 1, bidirectional: false, dropout: 0, training: false })[0];
    gradCheck(f, [t64([3, 1, 2], 94), wi, wh, bi, bh]);
    const gru = new nn.GRU(2, 2, { dtype: 'float64' });
    const [gi, gh, gbi, gbh] = gru.parameters().map((p) => p.detach());
    gradCheck((xx, h) => nn.functional.gruCell(xx, h, gi, gh, gbi, gbh), [t64([1, 2], 95), t64([1, 2], 96)]);
  });
  it('LSTM backward() (backpropagation through time with kept gates) equals the recorded-ops gradient', () => {
    kiln.manualSeed(9);
    const m = new nn.LSTM(I, H, { numLayers: 2, bidirectional: true, dtype: 'float64' });
    const names = m.namedParameters().map(([k]) => k);
    const xt = t64([T, B, I], x, { requiresGrad: true });
    const h0 = t64([4, B, H], 97, { requiresGrad: true });
    const c0 = t64([4, B, H], 98, { requiresGrad: true });
    const r1 = t64([T, B, 2 * H], 99), r2 = t64([4, B, H], 100), r3 = t64([4, B, H], 101);
    const loss = (out: Tensor, h: Tensor, c: Tensor) => out.mul(r1).sum().add(h.mul(r2).sum()).add(c.square().mul(r3).sum());
    const [out, [hN, cN]] = m.forward(xt, [h0, c0]);
    loss(out, hN, cN).backward();
    // The same function of (x, h0, c0, weights) through kiln.grad, whose backward differentiates recorded ops.
    const params = m.parameters().map((p) => p.detach());
    const f = (xx: Tensor, hh: Tensor, cc: Tensor, ...ws: Tensor[]) => {
      const weights = [0, 1, 2, 3].map((k) => ({ wIh: ws[4 * k], wHh: ws[4 * k + 1], bIh: ws[4 * k + 2], bHh: ws[4 * k + 3] }));
      const [o, h, c] = nn.functional.rnnForward(xx, weights, { mode: 'LSTM', hiddenSize: H, numLayers: 2, bidirectional: true, dropout: 0, training: false }, hh, cc);
      return loss(o, h, c!);
    };
    const grads = kiln.grad(f, Array.from({ length: 3 + params.length }, (_, i) => i))(xt.detach(), h0.detach(), c0.detach(), ...params) as Tensor[];
    expectClose(xt.grad!, vals(grads[0]), 1e-12, 1e-9);
    expectClose(h0.grad!, vals(grads[1]), 1e-12, 1e-9);
    expectClose(c0.grad!, vals(grads[2]), 1e-12, 1e-9);
    m.parameters().forEach((p, i) => {
      expect(names[i]).toBeTruthy();
      expectClose(p.grad!, vals(grads[3 + i]), 1e-12, 1e-9);
    });
  });
  it('LSTM training steps leak no tensors (the gates kept for backward are freed by it)', () => {
    expectRnnStepsLeakNothing(new nn.LSTM(4, 4, { numLayers: 2, bidirectional: true }), kiln.randn([5, 3, 4]));
  });
});

describe('LSTM projSize (PyTorch proj_size)', () => {
  const T = 3, B = 2, I = 3, H = 4, P = 2;
  const x = uniform(T * B * I, 191);
  it('parameter names, shapes and init follow PyTorch', () => {
    const m = new nn.LSTM(I, H, { numLayers: 2, bidirectional: true, projSize: P });
    expect(m.namedParameters().map(([k, p]) => `${k}:${p.shape}`)).toEqual([
      'weight_ih_l0:16,3', 'weight_hh_l0:16,2', 'bias_ih_l0:16', 'bias_hh_l0:16', 'weight_hr_l0:2,4',
      'weight_ih_l0_reverse:16,3', 'weight_hh_l0_reverse:16,2', 'bias_ih_l0_reverse:16', 'bias_hh_l0_reverse:16', 'weight_hr_l0_reverse:2,4',
      'weight_ih_l1:16,4', 'weight_hh_l1:16,2', 'bias_ih_l1:16', 'bias_hh_l1:16', 'weight_hr_l1:2,4',
      'weight_ih_l1_reverse:16,4', 'weight_hh_l1_reverse:16,2', 'bias_ih_l1_reverse:16', 'bias_hh_l1_reverse:16', 'weight_hr_l1_reverse:2,4',
    ]);
    expect(Object.keys(m.stateDict())).toEqual(m.namedParameters().map(([k]) => k));
    const bound = 1 / Math.sqrt(H);
    for (const p of m.parameters()) for (const v of vals(p)) expect(Math.abs(v)).toBeLessThanOrEqual(bound);
    // Not all zero: weight_hr is initialized like the rest.
    expect(vals(m.stateDict()['weight_hr_l1_reverse']).some((v) => v !== 0)).toBe(true);
    expect(new nn.LSTM(I, H, { bias: false, projSize: 1 }).namedParameters().map(([k]) => k)).toEqual(['weight_ih_l0', 'weight_hh_l0', 'weight_hr_l0']);
    expect(m.toString()).toContain('projSize=2');
    // projSize 0 is the plain LSTM.
    expect(new nn.LSTM(I, H, { projSize: 0 }).namedParameters().map(([k]) => k)).toEqual(['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0']);
  });
  it('a state dict round-trips into a fresh projected LSTM', () => {
    const a = new nn.LSTM(I, H, { projSize: P, dtype: 'float64' });
    const b = new nn.LSTM(I, H, { projSize: P, dtype: 'float64' });
    b.loadStateDict(a.stateDict());
    const xt = t64([T, B, I], x);
    expectClose(b.forward(xt)[0], vals(a.forward(xt)[0]), 0);
    expect(() => new nn.LSTM(I, H).loadStateDict(a.stateDict())).toThrow();
  });
  for (const [L, bidir] of [[1, false], [2, false], [2, true]] as [number, boolean][]) {
    it(`${L} layer(s)${bidir ? ', bidirectional' : ''}, with and without initial states, against the oracle`, () => {
      kiln.manualSeed(17);
      const dirs = bidir ? 2 : 1;
      const m = new nn.LSTM(I, H, { numLayers: L, bidirectional: bidir, projSize: P, dtype: 'float64' });
      const h0 = uniform(L * dirs * B * P, 192);
      const c0 = uniform(L * dirs * B * H, 193);
      const xt = t64([T, B, I], x);
      const want = oracle('LSTM', m, x, T, B, I, H, L, dirs, h0, c0, P);
      const [out, [hN, cN]] = m.forward(xt, [t64([L * dirs, B, P], h0), t64([L * dirs, B, H], c0)]);
      expect(out.shape).toEqual([T, B, dirs * P]);
      expect(hN.shape).toEqual([L * dirs, B, P]);
      expect(cN.shape).toEqual([L * dirs, B, H]);
      expectClose(out, want.out, 1e-12);
      expectClose(hN, want.hN, 1e-12);
      expectClose(cN, want.cN, 1e-12);
      const zero = oracle('LSTM', m, x, T, B, I, H, L, dirs, undefined, undefined, P);
      const [out0, [hN0, cN0]] = m.forward(xt);
      expectClose(out0, zero.out, 1e-12);
      expectClose(hN0, zero.hN, 1e-12);
      expectClose(cN0, zero.cN, 1e-12);
    });
  }
  it('batchFirst and unbatched inputs', () => {
    const m = new nn.LSTM(I, H, { projSize: P, batchFirst: true, dtype: 'float64' });
    const want = oracle('LSTM', m, x, T, B, I, H, 1, 1, undefined, undefined, P);
    const xt = t64([T, B, I], x);
    const [out] = m.forward(xt.transpose(0, 1));
    expect(out.shape).toEqual([B, T, P]);
    expectClose(out.transpose(0, 1).contiguous(), want.out, 1e-12);
    const [single, [h1, c1]] = m.forward(xt.select(1, 0), [kiln.zeros([1, P], { dtype: 'float64' }), kiln.zeros([1, H], { dtype: 'float64' })]);
    expect([single.shape, h1.shape, c1.shape]).toEqual([[T, P], [1, P], [1, H]]);
    expectClose(single, want.out.filter((_, i) => Math.floor(i / P) % B === 0), 1e-12);
  });
  it('errors: projSize range, other modes, state shapes', () => {
    expect(() => new nn.LSTM(I, H, { projSize: H })).toThrow(/smaller than hiddenSize/);
    expect(() => new nn.LSTM(I, H, { projSize: 5 })).toThrow(kiln.KilnError);
    expect(() => new nn.LSTM(I, H, { projSize: -1 })).toThrow(/projSize/);
    expect(() => new nn.LSTM(I, H, { projSize: 1.5 })).toThrow(/projSize/);
    expect(() => new nn.GRU(I, H, { projSize: 2 } as kiln.nn.RnnOptions)).toThrow(/only supported for LSTM/);
    const m = new nn.LSTM(I, H, { projSize: P, dtype: 'float64' });
    const xt = t64([T, B, I], x);
    expect(() => m.forward(xt, [t64([1, B, H], 1), t64([1, B, H], 2)])).toThrow(kiln.ShapeError);
    expect(() => m.forward(xt, [t64([1, B, P], 1), t64([1, B, P], 2)])).toThrow(kiln.ShapeError);
  });
  it('backward() (backpropagation through time with kept gates) equals the recorded-ops gradient', () => {
    kiln.manualSeed(19);
    const m = new nn.LSTM(I, H, { numLayers: 2, bidirectional: true, projSize: P, dtype: 'float64' });
    const xt = t64([T, B, I], x, { requiresGrad: true });
    const h0 = t64([4, B, P], 197, { requiresGrad: true });
    const c0 = t64([4, B, H], 198, { requiresGrad: true });
    const r1 = t64([T, B, 2 * P], 199), r2 = t64([4, B, P], 200), r3 = t64([4, B, H], 201);
    const loss = (out: Tensor, h: Tensor, c: Tensor) => out.mul(r1).sum().add(h.mul(r2).sum()).add(c.square().mul(r3).sum());
    const [out, [hN, cN]] = m.forward(xt, [h0, c0]);
    loss(out, hN, cN).backward();
    const params = m.parameters().map((p) => p.detach());
    const f = (xx: Tensor, hh: Tensor, cc: Tensor, ...ws: Tensor[]) => {
      const weights = [0, 1, 2, 3].map((k) => ({ wIh: ws[5 * k], wHh: ws[5 * k + 1], bIh: ws[5 * k + 2], bHh: ws[5 * k + 3], wHr: ws[5 * k + 4] }));
      const cfg = { mode: 'LSTM' as const, hiddenSize: H, numLayers: 2, bidirectional: true, dropout: 0, training: false, projSize: P };
      const [o, h, c] = nn.functional.rnnForward(xx, weights, cfg, hh, cc);
      return loss(o, h, c!);
    };
    const grads = kiln.grad(f, Array.from({ length: 3 + params.length }, (_, i) => i))(xt.detach(), h0.detach(), c0.detach(), ...params) as Tensor[];
    expectClose(xt.grad!, vals(grads[0]), 1e-12, 1e-9);
    expectClose(h0.grad!, vals(grads[1]), 1e-12, 1e-9);
    expectClose(c0.grad!, vals(grads[2]), 1e-12, 1e-9);
    m.parameters().forEach((p, i) => expectClose(p.grad!, vals(grads[3 + i]), 1e-12, 1e-9));
  });
  it('checkGrads on a tiny projected LSTM (inputs, states and every weight; order 2 through the recorded ops)', () => {
    kiln.manualSeed(21);
    const m = new nn.LSTM(2, 3, { projSize: 1, dtype: 'float64' });
    const [wi, wh, bi, bh, wr] = m.parameters().map((p) => p.detach());
    const cfg = { mode: 'LSTM' as const, hiddenSize: 3, numLayers: 1, bidirectional: false, dropout: 0, training: false, projSize: 1 };
    const f = (xx: Tensor, h: Tensor, c: Tensor, a: Tensor, b: Tensor, cc: Tensor, d: Tensor, e: Tensor) => {
      const [o, hN, cN] = nn.functional.rnnForward(xx, [{ wIh: a, wHh: b, bIh: cc, bHh: d, wHr: e }], cfg, h, c);
      return kiln.cat([o.reshape([-1]), hN.reshape([-1]), cN!.reshape([-1])], 0);
    };
    gradCheck(f, [t64([2, 1, 2], 202), t64([1, 1, 1], 203), t64([1, 1, 3], 204), wi, wh, bi, bh, wr]);
    gradCheck(f, [t64([2, 1, 2], 205), t64([1, 1, 1], 206), t64([1, 1, 3], 207), wi, wh, bi, bh, wr], { order: 2 });
  });
  it('training steps leak no tensors', () => {
    expectRnnStepsLeakNothing(new nn.LSTM(4, 4, { numLayers: 2, bidirectional: true, projSize: 3 }), kiln.randn([5, 3, 4]));
  });
});
