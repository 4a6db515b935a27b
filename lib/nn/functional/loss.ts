// Loss functions, following torch.nn.functional's definitions and reduction conventions.
import { DTypeError, IndexError, KilnError, ShapeError, shapeStr } from '../../errors.js';
import { cast } from '../../ops/copy.js';
import * as ew from '../../ops/elementwise.js';
import { gather, indexSelect } from '../../ops/indexing.js';
import { crossEntropyMean, logSoftmax } from '../../ops/nn/softmax.js';
import { mean, sum } from '../../ops/reduce.js';
import { reshape, squeeze, unsqueeze } from '../../ops/views.js';
import { isFloating } from '../../tensor/dtype.js';
import { tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';

export type Reduction = 'mean' | 'sum' | 'none';

function reduce(op: string, l: Tensor, reduction: Reduction = 'mean'): Tensor {
  if (reduction === 'mean') return mean(l);
  if (reduction === 'sum') return sum(l);
  if (reduction === 'none') return l;
  throw new KilnError(`${op}: reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
}

function sameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((s, i) => s !== b.shape[i])) {
    throw new ShapeError(`${op}: input ${shapeStr(a.shape)} and target ${shapeStr(b.shape)} must have the same shape`);
  }
}

export interface NllOptions {
  /** A weight per class [C]. */
  weight?: Tensor | null;
  /** Targets equal to this contribute nothing (and are not counted by 'mean'). */
  ignoreIndex?: number;
  reduction?: Reduction;
}

export interface CrossEntropyOptions extends NllOptions {
  /** Mixes the target with the uniform distribution: (1 - eps) target + eps / C. */
  labelSmoothing?: number;
}

/** Checks input [N, C, d...] (or [C]) against class-index targets [N, d...] (or []). */
function checkIndexTarget(op: string, input: Tensor, target: Tensor): void {
  if (target.dtype !== 'int32') throw new DTypeError(`${op}: class-index targets must be int32, got ${target.dtype}`);
  const expected = input.ndim === 1 ? [] : [input.shape[0], ...input.shape.slice(2)];
  if (target.ndim !== expected.length || target.shape.some((s, i) => s !== expected[i])) {
    throw new ShapeError(`${op}: target ${shapeStr(target.shape)} does not match input ${shapeStr(input.shape)} (expected ${shapeStr(expected)})`);
  }
}

/**
 * Negative log likelihood of log-probabilities input [N, C, d...] at class indices target
 * [N, d...]. 'mean' divides by the summed weights of the counted targets, as PyTorch.
 */
export function nllLoss(input: Tensor, target: Tensor, opts: NllOptions = {}): Tensor {
  checkIndexTarget('nllLoss', input, target);
  if (input.ndim === 1) return tidy(() => reshape(nllLoss(unsqueeze(input, 0), unsqueeze(target, 0), opts), []));
  const ignore = opts.ignoreIndex ?? -100;
  const reduction = opts.reduction ?? 'mean';
  if (!opts.weight && ignore < 0) {
    // The common case, in 3 kernels: a negative ignoreIndex can only be hit by a negative target,
    // which gather refuses (IndexError); only then is the masked path below needed.
    const fast = tidy(() => {
      try {
        const picked = ew.neg(squeeze(gather(input, 1, unsqueeze(target, 1)), 1));
        return reduction === 'none' ? picked : reduce('nllLoss', picked, reduction);
      } catch (e) {
        if (e instanceof IndexError) return null;
        throw e;
      }
    });
    if (fast) return fast;
  }
  return tidy(() => {
    const keep = ew.ne(target, ignore);
    const safe = ew.where(keep, target, 0);
    const picked = squeeze(gather(input, 1, unsqueeze(safe, 1)), 1);
    let w = cast(keep, input.dtype);
    if (opts.weight) w = ew.mul(w, reshape(indexSelect(opts.weight, 0, reshape(safe, [-1])), safe.shape));
    const losses = ew.neg(ew.mul(picked, w));
    if (reduction === 'none') return losses;
    if (reduction === 'sum') return sum(losses);
    if (reduction !== 'mean') throw new KilnError(`nllLoss: reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
    return ew.div(sum(losses), sum(w));
  });
}

/**
 * Cross entropy of logits input [N, C, d...] (or [C]) with either class indices (int32 [N, d...])
 * or class probabilities (float, same shape as input).
 */
