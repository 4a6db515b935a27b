// Scaled dot-product attention, MultiheadAttention and the Transformer layers against float64
// oracles; PyTorch's parameter names and mask conventions.
import { describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, gradCheck, matmulT, t64, uniform, vals } from '../helpers/nn.js';

const { nn } = kiln;
const F = nn.functional;

/** softmax(q k^T * scale + mask) v for one head: q [L, E], k [S, E], v [S, Ev]; allowed(i, j) masks. */
function attend(q: number[], k: number[], v: number[], L: number, S: number, E: number, Ev: number, allowed: (i: number, j: number) => boolean, add: (i: number, j: number) => number = () => 0) {
  const scores = matmulT(q, k, L, S === 0 ? 0 : E, S).map((s, idx) => s / Math.sqrt(E) + add(Math.floor(idx / S), idx % S));
  const out: number[] = [];
  const weights: number[] = [];
  for (let i = 0; i < L; i++) {
    const row = scores.slice(i * S, i * S + S).map((s, j) => (allowed(i, j) ? s : -Infinity));
    const m = Math.max(...row);
    const e = row.map((s) => Math.exp(s - m));
    const z = e.reduce((a, b) => a + b, 0);
    const w = e.map((x) => x / z);
    weights.push(...w);
    for (let c = 0; c < Ev; c++) out.push(w.reduce((s, wj, j) => s + wj * v[j * Ev + c], 0));
  }
  return { out, weights };
}

describe('scaledDotProductAttention', () => {
  const L = 3, S = 4, E = 2, Ev = 3;
  const q = uniform(L * E, 101), k = uniform(S * E, 102), v = uniform(S * Ev, 103);
  it('no mask, bool mask (true = attend), float mask, causal', () => {
    expectClose(F.scaledDotProductAttention(t64([L, E], q), t64([S, E], k), t64([S, Ev], v)), attend(q, k, v, L, S, E, Ev, () => true).out, 1e-12);
    const allowed = (i: number, j: number) => (i + j) % 3 !== 0 || j === 1;
    const mask = kiln.tensor(Array.from({ length: L }, (_, i) => Array.from({ length: S }, (_, j) => allowed(i, j))));
    expectClose(F.scaledDotProductAttention(t64([L, E], q), t64([S, E], k), t64([S, Ev], v), { attnMask: mask }), attend(q, k, v, L, S, E, Ev, allowed).out, 1e-12);
    const add = uniform(L * S, 104);
    expectClose(F.scaledDotProductAttention(t64([L, E], q), t64([S, E], k), t64([S, Ev], v), { attnMask: t64([L, S], add) }),
      attend(q, k, v, L, S, E, Ev, () => true, (i, j) => add[i * S + j]).out, 1e-12);
    expectClose(F.scaledDotProductAttention(t64([L, E], q), t64([S, E], k), t64([S, Ev], v), { isCausal: true }), attend(q, k, v, L, S, E, Ev, (i, j) => j <= i).out, 1e-12);
  });
  it('batched heads broadcast and gradients flow to q, k, v', () => {
    const out = F.scaledDotProductAttention(t64([2, 3, L, E], 105), t64([2, 3, S, E], 106), t64([2, 3, S, Ev], 107));
    expect(out.shape).toEqual([2, 3, L, Ev]);
    gradCheck((a, b, c) => F.scaledDotProductAttention(a, b, c, { isCausal: true }), [t64([L, E], q), t64([S, E], k), t64([S, Ev], v)]);
  });
});

