// Metrics for fit(): each maps a batch's output and target to a number, averaged over the epoch
// weighted by batch size.
import { noGrad } from '../autograd/backward.js';
import { KilnError } from '../errors.js';
import * as ew from '../ops/elementwise.js';
import { argmax, mean } from '../ops/reduce.js';
import { tidy } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';

export interface Metric {
  name: string;
  /** The metric's value on one batch (an average over its examples). */
  fn: (output: Tensor, target: Tensor) => number;
  /** Whether larger is better (for early stopping and hyper-parameter search). */
  higherIsBetter: boolean;
}

/** Fraction of rows whose arg-max class equals the target index (or the target's arg-max). */
export const accuracy: Metric = {
  name: 'accuracy',
  higherIsBetter: true,
  fn: (output, target) => noGrad(() => tidy(() => {
    const dim = output.ndim === 1 ? 0 : 1;
    const pred = argmax(output, dim);
    const truth = target.dtype === 'int32' ? target : argmax(target, dim);
    return mean(ew.eq(pred, truth)).item() as number;
  })),
};

/** Accuracy of binary predictions from logits (> 0) against 0/1 targets. */
export const binaryAccuracy: Metric = {
  name: 'binaryAccuracy',
  higherIsBetter: true,
  fn: (output, target) => noGrad(() => tidy(() => mean(ew.eq(ew.gt(output, 0), ew.gt(target, 0.5))).item() as number)),
};

export const meanAbsoluteError: Metric = {
  name: 'mae',
  higherIsBetter: false,
  fn: (output, target) => noGrad(() => tidy(() => mean(ew.abs(ew.sub(output, target))).item() as number)),
};

const builtin: Record<string, Metric> = { accuracy, acc: accuracy, binaryAccuracy, mae: meanAbsoluteError };

export function resolveMetric(m: string | Metric): Metric {
  if (typeof m !== 'string') return m;
  const found = builtin[m];
  if (!found) throw new KilnError(`fit: unknown metric '${m}' (built in: ${Object.keys(builtin).join(', ')}; or pass {name, fn, higherIsBetter})`);
  return found;
}
