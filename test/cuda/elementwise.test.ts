// CUDA against CPU: unary, binary (with broadcasting), comparisons, logical ops and where, over
// non-contiguous operands (permuted, strided, flipped, offset views) built identically on both
// devices. Float32 within 1e-5 relative (libdevice vs glibc math differ by an ulp or two),
// integers and bools exactly. Skipped, visibly and with the reason, where CUDA is not available.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import { LAYOUTS, OTHER, SHAPE, available, dev, expectParity, fake, title, twins, type Layout } from './helpers.js';

type T = kiln.Tensor;
type DType = kiln.DType;
const K = kiln as unknown as Record<string, (...args: unknown[]) => T>;

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

describe.skipIf(!available)(title('CUDA parity: elementwise'), () => {
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