describe('MultiheadAttention', () => {
  const E = 4, H = 2, L = 3, S = 2, N = 2;
  it('parameter names and shapes as PyTorch', () => {
    const m = new nn.MultiheadAttention(E, H);
    expect(m.namedParameters().map(([k, p]) => `${k}:${p.shape}`)).toEqual(['in_proj_weight:12,4', 'in_proj_bias:12', 'out_proj.weight:4,4', 'out_proj.bias:4']);
    expect(vals(m.in_proj_bias!).every((x) => x === 0)).toBe(true);
    const kv = new nn.MultiheadAttention(E, H, { kdim: 3, vdim: 5 });
    expect(kv.namedParameters().map(([k, p]) => `${k}:${p.shape}`)).toEqual(['q_proj_weight:4,4', 'k_proj_weight:4,3', 'v_proj_weight:4,5', 'in_proj_bias:12', 'out_proj.weight:4,4', 'out_proj.bias:4']);
  });
  it('forward matches per-head attention with a key padding mask; weights averaged over heads', () => {
    kiln.manualSeed(11);
    const m = new nn.MultiheadAttention(E, H, { dtype: 'float64' });
    kiln.noGrad(() => m.in_proj_bias!.copy_(t64([3 * E], 108)));
    const qv = uniform(L * N * E, 109), kvv = uniform(S * N * E, 110), vv = uniform(S * N * E, 111);
    const pad = [[false, false], [false, true]];
    const [out, w] = m.forward(t64([L, N, E], qv), t64([S, N, E], kvv), t64([S, N, E], vv), { keyPaddingMask: kiln.tensor(pad) });
    const W = vals(m.in_proj_weight!), b = vals(m.in_proj_bias!), Wo = vals(m.out_proj.weight), bo = vals(m.out_proj.bias!);
    const hd = E / H;
    const proj = (x: number[], len: number, part: number) => {
      const rows: number[] = [];
      for (let t = 0; t < len; t++) for (let n = 0; n < N; n++) {
        const xi = x.slice((t * N + n) * E, (t * N + n) * E + E);
        for (let o = 0; o < E; o++) rows.push(xi.reduce((s, val, c) => s + W[(part * E + o) * E + c] * val, b[part * E + o]));
      }
      return rows; // [len, N, E]
    };
    const Q = proj(qv, L, 0), K = proj(kvv, S, 1), V = proj(vv, S, 2);
    const ctx = new Array(L * N * E).fill(0);
    const wAvg = new Array(N * L * S).fill(0);
    for (let n = 0; n < N; n++) for (let h = 0; h < H; h++) {
      const pick = (X: number[], len: number) => Array.from({ length: len }, (_, t) => X.slice((t * N + n) * E + h * hd, (t * N + n) * E + h * hd + hd)).flat();
      const r = attend(pick(Q, L), pick(K, S), pick(V, S), L, S, hd, hd, (_i, j) => !pad[n][j]);
      for (let i = 0; i < L; i++) for (let c = 0; c < hd; c++) ctx[(i * N + n) * E + h * hd + c] = r.out[i * hd + c];
      r.weights.forEach((x, idx) => (wAvg[n * L * S + idx] += x / H));
    }
    const want = [];
    for (let r = 0; r < L * N; r++) for (let o = 0; o < E; o++) want.push(ctx.slice(r * E, r * E + E).reduce((s, val, c) => s + Wo[o * E + c] * val, bo[o]));
    expectClose(out, want, 1e-12);
    expectClose(w!, wAvg, 1e-12);
  });
  it('gradients with respect to the inputs and the projection weights', () => {
    const m = new nn.MultiheadAttention(4, 2, { dtype: 'float64' });
    const wo = m.out_proj.weight.detach();
    const f = (q: Tensor, k: Tensor, w: Tensor, b: Tensor) =>
      F.multiHeadAttentionForward(q, k, k, { numHeads: 2, inProjWeight: w, inProjBias: b, outProjWeight: wo }, { needWeights: false })[0];
    gradCheck(f, [t64([2, 1, 4], 121), t64([3, 1, 4], 122), m.in_proj_weight!.detach(), t64([12], 123)]);
  });
  it('batchFirst, bool attnMask (true = blocked), unbatched inputs, needWeights false', () => {
    const m = new nn.MultiheadAttention(E, H, { batchFirst: true, dtype: 'float64' });
    const x = t64([N, L, E], 112);
    const blocked = kiln.tensor([[false, true, true], [false, false, true], [false, false, false]]);
    const [a] = m.forward(x, x, x, { attnMask: blocked });
    const [b] = m.forward(x, x, x, { isCausal: true });
    expectClose(a, vals(b), 1e-12);
    const [single, w] = m.forward(x.select(0, 1), x.select(0, 1), x.select(0, 1), { needWeights: false });
    expect(w).toBeNull();
    expectClose(single, vals(m.forward(x, x, x)[0].select(0, 1)), 1e-12);
  });
});

