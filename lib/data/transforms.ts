// Normalization helpers for inputs.
import { KilnError } from '../errors.js';
import * as ew from '../ops/elementwise.js';
import { mean as meanOp, std as stdOp } from '../ops/reduce.js';
import { reshape } from '../ops/views.js';
import { tensor } from '../tensor/creation.js';
import { tidy } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * (x - mean) / std, with per-channel statistics broadcast along `channelDim` (default 1, as
 * images [N, C, H, W]) when arrays are given.
 */
export function normalize(x: Tensor, mean: number | readonly number[], std: number | readonly number[], channelDim = 1): Tensor {
  return tidy(() => {
    const shapeFor = (n: number) => x.shape.map((s, i) => (i === (channelDim < 0 ? channelDim + x.ndim : channelDim) ? n : 1));
    const asT = (v: number | readonly number[]) => {
      if (typeof v === 'number') return v;
      if (v.some((s) => !(typeof s === 'number'))) throw new KilnError('normalize: mean and std must be numbers');
      return reshape(tensor([...v], { dtype: x.dtype, device: x.device }), shapeFor(v.length));
    };
    const s = asT(std);
    if (typeof s === 'number' && s === 0) throw new KilnError('normalize: std must be non-zero');
    return ew.div(ew.sub(x, asT(mean)), s);
  });
}

/** Per-feature statistics over dim 0 of a training matrix, to normalize with later. */
export function fitStandardizer(x: Tensor): { mean: Tensor; std: Tensor; apply: (y: Tensor) => Tensor } {
  const mean = meanOp(x, 0, true);
  const std = tidy(() => ew.maximum(stdOp(x, 0, { keepdim: true, correction: 0 }), 1e-12));
  return { mean, std, apply: (y: Tensor) => tidy(() => ew.div(ew.sub(y, mean), std)) };
}
