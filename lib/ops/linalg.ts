// Matrix products. One primitive (batched matmul over equal-rank operands whose batch dims are
// already broadcast); torch.matmul's 1-D and broadcasting conventions are composed around it.
import { DeviceError, DTypeError, ShapeError, shapeStr } from '../errors.js';
import { promoteTypes } from '../tensor/dtype.js';
import { tidy } from '../tensor/memory.js';
import { broadcastShapes } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { cast } from './copy.js';
import { runKernel1 } from './kernel.js';
import { add } from './elementwise.js';
import { bind, definePrimitive, type Primitive } from './primitive.js';
import { expand, reshape, transpose, unsqueeze } from './views.js';

/** out[..., m, n] = sum_k a[..., m, k] * b[..., k, n]; a and b have equal rank >= 2. */
export const matmulP: Primitive<undefined> = definePrimitive<undefined>({
  name: 'matmul',
  saves: 'inputs',
  // A product with a constant (a Linear layer's input) skips that side's product entirely.
  vjp: ({ inputs: [a, b], needsGrad: [na, nb] }) => (g) => [
    na ? matmul(g, transpose(b, -1, -2)) : null,
    nb ? matmul(transpose(a, -1, -2), g) : null,
  ],
  jvp: ({ inputs: [a, b] }, [ta, tb]) => {
    const left = ta ? bind(matmulP, [ta, b], undefined) : null;
    const right = tb ? bind(matmulP, [a, tb], undefined) : null;
    return left && right ? add(left, right) : (left ?? right)!;
  },
  impl: ([a, b]) => {
    const n = a.ndim;
    const shape = [...a.shape.slice(0, n - 1), b.shape[n - 1]];
    return runKernel1('matmul', { shape, dtype: a.dtype, device: a.device }, [a, b]);
  },
});

export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim === 0 || b.ndim === 0) {
    throw new ShapeError(`matmul: both operands need at least 1 dim, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  }
  if (a.device !== b.device) throw new DeviceError(`matmul: operands are on different devices (${a.device} and ${b.device})`);
  const dtype = promoteTypes(a.dtype, b.dtype);
  if (dtype === 'bool') throw new DTypeError('matmul: bool tensors are not supported; cast to int32 or float32');
  const k1 = a.shape[a.ndim - 1];
  const k2 = b.ndim === 1 ? b.shape[0] : b.shape[b.ndim - 2];
  if (k1 !== k2) {
    throw new ShapeError(`matmul: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} cannot be multiplied (${k1} != ${k2})`);
  }
  return tidy(() => {
    const a2 = a.dtype === dtype ? a : cast(a, dtype);
    const b2 = b.dtype === dtype ? b : cast(b, dtype);
    // Promote vectors to matrices, remember which dims to drop from the result.
    const am = a.ndim === 1 ? unsqueeze(a2, 0) : a2;
    const bm = b.ndim === 1 ? unsqueeze(b2, 1) : b2;
    const batch = broadcastShapes(am.shape.slice(0, -2), bm.shape.slice(0, -2), 'matmul');
    if (am.ndim > 2 && bm.shape.slice(0, -2).every((s) => s === 1)) {
      // A batch of inputs times one matrix (a Linear layer on [B, T, K]): one [B*T, K] product,
      // as torch.matmul does. Broadcasting the matrix instead would make its gradient a batch
      // of products summed afterwards: B times the work and a [B, K, N] temporary.
      const rows = am.shape.slice(0, -1).reduce((x, y) => x * y, 1);
      const b2 = bm.ndim > 2 ? reshape(bm, bm.shape.slice(-2)) : bm;
      const out = bind(matmulP, [reshape(am, [rows, k1]), b2], undefined);
      const shape = [...batch, am.shape[am.ndim - 2]];
      if (b.ndim > 1) shape.push(bm.shape[bm.ndim - 1]);
      return reshape(out, shape);
    }
    const ae = expand(am, [...batch, ...am.shape.slice(-2)]);
    const be = expand(bm, [...batch, ...bm.shape.slice(-2)]);
    const out = bind(matmulP, [ae, be], undefined);
    const shape = [...batch];
    if (a.ndim > 1) shape.push(am.shape[am.ndim - 2]);
    if (b.ndim > 1) shape.push(bm.shape[bm.ndim - 1]);
    return shape.length === out.ndim ? out : reshape(out, shape);
  });
}

export function mm(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 2 || b.ndim !== 2) throw new ShapeError(`mm: expects 2-D tensors, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  return matmul(a, b);
}

export function bmm(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 3 || b.ndim !== 3 || a.shape[0] !== b.shape[0]) {
    throw new ShapeError(`bmm: expects 3-D tensors with equal batch, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  }
  return matmul(a, b);
}
