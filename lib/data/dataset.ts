// Datasets: indexable collections of examples. TensorDataset slices tensors along dim 0 and can
// hand out a whole batch with one indexSelect per tensor (the DataLoader's fast path).
import { KilnError, ShapeError, shapeStr } from '../errors.js';
import { indexSelect } from '../ops/indexing.js';
import { select } from '../ops/views.js';
import { fromTypedArray } from '../tensor/creation.js';
import { unscope } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';
import { permutation } from './random.js';

export abstract class Dataset<T = unknown> {
  abstract get length(): number;
  abstract get(index: number): T;
  /** A whole batch at once; datasets that can do better than get() + collate override this. */
  getBatch?(indices: readonly number[]): T;
}

/** Examples are the i-th slices of each tensor (all share their first dim). */
export class TensorDataset extends Dataset<Tensor[]> {
  readonly tensors: Tensor[];

  constructor(...tensors: Tensor[]) {
    super();
    if (tensors.length === 0) throw new KilnError('TensorDataset: needs at least one tensor');
    const n = tensors[0].shape[0];
    for (const t of tensors) {
      if (t.ndim === 0 || t.shape[0] !== n) {
        throw new ShapeError(`TensorDataset: every tensor needs the same first dim (${n}), got ${shapeStr(t.shape)}`);
      }
    }
    this.tensors = tensors;
  }

  get length(): number {
    return this.tensors[0].shape[0];
  }

  get(index: number): Tensor[] {
    return this.tensors.map((t) => select(t, 0, index));
  }

  override getBatch(indices: readonly number[]): Tensor[] {
    const idx = fromTypedArray(Int32Array.from(indices), [indices.length], 'int32', this.tensors[0].device);
    try {
      return this.tensors.map((t) => indexSelect(t, 0, idx));
    } finally {
      idx.dispose();
    }
  }

  /** Frees the tensors (the dataset owns them once keep()-ed by the caller). */
  dispose(): void {
    for (const t of this.tensors) t.dispose();
  }

  /** Takes the tensors out of tidy scopes so that the dataset outlives the scope that built it. */
  keep(): this {
    for (const t of this.tensors) unscope(t);
    return this;
  }
}

/** The examples of `dataset` at `indices`. */
export class Subset<T> extends Dataset<T> {
  constructor(readonly dataset: Dataset<T>, readonly indices: readonly number[]) {
    super();
    for (const i of indices) {
      if (!Number.isInteger(i) || i < 0 || i >= dataset.length) throw new KilnError(`Subset: index ${i} out of range for ${dataset.length} examples`);
    }
    if (dataset.getBatch) this.getBatch = (idx) => dataset.getBatch!(idx.map((i) => this.indices[i]));
  }

  get length(): number {
    return this.indices.length;
  }

  get(index: number): T {
    return this.dataset.get(this.indices[index]);
  }
}

/**
 * Splits a dataset into non-overlapping random subsets of the given lengths (counts summing to
 * the dataset's length, or fractions summing to 1).
 */
export function randomSplit<T>(dataset: Dataset<T>, lengths: readonly number[], seed?: number): Subset<T>[] {
  const n = dataset.length;
  let counts = [...lengths];
  const fractions = counts.reduce((a, b) => a + b, 0);
  if (counts.every((c) => c >= 0 && c <= 1) && Math.abs(fractions - 1) < 1e-9 && n !== 1) {
    counts = counts.map((f) => Math.floor(f * n));
    let rest = n - counts.reduce((a, b) => a + b, 0);
    for (let i = 0; rest > 0; i = (i + 1) % counts.length, rest--) counts[i]++;
  }
  if (counts.reduce((a, b) => a + b, 0) !== n || !counts.every((c) => Number.isInteger(c) && c >= 0)) {
    throw new KilnError(`randomSplit: lengths ${JSON.stringify(lengths)} must sum to the dataset's length ${n} (or be fractions summing to 1)`);
  }
  const perm = permutation(n, seed);
  const out: Subset<T>[] = [];
  let start = 0;
  for (const c of counts) {
    out.push(new Subset(dataset, Array.from(perm.subarray(start, start + c))));
    start += c;
  }
  return out;
}
