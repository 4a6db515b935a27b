// Affine maps: linear (y = x W^T + b) and bilinear (y_o = x1^T A_o x2 + b_o).
import { ShapeError, shapeStr } from '../../errors.js';
import * as ew from '../../ops/elementwise.js';
import { matmul, matmulP } from '../../ops/linalg.js';
import { bind } from '../../ops/primitive.js';
import { sum } from '../../ops/reduce.js';
import { permute, reshape, t, unsqueeze } from '../../ops/views.js';
import { tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';

/** x [..., in] with weight [out, in] (PyTorch layout) and bias [out]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const inF = weight.shape[weight.ndim - 1];
  if (x.shape[x.ndim - 1] !== inF) {
    throw new ShapeError(`linear: input ${shapeStr(x.shape)} does not end in in_features = ${inF} (weight ${shapeStr(weight.shape)})`);
  }
  return tidy(() => {
    // 2-D inputs (the common case) bind the matmul primitive directly: no broadcasting to do.
    const y = x.ndim === 2 && weight.ndim === 2 && x.dtype === weight.dtype && x.device === weight.device
      ? bind(matmulP, [x, t(weight)], undefined)
      : matmul(x, t(weight));
    return bias ? ew.add(y, bias) : y;
  });
}

/** x1 [..., in1], x2 [..., in2], weight [out, in1, in2], bias [out]. */
export function bilinear(x1: Tensor, x2: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const [out, in1, in2] = weight.shape;
  if (weight.ndim !== 3 || x1.shape[x1.ndim - 1] !== in1 || x2.shape[x2.ndim - 1] !== in2) {
    throw new ShapeError(`bilinear: inputs ${shapeStr(x1.shape)}, ${shapeStr(x2.shape)} do not match weight ${shapeStr(weight.shape)}`);
  }
  return tidy(() => {
    // (x1 @ W viewed as [in1, out * in2]) gives x1^T A_o for every o; then dot with x2.
    const w = reshape(permute(weight, [1, 0, 2]), [in1, out * in2]);
    const left = reshape(matmul(x1, w), [...x1.shape.slice(0, -1), out, in2]);
    const y = sum(ew.mul(left, unsqueeze(x2, -2)), -1);
    return bias ? ew.add(y, bias) : y;
  });
}
