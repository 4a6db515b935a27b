// Elementwise ops against plain JS math: every unary and binary op, every dtype it takes, odd
// and empty shapes, broadcasting, and every memory layout (permuted, step-sliced, flipped,
// offset, expanded). Reference values come from Math.* in float64 (then rounded to the result
// dtype); float32 results may differ by a few ulp for transcendental functions.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import * as O from '../helpers/oracle.js';
import { Arr, type DType, castValue, rng } from '../helpers/oracle.js';
import { LAYOUTS, expectError, expectTensor, make, tol, values } from '../helpers/tensors.js';

type T = kiln.Tensor;

const SHAPES: number[][] = [[], [1], [7], [3, 5], [2, 3, 4], [2, 1, 3, 2], [0], [4, 0, 2]];

// ------------------------------------------------------------------ unary

interface UnarySpec {
  name: string;
  ref: (x: number) => number;
  lo: number;
  hi: number;
  /** dtypes accepted; int32 inputs give float32 for "float" ops, int32 otherwise */
  dtypes: DType[];
  intGivesFloat?: boolean;
  transcendental?: boolean;
  call?: (t: T) => T;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const UNARY: UnarySpec[] = [
  { name: 'neg', ref: (x) => -x, lo: -5, hi: 5, dtypes: ['float32', 'float64', 'int32'] },
  { name: 'exp', ref: Math.exp, lo: -10, hi: 10, dtypes: ['float32', 'float64', 'int32'], intGivesFloat: true, transcendental: true },
  { name: 'log', ref: Math.log, lo: 0.01, hi: 100, dtypes: ['float32', 'float64', 'int32'], intGivesFloat: true, transcendental: true },
  { name: 'sqrt', ref: Math.sqrt, lo: 0, hi: 100, dtypes: ['float32', 'float64', 'int32'], intGivesFloat: true, transcendental: true },
  { name: 'rsqrt', ref: (x) => 1 / Math.sqrt(x), lo: 0.01, hi: 100, dtypes: ['float32', 'float64', 'int32'], intGivesFloat: true, transcendental: true },
  { name: 'tanh', ref: Math.tanh, lo: -6, hi: 6, dtypes: ['float32', 'float64', 'int32'], intGivesFloat: true, transcendental: true },
  { name: 'sigmoid', ref: sigmoid, lo: -20, hi: 20, dtypes: ['float32', 'float64', 'int32'], intGivesFloat: true, transcendental: true },
  { name: 'sin', ref: Math.sin, lo: -10, hi: 10, dtypes: ['float32', 'float64', 'int32'], intGivesFloat: true, transcendental: true },
  { name: 'cos', ref: Math.cos, lo: -10, hi: 10, dtypes: ['float32', 'float64', 'int32'], intGivesFloat: true, transcendental: true },
  { name: 'abs', ref: Math.abs, lo: -5, hi: 5, dtypes: ['float32', 'float64', 'int32'] },
  { name: 'sign', ref: Math.sign, lo: -3, hi: 3, dtypes: ['float32', 'float64', 'int32'] },
  { name: 'erf', ref: O.erf, lo: -4, hi: 4, dtypes: ['float32', 'float64', 'int32'], intGivesFloat: true, transcendental: true },
  { name: 'reciprocal', ref: (x) => 1 / x, lo: 0.1, hi: 10, dtypes: ['float32', 'float64', 'int32'], intGivesFloat: true },
  { name: 'floor', ref: Math.floor, lo: -5, hi: 5, dtypes: ['float32', 'float64', 'int32'] },
  { name: 'ceil', ref: Math.ceil, lo: -5, hi: 5, dtypes: ['float32', 'float64', 'int32'] },
  { name: 'round', ref: O.roundHalfEven, lo: -5, hi: 5, dtypes: ['float32', 'float64', 'int32'] },
  { name: 'log1p', ref: Math.log1p, lo: -0.99, hi: 10, dtypes: ['float32', 'float64'], transcendental: true },
  { name: 'expm1', ref: Math.expm1, lo: -5, hi: 5, dtypes: ['float32', 'float64'], transcendental: true },
  { name: 'relu', ref: (x) => Math.max(x, 0), lo: -5, hi: 5, dtypes: ['float32', 'float64', 'int32'] },
  { name: 'square', ref: (x) => x * x, lo: -5, hi: 5, dtypes: ['float32', 'float64', 'int32'] },
];

// values with -0 folded into 0: the sign of a zero result is not part of these contracts
const pz = (t: T) => values(t).map((v) => v + 0);

function callUnary(t: T, name: string): T {
  return (t as unknown as Record<string, () => T>)[name]();
}

describe('unary ops', () => {
  for (const spec of UNARY) {
    for (const dtype of spec.dtypes) {
      it(`${spec.name} ${dtype} over shapes and layouts`, () => {
        const r = rng(spec.name.length * 1000 + dtype.length);
        const outDtype: DType = dtype === 'int32' && spec.intGivesFloat ? 'float32' : dtype;
        // for int inputs, use a domain where the op is defined on integers
        const lo = dtype === 'int32' ? Math.max(Math.ceil(spec.lo), spec.lo > 0 ? 1 : -5) : spec.lo;
        const hi = dtype === 'int32' ? Math.max(lo + 1, Math.floor(spec.hi)) : spec.hi;
        for (const shape of SHAPES) {
          const a = O.randomArr(shape, dtype, r, lo, hi);
          const expected = a.map((x) => castValue(spec.ref(x), outDtype));
          for (const layout of LAYOUTS) {
            const t = make(a, dtype, layout);
            const out = callUnary(t, spec.name);
            expectTensor(out, expected, { dtype: outDtype, ...tol(outDtype, spec.transcendental ? 'transcendental' : 'exact') }, `${spec.name}[${shape}] ${layout}`);
            // the input is untouched
            expectTensor(t, a, {}, 'input after op');
          }
        }
        // an expanded (stride-0) input
        const b = O.randomArr([3, 1, 4], dtype, r, lo, hi);
        const e = make(b, dtype, 'flipped').expand(2, 3, 5, 4);
        const expectedE = O.broadcastTo(b, [2, 3, 5, 4]).map((x) => castValue(spec.ref(x), outDtype));
        expectTensor(callUnary(e, spec.name), expectedE, { dtype: outDtype, ...tol(outDtype, spec.transcendental ? 'transcendental' : 'exact') }, `${spec.name} expanded`);
      });
    }
  }

  it('free functions match methods', () => {
    const x = kiln.tensor([0.5, 1.5, 2.5]);
    expect(values(kiln.exp(x))).toEqual(values(x.exp()));
    expect(values(kiln.neg(x))).toEqual(values(x.neg()));
    expect(values(kiln.sqrt(x))).toEqual(values(x.sqrt()));
  });

  it('round is round-half-to-even like torch.round', () => {
    const x = kiln.tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 0.49999997], { dtype: 'float32' });
    expect(pz(x.round())).toEqual([-2, -2, 0, 0, 2, 2, 4, 0]);
    const d = kiln.tensor([-2.5, 2.5, 1e300, -0.5000000000000001], { dtype: 'float64' });
    expect(pz(d.round())).toEqual([-2, 2, 1e300, -1]);
  });

