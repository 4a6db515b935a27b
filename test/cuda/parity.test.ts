// CUDA against CPU for every primitive of the backend contract, over non-contiguous operands
// (permuted, strided, flipped, offset views) built identically on both devices. Float32 results
// agree within 1e-5 relative (libdevice vs glibc math differ by an ulp or two); reductions,
// matmul and scans state their bound where summation order differs; integers and bools exactly.
// Skipped, visibly and with the reason, where CUDA is not available.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import { LAYOUTS, available, dev, expectParity, fake, title, twins, type Layout } from './helpers.js';

type T = kiln.Tensor;
type DType = kiln.DType;
const K = kiln as unknown as Record<string, (...args: unknown[]) => T>;

const SHAPE = [5, 6, 7];

interface UnarySpec {
  name: string;
  dtypes: DType[];
  lo?: number;
  hi?: number;
  choices?: number[];
}
const UNARY: UnarySpec[] = [
  { name: 'neg', dtypes: ['float32', 'float64', 'int32'] },
  { name: 'exp', dtypes: ['float32', 'float64'], lo: -6, hi: 6 },
  { name: 'log', dtypes: ['float32', 'float64'], lo: 0.01, hi: 10 },
  { name: 'sqrt', dtypes: ['float32', 'float64'], lo: 0, hi: 10 },
  { name: 'rsqrt', dtypes: ['float32', 'float64'], lo: 0.01, hi: 10 },
  { name: 'tanh', dtypes: ['float32', 'float64'], lo: -5, hi: 5 },
  { name: 'sigmoid', dtypes: ['float32', 'float64'], lo: -20, hi: 20 },
  { name: 'sin', dtypes: ['float32', 'float64'], lo: -10, hi: 10 },
  { name: 'cos', dtypes: ['float32', 'float64'], lo: -10, hi: 10 },
  { name: 'abs', dtypes: ['float32', 'float64', 'int32'] },
  { name: 'sign', dtypes: ['float32', 'float64', 'int32'], choices: [-2, -0.5, 0, 0.5, 3, NaN] },
  { name: 'erf', dtypes: ['float32', 'float64'], lo: -3, hi: 3 },
  { name: 'reciprocal', dtypes: ['float32', 'float64'], choices: [-3, -0.7, 0.25, 1.5, 4, 0] },
  { name: 'floor', dtypes: ['float32', 'float64'], lo: -5, hi: 5 },
  { name: 'ceil', dtypes: ['float32', 'float64'], lo: -5, hi: 5 },
  { name: 'round', dtypes: ['float32', 'float64'], choices: [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49, -3.7, 1e7 + 0.5] },
  { name: 'log1p', dtypes: ['float32', 'float64'], lo: -0.9, hi: 5 },
  { name: 'expm1', dtypes: ['float32', 'float64'], lo: -3, hi: 3 },
  { name: 'relu', dtypes: ['float32', 'float64', 'int32'], choices: [-1, 0, 2, NaN, -0.5] },
  { name: 'square', dtypes: ['float32', 'float64', 'int32'], lo: -100, hi: 100 },
];

interface BinarySpec {
  name: string;
  dtypes: DType[];
  lo?: number;
  hi?: number;
  choices?: number[];
}
const BINARY: BinarySpec[] = [
  { name: 'add', dtypes: ['float32', 'float64', 'int32'] },
  { name: 'sub', dtypes: ['float32', 'float64', 'int32'] },
  { name: 'mul', dtypes: ['float32', 'float64', 'int32'], lo: -1000, hi: 1000 },
  { name: 'div', dtypes: ['float32', 'float64'], choices: [-3, -0.7, 0.25, 1.5, 4, 0] },
  { name: 'pow', dtypes: ['float32', 'float64'], lo: 0.1, hi: 3 },
  { name: 'maximum', dtypes: ['float32', 'float64', 'int32'], choices: [-1, 0, 2, NaN, 7] },
  { name: 'minimum', dtypes: ['float32', 'float64', 'int32'], choices: [-1, 0, 2, NaN, 7] },
  { name: 'atan2', dtypes: ['float32', 'float64'] },
  { name: 'fmod', dtypes: ['float32', 'float64'], choices: [-7.5, -3, -1.25, 2, 5.5, 9] },
  { name: 'eq', dtypes: ['float32', 'float64', 'int32', 'bool'], choices: [0, 1, 2, NaN] },
  { name: 'ne', dtypes: ['float32', 'float64', 'int32', 'bool'], choices: [0, 1, 2, NaN] },
  { name: 'lt', dtypes: ['float32', 'float64', 'int32', 'bool'], choices: [0, 1, 2, NaN] },
  { name: 'le', dtypes: ['float32', 'float64', 'int32', 'bool'], choices: [0, 1, 2, NaN] },
  { name: 'gt', dtypes: ['float32', 'float64', 'int32', 'bool'], choices: [0, 1, 2, NaN] },
  { name: 'ge', dtypes: ['float32', 'float64', 'int32', 'bool'], choices: [0, 1, 2, NaN] },
  { name: 'logicalAnd', dtypes: ['bool'] },
  { name: 'logicalOr', dtypes: ['bool'] },
  { name: 'logicalXor', dtypes: ['bool'] },
];

