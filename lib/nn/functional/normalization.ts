// Normalization layers, dropout and embedding lookups as functions of their parameters.
import { noGrad } from '../../autograd/backward.js';
import { assign } from '../assign.js';
import { DTypeError, KilnError, ShapeError, shapeStr } from '../../errors.js';
import { cast } from '../../ops/copy.js';
import * as ew from '../../ops/elementwise.js';
import { indexSelect } from '../../ops/indexing.js';
import { bernoulli } from '../../ops/random.js';
import { mean } from '../../ops/reduce.js';
import { detach, reshape } from '../../ops/views.js';
import { arange } from '../../tensor/creation.js';
import { tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';

export interface BatchNormOptions {
  /** Normalize with the batch statistics (and update the running ones); else use the running ones. */
  training?: boolean;
  /** Weight of the new batch in the running averages. */
  momentum?: number;
  eps?: number;
}

/** [1, C, 1, ...] for broadcasting a per-channel vector against x [N, C, ...]. */
function channelShape(x: Tensor): number[] {
  return x.shape.map((s, i) => (i === 1 ? s : 1));
}

/**
 * Batch normalization over x [N, C, ...]: per channel, over the batch and spatial dims. In
 * training the running statistics (if given) are updated in place with the batch mean and the
 * unbiased batch variance, as PyTorch does.
 */
export function batchNorm(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null,
  weight?: Tensor | null, bias?: Tensor | null, opts: BatchNormOptions = {}): Tensor {
  if (x.ndim < 2) throw new ShapeError(`batchNorm: expects an input [N, C, ...], got ${shapeStr(x.shape)}`);
  const training = opts.training ?? false;
  const momentum = opts.momentum ?? 0.1;
  const eps = opts.eps ?? 1e-5;
  const dims = x.shape.map((_, i) => i).filter((i) => i !== 1);
  const count = dims.reduce((n, d) => n * x.shape[d], 1);
  const cshape = channelShape(x);
  return tidy(() => {
    let mu: Tensor;
    let variance: Tensor;
    if (training) {
      if (count <= 1) throw new ShapeError(`batchNorm: expected more than 1 value per channel when training, got input ${shapeStr(x.shape)}`);
      mu = mean(x, dims, true);
      variance = mean(ew.square(ew.sub(x, mu)), dims, true);
      if (runningMean && runningVar) {
        const m = detach(reshape(mu, [-1]));
        const v = detach(reshape(variance, [-1]));
        noGrad(() => {
          assign(runningMean, ew.add(ew.mul(runningMean, 1 - momentum), ew.mul(m, momentum)));
          assign(runningVar, ew.add(ew.mul(runningVar, 1 - momentum), ew.mul(v, (momentum * count) / (count - 1))));
        });
      }
    } else {
      if (!runningMean || !runningVar) throw new KilnError('batchNorm: evaluation needs running statistics (or pass training: true)');
      mu = reshape(runningMean, cshape);
      variance = reshape(runningVar, cshape);
    }
    let y = ew.mul(ew.sub(x, mu), ew.rsqrt(ew.add(variance, eps)));
    if (weight) y = ew.mul(y, reshape(weight, cshape));
    if (bias) y = ew.add(y, reshape(bias, cshape));
    return y;
  });
}

/** Normalizes over the trailing dims given by normalizedShape (biased variance). */
export function layerNorm(x: Tensor, normalizedShape: number | readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const ns = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  const tail = x.shape.slice(x.ndim - ns.length);
  if (ns.length > x.ndim || tail.some((s, i) => s !== ns[i])) {
    throw new ShapeError(`layerNorm: input ${shapeStr(x.shape)} does not end in the normalized shape ${shapeStr(ns)}`);
  }
  const dims = ns.map((_, i) => x.ndim - ns.length + i);
  return tidy(() => {
    const mu = mean(x, dims, true);
    const centered = ew.sub(x, mu);
    const variance = mean(ew.square(centered), dims, true);
    let y = ew.mul(centered, ew.rsqrt(ew.add(variance, eps)));
    if (weight) y = ew.mul(y, weight);
    if (bias) y = ew.add(y, bias);
    return y;
  });
}

/** Splits the channels of x [N, C, ...] into groups and normalizes each (sample, group). */
export function groupNorm(x: Tensor, numGroups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  if (x.ndim < 2 || x.shape[1] % numGroups !== 0) {
    throw new ShapeError(`groupNorm: ${numGroups} groups must divide the channels of ${shapeStr(x.shape)}`);
  }
  const n = x.shape[0];
  return tidy(() => {
    const g = reshape(x, [n, numGroups, -1]);
    const mu = mean(g, 2, true);
    const centered = ew.sub(g, mu);
    const variance = mean(ew.square(centered), 2, true);
    let y = reshape(ew.mul(centered, ew.rsqrt(ew.add(variance, eps))), x.shape);
    const cshape = channelShape(x);
    if (weight) y = ew.mul(y, reshape(weight, cshape));
    if (bias) y = ew.add(y, reshape(bias, cshape));
    return y;
  });
}

/** Inverted dropout: zeroes elements with probability p and scales the rest by 1 / (1 - p). */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw new KilnError(`dropout: probability must be in [0, 1], got ${p}`);
  if (!training || p === 0) return ew.mul(x, 1);
  if (p === 1) return ew.mul(x, 0);
  return tidy(() => ew.mul(x, ew.div(bernoulli(1 - p, x.shape, { dtype: x.dtype, device: x.device }), 1 - p)));
}

/**
 * Rows of weight [num, dim] picked by integer indices of any shape: out [...indices, dim].
 * Positions holding paddingIdx pass no gradient to that row.
 */
export function embedding(indices: Tensor, weight: Tensor, paddingIdx: number | null = null): Tensor {
  if (indices.dtype !== 'int32') throw new DTypeError(`embedding: indices must be int32, got ${indices.dtype}`);
  if (weight.ndim !== 2) throw new ShapeError(`embedding: weight must be 2-D, got ${shapeStr(weight.shape)}`);
  return tidy(() => {
    const rows = indexSelect(weight, 0, reshape(indices, [-1]));
    let out = reshape(rows, [...indices.shape, weight.shape[1]]);
    if (paddingIdx !== null) {
      const p = paddingIdx < 0 ? paddingIdx + weight.shape[0] : paddingIdx;
      const isPad = reshape(ew.eq(indices, p), [...indices.shape, 1]);
      out = ew.where(isPad, detach(out), out);
    }
    return out;
  });
}

/** int32 class indices -> one-hot rows (int32, as PyTorch's int64) of length numClasses. */
export function oneHot(indices: Tensor, numClasses = -1): Tensor {
  if (indices.dtype !== 'int32') throw new DTypeError(`oneHot: indices must be int32, got ${indices.dtype}`);
  return tidy(() => {
    const n = numClasses >= 0 ? numClasses : (indices.max().item() as number) + 1;
    const classes = arange(n, undefined, 1, { dtype: 'int32', device: indices.device });
    return cast(ew.eq(reshape(indices, [...indices.shape, 1]), classes), 'int32');
  });
}