  it.each(['float32', 'float64'] as DType[])('special values %s', (dtype) => {
    const x = kiln.tensor([Infinity, -Infinity, NaN, 0, -0], { dtype });
    expect(values(x.exp())).toEqual([Infinity, 0, NaN, 1, 1]);
    expect(pz(x.tanh())).toEqual([1, -1, NaN, 0, 0]);
    expect(values(x.sigmoid())).toEqual([1, 0, NaN, 0.5, 0.5]);
    expect(pz(x.erf())).toEqual([1, -1, NaN, 0, 0]);
    expect(values(x.abs())).toEqual([Infinity, Infinity, NaN, 0, 0]);
    expect(values(x.relu()).slice(0, 2)).toEqual([Infinity, 0]);
    expect(Number.isNaN(values(x.relu())[2])).toBe(true); // NaN propagates like torch.relu
    const y = kiln.tensor([0, -1, 4, Infinity], { dtype });
    expect(values(kiln.tensor([0, -1, 1, Infinity], { dtype }).log())).toEqual([-Infinity, NaN, 0, Infinity]);
    expect(values(y.sqrt())).toEqual([0, NaN, 2, Infinity]);
    expect(values(y.reciprocal())).toEqual([Infinity, -1, 0.25, 0]);
    expect(values(y.rsqrt())).toEqual([Infinity, NaN, 0.5, 0]);
    expect(values(kiln.tensor([-1, -2], { dtype }).log1p())).toEqual([-Infinity, NaN]);
  });