export function crossEntropy(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const ls = opts.labelSmoothing ?? 0;
  if (!(ls >= 0 && ls <= 1)) throw new KilnError(`crossEntropy: labelSmoothing must be in [0, 1], got ${ls}`);
  if (!isFloating(input.dtype)) throw new DTypeError(`crossEntropy: input must be float logits, got ${input.dtype}`);
  const reduction = opts.reduction ?? 'mean';
  const classDim = input.ndim === 1 ? 0 : 1;
  const nClasses = input.shape[classDim];
  const wShape = input.shape.map((s, i) => (i === classDim ? s : 1));
  if (isFloating(target.dtype)) {
    sameShape('crossEntropy', input, target);
    return tidy(() => {
      const logp = logSoftmax(input, classDim);
      const t = ls > 0 ? ew.add(ew.mul(target, 1 - ls), ls / nClasses) : target;
      let terms = ew.mul(ew.neg(logp), t);
      if (opts.weight) terms = ew.mul(terms, reshape(opts.weight, wShape));
      if (reduction === 'none') return sum(terms, classDim);
      if (reduction === 'sum') return sum(terms);
      return ew.div(sum(terms), input.numel() / nClasses);
    });
  }
  checkIndexTarget('crossEntropy', input, target);
  // Only on the CPU: there the kernel's index check runs before it does, and a target outside the
  // classes (e.g. the ignored negative one) takes the general path below, which handles or
  // reports it. A CUDA kernel finds such targets only as it runs, too late to choose a path.
  if (input.device === 'cpu' && reduction === 'mean' && ls === 0 && !opts.weight && (opts.ignoreIndex ?? -100) < 0) {
    const fused = tidy(() => {
      try {
        return crossEntropyMean(input, target);
      } catch (e) {
        if (e instanceof IndexError) return null;
        throw e;
      }
    });
    if (fused) return fused;
  }
  return tidy(() => {
    const logp = logSoftmax(input, classDim);
    const nll = nllLoss(logp, target, opts);
    if (ls === 0) return nll;
    // PyTorch's label smoothing: (1 - eps) nll + eps / C * (the loss against the uniform target).
    const ignore = opts.ignoreIndex ?? -100;
    const keep = ew.ne(target, ignore);
    const weighted = opts.weight ? ew.mul(logp, reshape(opts.weight, wShape)) : logp;
    const smooth = ew.mul(ew.neg(sum(weighted, classDim)), cast(keep, input.dtype));
    let smoothRed: Tensor;
    if (reduction === 'none') smoothRed = smooth;
    else if (reduction === 'sum') smoothRed = sum(smooth);
    else if (opts.weight) {
      const safe = ew.where(keep, target, 0);
      const tw = ew.mul(reshape(indexSelect(opts.weight, 0, reshape(safe, [-1])), safe.shape), cast(keep, input.dtype));
      smoothRed = ew.div(sum(smooth), sum(tw));
    } else smoothRed = ew.div(sum(smooth), sum(cast(keep, input.dtype)));
    return ew.add(ew.mul(nll, 1 - ls), ew.mul(smoothRed, ls / nClasses));
  });
}

export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  sameShape('mseLoss', input, target);
  return tidy(() => reduce('mseLoss', ew.square(ew.sub(input, target)), opts.reduction));
}

export function l1Loss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  sameShape('l1Loss', input, target);
  return tidy(() => reduce('l1Loss', ew.abs(ew.sub(input, target)), opts.reduction));
}

/** 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta. */
export function smoothL1Loss(input: Tensor, target: Tensor, opts: { reduction?: Reduction; beta?: number } = {}): Tensor {
  sameShape('smoothL1Loss', input, target);
  const beta = opts.beta ?? 1;
  if (beta < 0) throw new KilnError(`smoothL1Loss: beta must be >= 0, got ${beta}`);
  return tidy(() => {
    const a = ew.abs(ew.sub(input, target));
    if (beta === 0) return reduce('smoothL1Loss', a, opts.reduction);
    const l = ew.where(ew.lt(a, beta), ew.div(ew.mul(ew.square(a), 0.5), beta), ew.sub(a, 0.5 * beta));
    return reduce('smoothL1Loss', l, opts.reduction);
  });
}

/** 0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta). */
export function huberLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction; delta?: number } = {}): Tensor {
  sameShape('huberLoss', input, target);
  const delta = opts.delta ?? 1;
  if (!(delta > 0)) throw new KilnError(`huberLoss: delta must be > 0, got ${delta}`);
  return tidy(() => {
    const a = ew.abs(ew.sub(input, target));
    const l = ew.where(ew.le(a, delta), ew.mul(ew.square(a), 0.5), ew.mul(ew.sub(a, 0.5 * delta), delta));
    return reduce('huberLoss', l, opts.reduction);
  });
}

