// CUDA against CPU: gather, indexSelect, scatterAdd (atomics), bound checks of index values in the
// kernels, every cast, strided copies, fill, pad, arange/linspace/eye, cat.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import { LAYOUTS, OTHER, SHAPE, available, dev, expectParity, fake, title, twins, type Layout } from './helpers.js';

type T = kiln.Tensor;
type DType = kiln.DType;
const K = kiln as unknown as Record<string, (...args: unknown[]) => T>;

describe.skipIf(!available)(title('CUDA parity: indexing, copies and creation'), () => {
  describe('indexing, copies and creation', () => {
    it('gather, indexSelect and scatterAdd over layouts and dims', () => {
      for (const layout of LAYOUTS) {
        for (const dtype of ['float32', 'float64', 'int32', 'bool'] as DType[]) {
          const [x, gx] = twins([6, 7, 8], dtype, layout, { seed: 34 });
          for (let dim = 0; dim < 3; dim++) {
            const size = x.shape[dim];
            const ishape = [4, 5, 6];
            const [idx, gidx] = twins(ishape, 'int32', OTHER[layout], { lo: 0, hi: size, seed: 35 + dim });
            expectParity(x.gather(dim, idx), gx.gather(dim, gidx), `gather ${dtype} ${layout} dim ${dim}`);
            const [sel, gsel] = twins([9], 'int32', 'strided', { lo: 0, hi: size, seed: 38 + dim });
            expectParity(kiln.indexSelect(x, dim, sel), kiln.indexSelect(gx, dim, gsel), `indexSelect ${dtype} ${layout} dim ${dim}`);
            if (dtype === 'bool') continue;
            const [src, gsrc] = twins(ishape, dtype, 'contiguous', { seed: 41 + dim });
            // Many duplicate targets: float atomics may add in another order than the CPU.
            expectParity(kiln.scatterAdd(x, dim, idx, src), kiln.scatterAdd(gx, dim, gidx, gsrc),
              `scatterAdd ${dtype} ${layout} dim ${dim}`, { rtol: 1e-5, atol: 1e-5 });
          }
        }
      }
    });
    it('an index out of range is an IndexError at the next read, and the device keeps working', () => {
      const x = kiln.arange(10, undefined, 1, { device: dev });
      const bad = kiln.tensor([1, 12, 3], { dtype: 'int32', device: dev });
      expect(() => kiln.gather(x, 0, bad).dataSync()).toThrow(kiln.IndexError);
      expect(() => kiln.indexSelect(x, 0, bad).dataSync()).toThrow(/out of bounds/);
      expect(Array.from(x.add(1).dataSync())).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });
    it('cast between every dtype pair (saturating float -> int, NaN -> 0 / true)', () => {
      const dtypes: DType[] = ['float32', 'float64', 'int32', 'bool'];
      for (const from of dtypes) {
        for (const to of dtypes) {
          const choices = from === 'int32' || from === 'bool' ? undefined : [NaN, -3e9, 3e9, -1.7, -0.5, 0, 0.5, 2.9, Infinity];
          const [x, gx] = twins(SHAPE, from, 'permuted', { choices, lo: -1e6, hi: 1e6, seed: 44 });
          expectParity(x.to(to), gx.to(to), `cast ${from} -> ${to}`);
        }
      }
    });
    it('copy into strided destinations (contiguous(), transposes, copy_ into a permuted view)', () => {
      for (const layout of LAYOUTS) {
        const [x, gx] = twins([33, 65], 'float32', layout, { seed: 45 });
        expectParity(x.contiguous(), gx.contiguous(), `contiguous ${layout}`);
        expectParity(x.t().contiguous(), gx.t().contiguous(), `transpose ${layout}`);
      }
      const [d, gd] = twins([20, 30], 'float64', 'contiguous', { seed: 46 });
      const [s, gs] = twins([30, 20], 'float64', 'strided', { seed: 47 });
      kiln.noGrad(() => {
        d.t().copy_(s);
        gd.t().copy_(gs);
      });
      expectParity(d, gd, 'copy_ into a transposed view');
    });
    it('fill, pad, arange, linspace, eye, cat', () => {
      for (const dtype of ['float32', 'float64', 'int32', 'bool'] as DType[]) {
        expectParity(kiln.full([3, 4], 2.5, { dtype }), kiln.full([3, 4], 2.5, { dtype, device: dev }), `full ${dtype}`);
        expectParity(kiln.zeros([5], { dtype }), kiln.zeros([5], { dtype, device: dev }), `zeros ${dtype}`);
        const [x, gx] = twins([4, 5], dtype, 'flipped', { seed: 48 });
        expectParity(kiln.pad(x, [1, 2, 3, 0], 7), kiln.pad(gx, [1, 2, 3, 0], 7), `pad ${dtype}`);
      }
      expectParity(kiln.arange(-3, 1000, 0.1), kiln.arange(-3, 1000, 0.1, { device: dev }), 'arange float32', { rtol: 0, atol: 0 });
      expectParity(kiln.arange(-3, 1000, 0.1, { dtype: 'float64' }), kiln.arange(-3, 1000, 0.1, { dtype: 'float64', device: dev }), 'arange float64', { rtol: 0, atol: 0 });
      expectParity(kiln.arange(0, 50000, 7, { dtype: 'int32' }), kiln.arange(0, 50000, 7, { dtype: 'int32', device: dev }), 'arange int32');
      expectParity(kiln.linspace(-1, 1, 1001), kiln.linspace(-1, 1, 1001, { device: dev }), 'linspace', { rtol: 0, atol: 0 });
      expectParity(kiln.eye(5, 7), kiln.eye(5, 7, { device: dev }), 'eye');
      const [a, ga] = twins([3, 4], 'float32', 'permuted', { seed: 49 });
      const [b, gb] = twins([3, 2], 'float32', 'strided', { seed: 50 });
      expectParity(kiln.cat([a, b], 1), kiln.cat([ga, gb], 1), 'cat');
    });
    it('fill_ through a strided view', () => {
      const [x, gx] = twins([10, 12], 'float32', 'contiguous', { seed: 51 });
      kiln.noGrad(() => {
        x.slice(1, 0, 12, 3).fill_(9);
        gx.slice(1, 0, 12, 3).fill_(9);
      });
      expectParity(x, gx, 'fill_ strided');
    });
  });
});
