// Affine maps: linear (y = x W^T + b) and bilinear (y_o = x1^T A_o x2 + b_o).
import { opIds } from '../../backend/native.js';
import { ShapeError, shapeStr } from '../../errors.js';
import * as ew from '../../ops/elementwise.js';
import { matmul, matmulP } from '../../ops/linalg.js';
import { customVjp } from '../../autograd/custom.js';
import { runKernel1 } from '../../ops/kernel.js';
import { bind } from '../../ops/primitive.js';
import { sum } from '../../ops/reduce.js';
import { permute, reshape, t, unsqueeze } from '../../ops/views.js';
import { tidy } from '../../tensor/memory.js';
import { isFloating } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';

/** x [..., in] with weight [out, in] (PyTorch layout) and bias [out]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const inF = weight.shape[weight.ndim - 1];
  if (x.shape[x.ndim - 1] !== inF) {
    throw new ShapeError(`linear: input ${shapeStr(x.shape)} does not end in in_features = ${inF} (weight ${shapeStr(weight.shape)})`);
  }
  const dense = x.ndim >= 2 && weight.ndim === 2 && x.dtype === weight.dtype && x.device === weight.device;
  if (dense && (!bias || (bias.ndim === 1 && bias.dtype === x.dtype && bias.device === x.device))) {
    if (x.ndim === 2) return bias ? linearBias(x, weight, bias) : linearNoBias(x, weight);
    // [..., in] inputs (sequences) run as one [rows, in] product with the same reverse rule.
    return tidy(() => {
      const rows = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
      const x2 = reshape(x, [rows, inF]);
      const y = bias ? linearBias(x2, weight, bias) : linearNoBias(x2, weight);
      return reshape(y, [...x.shape.slice(0, -1), weight.shape[0]]);
    });
  }
  return tidy(() => {
    const y = matmul(x, t(weight));
    return bias ? ew.add(y, bias) : y;
  });
}

// For 2-D inputs, linear is one operation whose reverse rule gives the weight's gradient as
// g^T x, laid out like the weight: the optimizer then updates it without a transposing copy
// (recording x W^T would give (x^T g)^T, a transposed view). The rule is written with kiln ops,
// so it differentiates again. The input's gradient is skipped when none flows there (a network's
// first layer): that product is as large as the weight's.
const mm = (a: Tensor, b: Tensor) => bind(matmulP, [a, b], undefined);
// The forward is one native call (product and bias; on CUDA one cuBLASLt GEMM that adds the bias
// in its epilogue); its tangent is written out, since forward mode cannot differentiate through
// that call.
const affine = (x: Tensor, w: Tensor, b: Tensor): Tensor =>
  isFloating(x.dtype) && opIds.matmulBias !== undefined
    ? runKernel1('matmulBias', { shape: [x.shape[0], w.shape[0]], dtype: x.dtype, device: x.device }, [x, t(w), b])
    : ew.add(mm(x, t(w)), b);
const linearBias = customVjp(
  affine,
  ([x, w], _out, g, [nx, nw, nb]) => [nx ? mm(g, w) : null, nw ? mm(t(g), x) : null, nb ? sum(g, 0) : null],
  {
    name: 'linear',
    jvp: ([x, w], out, [tx, tw, tb]) => {
      const terms = [tx ? mm(tx, t(w)) : null, tw ? mm(x, t(tw)) : null, tb ? ew.add(ew.mul(out, 0), tb) : null]
        .filter((v): v is Tensor => v !== null);
      return terms.length ? terms.reduce((a, b) => ew.add(a, b)) : null;
    },
  },
);
const linearNoBias = customVjp(
  (x, w) => mm(x, t(w)),
  ([x, w], _out, g, [nx, nw]) => [nx ? mm(g, w) : null, nw ? mm(t(g), x) : null],
  { name: 'linear' },
);

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