/** Binary cross entropy of probabilities; the logs are clamped at -100 as PyTorch. */
export function bceLoss(input: Tensor, target: Tensor, opts: { weight?: Tensor | null; reduction?: Reduction } = {}): Tensor {
  sameShape('bceLoss', input, target);
  return tidy(() => {
    const logP = ew.maximum(ew.log(input), -100);
    const log1mP = ew.maximum(ew.log(ew.sub(1, input)), -100);
    let l = ew.neg(ew.add(ew.mul(target, logP), ew.mul(ew.sub(1, target), log1mP)));
    if (opts.weight) l = ew.mul(l, opts.weight);
    return reduce('bceLoss', l, opts.reduction);
  });
}

/**
 * Binary cross entropy on logits, computed stably:
 * (1 - t) x + (1 + (posWeight - 1) t) (log(1 + exp(-|x|)) + max(-x, 0)).
 */
export function bceWithLogits(input: Tensor, target: Tensor, opts: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction } = {}): Tensor {
  sameShape('bceWithLogits', input, target);
  return tidy(() => {
    const softplusNeg = ew.add(ew.log1p(ew.exp(ew.neg(ew.abs(input)))), ew.relu(ew.neg(input)));
    const logWeight = opts.posWeight ? ew.add(ew.mul(ew.sub(opts.posWeight, 1), target), 1) : null;
    let l = ew.add(ew.mul(ew.sub(1, target), input), logWeight ? ew.mul(logWeight, softplusNeg) : softplusNeg);
    if (opts.weight) l = ew.mul(l, opts.weight);
    return reduce('bceWithLogits', l, opts.reduction);
  });
}

/**
 * KL divergence with input given as log-probabilities: target (log target - input).
 * 'batchmean' divides the sum by the batch size (the mathematically correct mean).
 */
export function klDiv(input: Tensor, target: Tensor, opts: { reduction?: Reduction | 'batchmean'; logTarget?: boolean } = {}): Tensor {
  sameShape('klDiv', input, target);
  const reduction = opts.reduction ?? 'mean';
  return tidy(() => {
    let l: Tensor;
    if (opts.logTarget) l = ew.mul(ew.exp(target), ew.sub(target, input));
    else {
      // xlogy(t, t): 0 where t == 0.
      const pos = ew.gt(target, 0);
      const tlogt = ew.where(pos, ew.mul(target, ew.log(ew.where(pos, target, 1))), 0);
      l = ew.sub(tlogt, ew.mul(target, input));
    }
    if (reduction === 'batchmean') return ew.div(sum(l), input.ndim > 0 ? input.shape[0] : 1);
    return reduce('klDiv', l, reduction);
  });
}

/** x1 . x2 / (max(|x1|, eps) max(|x2|, eps)) along dim. */
export function cosineSimilarity(x1: Tensor, x2: Tensor, opts: { dim?: number; eps?: number } = {}): Tensor {
  const dim = opts.dim ?? 1;
  const eps = opts.eps ?? 1e-8;
  return tidy(() => {
    const n1 = ew.maximum(ew.sqrt(sum(ew.square(x1), dim, true)), eps);
    const n2 = ew.maximum(ew.sqrt(sum(ew.square(x2), dim, true)), eps);
    return sum(ew.mul(ew.div(x1, n1), ew.div(x2, n2)), dim);
  });
}

/** 1 - cos(x1, x2) where y = 1; max(0, cos(x1, x2) - margin) where y = -1. Inputs [N, D], y [N]. */
export function cosineEmbeddingLoss(x1: Tensor, x2: Tensor, y: Tensor, opts: { margin?: number; reduction?: Reduction } = {}): Tensor {
  sameShape('cosineEmbeddingLoss', x1, x2);
  const margin = opts.margin ?? 0;
  const EPS = 1e-12; // PyTorch's constant in this loss
  return tidy(() => {
    const dim = x1.ndim - 1;
    const prod = sum(ew.mul(x1, x2), dim);
    const m1 = ew.add(sum(ew.square(x1), dim), EPS);
    const m2 = ew.add(sum(ew.square(x2), dim), EPS);
    const cos = ew.div(prod, ew.sqrt(ew.mul(m1, m2)));
    const yf = cast(y, cos.dtype);
    const pos = ew.sub(1, cos);
    const neg = ew.relu(ew.sub(cos, margin));
    const l = ew.add(ew.mul(pos, cast(ew.eq(yf, 1), cos.dtype)), ew.mul(neg, cast(ew.eq(yf, -1), cos.dtype)));
    return reduce('cosineEmbeddingLoss', l, opts.reduction);
  });
}

/** max(0, -y (x1 - x2) + margin). */
export function marginRankingLoss(x1: Tensor, x2: Tensor, y: Tensor, opts: { margin?: number; reduction?: Reduction } = {}): Tensor {
  return tidy(() => {
    const yf = cast(y, x1.dtype);
    return reduce('marginRankingLoss', ew.relu(ew.add(ew.mul(ew.neg(yf), ew.sub(x1, x2)), opts.margin ?? 0)), opts.reduction);
  });
}