// Layouts for the second operand, so both operands are rarely laid out alike.
const OTHER: Record<Layout, Layout> = {
  contiguous: 'flipped',
  permuted: 'contiguous',
  strided: 'permuted',
  flipped: 'strided',
  offset: 'offset',
};

describe.skipIf(!available)(title('CUDA parity with the CPU backend'), () => {
  describe('unary', () => {
    for (const spec of UNARY) {
      for (const dtype of spec.dtypes) {
        it(`${spec.name} ${dtype} over every layout`, () => {
          for (const layout of LAYOUTS) {
            const [c, g] = twins(SHAPE, dtype, layout, { ...spec, choices: dtype === 'int32' ? undefined : spec.choices });
            expectParity(K[spec.name](c), K[spec.name](g), `${spec.name} ${dtype} ${layout}`);
          }
        });
      }
    }
    it('logicalNot bool over every layout', () => {
      for (const layout of LAYOUTS) {
        const [c, g] = twins(SHAPE, 'bool', layout);
        expectParity(c.logicalNot(), g.logicalNot(), `logicalNot ${layout}`);
      }
    });
    it('a large contiguous float32 map (vectorized path) and its unaligned tail', () => {
      const [c, g] = twins([1 << 20 | 3], 'float32', 'contiguous', { lo: -3, hi: 3 });
      expectParity(c.exp(), g.exp(), 'exp 2^20+3');
      // Starting at element 1: not 16-byte aligned, so the scalar kernel runs.
      expectParity(c.slice(0, 1).tanh(), g.slice(0, 1).tanh(), 'tanh offset 1');
    });
  });

  describe('binary', () => {
    for (const spec of BINARY) {
      for (const dtype of spec.dtypes) {
        it(`${spec.name} ${dtype} over every layout pair`, () => {
          for (const layout of LAYOUTS) {
            const opts = { ...spec, choices: dtype === 'int32' || dtype === 'bool' ? undefined : spec.choices };
            const [a, ga] = twins(SHAPE, dtype, layout, { ...opts, seed: 1 });
            const [b, gb] = twins(SHAPE, dtype, OTHER[layout], { ...opts, seed: 2 });
            expectParity(K[spec.name](a, b), K[spec.name](ga, gb), `${spec.name} ${dtype} ${layout}`);
          }
        });
      }
    }
    it('broadcasting (stride-0 operands) and scalars', () => {
      const [a, ga] = twins([64, 33], 'float32', 'contiguous', { seed: 3 });
      const [b, gb] = twins([33], 'float32', 'contiguous', { seed: 4 });
      const [col, gcol] = twins([64, 1], 'float32', 'strided', { seed: 5 });
      expectParity(a.add(b), ga.add(gb), 'row broadcast');
      expectParity(col.mul(b), gcol.mul(gb), 'outer product broadcast');
      expectParity(a.sub(2.5), ga.sub(2.5), 'scalar');
      expectParity(a.gt(0), ga.gt(0), 'comparison with a scalar');
    });
    it('int32 arithmetic wraps around like the CPU', () => {
      const big = [2147483647, -2147483648, 65536, 123456789, -7];
      const [a, ga] = twins([40], 'int32', 'contiguous', { choices: big, seed: 6 });
      const [b, gb] = twins([40], 'int32', 'strided', { choices: big, seed: 7 });
      expectParity(a.add(b), ga.add(gb), 'add');
      expectParity(a.mul(b), ga.mul(gb), 'mul');
      expectParity(a.neg(), ga.neg(), 'neg');
      expectParity(a.square(), ga.square(), 'square');
    });
    it('where over every layout and dtype', () => {
      for (const dtype of ['float32', 'float64', 'int32', 'bool'] as DType[]) {
        for (const layout of LAYOUTS) {
          const [cond, gcond] = twins(SHAPE, 'bool', OTHER[layout], { seed: 8 });
          const [a, ga] = twins(SHAPE, dtype, layout, { seed: 9 });
          const [b, gb] = twins(SHAPE, dtype, 'contiguous', { seed: 10 });
          expectParity(kiln.where(cond, a, b), kiln.where(gcond, ga, gb), `where ${dtype} ${layout}`);
        }
      }
    });
  });

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

  describe('matmul (cuBLAS; int32 own kernel)', () => {
    const tol = (k: number) => ({ rtol: 1e-5, atol: 2e-5 * Math.sqrt(k) });
    it('shapes, transposed operands passed as flags, and non-GEMM-able strides', () => {
      const shapes: [number, number, number][] = [[1, 1, 1], [3, 4, 5], [64, 128, 32], [257, 129, 65], [1, 300, 1], [300, 1, 7]];
      for (const [m, k, n] of shapes) {
        const [a, ga] = twins([m, k], 'float32', 'contiguous', { lo: -1, hi: 1, seed: 19 });
        const [b, gb] = twins([k, n], 'float32', 'contiguous', { lo: -1, hi: 1, seed: 20 });
        expectParity(a.matmul(b), ga.matmul(gb), `NN ${m}x${k}x${n}`, tol(k));
        const [at, gat] = twins([k, m], 'float32', 'contiguous', { lo: -1, hi: 1, seed: 21 });
        const [bt, gbt] = twins([n, k], 'float32', 'contiguous', { lo: -1, hi: 1, seed: 22 });
        expectParity(at.t().matmul(b), gat.t().matmul(gb), `TN ${m}x${k}x${n}`, tol(k));
        expectParity(a.matmul(bt.t()), ga.matmul(gbt.t()), `NT ${m}x${k}x${n}`, tol(k));
        expectParity(at.t().matmul(bt.t()), gat.t().matmul(gbt.t()), `TT ${m}x${k}x${n}`, tol(k));
        for (const layout of ['strided', 'flipped', 'offset'] as Layout[]) {
          const [s, gs] = twins([m, k], 'float32', layout, { lo: -1, hi: 1, seed: 23 });
          expectParity(s.matmul(b), gs.matmul(gb), `${layout} ${m}x${k}x${n}`, tol(k));
        }
      }
    });
    it('batched, broadcast batch (stride 0), float64 and int32', () => {
      const [a, ga] = twins([4, 3, 5, 6], 'float32', 'contiguous', { seed: 24 });
      const [b, gb] = twins([4, 3, 6, 2], 'float32', 'permuted', { seed: 25 });
      expectParity(a.matmul(b), ga.matmul(gb), 'batched', tol(6));
      const [w, gw] = twins([6, 9], 'float32', 'contiguous', { seed: 26 });
      expectParity(a.matmul(w), ga.matmul(gw), 'broadcast right operand', tol(6));
      const [v, gv] = twins([4, 1, 5, 6], 'float32', 'contiguous', { seed: 27 });
      expectParity(v.matmul(b), gv.matmul(gb), 'partly broadcast batch', tol(6));
      const [d, gd] = twins([2, 33, 17], 'float64', 'strided', { seed: 28 });
      const [e, ge] = twins([2, 17, 9], 'float64', 'contiguous', { seed: 29 });
      expectParity(d.matmul(e), gd.matmul(ge), 'float64', { rtol: 1e-12, atol: 1e-12 });
      const [i, gi] = twins([3, 20, 30], 'int32', 'permuted', { lo: -1000, hi: 1000, seed: 30 });
      const [j, gj] = twins([30, 11], 'int32', 'strided', { lo: -1000, hi: 1000, seed: 31 });
      expectParity(i.matmul(j), gi.matmul(gj), 'int32 exact');
    });
    it('TF32 is off by default and within its bound when allowed', () => {
      const [a, ga] = twins([512, 512], 'float32', 'contiguous', { lo: -1, hi: 1, seed: 32 });
      const [b, gb] = twins([512, 512], 'float32', 'contiguous', { lo: -1, hi: 1, seed: 33 });
      expect(kiln.backends.cuda.allowTF32).toBe(false);
      const ref = a.matmul(b);
      expectParity(ref, ga.matmul(gb), 'fp32', tol(512));
      kiln.backends.cuda.allowTF32 = true;
      try {
        // TF32 rounds inputs to 10 mantissa bits: |error| ~ sqrt(K) 2^-11 E|ab|, about 3e-3 here.
        expectParity(ref, ga.matmul(gb), 'tf32', { rtol: 0, atol: 3e-2 });
      } finally {
        kiln.backends.cuda.allowTF32 = false;
      }
      expectParity(ref, ga.matmul(gb), 'fp32 again', tol(512));
    });
  });

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

  describe('random: the same seed gives bit-identical draws on both devices', () => {
    const draws: [string, (device: 'cpu' | 'cuda') => T][] = [
      ['rand float32', (device) => kiln.rand([1001], { device })],
      ['rand float64 [-3, 5)', (device) => kiln.rand([999], { dtype: 'float64', device, low: -3, high: 5 })],
      ['randn float32', (device) => kiln.randn([4099], { device })],
      ['randn float64 mean 2 std 3', (device) => kiln.randn([1003], { dtype: 'float64', device, mean: 2, std: 3 })],
      ['bernoulli bool', (device) => kiln.bernoulli(0.3, [5000], { dtype: 'bool', device })],
      ['bernoulli float32', (device) => kiln.bernoulli(0.7, [77], { device })],
      ['randint int32', (device) => kiln.randint(-5, 1000, [3001], { device })],
      ['randint float64 wide', (device) => kiln.randint(-(2 ** 31), 2 ** 31, [100], { dtype: 'float64', device })],
    ];
    for (const [name, draw] of draws) {
      it(name, () => {
        kiln.manualSeed(20240607);
        const c = [draw('cpu'), draw('cpu')];
        kiln.manualSeed(20240607);
        const g = [draw(dev), draw(dev)];
        for (let i = 0; i < 2; i++) {
          const a = new Uint8Array((c[i].dataSync() as Float32Array).buffer.slice(0));
          const b = new Uint8Array((g[i].dataSync() as Float32Array).buffer.slice(0));
          expect(Buffer.compare(Buffer.from(a), Buffer.from(b)), `${name} draw ${i}`).toBe(0);
        }
      });
    }
    it('a large normal draw (many blocks and threads) matches too', () => {
      kiln.manualSeed(7);
      const c = kiln.randn([1 << 20]);
      kiln.manualSeed(7);
      const g = kiln.randn([1 << 20], { device: dev });
      expect(Buffer.compare(Buffer.from((c.dataSync() as Float32Array).buffer), Buffer.from((g.dataSync() as Float32Array).buffer))).toBe(0);
    });
  });
});

describe.skipIf(!available || fake)(title('CUDA: the supported (op, dtype) table equals the CPU one'), () => {
  it('every unary and binary op refuses exactly the dtypes the CPU refuses', () => {
    const outcome = (f: () => T): string => {
      try {
        f().dataSync();
        return 'ok';
      } catch (e) {
        return (e as Error).constructor.name;
      }
    };
    for (const dtype of ['float32', 'float64', 'int32', 'bool'] as DType[]) {
      for (const { name } of UNARY) {
        const [c, g] = twins([3], dtype);
        expect(outcome(() => K[name](g)), `${name} ${dtype}`).toBe(outcome(() => K[name](c)));
      }
      for (const { name } of BINARY) {
        const [c, g] = twins([3], dtype);
        expect(outcome(() => K[name](g, g)), `${name} ${dtype}`).toBe(outcome(() => K[name](c, c)));
      }
    }
  });
});
