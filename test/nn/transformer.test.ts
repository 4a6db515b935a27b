// TransformerEncoder, TransformerDecoder and nn.Transformer: PyTorch's parameter names and counts,
// deep-copied layers, masks reaching every layer, and outputs against the single layers (tested in
// attention.test.ts) run one by one on the copied weights, with the final LayerNorm written out.
import { describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, gradCheck, t64, uniform, vals } from '../helpers/nn.js';

const { nn } = kiln;
type EncOpts = kiln.nn.EncoderLayerCallOptions;
type DecOpts = kiln.nn.DecoderLayerCallOptions;

// PyTorch's state-dict keys of one layer (torch.nn.TransformerEncoderLayer / DecoderLayer).
const mhaKeys = (p: string) => ['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias'].map((k) => `${p}.${k}`);
const ffKeys = ['linear1.weight', 'linear1.bias', 'linear2.weight', 'linear2.bias'];
const normKeys = (n: number) => Array.from({ length: n }, (_, i) => [`norm${i + 1}.weight`, `norm${i + 1}.bias`]).flat();
const encLayerKeys = [...mhaKeys('self_attn'), ...ffKeys, ...normKeys(2)];
const decLayerKeys = [...mhaKeys('self_attn'), ...mhaKeys('multihead_attn'), ...ffKeys, ...normKeys(3)];
const stackKeys = (prefix: string, layerKeys: string[], n: number) =>
  [...Array.from({ length: n }, (_, i) => layerKeys.map((k) => `${prefix}layers.${i}.${k}`)).flat(), `${prefix}norm.weight`, `${prefix}norm.bias`];

/** The entries of a state dict under `prefix`, with the prefix removed. */
function sub(sd: Record<string, Tensor>, prefix: string): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(sd).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
}

/** LayerNorm over the last dim of a row-major array, biased variance, as PyTorch. */
function layerNorm64(x: number[], D: number, w: number[], b: number[], eps = 1e-5): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / D; r++) {
    const row = x.slice(r * D, r * D + D);
    const mu = row.reduce((s, v) => s + v, 0) / D;
    const varr = row.reduce((s, v) => s + (v - mu) ** 2, 0) / D;
    row.forEach((v, i) => out.push(((v - mu) / Math.sqrt(varr + eps)) * w[i] + b[i]));
  }
  return out;
}

/** Gives every parameter of m fresh values, so that copied layers differ. */
function scramble(m: kiln.nn.Module<any[], any>, seed: number): void {
  kiln.noGrad(() => m.parameters().forEach((p, i) => p.copy_(t64([...p.shape], seed + i).mul(0.5))));
}

const D = 8, H = 2, FF = 16;
const layerOpts = { dimFeedforward: FF, dropout: 0, dtype: 'float64' as const };

/** The encoder stack by hand: fresh single layers loaded with each copy's weights, then the norm. */
function encoderByLayers(enc: kiln.nn.TransformerEncoder, x: Tensor, o: EncOpts, layerOpt: kiln.nn.TransformerLayerOptions = layerOpts): number[] {
  const sd = enc.stateDict();
  let y = x;
  for (let i = 0; i < enc.numLayers; i++) {
    const ref = new nn.TransformerEncoderLayer(D, H, layerOpt);
    ref.loadStateDict(sub(sd, `layers.${i}.`));
    y = ref.forward(y, o);
  }
  return layerNorm64(vals(y.contiguous()), D, vals(sd['norm.weight']), vals(sd['norm.bias']));
}

function decoderByLayers(dec: kiln.nn.TransformerDecoder, x: Tensor, memory: Tensor, o: DecOpts, layerOpt: kiln.nn.TransformerLayerOptions = layerOpts): number[] {
  const sd = dec.stateDict();
  let y = x;
  for (let i = 0; i < dec.numLayers; i++) {
    const ref = new nn.TransformerDecoderLayer(D, H, layerOpt);
    ref.loadStateDict(sub(sd, `layers.${i}.`));
    y = ref.forward(y, memory, o);
  }
  return layerNorm64(vals(y.contiguous()), D, vals(sd['norm.weight']), vals(sd['norm.bias']));
}

