// DataLoader: batches of a dataset, optionally shuffled with a seed (a new permutation each
// epoch), with the last partial batch kept or dropped. Iterate synchronously (for..of) or
// asynchronously (for await..of, which prepares the next batches ahead between awaits).
import { KilnError } from '../errors.js';
import { stack } from '../ops/indexing.js';
import { tensor } from '../tensor/creation.js';
import { tidy } from '../tensor/memory.js';
import { Tensor } from '../tensor/tensor.js';
import type { Dataset } from './dataset.js';
import { permutation } from './random.js';

export interface DataLoaderOptions<T, B> {
  batchSize?: number;
  shuffle?: boolean;
  /** Seed of the shuffling; epoch e uses a permutation derived from (seed, e). */
  seed?: number;
  /** Drop the last batch when it is smaller than batchSize. */
  dropLast?: boolean;
  /** Builds a batch from examples (default: stack tensors, arrays and objects field by field). */
  collate?: (examples: T[]) => B;
  /** Batches prepared ahead by the async iterator (default 2). */
  prefetch?: number;
}

/** Stacks examples: tensors along a new dim 0, numbers into a tensor, arrays/objects per field. */
export function defaultCollate(examples: unknown[]): any {
  if (examples.length === 0) throw new KilnError('collate: empty batch');
  const first = examples[0];
  if (first instanceof Tensor) return stack(examples as Tensor[], 0);
  if (typeof first === 'number') {
    const ints = (examples as number[]).every(Number.isInteger);
    return tensor(examples as number[], { dtype: ints ? 'int32' : 'float32' });
  }
  if (typeof first === 'boolean') return tensor(examples as boolean[]);
  if (Array.isArray(first)) return first.map((_, i) => defaultCollate(examples.map((e) => (e as unknown[])[i])));
  if (first && typeof first === 'object') {
    return Object.fromEntries(Object.keys(first).map((k) => [k, defaultCollate(examples.map((e) => (e as Record<string, unknown>)[k]))]));
  }
  return examples;
}

export class DataLoader<T = unknown, B = any> implements Iterable<B>, AsyncIterable<B> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly prefetch: number;
  private readonly seed: number;
  private readonly collate: ((examples: T[]) => B) | null;
  /** The epoch the next iteration uses (each full or partial iteration advances it). */
  epoch = 0;

  constructor(readonly dataset: Dataset<T>, opts: DataLoaderOptions<T, B> = {}) {
    this.batchSize = opts.batchSize ?? 1;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new KilnError(`DataLoader: batchSize must be a positive integer, got ${this.batchSize}`);
    this.shuffle = opts.shuffle ?? false;
    this.dropLast = opts.dropLast ?? false;
    this.prefetch = Math.max(1, opts.prefetch ?? 2);
    this.seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
    this.collate = opts.collate ?? null;
  }

  /** The number of batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The example indices of each batch of the next epoch, in order. */
  batchIndices(epoch = this.epoch): number[][] {
    const n = this.dataset.length;
    const order = this.shuffle ? permutation(n, (this.seed + Math.imul(epoch, 0x9e3779b1)) >>> 0) : Int32Array.from({ length: n }, (_, i) => i);
    const out: number[][] = [];
    for (let start = 0; start < n; start += this.batchSize) {
      const end = Math.min(n, start + this.batchSize);
      if (end - start < this.batchSize && this.dropLast) break;
      out.push(Array.from(order.subarray(start, end)));
    }
    return out;
  }

  private makeBatch(indices: number[]): B {
    const ds = this.dataset;
    if (!this.collate && ds.getBatch) return ds.getBatch(indices) as unknown as B;
    const collate = this.collate ?? (defaultCollate as (e: T[]) => B);
    return tidy(() => collate(indices.map((i) => ds.get(i))));
  }

  *[Symbol.iterator](): Iterator<B> {
    const batches = this.batchIndices(this.epoch++);
    for (const idx of batches) yield this.makeBatch(idx);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<B> {
    const batches = this.batchIndices(this.epoch++);
    const ready: Promise<B>[] = [];
    let next = 0;
    // Each batch is built in its own macrotask, so the consumer's awaits let it run ahead.
    const schedule = () => {
      while (ready.length < this.prefetch && next < batches.length) {
        const idx = batches[next++];
        ready.push(new Promise<B>((resolve, reject) => setImmediate(() => {
          try {
            resolve(this.makeBatch(idx));
          } catch (e) {
            reject(e);
          }
        })));
      }
    };
    schedule();
    try {
      while (ready.length > 0) {
        const b = await ready.shift()!;
        schedule();
        yield b;
      }
    } finally {
      // Stopped early: free the batches prepared ahead.
      for (const p of ready) p.then(disposeTree, () => {});
    }
  }
}

function disposeTree(v: unknown): void {
  if (v instanceof Tensor) v.dispose();
  else if (Array.isArray(v)) v.forEach(disposeTree);
  else if (v && typeof v === 'object') Object.values(v).forEach(disposeTree);
}