  it('float32 exp/log accuracy over a wide range (<= 2 ulp-ish)', () => {
    const n = 20_001;
    const xs = Array.from({ length: n }, (_, i) => Math.fround(-87 + (175 * i) / (n - 1)));
    const e = values(kiln.tensor(xs).exp());
    O.assertClose(e, xs.map((x) => Math.fround(Math.exp(x))), { rtol: 3e-7, atol: 0 }, 'exp');
    const ps = xs.map((x) => Math.fround(Math.exp(x / 4)));
    const l = values(kiln.tensor(ps).log());
    O.assertClose(l, ps.map((p) => Math.fround(Math.log(p))), { rtol: 3e-7, atol: 3e-7 }, 'log');
  });

  it('clamp(min, max), clamp(min), clamp(undefined, max) keep dtype', () => {
    const r = rng(5);
    for (const dtype of ['float32', 'float64', 'int32'] as DType[]) {
      const a = O.randomArr([4, 5], dtype, r, -10, 10);
      for (const layout of LAYOUTS) {
        const t = make(a, dtype, layout);
        expectTensor(t.clamp(-2, 3), a.map((x) => Math.min(Math.max(x, -2), 3)), { dtype });
        expectTensor(t.clamp(1), a.map((x) => Math.max(x, 1)), { dtype });
        expectTensor(t.clamp(undefined, -1), a.map((x) => Math.min(x, -1)), { dtype });
      }
    }
  });

  it('logicalNot on bool', () => {
    const a = O.fromNested([[1, 0, 1], [0, 0, 1]]);
    for (const layout of LAYOUTS) {
      expectTensor(make(a, 'bool', layout).logicalNot(), a.map((x) => (x ? 0 : 1)), { dtype: 'bool' });
    }
  });
});

// ------------------------------------------------------------------ binary

interface BinarySpec {
  name: string;
  ref: (x: number, y: number) => number;
  dtypes: DType[];
  /** result dtype given the (common) input dtype */
  out?: (t: DType) => DType;
  /** generator ranges for a and b */
  a?: [number, number];
  b?: [number, number];
  /** b must avoid zero (div/fmod on ints) */
  bNonZero?: boolean;
  transcendental?: boolean;
  /** integer-valued data (so that comparisons see ties) */
  ints?: boolean;
}

const cmp = (f: (x: number, y: number) => boolean) => (x: number, y: number) => (f(x, y) ? 1 : 0);
const pyMod = (x: number, y: number) => {
  const m = x % y;
  return m !== 0 && Math.sign(m) !== Math.sign(y) ? m + y : m;
};

