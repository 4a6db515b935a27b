// Fused softmax and log-softmax over one dim: one native kernel each (max, exp, sum and the
// normalization in a single pass over each row). Their rules are short formulas over the
// output, each one fused kernel again whose own rules differentiate the formulas written with
// primitives, so they differentiate to any order:
//   softmax:     dx = y (g - Σ g y)          log-softmax:  dx = g - exp(y) Σ g
import { jvp, vjp } from '../../autograd/functional.js';
import { opIds } from '../../backend/native.js';
import { DTypeError } from '../../errors.js';
import { arange } from '../../tensor/creation.js';
import { isFloating } from '../../tensor/dtype.js';
import { tidy } from '../../tensor/memory.js';
import { normDim } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { cast } from '../copy.js';
import * as ew from '../elementwise.js';
import { gather } from '../indexing.js';
import { runKernel1 } from '../kernel.js';
import { bind, definePrimitive, type Primitive } from '../primitive.js';
import { sum } from '../reduce.js';
import { reshape, transpose, unsqueeze } from '../views.js';

// The rules above as one native kernel each (one pass over y and g per row instead of four
// elementwise and reduction kernels): softmaxBackward(y, g) and logSoftmaxBackward(y, g), [M, D].
// Their own rules differentiate the reference composites, so higher orders stay exact.

/** softmax's VJP at the output y for the cotangent g, as composite ops. */
export function softmaxBackwardReference(y: Tensor, g: Tensor): Tensor {
  return ew.mul(y, ew.sub(g, sum(ew.mul(g, y), -1, true)));
}

/** logSoftmax's VJP at the output y for the cotangent g, as composite ops. */
export function logSoftmaxBackwardReference(y: Tensor, g: Tensor): Tensor {
  return ew.sub(g, ew.mul(ew.exp(y), sum(g, -1, true)));
}

function backwardPrimitive(name: 'softmaxBackward' | 'logSoftmaxBackward', reference: (y: Tensor, g: Tensor) => Tensor): Primitive<undefined> {
  return definePrimitive<undefined>({
    name,
    saves: 'inputs',
    vjp: ({ inputs: [y, g] }) => (gg) => {
      const [, pullback] = vjp(reference, y, g);
      return pullback(gg) as Tensor[];
    },
    jvp: ({ inputs: [y, g] }, [ty, tg]) => jvp(reference, [y, g], [ty ?? ew.mul(y, 0), tg ?? ew.mul(g, 0)])[1] as Tensor,
    impl: ([y, g]) => runKernel1(name, { shape: y.shape, dtype: y.dtype, device: y.device }, [y, g]),
  });
}

export const softmaxBackwardP: Primitive<undefined> = backwardPrimitive('softmaxBackward', softmaxBackwardReference);
export const logSoftmaxBackwardP: Primitive<undefined> = backwardPrimitive('logSoftmaxBackward', logSoftmaxBackwardReference);

/** The fused VJP where the addon has it (every device kiln runs on), else the composite. */
function softmaxBackward(y: Tensor, g: Tensor): Tensor {
  if (opIds.softmaxBackward === undefined || g.dtype !== y.dtype) return softmaxBackwardReference(y, g);
  return bind(softmaxBackwardP, [y, g], undefined);
}
function logSoftmaxBackward(y: Tensor, g: Tensor): Tensor {
  if (opIds.logSoftmaxBackward === undefined || g.dtype !== y.dtype) return logSoftmaxBackwardReference(y, g);
  return bind(logSoftmaxBackwardP, [y, g], undefined);
}

/** Softmax over the last dim of x [M, D]. */
export const softmaxP: Primitive<undefined> = definePrimitive<undefined>({
  name: 'softmax',
  saves: 'out',
  vjp: ({ out }) => (g) => [softmaxBackward(out, g)],
  jvp: ({ out }, [t]) => ew.mul(out, ew.sub(t!, sum(ew.mul(t!, out), -1, true))),
  impl: ([x]) => runKernel1('softmax', { shape: x.shape, dtype: x.dtype, device: x.device }, [x]),
});

