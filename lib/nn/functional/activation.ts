// Activation functions: composites of kiln's differentiable primitives.
import * as ew from '../../ops/elementwise.js';
import { logSoftmax as logSoftmaxOp, softmax as softmaxOp } from '../../ops/nn/softmax.js';
import { tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';

export const relu = (x: Tensor): Tensor => ew.relu(x);
export const sigmoid = (x: Tensor): Tensor => ew.sigmoid(x);
export const tanh = (x: Tensor): Tensor => ew.tanh(x);

/** max(0, x) + negativeSlope * min(0, x). */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return tidy(() => ew.where(ew.gt(x, 0), x, ew.mul(x, negativeSlope)));
}

/** x for x > 0, alpha (exp(x) - 1) otherwise (exp taken of min(x, 0), so it never overflows). */
export function elu(x: Tensor, alpha = 1): Tensor {
  return tidy(() => ew.where(ew.gt(x, 0), x, ew.mul(ew.expm1(ew.minimum(x, 0)), alpha)));
}

/** x Phi(x) exactly ('none') or with the tanh approximation ('tanh'). */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return tidy(() => {
    if (approximate === 'tanh') {
      const inner = ew.mul(ew.add(x, ew.mul(ew.mul(ew.square(x), x), 0.044715)), Math.sqrt(2 / Math.PI));
      return ew.mul(ew.mul(x, 0.5), ew.add(ew.tanh(inner), 1));
    }
    return ew.mul(ew.mul(x, 0.5), ew.add(ew.erf(ew.mul(x, Math.SQRT1_2)), 1));
  });
}

/** x sigmoid(x) (a.k.a. swish). */
export function silu(x: Tensor): Tensor {
  return tidy(() => ew.mul(x, ew.sigmoid(x)));
}

/**
 * log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as PyTorch). The smooth
 * branch is computed as max(bx, 0) + log1p(exp(-|bx|)) so that neither branch overflows.
 */
export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  return tidy(() => {
    const bx = beta === 1 ? x : ew.mul(x, beta);
    let smooth = ew.add(ew.relu(bx), ew.log1p(ew.exp(ew.neg(ew.abs(bx)))));
    if (beta !== 1) smooth = ew.div(smooth, beta);
    return ew.where(ew.gt(bx, threshold), x, smooth);
  });
}

export function softmax(x: Tensor, dim = -1): Tensor {
  return softmaxOp(x, dim);
}

export function logSoftmax(x: Tensor, dim = -1): Tensor {
  return logSoftmaxOp(x, dim);
}