const BINARY: BinarySpec[] = [
  { name: 'add', ref: (x, y) => x + y, dtypes: ['float32', 'float64', 'int32'] },
  { name: 'sub', ref: (x, y) => x - y, dtypes: ['float32', 'float64', 'int32'] },
  { name: 'mul', ref: (x, y) => x * y, dtypes: ['float32', 'float64', 'int32'] },
  { name: 'div', ref: (x, y) => x / y, dtypes: ['float32', 'float64', 'int32'], out: (t) => (t === 'int32' ? 'float32' : t), bNonZero: true },
  { name: 'pow', ref: Math.pow, dtypes: ['float32', 'float64'], a: [0.1, 4], b: [-3, 3], transcendental: true },
  { name: 'maximum', ref: Math.max, dtypes: ['float32', 'float64', 'int32'] },
  { name: 'minimum', ref: Math.min, dtypes: ['float32', 'float64', 'int32'] },
  { name: 'atan2', ref: Math.atan2, dtypes: ['float32', 'float64'], transcendental: true },
  { name: 'fmod', ref: (x, y) => x % y, dtypes: ['float32', 'float64', 'int32'], a: [-20, 20], b: [-6, 6], bNonZero: true },
  { name: 'remainder', ref: pyMod, dtypes: ['float32', 'float64', 'int32'], a: [-20, 20], b: [-6, 6], bNonZero: true },
  { name: 'eq', ints: true, ref: cmp((x, y) => x === y), dtypes: ['float32', 'float64', 'int32', 'bool'], out: () => 'bool', a: [-2, 2], b: [-2, 2] },
  { name: 'ne', ints: true, ref: cmp((x, y) => x !== y), dtypes: ['float32', 'float64', 'int32', 'bool'], out: () => 'bool', a: [-2, 2], b: [-2, 2] },
  { name: 'lt', ints: true, ref: cmp((x, y) => x < y), dtypes: ['float32', 'float64', 'int32', 'bool'], out: () => 'bool', a: [-2, 2], b: [-2, 2] },
  { name: 'le', ints: true, ref: cmp((x, y) => x <= y), dtypes: ['float32', 'float64', 'int32', 'bool'], out: () => 'bool', a: [-2, 2], b: [-2, 2] },
  { name: 'gt', ints: true, ref: cmp((x, y) => x > y), dtypes: ['float32', 'float64', 'int32', 'bool'], out: () => 'bool', a: [-2, 2], b: [-2, 2] },
  { name: 'ge', ints: true, ref: cmp((x, y) => x >= y), dtypes: ['float32', 'float64', 'int32', 'bool'], out: () => 'bool', a: [-2, 2], b: [-2, 2] },
  { name: 'logicalAnd', ref: (x, y) => (x && y ? 1 : 0), dtypes: ['bool'] },
  { name: 'logicalOr', ref: (x, y) => (x || y ? 1 : 0), dtypes: ['bool'] },
  { name: 'logicalXor', ref: (x, y) => (!x !== !y ? 1 : 0), dtypes: ['bool'] },
];

// Pairs of shapes that broadcast, including size-0 and 0-d operands.
const BROADCAST_PAIRS: [number[], number[]][] = [
  [[5], [5]],
  [[3, 4], [3, 4]],
  [[3, 4], [4]],
  [[3, 4], [3, 1]],
  [[2, 1, 4], [3, 1]],
  [[], [3, 2]],
  [[2, 3], []],
  [[1], [2, 3]],
  [[7, 1], [1, 9]],
  [[2, 3, 1, 5], [1, 3, 4, 1]],
  [[0, 3], [1, 3]],
  [[4, 1, 1], [1, 1, 1]],
];

function callBinary(a: T, name: string, b: T | number): T {
  return (a as unknown as Record<string, (o: T | number) => T>)[name](b);
}

function gen(shape: number[], dtype: DType, r: () => number, range: [number, number] | undefined, nonZero: boolean, ints = false): Arr {
  const [lo, hi] = range ?? [-5, 5];
  let a = O.randomArr(shape, dtype, r, lo, hi);
  if (ints) a = a.map(Math.round);
  if (nonZero) a = a.map((v) => (v === 0 ? (dtype === 'int32' ? 3 : 1.25) : v));
  return a;
}

