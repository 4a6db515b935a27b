// Normalization layers, dropout and embedding lookups as functions of their parameters.
import { DTypeError, KilnError, ShapeError, shapeStr } from '../../errors.js';
import { cast } from '../../ops/copy.js';
import * as ew from '../../ops/elementwise.js';
import { indexSelect } from '../../ops/indexing.js';
import { fusedDropout } from '../../ops/nn/dropout.js';
import { bernoulli } from '../../ops/random.js';
import { detach, reshape } from '../../ops/views.js';
import { arange } from '../../tensor/creation.js';
import { tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';

// Batch, layer and group normalization: the fused normalization kernel of lib/ops/nn (one pass
// for the statistics and the normalization; its Jacobian is one fused kernel too).
export { batchNorm, layerNorm, groupNorm } from '../../ops/nn/norm.js';
export type { BatchNormOptions } from '../../ops/nn/norm.js';

/** Inverted dropout: zeroes elements with probability p and scales the rest by 1 / (1 - p). */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw new KilnError(`dropout: probability must be in [0, 1], got ${p}`);
  if (!training || p === 0) return ew.mul(x, 1);
  if (p === 1) return ew.mul(x, 0);
  const fused = fusedDropout(x, p);
  if (fused) return fused;
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

