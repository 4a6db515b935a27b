// Scaled dot-product attention and the multi-head attention forward pass (PyTorch's layouts
// and mask conventions).
import { DTypeError, KilnError, ShapeError, shapeStr } from '../../errors.js';
import { cast } from '../../ops/copy.js';
import * as ew from '../../ops/elementwise.js';
import { matmul } from '../../ops/linalg.js';
import { softmax } from '../../ops/nn/softmax.js';
import { cat, pad } from '../../ops/indexing.js';
import { mean } from '../../ops/reduce.js';
import { expand, narrow, permute, reshape, transpose } from '../../ops/views.js';
import { arange, full, zeros } from '../../tensor/creation.js';
import { isFloating } from '../../tensor/dtype.js';
import { tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import { dropout } from './normalization.js';
import { linear } from './linear.js';

export interface SdpaOptions {
  /** bool: true where attention is allowed; float: added to the scores. Broadcasts to [..., L, S]. */
  attnMask?: Tensor | null;
  dropoutP?: number;
  /** Each query attends to keys at positions <= its own (top-left aligned, as PyTorch). */
  isCausal?: boolean;
  /** Defaults to 1 / sqrt(E). */
  scale?: number | null;
  /** Dropout applies only when training (default true, as the PyTorch function). */
  training?: boolean;
}

/** bool [L, S]: true where key j <= query i. */
export function causalMask(L: number, S: number, device: Tensor['device'] = 'cpu'): Tensor {
  return tidy(() => ew.le(arange(S, undefined, 1, { dtype: 'int32', device }), reshape(arange(L, undefined, 1, { dtype: 'int32', device }), [L, 1])));
}

/** The attention probabilities softmax(q k^T scale + mask) [..., L, S] (before dropout). */
export function attentionWeights(q: Tensor, k: Tensor, opts: SdpaOptions = {}): Tensor {
  const E = q.shape[q.ndim - 1];
  if (k.shape[k.ndim - 1] !== E) throw new ShapeError(`attention: query ${shapeStr(q.shape)} and key ${shapeStr(k.shape)} differ in the last dim`);
  const scale = opts.scale ?? 1 / Math.sqrt(E);
  return tidy(() => {
    // Scaling q ([..., L, E]) instead of the scores ([..., L, S]) touches fewer elements.
    let scores = matmul(ew.mul(q, scale), transpose(k, -2, -1));
    const L = q.shape[q.ndim - 2];
    const S = k.shape[k.ndim - 2];
    if (opts.isCausal) {
      if (opts.attnMask) throw new KilnError('attention: pass either attnMask or isCausal, not both');
      scores = ew.where(causalMask(L, S, q.device), scores, -Infinity);
    }
    const mask = opts.attnMask;
    if (mask) {
      if (mask.dtype === 'bool') scores = ew.where(mask, scores, -Infinity);
      else if (isFloating(mask.dtype)) scores = ew.add(scores, mask);
      else throw new DTypeError(`attention: attnMask must be bool or float, got ${mask.dtype}`);
    }
    return softmax(scores, -1);
  });
}

/**
 * softmax(q k^T / sqrt(E) + mask) v for q [..., L, E], k [..., S, E], v [..., S, Ev]
 * (torch.nn.functional.scaled_dot_product_attention).
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: SdpaOptions = {}): Tensor {
  return tidy(() => {
    let w = attentionWeights(q, k, opts);
    const p = opts.dropoutP ?? 0;
    if (p > 0) w = dropout(w, p, opts.training ?? true);
    return matmul(w, v);
  });
}

export interface MhaParams {
  numHeads: number;
  inProjWeight?: Tensor | null;
  inProjBias?: Tensor | null;
  qProjWeight?: Tensor | null;
  kProjWeight?: Tensor | null;
  vProjWeight?: Tensor | null;
  outProjWeight: Tensor;
  outProjBias?: Tensor | null;
  /** [1, 1, E] each: one more key and value, appended after the projections (PyTorch's bias_k, bias_v). */
  biasK?: Tensor | null;
  biasV?: Tensor | null;
  /** Appends a zero key and value (after biasK/biasV) that every query may attend to. */
  addZeroAttn?: boolean;
  dropoutP?: number;
  training?: boolean;
}

export interface MhaOptions {
  /** [N, S]: bool true = ignore that key; float = added. */
  keyPaddingMask?: Tensor | null;
  needWeights?: boolean;
  /** [L, S] or [N * heads, L, S]: bool true = NOT allowed (nn.MultiheadAttention's convention); float = added. */
  attnMask?: Tensor | null;
  averageAttnWeights?: boolean;
  isCausal?: boolean;
}

/** Turns a mask into an additive float mask (bool true -> -inf). */
function additive(mask: Tensor, dtype: Tensor['dtype'], what: string): Tensor {
  if (mask.dtype === 'bool') return ew.where(mask, -Infinity, full(mask.shape, 0, { dtype, device: mask.device }));
  if (isFloating(mask.dtype)) return mask.dtype === dtype ? mask : cast(mask, dtype);
  throw new DTypeError(`multiheadAttention: ${what} must be bool or float, got ${mask.dtype}`);
}

/**
 * Multi-head attention on sequence-first inputs query [L, N, E], key [S, N, Ek], value [S, N, Ev]
 * (PyTorch's F.multi_head_attention_forward). Returns [output [L, N, E], weights or null].
 */
