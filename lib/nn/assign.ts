// In-place writes for parameters, buffers and optimizer state. Like PyTorch's optimizer updates
// (which bump a version counter rather than refuse), they are allowed while an abandoned forward
// graph still holds the old values: copy_() refuses those, which would make one un-backpropagated
// forward pass block every later update.
import { KilnError, shapeStr } from '../errors.js';
import { cast } from '../ops/copy.js';
import { runInPlace } from '../ops/kernel.js';
import { expand } from '../ops/views.js';
import type { Tensor } from '../tensor/tensor.js';

/** dst[...] = src (cast to dst's dtype, broadcast to its shape). */
export function assign(dst: Tensor, src: Tensor): void {
  if (dst.trace || src.trace) throw new KilnError('assign: cannot write traced values in place');
  if (src.device !== dst.device) throw new KilnError(`assign: source on ${src.device}, destination on ${dst.device}`);
  let s = src.dtype === dst.dtype ? src : cast(src, dst.dtype);
  const same = s.ndim === dst.ndim && s.shape.every((n, i) => n === dst.shape[i]);
  let e = s;
  if (!same) {
    if (s.numel() > dst.numel()) throw new KilnError(`assign: source ${shapeStr(src.shape)} does not fit ${shapeStr(dst.shape)}`);
    e = expand(s, dst.shape);
  }
  try {
    runInPlace('copy', dst, [e]);
  } finally {
    if (e !== s) e.dispose();
    if (s !== src) s.dispose();
  }
}