describe('TransformerEncoder', () => {
  it('layers.i.* and norm.* as PyTorch; the layers are deep copies of the given one', () => {
    kiln.manualSeed(70);
    const layer = new nn.TransformerEncoderLayer(D, H, layerOpts);
    const enc = new nn.TransformerEncoder(layer, 3, { norm: new nn.LayerNorm(D, { dtype: 'float64' }) });
    expect(Object.keys(enc.stateDict())).toEqual(stackKeys('', encLayerKeys, 3));
    // per layer: in_proj 3·8·8 + 24, out_proj 64 + 8, linear1 8·16 + 16, linear2 16·8 + 8, two norms 2·16
    expect(enc.numParameters()).toBe(3 * 600 + 16);
    const layers = [...enc.layers];
    expect(layers.every((l) => l !== layer && l instanceof nn.TransformerEncoderLayer)).toBe(true);
    for (const [k, v] of Object.entries(layer.stateDict())) {
      for (const l of layers) {
        expect(vals(l.stateDict()[k])).toEqual(vals(v));
        expect(l.stateDict({ keepVars: true })[k]).not.toBe(layer.stateDict({ keepVars: true })[k]);
      }
    }
    kiln.noGrad(() => layers[1].parameters()[0].fill_(0));
    expect(vals(layers[0].parameters()[0]).some((v) => v !== 0)).toBe(true);
    expect(vals(layer.parameters()[0]).some((v) => v !== 0)).toBe(true);
    expect(Object.keys(new nn.TransformerEncoder(layer, 2).stateDict())).toEqual(stackKeys('', encLayerKeys, 2).slice(0, -2));
    expect(() => new nn.TransformerEncoder(layer, 1.5)).toThrow(/numLayers must be an integer/);
  });
  it('forward runs every layer with the masks, then the norm', () => {
    kiln.manualSeed(71);
    const enc = new nn.TransformerEncoder(new nn.TransformerEncoderLayer(D, H, layerOpts), 2, { norm: new nn.LayerNorm(D, { dtype: 'float64' }) });
    scramble(enc, 200);
    const S = 4, N = 2;
    const x = t64([S, N, D], 72);
    const mask = t64([S, S], uniform(S * S, 73));
    const kpm = kiln.tensor([[false, false, false, true], [false, true, false, false]]);
    expectClose(enc.forward(x, { mask, srcKeyPaddingMask: kpm }), encoderByLayers(enc, x, { srcMask: mask, srcKeyPaddingMask: kpm }), 1e-10);
    expectClose(enc.forward(x, { isCausal: true }), encoderByLayers(enc, x, { isCausal: true }), 1e-10);
    const noNorm = new nn.TransformerEncoder(new nn.TransformerEncoderLayer(D, H, layerOpts), 2);
    scramble(noNorm, 300);
    const ref = enc.layers.at(0).clone();
    ref.loadStateDict(sub(noNorm.stateDict(), 'layers.0.'));
    const ref1 = enc.layers.at(1).clone();
    ref1.loadStateDict(sub(noNorm.stateDict(), 'layers.1.'));
    expectClose(noNorm.forward(x), vals(ref1.forward(ref.forward(x))), 1e-12);
  });
  it('pre-norm, gelu stack: output by layers; checkGrads', () => {
    kiln.manualSeed(74);
    const opts = { ...layerOpts, normFirst: true, activation: 'gelu' as const };
    const enc = new nn.TransformerEncoder(new nn.TransformerEncoderLayer(D, H, opts), 2, { norm: new nn.LayerNorm(D, { dtype: 'float64' }) });
    scramble(enc, 600);
    expectClose(enc.forward(t64([3, 1, D], 76)), encoderByLayers(enc, t64([3, 1, D], 76), {}, opts), 1e-10);
    gradCheck((x) => enc.forward(x, { isCausal: true }), [t64([3, 1, D], 75)]);
  });
});