/**
 * nn.MultiheadAttention written out: projections (packed or separate q/k/v weights), bias_k /
 * bias_v and a zero key appended after them, per-head attention, the output projection.
 * allowed(n, i, j) and add(i, j) describe the masks over the S real keys; the appended keys are
 * always allowed and get no additive term.
 */
function mhaOracle(m: kiln.nn.MultiheadAttention, qv: number[], kv: number[], vv: number[], L: number, S: number, N: number,
  allowed: (n: number, i: number, j: number) => boolean = () => true, add: (i: number, j: number) => number = () => 0) {
  const E = m.embedDim, H = m.numHeads, hd = E / H;
  const packed = m.in_proj_weight ? vals(m.in_proj_weight) : null;
  const Wq = packed ? packed.slice(0, E * E) : vals(m.q_proj_weight!);
  const Wk = packed ? packed.slice(E * E, 2 * E * E) : vals(m.k_proj_weight!);
  const Wv = packed ? packed.slice(2 * E * E) : vals(m.v_proj_weight!);
  const b = m.in_proj_bias ? vals(m.in_proj_bias) : new Array(3 * E).fill(0);
  const proj = (x: number[], len: number, W: number[], inDim: number, part: number) => {
    const rows: number[] = [];
    for (let t = 0; t < len; t++) for (let n = 0; n < N; n++) {
      const xi = x.slice((t * N + n) * inDim, (t * N + n) * inDim + inDim);
      for (let o = 0; o < E; o++) rows.push(xi.reduce((s, val, c) => s + W[o * inDim + c] * val, b[part * E + o]));
    }
    return rows; // [len, N, E]
  };
  const Q = proj(qv, L, Wq, E, 0), K = proj(kv, S, Wk, m.kdim, 1), V = proj(vv, S, Wv, m.vdim, 2);
  let Sk = S;
  if (m.bias_k) {
    const bk = vals(m.bias_k), bv = vals(m.bias_v!);
    for (let n = 0; n < N; n++) { K.push(...bk); V.push(...bv); }
    Sk++;
  }
  if (m.addZeroAttn) {
    K.push(...new Array(N * E).fill(0));
    V.push(...new Array(N * E).fill(0));
    Sk++;
  }
  const ctx = new Array(L * N * E).fill(0);
  const wAvg = new Array(N * L * Sk).fill(0);
  for (let n = 0; n < N; n++) for (let h = 0; h < H; h++) {
    const pick = (X: number[], len: number) => Array.from({ length: len }, (_, t) => X.slice((t * N + n) * E + h * hd, (t * N + n) * E + h * hd + hd)).flat();
    const r = attend(pick(Q, L), pick(K, Sk), pick(V, Sk), L, Sk, hd, hd, (i, j) => j >= S || allowed(n, i, j), (i, j) => (j >= S ? 0 : add(i, j)));
    for (let i = 0; i < L; i++) for (let c = 0; c < hd; c++) ctx[(i * N + n) * E + h * hd + c] = r.out[i * hd + c];
    r.weights.forEach((x, idx) => (wAvg[n * L * Sk + idx] += x / H));
  }
  const Wo = vals(m.out_proj.weight), bo = vals(m.out_proj.bias!);
  const out: number[] = [];
  for (let r = 0; r < L * N; r++) for (let o = 0; o < E; o++) out.push(ctx.slice(r * E, r * E + E).reduce((s, val, c) => s + Wo[o * E + c] * val, bo[o]));
  return { out, weights: wAvg, Sk };
}

