// Gradient clipping, in place on .grad (torch.nn.utils.clip_grad_norm_ / clip_grad_value_).
import { noGrad } from '../autograd/backward.js';
import { assign } from '../nn/assign.js';
import { KilnError } from '../errors.js';
import * as ew from '../ops/elementwise.js';
import { max, sum } from '../ops/reduce.js';
import { tidy } from '../tensor/memory.js';
import { Tensor } from '../tensor/tensor.js';

function grads(params: Iterable<Tensor> | Tensor): Tensor[] {
  const list = params instanceof Tensor ? [params] : [...params];
  return list.filter((p) => p.grad).map((p) => p.grad!);
}

/**
 * Scales all gradients together so that their joint norm is at most maxNorm; returns the norm
 * before clipping. normType may be Infinity.
 */
export function clipGradNorm(params: Iterable<Tensor> | Tensor, maxNorm: number, opts: { normType?: number; errorIfNonfinite?: boolean } = {}): number {
  const normType = opts.normType ?? 2;
  const gs = grads(params);
  if (gs.length === 0) return 0;
  return noGrad(() => tidy(() => {
    let total: number;
    if (normType === Infinity) total = Math.max(...gs.map((g) => max(ew.abs(g)).item() as number));
    else {
      const parts = gs.map((g) => sum(ew.pow(ew.abs(g), normType)).item() as number);
      total = parts.reduce((a, b) => a + b, 0) ** (1 / normType);
    }
    if (opts.errorIfNonfinite && !Number.isFinite(total)) {
      throw new KilnError(`clipGradNorm: the total norm of order ${normType} is non-finite (${total})`);
    }
    const coef = maxNorm / (total + 1e-6);
    if (coef < 1) for (const g of gs) assign(g, ew.mul(g, coef));
    return total;
  }));
}

/** Clamps every gradient element to [-clipValue, clipValue]. */
export function clipGradValue(params: Iterable<Tensor> | Tensor, clipValue: number): void {
  noGrad(() => tidy(() => {
    for (const g of grads(params)) assign(g, ew.clamp(g, -clipValue, clipValue));
  }));
}
