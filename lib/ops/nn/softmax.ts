// Fused softmax and log-softmax over one dim: one native kernel each (max, exp, sum and the
// normalization in a single pass over each row). Their rules are short formulas over the
// output, written with primitives, so they differentiate to any order:
//   softmax:     dx = y (g - Σ g y)          log-softmax:  dx = g - exp(y) Σ g
import { DTypeError } from '../../errors.js';
import { isFloating } from '../../tensor/dtype.js';
import { tidy } from '../../tensor/memory.js';
import { normDim } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import * as ew from '../elementwise.js';
import { runKernel1 } from '../kernel.js';
import { bind, definePrimitive, type Primitive } from '../primitive.js';
import { sum } from '../reduce.js';
import { reshape, transpose } from '../views.js';

/** Softmax over the last dim of x [M, D]. */
export const softmaxP: Primitive<undefined> = definePrimitive<undefined>({
  name: 'softmax',
  saves: 'out',
  vjp: ({ out }) => (g) => [ew.mul(out, ew.sub(g, sum(ew.mul(g, out), -1, true)))],
  jvp: ({ out }, [t]) => ew.mul(out, ew.sub(t!, sum(ew.mul(t!, out), -1, true))),
  impl: ([x]) => runKernel1('softmax', { shape: x.shape, dtype: x.dtype, device: x.device }, [x]),
});

/** Log-softmax over the last dim of x [M, D]. */
export const logSoftmaxP: Primitive<undefined> = definePrimitive<undefined>({
  name: 'logSoftmax',
  saves: 'out',
  vjp: ({ out }) => (g) => [ew.sub(g, ew.mul(ew.exp(out), sum(g, -1, true)))],
  jvp: ({ out }, [t]) => ew.sub(t!, sum(ew.mul(ew.exp(out), t!), -1, true)),
  impl: ([x]) => runKernel1('logSoftmax', { shape: x.shape, dtype: x.dtype, device: x.device }, [x]),
});

/** The primitive applied along `dim`: that dim moved last, rows flattened, and back. */
function alongDim(prim: Primitive<undefined>, op: string, x: Tensor, dim: number): Tensor {
  if (!isFloating(x.dtype)) throw new DTypeError(`${op}: expects a float tensor, got ${x.dtype}`);
  if (x.ndim === 0) return tidy(() => reshape(alongDim(prim, op, reshape(x, [1]), 0), []));
  const d = normDim(dim, x.ndim, op);
  return tidy(() => {
    const moved = d === x.ndim - 1 ? x : transpose(x, d, -1);
    const D = moved.shape[moved.ndim - 1];
    const rows = D === 0 ? 0 : moved.numel() / D;
    const y = reshape(bind(prim, [reshape(moved, [rows, D])], undefined), moved.shape);
    return d === x.ndim - 1 ? y : transpose(y, d, -1);
  });
}

export function softmax(x: Tensor, dim = -1): Tensor {
  return alongDim(softmaxP, 'softmax', x, dim);
}

export function logSoftmax(x: Tensor, dim = -1): Tensor {
  return alongDim(logSoftmaxP, 'logSoftmax', x, dim);
}