describe('MultiheadAttention: addBiasKv, addZeroAttn, kdim/vdim', () => {
  const E = 4, H = 2, L = 3, S = 2, N = 2;
  it('parameter names, shapes and order as PyTorch; bias_k / bias_v drawn from xavier_normal', () => {
    const m = new nn.MultiheadAttention(E, H, { addBiasKv: true, addZeroAttn: true });
    expect(m.namedParameters().map(([k, p]) => `${k}:${p.shape}`)).toEqual([
      'in_proj_weight:12,4', 'in_proj_bias:12', 'bias_k:1,1,4', 'bias_v:1,1,4', 'out_proj.weight:4,4', 'out_proj.bias:4',
    ]);
    expect(Object.keys(new nn.MultiheadAttention(E, H, { kdim: 3, vdim: 5, addBiasKv: true, bias: false }).stateDict())).toEqual([
      'q_proj_weight', 'k_proj_weight', 'v_proj_weight', 'bias_k', 'bias_v', 'out_proj.weight',
    ]);
    expect(Object.keys(new nn.MultiheadAttention(E, H, { addZeroAttn: true }).stateDict())).toEqual(['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias']);
    kiln.manualSeed(41);
    const big = new nn.MultiheadAttention(512, 8, { addBiasKv: true });
    // xavier_normal on [1, 1, E]: fan in = fan out = E, std = sqrt(2 / 2E)
    for (const b of [big.bias_k!, big.bias_v!]) {
      const v = vals(b);
      const std = Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
      expect(Math.abs(std * Math.sqrt(512) - 1)).toBeLessThan(0.2);
    }
    expect(m.toString()).toContain('addBiasKv=true, addZeroAttn=true');
  });
  it('bias_k/bias_v and a zero key join every sequence; key padding and float masks padded with "allowed"', () => {
    kiln.manualSeed(42);
    const m = new nn.MultiheadAttention(E, H, { addBiasKv: true, addZeroAttn: true, dtype: 'float64' });
    kiln.noGrad(() => m.in_proj_bias!.copy_(t64([3 * E], 130)));
    const qv = uniform(L * N * E, 131), kv = uniform(S * N * E, 132), vv = uniform(S * N * E, 133);
    const pad = [[false, true], [true, true]]; // the second sequence has only the appended keys
    const add = uniform(L * S, 134);
    const [out, w] = m.forward(t64([L, N, E], qv), t64([S, N, E], kv), t64([S, N, E], vv), { keyPaddingMask: kiln.tensor(pad), attnMask: t64([L, S], add) });
    const want = mhaOracle(m, qv, kv, vv, L, S, N, (n, _i, j) => !pad[n][j], (i, j) => add[i * S + j]);
    expect(w!.shape).toEqual([N, L, S + 2]);
    expectClose(out, want.out, 1e-12);
    expectClose(w!, want.weights, 1e-12);
  });
  it('bool attnMask (true = blocked), causal, 3-D masks and unbatched inputs with the extra keys', () => {
    kiln.manualSeed(43);
    const m = new nn.MultiheadAttention(E, H, { addBiasKv: true, dtype: 'float64' });
    const qv = uniform(L * N * E, 135), kv = uniform(L * N * E, 136);
    const q = t64([L, N, E], qv), k = t64([L, N, E], kv);
    const causal = mhaOracle(m, qv, kv, kv, L, L, N, (_n, i, j) => j <= i);
    expectClose(m.forward(q, k, k, { isCausal: true })[0], causal.out, 1e-12);
    const blocked = kiln.tensor(Array.from({ length: L }, (_, i) => Array.from({ length: L }, (_, j) => j > i)));
    expectClose(m.forward(q, k, k, { attnMask: blocked })[0], causal.out, 1e-12);
    // [N * H, L, S]: a different mask per (sequence, head) — here the same causal one repeated.
    const perHead = blocked.unsqueeze(0).expand([N * H, L, L]);
    expectClose(m.forward(q, k, k, { attnMask: perHead })[0], causal.out, 1e-12);
    const single = m.forward(q.select(1, 1), k.select(1, 1), k.select(1, 1));
    const want1 = mhaOracle(m, qv, kv, kv, L, L, N);
    expectClose(single[0], Array.from({ length: L }, (_, t) => want1.out.slice((t * N + 1) * E, (t * N + 1) * E + E)).flat(), 1e-12);
    expect(single[1]!.shape).toEqual([L, L + 1]);
  });
  it('kdim / vdim with separate projection weights, bias_kv and zero attention, batchFirst', () => {
    kiln.manualSeed(44);
    const m = new nn.MultiheadAttention(E, H, { kdim: 3, vdim: 5, addBiasKv: true, addZeroAttn: true, batchFirst: true, dtype: 'float64' });
    const qv = uniform(L * N * E, 137), kv = uniform(S * N * 3, 138), vv = uniform(S * N * 5, 139);
    const want = mhaOracle(m, qv, kv, vv, L, S, N);
    const bf = (x: Tensor) => x.transpose(0, 1);
    const [out, w] = m.forward(bf(t64([L, N, E], qv)), bf(t64([S, N, 3], kv)), bf(t64([S, N, 5], vv)));
    expectClose(bf(out).contiguous(), want.out, 1e-12);
    expectClose(w!, want.weights, 1e-12);
  });
  it('checkGrads through bias_k, bias_v, the inputs and the projections with zero attention', () => {
    const m = new nn.MultiheadAttention(4, 2, { dtype: 'float64' });
    const wo = m.out_proj.weight.detach();
    const kpm = kiln.tensor([[false, false, true]]);
    const f = (q: Tensor, k: Tensor, w: Tensor, bk: Tensor, bv: Tensor) =>
      F.multiHeadAttentionForward(q, k, k, { numHeads: 2, inProjWeight: w, outProjWeight: wo, biasK: bk, biasV: bv, addZeroAttn: true }, { needWeights: false, keyPaddingMask: kpm })[0];
    gradCheck(f, [t64([2, 1, 4], 140), t64([3, 1, 4], 141), m.in_proj_weight!.detach(), t64([1, 1, 4], 142), t64([1, 1, 4], 143)]);
    const layer = new nn.MultiheadAttention(4, 2, { addBiasKv: true, addZeroAttn: true });
    layer.forward(kiln.randn([2, 1, 4]), kiln.randn([3, 1, 4]), kiln.randn([3, 1, 4]))[0].square().sum().backward();
    expect(layer.parameters().every((p) => p.grad !== null)).toBe(true);
    expect(() => F.multiHeadAttentionForward(t64([2, 1, 4], 1), t64([3, 1, 4], 2), t64([3, 1, 4], 3), { numHeads: 2, inProjWeight: m.in_proj_weight!, outProjWeight: wo, biasK: t64([1, 1, 4], 4) }))
      .toThrow(/biasK and biasV must be given together/);
  });
});