describe('TransformerDecoder', () => {
  it('names as PyTorch; forward runs every layer on the same memory with all the masks', () => {
    kiln.manualSeed(80);
    const dec = new nn.TransformerDecoder(new nn.TransformerDecoderLayer(D, H, layerOpts), 2, { norm: new nn.LayerNorm(D, { dtype: 'float64' }) });
    expect(Object.keys(dec.stateDict())).toEqual(stackKeys('', decLayerKeys, 2));
    expect(dec.numParameters()).toBe(2 * (2 * 288 + 144 + 136 + 48) + 16);
    scramble(dec, 400);
    const T = 3, S = 4, N = 2;
    const tgt = t64([T, N, D], 81), memory = t64([S, N, D], 82);
    const o: DecOpts = {
      tgtMask: nn.Transformer.generateSquareSubsequentMask(T, { dtype: 'float64' }),
      memoryMask: t64([T, S], uniform(T * S, 83)),
      tgtKeyPaddingMask: kiln.tensor([[false, false, true], [false, false, false]]),
      memoryKeyPaddingMask: kiln.tensor([[false, true, false, false], [false, false, false, true]]),
    };
    expectClose(dec.forward(tgt, memory, o), decoderByLayers(dec, tgt, memory, o), 1e-10);
    // tgtIsCausal builds the same mask as generateSquareSubsequentMask
    expectClose(dec.forward(tgt, memory, { tgtIsCausal: true }), decoderByLayers(dec, tgt, memory, { tgtMask: o.tgtMask }), 1e-10);
    // memoryIsCausal: query i sees memory positions <= i
    const blocked = kiln.tensor(Array.from({ length: T }, (_, i) => Array.from({ length: S }, (_, j) => j > i)));
    expectClose(dec.forward(tgt, memory, { memoryIsCausal: true }), decoderByLayers(dec, tgt, memory, { memoryMask: blocked }), 1e-10);
  });
});

