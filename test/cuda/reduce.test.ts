// CUDA against CPU: reductions over every dim set (each kernel schedule: rows, columns, chunked),
// argmax/argmin ties and NaNs, int32 wrap-around, empty reductions, and cumsum. Both devices
// accumulate float32 in double, so sums agree far inside the 1e-5 bound.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import { LAYOUTS, OTHER, SHAPE, available, dev, expectParity, fake, title, twins, type Layout } from './helpers.js';

type T = kiln.Tensor;
type DType = kiln.DType;
const K = kiln as unknown as Record<string, (...args: unknown[]) => T>;

describe.skipIf(!available)(title('CUDA parity: reductions and scans'), () => {
  describe('reductions', () => {
    const DIMS: (number | number[] | undefined)[] = [undefined, 0, 1, 2, [0, 2], [1, 2], [0, 1]];
    for (const name of ['sum', 'prod', 'mean', 'max', 'min', 'argmax', 'argmin']) {
      for (const dtype of ['float32', 'float64', 'int32'] as DType[]) {
        if (name === 'mean' && dtype === 'int32') continue;
        it(`${name} ${dtype} over dim sets and layouts`, () => {
          const single = name === 'max' || name === 'min' || name.startsWith('arg');
          for (const layout of LAYOUTS) {
            for (const dims of DIMS) {
              if (single && Array.isArray(dims)) continue;
              const lo = name === 'prod' ? 0.5 : -5, hi = name === 'prod' ? 1.5 : 5;
              const [c, g] = twins(SHAPE, dtype, layout, { lo, hi, seed: 11 });
              const f = (t: T) => (t as unknown as Record<string, (d: unknown, k: boolean) => T>)[name](dims, false);
              expectParity(f(c), f(g), `${name} ${dtype} ${layout} dims ${JSON.stringify(dims)}`, { rtol: 1e-5, atol: 1e-5 });
            }
          }
        });
      }
    }
    it('keepdim, var and std', () => {
      const [c, g] = twins([8, 9, 10], 'float32', 'permuted', { seed: 12 });
      expectParity(c.sum([0, 2], true), g.sum([0, 2], true), 'sum keepdim');
      expectParity(c.var(1), g.var(1), 'var', { rtol: 1e-5, atol: 1e-5 });
      expectParity(c.std([0, 1]), g.std([0, 1]), 'std', { rtol: 1e-5, atol: 1e-5 });
    });
    it('large sums take every schedule: full, rows, columns, chunked', () => {
      const cases: [number[], number | number[] | undefined][] = [
        [[1 << 22], undefined], // one output, chunked
        [[4096, 256], 0], // column kernel
        [[4096, 256], 1], // one warp per row
        [[3, 200000], 1], // few long rows: block per row, chunked
        [[200000, 3], 0], // few long columns, chunked
        [[64, 5000, 3], [0, 2]], // two reduced dims, strided
      ];
      for (const [shape, dims] of cases) {
        const [c, g] = twins(shape, 'float32', 'contiguous', { lo: 0, hi: 1, seed: 13 });
        expectParity(c.sum(dims), g.sum(dims), `sum ${JSON.stringify(shape)} ${JSON.stringify(dims)}`, { rtol: 1e-6, atol: 1e-6 });
        expectParity(c.max(dims as number), g.max(dims as number), `max ${JSON.stringify(shape)}`);
      }
      const [c, g] = twins([3, 200000], 'float32', 'contiguous', { seed: 14 });
      expectParity(c.argmax(1), g.argmax(1), 'argmax long rows');
      expectParity(c.argmin(0), g.argmin(0), 'argmin short columns');
    });
    it('argmax/argmin return the first of ties, and a NaN wins; max/min propagate NaN', () => {
      const [c, g] = twins([50, 300], 'float32', 'contiguous', { choices: [0, 1, 2, 2], seed: 15 });
      expectParity(c.argmax(1), g.argmax(1), 'argmax ties');
      expectParity(c.argmin(0), g.argmin(0), 'argmin ties');
      const [n, gn] = twins([40, 70], 'float32', 'permuted', { choices: [NaN, 1, 2, 3, 3, 3, 3, 3, 3, 3], seed: 16 });
      expectParity(n.argmax(1), gn.argmax(1), 'argmax NaN');
      expectParity(n.argmin(0), gn.argmin(0), 'argmin NaN');
      expectParity(n.max(1), gn.max(1), 'max NaN');
      expectParity(n.min(0), gn.min(0), 'min NaN');
    });
    it('int32 sums and products wrap around exactly like the CPU', () => {
      const [c, g] = twins([17, 1000], 'int32', 'contiguous', { choices: [2 ** 30, 2 ** 30 + 7, -3, 99991], seed: 17 });
      expectParity(c.sum(1), g.sum(1), 'sum');
      expectParity(c.sum(), g.sum(), 'sum all');
      expectParity(c.prod(0), g.prod(0), 'prod');
    });
    it('empty reductions', () => {
      const [c, g] = twins([4, 0, 3], 'float32');
      expectParity(c.sum(1), g.sum(1), 'sum over empty');
      expectParity(c.prod(1), g.prod(1), 'prod over empty');
      expectParity(c.sum(0), g.sum(0), 'empty output');
    });
    it('cumsum: long lines, many lines, strided lines, every dtype', () => {
      const cases: [number[], number, Layout][] = [
        [[1000], 0, 'contiguous'],
        [[70000], 0, 'flipped'],
        [[3000, 5], 0, 'contiguous'],
        [[5, 3000], 1, 'permuted'],
        [[20000, 40], 1, 'contiguous'],
        [[6, 7, 8], 1, 'strided'],
      ];
      for (const dtype of ['float32', 'float64', 'int32'] as DType[]) {
        for (const [shape, dim, layout] of cases) {
          const [c, g] = twins(shape, dtype, layout, { lo: -3, hi: 3, seed: 18 });
          expectParity(c.cumsum(dim), g.cumsum(dim), `cumsum ${dtype} ${JSON.stringify(shape)} dim ${dim} ${layout}`, {
            rtol: 1e-5,
            atol: 1e-4,
          });
        }
      }
    });
  });
});