describe('Transformer layers', () => {
  it('encoder layer: names follow PyTorch; post-norm output equals its composition; pre-norm differs', () => {
    kiln.manualSeed(12);
    const layer = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0, dtype: 'float64' });
    expect(Object.keys(layer.stateDict())).toEqual([
      'self_attn.in_proj_weight', 'self_attn.in_proj_bias', 'self_attn.out_proj.weight', 'self_attn.out_proj.bias',
      'linear1.weight', 'linear1.bias', 'linear2.weight', 'linear2.bias', 'norm1.weight', 'norm1.bias', 'norm2.weight', 'norm2.bias',
    ]);
    const src = t64([5, 2, 8], 113);
    const sa = layer.self_attn.forward(src, src, src)[0];
    const x1 = layer.norm1.forward(src.add(sa));
    const want = layer.norm2.forward(x1.add(layer.linear2.forward(layer.linear1.forward(x1).relu())));
    expectClose(layer.forward(src), vals(want), 1e-12);
    const pre = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0, normFirst: true, batchFirst: true, activation: 'gelu' });
    expect(pre.forward(kiln.randn([2, 5, 8]), { isCausal: true }).shape).toEqual([2, 5, 8]);
  });
  it('decoder layer: names and shapes; gradients reach every parameter', () => {
    const layer = new nn.TransformerDecoderLayer(8, 2, { dimFeedforward: 16, dropout: 0.1 });
    const keys = Object.keys(layer.stateDict());
    expect(keys.slice(0, 8)).toEqual([
      'self_attn.in_proj_weight', 'self_attn.in_proj_bias', 'self_attn.out_proj.weight', 'self_attn.out_proj.bias',
      'multihead_attn.in_proj_weight', 'multihead_attn.in_proj_bias', 'multihead_attn.out_proj.weight', 'multihead_attn.out_proj.bias',
    ]);
    expect(keys).toContain('norm3.bias');
    const out = layer.forward(kiln.randn([4, 2, 8]), kiln.randn([6, 2, 8]), { tgtIsCausal: true });
    expect(out.shape).toEqual([4, 2, 8]);
    out.square().sum().backward();
    expect(layer.parameters().every((p) => p.grad !== null)).toBe(true);
  });
});