describe('nn.Transformer', () => {
  const opts = { dModel: D, nhead: H, numEncoderLayers: 2, numDecoderLayers: 1, dimFeedforward: FF, dropout: 0, dtype: 'float64' as const };
  it('state-dict keys and parameter count as torch.nn.Transformer(8, 2, 2, 1, 16)', () => {
    const m = new nn.Transformer(opts);
    expect(Object.keys(m.stateDict())).toEqual([...stackKeys('encoder.', encLayerKeys, 2), ...stackKeys('decoder.', decLayerKeys, 1)]);
    expect(m.numParameters()).toBe(2 * 600 + 904 + 2 * 16);
    expect(m.encoder).toBeInstanceOf(nn.TransformerEncoder);
    expect((m.encoder as kiln.nn.TransformerEncoder).norm).toBeInstanceOf(nn.LayerNorm);
    // normFirst keeps the final norms, as PyTorch
    expect(Object.keys(new nn.Transformer({ ...opts, normFirst: true }).stateDict())).toContain('decoder.norm.bias');
    const defaults = new nn.Transformer({ numEncoderLayers: 1, numDecoderLayers: 1 });
    expect(defaults.stateDict()['encoder.layers.0.linear1.weight'].shape).toEqual([2048, 512]);
    expect(defaults.nhead).toBe(8);
  });
  it('every weight of 2+ dims starts xavier-uniform; the layers differ; 1-D parameters keep their layers\' init', () => {
    kiln.manualSeed(90);
    const m = new nn.Transformer(opts);
    const sd = m.stateDict();
    for (const [k, v] of Object.entries(sd)) {
      if (v.ndim === 2) {
        const [fanOut, fanIn] = v.shape;
        const bound = Math.sqrt(6 / (fanIn + fanOut));
        const mx = Math.max(...vals(v).map(Math.abs));
        expect(mx, k).toBeLessThanOrEqual(bound);
        expect(mx, k).toBeGreaterThan(0.75 * bound);
      } else if (k.includes('norm') && k.endsWith('weight')) expect(vals(v).every((x) => x === 1)).toBe(true);
      else if (/linear[12]\.bias$/.test(k)) {
        // Linear's own init, bound 1/√fanIn
        const fanIn = k.includes('linear1') ? D : FF;
        expect(Math.max(...vals(v).map(Math.abs)), k).toBeLessThanOrEqual(1 / Math.sqrt(fanIn));
      } else expect(vals(v).every((x) => x === 0), k).toBe(true);
    }
    // linear1 [16, 8]: xavier bound 0.5 exceeds the kaiming one 1/√8 of a fresh Linear
    expect(Math.max(...vals(sd['encoder.layers.0.linear1.weight']).map(Math.abs))).toBeGreaterThan(1 / Math.sqrt(8));
    expect(vals(sd['encoder.layers.0.linear1.weight'])).not.toEqual(vals(sd['encoder.layers.1.linear1.weight']));
  });
  it('forward = the encoder stack on src, then the decoder stack on tgt and the memory, masks routed', () => {
    kiln.manualSeed(91);
    const m = new nn.Transformer(opts);
    scramble(m, 500);
    const S = 4, T = 3, N = 2;
    const src = t64([S, N, D], 92), tgt = t64([T, N, D], 93);
    const srcKpm = kiln.tensor([[false, false, true, false], [false, false, false, false]]);
    const tgtMask = nn.Transformer.generateSquareSubsequentMask(T, { dtype: 'float64' });
    const memoryMask = t64([T, S], uniform(T * S, 94));
    const got = m.forward(src, tgt, { srcKeyPaddingMask: srcKpm, memoryKeyPaddingMask: srcKpm, tgtMask, memoryMask, srcIsCausal: true });
    const enc = m.encoder as kiln.nn.TransformerEncoder, dec = m.decoder as kiln.nn.TransformerDecoder;
    const memory = t64([S, N, D], encoderByLayers(enc, src, { srcKeyPaddingMask: srcKpm, isCausal: true }));
    expectClose(got, decoderByLayers(dec, tgt, memory, { tgtMask, memoryMask, memoryKeyPaddingMask: srcKpm }), 1e-9);
  });
  it('batchFirst and unbatched inputs agree with the sequence-first model', () => {
    kiln.manualSeed(95);
    const m = new nn.Transformer(opts);
    const bf = new nn.Transformer({ ...opts, batchFirst: true });
    bf.loadStateDict(m.stateDict());
    const src = t64([4, 2, D], 96), tgt = t64([3, 2, D], 97);
    const want = vals(m.forward(src, tgt, { tgtIsCausal: true }));
    expectClose(bf.forward(src.transpose(0, 1), tgt.transpose(0, 1), { tgtIsCausal: true }).transpose(0, 1).contiguous(), want, 1e-12);
    const one = m.forward(src.select(1, 1), tgt.select(1, 1), { tgtIsCausal: true });
    expect(one.shape).toEqual([3, D]);
    expectClose(one, vals(m.forward(src, tgt, { tgtIsCausal: true }).select(1, 1).contiguous()), 1e-12);
  });
  it('checkGrads for src and tgt; every parameter gets a gradient', () => {
    kiln.manualSeed(98);
    const m = new nn.Transformer({ dModel: 4, nhead: 2, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 6, dropout: 0, dtype: 'float64' });
    gradCheck((s, t) => m.forward(s, t, { tgtIsCausal: true }), [t64([3, 1, 4], 99), t64([2, 1, 4], 100)]);
    m.forward(t64([3, 2, 4], 101), t64([2, 2, 4], 102)).square().sum().backward();
    expect(m.parameters().every((p) => p.grad !== null)).toBe(true);
  });
  it('customEncoder / customDecoder replace the default stacks under the same names', () => {
    kiln.manualSeed(103);
    const encoder = new nn.TransformerEncoder(new nn.TransformerEncoderLayer(D, H, layerOpts), 1);
    const decoder = new nn.TransformerDecoder(new nn.TransformerDecoderLayer(D, H, layerOpts), 1, { norm: new nn.LayerNorm(D, { dtype: 'float64' }) });
    const m = new nn.Transformer({ ...opts, customEncoder: encoder, customDecoder: decoder });
    expect(m.encoder).toBe(encoder);
    expect(Object.keys(m.stateDict())).toEqual([...stackKeys('encoder.', encLayerKeys, 1).slice(0, -2), ...stackKeys('decoder.', decLayerKeys, 1)]);
    const src = t64([4, 1, D], 104), tgt = t64([2, 1, D], 105);
    expectClose(m.forward(src, tgt), vals(decoder.forward(tgt, encoder.forward(src))), 1e-12);
  });
  it('generateSquareSubsequentMask: 0 on and below the diagonal, -inf above', () => {
    const mask = nn.Transformer.generateSquareSubsequentMask(4);
    expect(mask.dtype).toBe('float32');
    const want: number[] = [];
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) want.push(j > i ? -Infinity : 0);
    expect(vals(mask)).toEqual(want);
    expect(nn.Transformer.generateSquareSubsequentMask(2, { dtype: 'float64' }).dtype).toBe('float64');
  });
  it('errors: batch and feature sizes', () => {
    const m = new nn.Transformer({ ...opts, numEncoderLayers: 1 });
    expect(() => m.forward(t64([4, 2, D], 1), t64([3, 3, D], 2))).toThrow(/batch sizes/);
    expect(() => m.forward(t64([4, 2, D], 1), t64([3, 2, 6], 2))).toThrow(/must equal dModel 8/);
    expect(() => m.forward(t64([4, 2, D], 1), t64([3, 3, D], 2))).toThrow(kiln.ShapeError);
  });
});