export function multiHeadAttentionForward(query: Tensor, key: Tensor, value: Tensor, p: MhaParams, opts: MhaOptions = {}): [Tensor, Tensor | null] {
  if (query.ndim !== 3 || key.ndim !== 3 || value.ndim !== 3) {
    throw new ShapeError(`multiheadAttention: expects [L, N, E] inputs, got ${shapeStr(query.shape)}, ${shapeStr(key.shape)}, ${shapeStr(value.shape)}`);
  }
  const [L, N, E] = query.shape;
  const S = key.shape[0];
  const H = p.numHeads;
  if (E % H !== 0) throw new ShapeError(`multiheadAttention: embed dim ${E} is not divisible by ${H} heads`);
  if (key.shape[1] !== N || value.shape[1] !== N || value.shape[0] !== S) {
    throw new ShapeError(`multiheadAttention: key ${shapeStr(key.shape)} and value ${shapeStr(value.shape)} do not match query ${shapeStr(query.shape)}`);
  }
  const hd = E / H;
  const result = tidy(() => {
    let q: Tensor, k: Tensor, v: Tensor;
    if (query === key && key === value && !query.isContiguous()) {
      // Self-attention on a transposed view (batchFirst): the three projections would each
      // copy it into rows; copy it once.
      query = key = value = query.contiguous();
    }
    const b = p.inProjBias;
    const bq = b ? narrow(b, 0, 0, E) : null;
    const bk = b ? narrow(b, 0, E, E) : null;
    const bv = b ? narrow(b, 0, 2 * E, E) : null;
    if (p.inProjWeight) {
      q = linear(query, narrow(p.inProjWeight, 0, 0, E), bq);
      k = linear(key, narrow(p.inProjWeight, 0, E, E), bk);
      v = linear(value, narrow(p.inProjWeight, 0, 2 * E, E), bv);
    } else {
      if (!p.qProjWeight || !p.kProjWeight || !p.vProjWeight) throw new KilnError('multiheadAttention: needs inProjWeight or q/k/v projection weights');
      q = linear(query, p.qProjWeight, bq);
      k = linear(key, p.kProjWeight, bk);
      v = linear(value, p.vProjWeight, bv);
    }
    // Extra keys appended after the projections (bias_k / bias_v, then a zero one); the masks
    // get a column of zeros for each, so every query may attend to them.
    const extraK: Tensor[] = [];
    const extraV: Tensor[] = [];
    if (p.biasK || p.biasV) {
      if (!p.biasK || !p.biasV) throw new KilnError('multiheadAttention: biasK and biasV must be given together');
      for (const bkv of [p.biasK, p.biasV]) {
        if (bkv.numel() !== E || bkv.shape[bkv.ndim - 1] !== E) throw new ShapeError(`multiheadAttention: biasK and biasV must be [1, 1, ${E}], got ${shapeStr(bkv.shape)}`);
      }
      extraK.push(expand(reshape(p.biasK, [1, 1, E]), [1, N, E]));
      extraV.push(expand(reshape(p.biasV, [1, 1, E]), [1, N, E]));
    }
    if (p.addZeroAttn) {
      const z = zeros([1, N, E], { dtype: k.dtype, device: k.device });
      extraK.push(z);
      extraV.push(z);
    }
    const extra = extraK.length;
    if (extra) {
      k = cat([k, ...extraK], 0);
      v = cat([v, ...extraV], 0);
    }
    const Sk = S + extra;
    // [L, N, E] -> [N, H, L, hd]
    const heads = (x: Tensor, len: number) => permute(reshape(x, [len, N, H, hd]), [1, 2, 0, 3]);
    const qh = heads(q, L);
    const kh = heads(k, Sk);
    const vh = heads(v, Sk);
    let mask: Tensor | null = null;
    if (opts.attnMask) {
      let m = additive(opts.attnMask, q.dtype, 'attnMask');
      if (m.ndim === 3) {
        if (m.shape[0] !== N * H) throw new ShapeError(`multiheadAttention: a 3-D attnMask must be [N * heads, L, S], got ${shapeStr(m.shape)}`);
        m = reshape(m, [N, H, L, S]);
      } else if (m.ndim !== 2) throw new ShapeError(`multiheadAttention: attnMask must be 2-D or 3-D, got ${shapeStr(m.shape)}`);
      mask = m;
    } else if (opts.isCausal) {
      mask = additive(ew.logicalNot(causalMask(L, S, q.device)), q.dtype, 'attnMask');
    }
    if (opts.keyPaddingMask) {
      const kp = reshape(additive(opts.keyPaddingMask, q.dtype, 'keyPaddingMask'), [N, 1, 1, S]);
      mask = mask ? ew.add(mask, kp) : kp;
    }
    if (mask && extra) mask = pad(mask, [0, extra], 0);
    let w = attentionWeights(qh, kh, { attnMask: mask });
    const dp = p.dropoutP ?? 0;
    const wUsed = dp > 0 && (p.training ?? true) ? dropout(w, dp, true) : w;
    const ctx = reshape(permute(matmul(wUsed, vh), [2, 0, 1, 3]), [L, N, E]);
    const out = linear(ctx, p.outProjWeight, p.outProjBias);
    if (!(opts.needWeights ?? true)) return [out, null] as [Tensor, Tensor | null];
    if (opts.averageAttnWeights ?? true) w = mean(w, 1);
    return [out, w] as [Tensor, Tensor | null];
  });
  return result;
}

