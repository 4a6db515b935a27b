// Fused normalization. One primitive normalizes x [P, C, Q] per channel c over its P * Q
// elements, (x - mean) / sqrt(var + eps); batch, layer and group norm are views of it plus an
// affine map. Its Jacobian J(x) is symmetric, so one fused kernel, normalizeBackward(x, v) =
// J(x) v, is both its VJP and its JVP. normalizeBackward is linear in v (its rules in v are
// itself again); its derivative in x, needed only at second order, differentiates the reference
// composite below.
import { jvp, vjp } from '../../autograd/functional.js';
import { noGrad } from '../../autograd/backward.js';
import { DTypeError, KilnError, ShapeError, shapeStr } from '../../errors.js';
import { isFloating } from '../../tensor/dtype.js';
import { tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import { copyInto } from '../copy.js';
import * as ew from '../elementwise.js';
import { runKernel1 } from '../kernel.js';
import { bind, definePrimitive, type Primitive } from '../primitive.js';
import { mean } from '../reduce.js';
import { reshape, select } from '../views.js';
import { fusedLayerNorm, fusedLayerNormApplies } from './layer-norm.js';

interface NormAttrs {
  eps: number;
}

/** J(x) v for normalize at x [P, C, Q], written with differentiable primitives. */
export function normalizeBackwardReference(x: Tensor, v: Tensor, eps: number): Tensor {
  const dims = [0, 2];
  const d = ew.sub(x, mean(x, dims, true));
  const r = ew.rsqrt(ew.add(mean(ew.square(d), dims, true), eps));
  const first = ew.mul(r, ew.sub(v, mean(v, dims, true)));
  return ew.sub(first, ew.mul(ew.mul(d, ew.mul(r, ew.square(r))), mean(ew.mul(v, d), dims, true)));
}

export const normalizeBackwardP: Primitive<NormAttrs> = definePrimitive<NormAttrs>({
  name: 'normalizeBackward',
  saves: 'inputs',
  vjp: ({ inputs: [x, v], attrs, needsGrad: [nx, nv] }) => (g) => [
    nx ? (vjp((xx: Tensor) => normalizeBackwardReference(xx, v, attrs.eps), x)[1](g) as Tensor) : null,
    nv ? bind(normalizeBackwardP, [x, g], attrs) : null,
  ],
  jvp: ({ inputs: [x, v], attrs }, [tx, tv]) => {
    const inV = tv ? bind(normalizeBackwardP, [x, tv], attrs) : null;
    const inX = tx ? (jvp((xx: Tensor) => normalizeBackwardReference(xx, v, attrs.eps), [x], [tx])[1] as Tensor) : null;
    return inV && inX ? ew.add(inV, inX) : inV ?? inX;
  },
  impl: ([x, v], { eps }) => runKernel1('normalizeBackward', { shape: x.shape, dtype: x.dtype, device: x.device }, [x, v], [eps]),
});

/** (x - mean) / sqrt(var + eps) per channel of x [P, C, Q], over P and Q (biased variance). */
export const normalizeP: Primitive<NormAttrs> = definePrimitive<NormAttrs>({
  name: 'normalize',
  saves: 'inputs',
  vjp: ({ inputs: [x], attrs }) => (g) => [bind(normalizeBackwardP, [x, g], attrs)],
  jvp: ({ inputs: [x], attrs }, [t]) => bind(normalizeBackwardP, [x, t!], attrs),
  impl: ([x], { eps }) => runKernel1('normalize', { shape: x.shape, dtype: x.dtype, device: x.device }, [x], [eps]),
});

/** Per-channel [mean; biased variance] of x [P, C, Q] as [2, C]: statistics, no derivative. */
export const momentsP = definePrimitive<undefined>({
  name: 'moments',
  nondifferentiable: true,
  impl: ([x]) => runKernel1('moments', { shape: [2, x.shape[1]], dtype: x.dtype, device: x.device }, [x]),
});

function checkEps(op: string, eps: number): void {
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new KilnError(`${op}: eps must be finite and >= 0, got ${eps}`);
}

function checkFloat(op: string, x: Tensor): void {
  if (!isFloating(x.dtype)) throw new DTypeError(`${op}: expects a float tensor, got ${x.dtype}`);
}

/** x normalized per channel, x viewed as [P, C, Q]. */
export function normalize(x: Tensor, P: number, C: number, Q: number, eps = 1e-5): Tensor {
  checkEps('normalize', eps);
  checkFloat('normalize', x);
  if (P * C * Q !== x.numel()) throw new ShapeError(`normalize: [${P}, ${C}, ${Q}] does not match ${shapeStr(x.shape)}`);
  return tidy(() => reshape(bind(normalizeP, [reshape(x, [P, C, Q])], { eps }), x.shape));
}

/** y * weight + bias with per-channel (dim 1) vectors. */
function channelAffine(y: Tensor, weight: Tensor | null | undefined, bias: Tensor | null | undefined): Tensor {
  const shape = y.shape.map((s, i) => (i === 1 ? s : 1));
  let out = y;
  if (weight) out = ew.mul(out, reshape(weight, shape));
  if (bias) out = ew.add(out, reshape(bias, shape));
  return out;
}

function checkChannelVector(op: string, what: string, v: Tensor | null | undefined, C: number): void {
  if (v && (v.ndim !== 1 || v.shape[0] !== C)) throw new ShapeError(`${op}: ${what} ${shapeStr(v.shape)} must have shape [${C}]`);
}

export interface BatchNormOptions {
  /** Normalize with the batch statistics (and update the running ones); else use the running ones. */
  training?: boolean;
  /** Weight of the new batch in the running averages. */
  momentum?: number;
  eps?: number;
}

/**
 * Batch normalization over x [N, C, ...], per channel over the batch and spatial dims. In
 * training the running statistics (if given) are updated in place with the batch mean and the
 * unbiased batch variance, as PyTorch does.
 */
export function batchNorm(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null,
  weight?: Tensor | null, bias?: Tensor | null, opts: BatchNormOptions = {}): Tensor {
  if (x.ndim < 2) throw new ShapeError(`batchNorm: expects an input [N, C, ...], got ${shapeStr(x.shape)}`);
  checkFloat('batchNorm', x);
  const training = opts.training ?? false;
  const momentum = opts.momentum ?? 0.1;
  const eps = opts.eps ?? 1e-5;
  checkEps('batchNorm', eps);
  const [N, C] = x.shape;
  const Q = x.numel() / Math.max(1, N * C);
  for (const [what, v] of [['weight', weight], ['bias', bias], ['runningMean', runningMean], ['runningVar', runningVar]] as const) {
    checkChannelVector('batchNorm', what, v, C);
  }
  const count = N * Q;
  return tidy(() => {
    if (!training) {
      if (!runningMean || !runningVar) throw new KilnError('batchNorm: evaluation needs running statistics (or pass training: true)');
      const shape = x.shape.map((s, i) => (i === 1 ? s : 1));
      const y = ew.mul(ew.sub(x, reshape(runningMean, shape)), reshape(ew.rsqrt(ew.add(runningVar, eps)), shape));
      return channelAffine(y, weight, bias);
    }
    if (count <= 1) throw new ShapeError(`batchNorm: expected more than 1 value per channel when training, got input ${shapeStr(x.shape)}`);
    const xs = reshape(x, [N, C, Q]);
    if (runningMean && runningVar) {
      const m = bind(momentsP, [xs], undefined);
      noGrad(() => {
        copyInto(runningMean, ew.add(ew.mul(runningMean, 1 - momentum), ew.mul(select(m, 0, 0), momentum)));
        copyInto(runningVar, ew.add(ew.mul(runningVar, 1 - momentum), ew.mul(select(m, 0, 1), (momentum * count) / (count - 1))));
      });
    }
    return channelAffine(reshape(bind(normalizeP, [xs], { eps }), x.shape), weight, bias);
  });
}

/** Normalizes over the trailing dims given by normalizedShape (biased variance), then weight/bias of that shape. */
export function layerNorm(x: Tensor, normalizedShape: number | readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const ns = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  const tail = x.shape.slice(x.ndim - ns.length);
  if (ns.length > x.ndim || tail.some((s, i) => s !== ns[i])) {
    throw new ShapeError(`layerNorm: input ${shapeStr(x.shape)} does not end in the normalized shape ${shapeStr(ns)}`);
  }
  checkFloat('layerNorm', x);
  checkEps('layerNorm', eps);
  for (const [what, v] of [['weight', weight], ['bias', bias]] as const) {
    if (v && (v.ndim !== ns.length || v.shape.some((s, i) => s !== ns[i]))) {
      throw new ShapeError(`layerNorm: ${what} ${shapeStr(v.shape)} must have the normalized shape ${shapeStr(ns)}`);
    }
  }
  const D = ns.reduce((a, b) => a * b, 1);
  return tidy(() => {
    if (fusedLayerNormApplies(x, weight, bias)) return fusedLayerNorm(x, D, weight, bias, eps);
    let y = reshape(bind(normalizeP, [reshape(x, [1, x.numel() / Math.max(1, D), D])], { eps }), x.shape);
    if (weight) y = ew.mul(y, weight);
    if (bias) y = ew.add(y, bias);
    return y;
  });
}

/** Group normalization of x [N, C, ...] over groups of C / numGroups channels, then per-channel weight/bias. */
export function groupNorm(x: Tensor, numGroups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  if (x.ndim < 2) throw new ShapeError(`groupNorm: expects an input [N, C, ...], got ${shapeStr(x.shape)}`);
  const [N, C] = x.shape;
  if (!Number.isSafeInteger(numGroups) || numGroups < 1 || C % numGroups !== 0) {
    throw new ShapeError(`groupNorm: ${C} channels cannot be split into ${numGroups} groups`);
  }
  checkFloat('groupNorm', x);
  checkEps('groupNorm', eps);
  checkChannelVector('groupNorm', 'weight', weight, C);
  checkChannelVector('groupNorm', 'bias', bias, C);
  return tidy(() => {
    const rows = N * numGroups;
    const y = reshape(bind(normalizeP, [reshape(x, [1, rows, x.numel() / Math.max(1, rows)])], { eps }), x.shape);
    return channelAffine(y, weight, bias);
  });
}