/** Log-softmax over the last dim of x [M, D]. */
export const logSoftmaxP: Primitive<undefined> = definePrimitive<undefined>({
  name: 'logSoftmax',
  saves: 'out',
  vjp: ({ out }) => (g) => [logSoftmaxBackward(out, g)],
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

// ------------------------------------------------------------------ cross entropy
//
// The mean cross entropy of logits x [M, D] at class indices t [M], in two primitives of one
// native kernel each (instead of log-softmax, pick, negate, sum, divide and their rules):
//   crossEntropyMean(x, t)            -> []     = -mean_m log softmax(x_m)[t_m]
//   crossEntropyMeanBackward(x, t, g) -> [M, D] = (softmax(x) - onehot(t)) g / M
// The first's reverse rule is the second; every other rule (for forward mode and second
// derivatives) differentiates the reference composites, which use the primitives above.

/** The reference composite of crossEntropyMean. */
export function crossEntropyMeanReference(x: Tensor, t: Tensor): Tensor {
  const M = x.shape[0];
  const picked = gather(logSoftmax(x, 1), 1, unsqueeze(t, 1));
  return ew.div(ew.neg(sum(picked)), M);
}

/** The reference composite of crossEntropyMeanBackward. */
export function crossEntropyMeanBackwardReference(x: Tensor, t: Tensor, g: Tensor): Tensor {
  const [M, D] = x.shape;
  const onehot = ew.eq(unsqueeze(t, 1), arange(D, undefined, 1, { dtype: 'int32', device: x.device }));
  return ew.mul(ew.sub(softmax(x, 1), cast(onehot, x.dtype)), ew.div(g, M));
}

export const crossEntropyMeanBackwardP: Primitive<undefined> = definePrimitive<undefined>({
  name: 'crossEntropyBackward',
  saves: 'inputs',
  vjp: ({ inputs: [x, t, g] }) => (gg) => {
    const [, pullback] = vjp((a: Tensor, b: Tensor) => crossEntropyMeanBackwardReference(a, t, b), x, g);
    const [dx, dg] = pullback(gg) as Tensor[];
    return [dx, null, dg];
  },
  jvp: ({ inputs: [x, t, g] }, [tx, , tg]) =>
    jvp((a: Tensor, b: Tensor) => crossEntropyMeanBackwardReference(a, t, b), [x, g], [tx ?? ew.mul(x, 0), tg ?? ew.mul(g, 0)])[1] as Tensor,
  impl: ([x, t, g]) => runKernel1('crossEntropyBackward', { shape: x.shape, dtype: x.dtype, device: x.device }, [x, t, g]),
});

export const crossEntropyMeanP: Primitive<undefined> = definePrimitive<undefined>({
  name: 'crossEntropy',
  saves: 'inputs',
  vjp: ({ inputs: [x, t] }) => (g) => [bind(crossEntropyMeanBackwardP, [x, t, g], undefined), null],
  jvp: ({ inputs: [x, t] }, [tx]) => (tx ? (jvp((a: Tensor) => crossEntropyMeanReference(a, t), [x], [tx])[1] as Tensor) : null),
  impl: ([x, t]) => runKernel1('crossEntropy', { shape: [], dtype: x.dtype, device: x.device }, [x, t]),
});

/**
 * The mean cross entropy of logits x [M, D] at int32 class indices t [M] as one kernel, or null
 * where that kernel does not apply (an addon without it). Indices outside [0, D) throw an
 * IndexError: at once on the CPU; on CUDA the kernel finds them, and the error comes with the next
 * call that waits for the device.
 */
export function crossEntropyMean(x: Tensor, t: Tensor): Tensor | null {
  if (x.ndim !== 2 || !isFloating(x.dtype) || t.dtype !== 'int32' || t.ndim !== 1) return null;
  if (t.device !== x.device || t.shape[0] !== x.shape[0] || opIds.crossEntropy === undefined) return null;
  return bind(crossEntropyMeanP, [x, t], undefined);
}