describe('binary ops', () => {
  for (const spec of BINARY) {
    for (const dtype of spec.dtypes) {
      it(`${spec.name} ${dtype}: broadcasting x layouts`, () => {
        const r = rng(spec.name.length * 7919 + dtype.length);
        const outDtype = spec.out ? spec.out(dtype) : dtype;
        const t = tol(outDtype, spec.transcendental ? 'transcendental' : 'exact');
        for (const [sa, sb] of BROADCAST_PAIRS) {
          const a = gen(sa, dtype, r, spec.a, false, spec.ints);
          const b = gen(sb, dtype, r, spec.b, !!spec.bNonZero, spec.ints);
          const expected = O.zip(a, b, (x, y) => castValue(spec.ref(x, y), outDtype));
          for (let li = 0; li < LAYOUTS.length; li++) {
            // pair each layout of a with a different layout of b
            const la = LAYOUTS[li], lb = LAYOUTS[(li + 2) % LAYOUTS.length];
            const out = callBinary(make(a, dtype, la), spec.name, make(b, dtype, lb));
            expectTensor(out, expected, { dtype: outDtype, ...t }, `${spec.name} [${sa}]${la} [${sb}]${lb}`);
          }
        }
      });
    }
  }

  it('expanded (stride-0) operands', () => {
    const r = rng(11);
    const a = O.randomArr([3, 1, 5], 'float64', r);
    const b = O.randomArr([1, 4, 1], 'float64', r);
    const ta = make(a, 'float64').expand(3, 4, 5);
    const tb = make(b, 'float64', 'flipped').expand(3, 4, 5);
    expect(ta.strides[1]).toBe(0);
    expectTensor(ta.mul(tb), O.zip(a, b, (x, y) => x * y));
    expectTensor(kiln.add(ta, tb), O.zip(a, b, (x, y) => x + y));
  });

  it('JS number operands keep a float tensor dtype and broadcast', () => {
    const r = rng(12);
    for (const dtype of ['float32', 'float64'] as DType[]) {
      const a = O.randomArr([3, 4], dtype, r);
      const t = make(a, dtype, 'permuted');
      expectTensor(t.add(0.1), a.map((x) => castValue(x + 0.1, dtype)), { dtype, rtol: 1e-6, atol: 1e-7 });
      expectTensor(t.mul(-3), a.map((x) => castValue(x * -3, dtype)), { dtype });
      expectTensor(t.sub(2), a.map((x) => castValue(x - 2, dtype)), { dtype });
      expectTensor(t.div(4), a.map((x) => castValue(x / 4, dtype)), { dtype });
      expectTensor(t.pow(2), a.map((x) => castValue(x * x, dtype)), { dtype, rtol: 1e-6, atol: 1e-7 });
      expectTensor(t.gt(0.5), a.map((x) => (x > 0.5 ? 1 : 0)), { dtype: 'bool' });
      expectTensor(t.maximum(0), a.map((x) => Math.max(x, 0)), { dtype });
    }
  });

  it('int32 tensor with JS numbers: integers keep int32, non-integers promote to float32', () => {
    const a = O.fromNested([[1, -2, 3], [4, 5, -6]]);
    const t = make(a, 'int32', 'flipped');
    expectTensor(t.add(2), a.map((x) => x + 2), { dtype: 'int32' });
    expectTensor(t.mul(3), a.map((x) => x * 3), { dtype: 'int32' });
    expectTensor(t.add(0.5), a.map((x) => x + 0.5), { dtype: 'float32' });
    expectTensor(t.mul(1.5), a.map((x) => x * 1.5), { dtype: 'float32' });
    expectTensor(t.div(2), a.map((x) => x / 2), { dtype: 'float32' });
    expectTensor(t.eq(3), a.map((x) => (x === 3 ? 1 : 0)), { dtype: 'bool' });
  });

  it('type promotion between tensors: bool < int32 < float32 < float64', () => {
    const dts: DType[] = ['bool', 'int32', 'float32', 'float64'];
    const a = O.fromNested([[1, 0, 1], [0, 1, 1]]);
    const b = O.fromNested([2, 3, 4]);
    for (const da of dts) {
      for (const db of dts) {
        if (da === 'bool' && db === 'bool') continue; // arithmetic on two bools is not promotion
        const out = make(a, da).add(make(b.map((v) => (db === 'bool' ? v % 2 : v)), db));
        const want = O.promote(da, db);
        expect(out.dtype, `${da} + ${db}`).toBe(want);
        const bv = b.map((v) => (db === 'bool' ? v % 2 : v));
        expectTensor(out, O.zip(a, bv, (x, y) => x + y), { dtype: want }, `${da} + ${db}`);
      }
    }
    expect(kiln.tensor([1], { dtype: 'float32' }).mul(kiln.tensor([2], { dtype: 'float64' })).dtype).toBe('float64');
  });

  it('float32 arithmetic is done in float32 (results are exactly rounded)', () => {
    const r = rng(13);
    const a = O.randomArr([1000], 'float32', r, -1e3, 1e3);
    const b = O.randomArr([1000], 'float32', r, -1e3, 1e3);
    const f = (x: number) => Math.fround(x);
    expect(values(make(a, 'float32').add(make(b, 'float32')))).toEqual(a.data.map((x, i) => f(x + b.data[i])));
    expect(values(make(a, 'float32').mul(make(b, 'float32')))).toEqual(a.data.map((x, i) => f(x * b.data[i])));
    expect(values(make(a, 'float32').div(make(b, 'float32')))).toEqual(a.data.map((x, i) => f(x / b.data[i])));
  });

  it('int32 arithmetic wraps around like PyTorch', () => {
    const t = kiln.tensor([2147483647, -2147483648], { dtype: 'int32' });
    expect(values(t.add(kiln.tensor([1, -1], { dtype: 'int32' })))).toEqual([-2147483648, 2147483647]);
  });

  it('special values', () => {
    for (const dtype of ['float32', 'float64'] as DType[]) {
      const x = kiln.tensor([1, -1, 0, NaN, Infinity], { dtype });
      const z = kiln.zeros([5], { dtype });
      expect(values(x.div(z))).toEqual([Infinity, -Infinity, NaN, NaN, Infinity]);
      const one = kiln.ones([5], { dtype });
      expect(values(x.maximum(one))).toEqual([1, 1, 1, NaN, Infinity]); // NaN propagates
      expect(values(x.minimum(one))).toEqual([1, -1, 0, NaN, 1]);
      expect(values(x.eq(x))).toEqual([1, 1, 1, 0, 1]); // NaN != NaN
      expect(values(x.ne(x))).toEqual([0, 0, 0, 1, 0]);
      const base = kiln.tensor([-2, -2, 0, 0], { dtype });
      const ex = kiln.tensor([3, 0.5, 0, -1], { dtype });
      expect(values(base.pow(ex))).toEqual([-8, NaN, 1, Infinity]);
    }
    expect(values(kiln.tensor([7, -7], { dtype: 'int32' }).div(kiln.tensor([0, 0], { dtype: 'int32' })))).toEqual([Infinity, -Infinity]);
  });

  it('int32 fmod/remainder are exact beyond 2^24 (integer index math)', () => {
    const a = kiln.tensor([16777217, -16777217, 2147483647], { dtype: 'int32' });
    expect(values(a.fmod(2))).toEqual([1, -1, 1]);
    expect(values(a.remainder(2))).toEqual([1, 1, 1]);
    expect(values(a.remainder(kiln.tensor([10], { dtype: 'int32' })))).toEqual([7, 3, 7]);
  });

  it('int32 pow with non-negative int exponents is exact', () => {
    const a = kiln.tensor([2, -3, 5, 0, 7], { dtype: 'int32' });
    const e = kiln.tensor([10, 3, 0, 2, 5], { dtype: 'int32' });
    const out = a.pow(e);
    expect(out.dtype).toBe('int32');
    expect(values(out)).toEqual([1024, -27, 1, 0, 16807]);
    expect(values(kiln.tensor([3], { dtype: 'int32' }).pow(19))).toEqual([1162261467]);
  });

  it('logical ops on non-bool tensors throw DTypeError', () => {
    const f = kiln.tensor([1, 0]);
    expectError(() => f.logicalAnd(f), kiln.DTypeError, /logicalAnd/);
    expectError(() => f.logicalOr(kiln.tensor([true, false])), kiln.DTypeError, /logicalOr/);
    expectError(() => kiln.tensor([1, 2], { dtype: 'int32' }).logicalXor(kiln.tensor([1, 2], { dtype: 'int32' })), kiln.DTypeError);
  });

  it('logicalNot of a non-bool tensor is x == 0 (like torch.logical_not)', () => {
    expect(values(kiln.tensor([2, 0, -1.5, NaN]).logicalNot())).toEqual([0, 1, 0, 0]);
    const i = kiln.tensor([0, 7], { dtype: 'int32' }).logicalNot();
    expect(i.dtype).toBe('bool');
    expect(values(i)).toEqual([1, 0]);
  });

  it('non-broadcastable shapes throw ShapeError naming both shapes', () => {
    const a = kiln.zeros([3, 4]), b = kiln.zeros([5]);
    const e = expectError(() => a.add(b), kiln.ShapeError, /add/);
    expect(e.message).toMatch(/\[3,\s*4\]/);
    expect(e.message).toMatch(/\[5\]/);
    expectError(() => kiln.zeros([2, 3]).mul(kiln.zeros([3, 2])), kiln.ShapeError, /mul/);
  });
});

