// Inverted dropout as one primitive, linear in x: dropout(x) = x * mask / (1 - p), where the mask
// is the bernoulli(1 - p) draw that kiln.bernoulli would make at the same generator position. The
// attributes hold that position (seed and block offset), so the rules apply the same mask again
// without storing it: the primitive is its own transpose (a diagonal map), and its JVP is itself
// applied to the tangent.
import { opIds } from '../../backend/native.js';
import { isFloating } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import { runKernel1 } from '../kernel.js';
import { bind, definePrimitive, type Primitive } from '../primitive.js';
import { reserveWords } from '../random.js';

export interface DropoutAttrs {
  /** [seedLo, seedHi, offsetLo, offsetHi] of the mask's stream (uint32 words). */
  readonly stream: readonly [number, number, number, number];
  /** The probability of keeping an element, 1 - p. */
  readonly keep: number;
  /** What a kept element is multiplied by, 1 / (1 - p). */
  readonly scale: number;
}

export const dropoutP: Primitive<DropoutAttrs> = definePrimitive<DropoutAttrs>({
  name: 'dropout',
  linear: true,
  saves: 'none',
  vjp: ({ attrs }) => (g) => [bind(dropoutP, [g], attrs)],
  impl: ([x], { stream, keep, scale }) =>
    runKernel1('dropout', { shape: x.shape, dtype: x.dtype, device: x.device }, [x], [...stream, keep, scale]),
});

/**
 * x * mask / (1 - p) for 0 < p < 1 in one kernel (float tensors), advancing the generator as the
 * bernoulli draw of the mask would; null where the kernel does not apply.
 */
export function fusedDropout(x: Tensor, p: number): Tensor | null {
  if (!isFloating(x.dtype) || !(p > 0 && p < 1) || opIds.dropout === undefined) return null;
  const keep = 1 - p;
  return bind(dropoutP, [x], { stream: reserveWords(x.numel()), keep, scale: 1 / keep });
}