describe('where', () => {
  it('broadcasts condition, tensors and numbers over every layout', () => {
    const r = rng(21);
    for (const dtype of ['float32', 'float64', 'int32', 'bool'] as DType[]) {
      const c = O.randomArr([3, 1, 4], 'bool', r);
      const a = O.randomArr([2, 4], dtype, r);
      const b = O.randomArr([3, 2, 1], dtype, r);
      const expected = O.zip3(c, a, b, (cc, x, y) => (cc ? x : y));
      for (const layout of LAYOUTS) {
        const out = kiln.where(make(c, 'bool', layout), make(a, dtype, layout), make(b, dtype, 'strided'));
        expectTensor(out, expected, { dtype }, `where ${dtype} ${layout}`);
      }
      // a bool tensor with a JS number promotes (int32, like PyTorch); with a JS boolean it stays bool
      const zero = dtype === 'bool' ? false : 0;
      const n1 = kiln.where(make(c, 'bool'), make(a, dtype), zero);
      expectTensor(n1, O.zip(c, a, (cc, x) => (cc ? x : 0)), { dtype });
      const two = dtype === 'bool' ? true : 2;
      const n2 = kiln.where(make(c, 'bool'), two, make(b, dtype));
      expectTensor(n2, O.zip(c, b, (cc, y) => (cc ? Number(two) : y)), { dtype });
      if (dtype === 'bool') expect(kiln.where(make(c, 'bool'), make(a, dtype), 0).dtype).toBe('int32');
    }
  });

  it('promotes differing value dtypes and rejects a non-bool condition', () => {
    const c = kiln.tensor([true, false]);
    const out = kiln.where(c, kiln.tensor([1, 2], { dtype: 'int32' }), kiln.tensor([0.5, 0.25], { dtype: 'float64' }));
    expect(out.dtype).toBe('float64');
    expect(values(out)).toEqual([1, 0.25]);
    expectError(() => kiln.where(kiln.tensor([1, 0]), kiln.tensor([1, 2]), kiln.tensor([3, 4])), kiln.DTypeError, /where/);
  });
});
