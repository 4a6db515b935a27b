// Property-based tests (fast-check): random shapes, dtypes, layouts and op sequences, each
// compared with the JS oracle. numRuns is kept moderate so the file runs in seconds; a failure
// prints the shrunk counterexample and the seed to replay it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import * as kiln from '../lib/index.js';
import * as O from './helpers/oracle.js';
import { Arr, type DType } from './helpers/oracle.js';
import { LAYOUTS, type LayoutKind, expectTensor, make, tol, values } from './helpers/tensors.js';

type T = kiln.Tensor;
const RUNS = { numRuns: 300 };

const dtypeArb = fc.constantFrom<DType>('float32', 'float64', 'int32');
const layoutArb = fc.constantFrom<LayoutKind>(...LAYOUTS);
const shapeArb = (maxRank = 4, maxDim = 5) => fc.array(fc.integer({ min: 0, max: maxDim }), { minLength: 0, maxLength: maxRank });
const nonEmptyShapeArb = (minRank = 1, maxRank = 4) => fc.array(fc.integer({ min: 1, max: 5 }), { minLength: minRank, maxLength: maxRank });

/** Deterministic data for a shape from a seed (fast-check shrinks the seed, not the values). */
const dataFor = (shape: number[], dtype: DType, seed: number, lo = -5, hi = 5) => O.randomArr(shape, dtype, O.rng(seed), lo, hi);

/** A shape that broadcasts with `s`: some dims set to 1, some leading dims dropped. */
const broadcastPartner = (s: number[]) =>
  fc.tuple(fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }), fc.integer({ min: 0, max: s.length })).map(([ones, drop]) => s.map((d, i) => (ones[i] ? 1 : d)).slice(drop));

/** Runs fn in a tidy scope so hundreds of runs leave no tensors behind. */
const scoped = (fn: () => void) => kiln.tidy(() => void fn());

describe('properties', () => {
  it('binary ops with broadcasting match the oracle for any shapes, dtypes and layouts', () => {
    const ops: [string, (x: number, y: number) => number][] = [
      ['add', (x, y) => x + y],
      ['sub', (x, y) => x - y],
      ['mul', (x, y) => x * y],
      ['maximum', Math.max],
      ['minimum', Math.min],
      ['lt', (x, y) => (x < y ? 1 : 0)],
      ['eq', (x, y) => (x === y ? 1 : 0)],
    ];
    fc.assert(
      fc.property(
        shapeArb().chain((s) => fc.tuple(fc.constant(s), broadcastPartner(s), fc.boolean())),
        fc.constantFrom(...ops),
        dtypeArb,
        layoutArb,
        layoutArb,
        fc.nat(),
        ([sa, sb, swap], [name, f], dtype, la, lb, seed) =>
          scoped(() => {
            const [s1, s2] = swap ? [sb, sa] : [sa, sb];
            const a = dataFor(s1, dtype, seed), b = dataFor(s2, dtype, seed + 1).map(Math.round);
            const outDtype: DType = name === 'lt' || name === 'eq' ? 'bool' : dtype;
            const expected = O.zip(a, b, (x, y) => O.castValue(f(x, y), outDtype));
            const out = (make(a, dtype, la) as unknown as Record<string, (o: T) => T>)[name](make(b, dtype, lb));
            expectTensor(out, expected, { dtype: outDtype, ...tol(outDtype) }, `${name} [${s1}]${la} [${s2}]${lb}`);
          }),
      ),
      RUNS,
    );
  });

  it('mixed-dtype binary ops promote like PyTorch', () => {
    fc.assert(
      fc.property(nonEmptyShapeArb(), fc.constantFrom<DType>('bool', 'int32', 'float32', 'float64'), fc.constantFrom<DType>('bool', 'int32', 'float32', 'float64'), fc.nat(), (s, da, db, seed) =>
        scoped(() => {
          fc.pre(!(da === 'bool' && db === 'bool'));
          const a = dataFor(s, da, seed), b = dataFor(s, db, seed + 7);
          const want = O.promote(da, db);
          const out = make(a, da, 'flipped').mul(make(b, db, 'strided'));
          expectTensor(out, O.zip(a, b, (x, y) => O.castValue(x * y, want)), { dtype: want, ...tol(want) });
        }),
      ),
      RUNS,
    );
  });

  it('unary ops over random layouts', () => {
    const ops: [string, (x: number) => number, number, number][] = [
      ['exp', Math.exp, -5, 5],
      ['tanh', Math.tanh, -4, 4],
      ['abs', Math.abs, -5, 5],
      ['sqrt', Math.sqrt, 0, 50],
      ['neg', (x) => -x, -5, 5],
      ['sigmoid', (x) => 1 / (1 + Math.exp(-x)), -8, 8],
      ['floor', Math.floor, -5, 5],
    ];
    fc.assert(
      fc.property(shapeArb(), fc.constantFrom(...ops), fc.constantFrom<DType>('float32', 'float64'), layoutArb, fc.nat(), (s, [name, f, lo, hi], dtype, layout, seed) =>
        scoped(() => {
          const a = dataFor(s, dtype, seed, lo, hi);
          const out = (make(a, dtype, layout) as unknown as Record<string, () => T>)[name]();
          expectTensor(out, a.map((x) => O.castValue(f(x), dtype)), { dtype, ...tol(dtype, 'transcendental') }, `${name} [${s}] ${layout}`);
        }),
      ),
      RUNS,
    );
  });

  it('reductions over random dim subsets, keepdim and layouts', () => {
    const ops: [string, (v: number[]) => number][] = [
      ['sum', O.sumOf],
      ['mean', O.meanOf],
      ['prod', O.prodOf],
    ];
    fc.assert(
      fc.property(
        nonEmptyShapeArb(1, 4).chain((s) => fc.tuple(fc.constant(s), fc.subarray(s.map((_, i) => i)), fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }))),
        fc.constantFrom(...ops),
        fc.constantFrom<DType>('float32', 'float64'),
        layoutArb,
        fc.boolean(),
        fc.nat(),
        ([s, dims, negate], [name, f], dtype, layout, keepdim, seed) =>
          scoped(() => {
            const a = dataFor(s, dtype, seed, name === 'prod' ? 0.5 : -5, name === 'prod' ? 1.5 : 5);
            const ds = dims.map((d) => (negate[d] ? d - s.length : d));
            const arg = ds.length === 0 ? undefined : ds.length === 1 ? ds[0] : ds;
            const expected = O.reduce(a, arg === undefined ? undefined : ds, keepdim, f);
            const out = (make(a, dtype, layout) as unknown as Record<string, (d: unknown, k: boolean) => T>)[name](arg, keepdim);
            const n = O.numel(s);
            expectTensor(out, expected, { dtype, rtol: dtype === 'float32' ? 1e-5 : 1e-12, atol: dtype === 'float32' ? 1e-5 * n : 1e-12 * n }, `${name}(${JSON.stringify(arg)}, ${keepdim}) [${s}] ${layout}`);
          }),
      ),
      RUNS,
    );
  });

  it('max/argmax along a random dim agree with each other and the oracle', () => {
    fc.assert(
      fc.property(nonEmptyShapeArb(1, 4).chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: -s.length, max: s.length - 1 }))), dtypeArb, layoutArb, fc.nat(), ([s, dim], dtype, layout, seed) =>
        scoped(() => {
          const a = dataFor(s, dtype, seed).map(Math.round); // ties on purpose
          const t = make(a, dtype, layout);
          expectTensor(t.max(dim), O.reduce(a, [dim], false, O.maxOf), { dtype });
          expectTensor(t.argmax(dim, true), O.reduce(a, [dim], true, O.argmaxOf), { dtype: 'int32' });
          expectTensor(t.argmin(dim), O.reduce(a, [dim], false, O.argminOf), { dtype: 'int32' });
          // gathering at the argmax gives the max
          expectTensor(t.gather(dim, t.argmax(dim, true)), O.reduce(a, [dim], true, O.maxOf), { dtype });
        }),
      ),
      RUNS,
    );
  });

  it('random chains of views match the oracle in shape, values and stride bookkeeping', () => {
    type Step =
      | { k: 'permute'; seed: number }
      | { k: 'transpose'; a: number; b: number }
      | { k: 'slice'; dim: number; start: number; end: number; step: number }
      | { k: 'flip'; mask: number }
      | { k: 'unsqueeze'; dim: number }
      | { k: 'squeeze' }
      | { k: 'expand'; n: number }
      | { k: 'select'; dim: number; index: number }
      | { k: 'reshapeFlat' }
      | { k: 'contiguous' };
    const stepArb: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ k: fc.constant('permute' as const), seed: fc.nat() }),
      fc.record({ k: fc.constant('transpose' as const), a: fc.nat(), b: fc.nat() }),
      fc.record({ k: fc.constant('slice' as const), dim: fc.nat(), start: fc.integer({ min: -6, max: 6 }), end: fc.integer({ min: -6, max: 8 }), step: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ k: fc.constant('flip' as const), mask: fc.nat({ max: 31 }) }),
      fc.record({ k: fc.constant('unsqueeze' as const), dim: fc.nat() }),
      fc.constant({ k: 'squeeze' as const }),
      fc.record({ k: fc.constant('expand' as const), n: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ k: fc.constant('select' as const), dim: fc.nat(), index: fc.nat() }),
      fc.constant({ k: 'reshapeFlat' as const }),
      fc.constant({ k: 'contiguous' as const }),
    );
    fc.assert(
      fc.property(nonEmptyShapeArb(1, 4), fc.array(stepArb, { minLength: 1, maxLength: 8 }), layoutArb, fc.constantFrom<DType>('float64', 'int32', 'bool'), (shape, steps, layout, dtype) =>
        scoped(() => {
          let ref = O.fromFn(shape, (i) => (dtype === 'bool' ? (i.reduce((s, v) => s + v, 0) % 3 === 0 ? 1 : 0) : i.reduce((s, v, k) => s * 7 + v + k, 1)));
          let t = make(ref, dtype, layout);
          for (const st of steps) {
            const r = ref.ndim;
            switch (st.k) {
              case 'permute': {
                const perm = ref.shape.map((_, i) => i);
                const g = O.rng(st.seed);
                for (let i = perm.length - 1; i > 0; i--) {
                  const j = Math.floor(g() * (i + 1));
                  [perm[i], perm[j]] = [perm[j], perm[i]];
                }
                ref = O.permute(ref, perm);
                t = t.permute(...perm);
                break;
              }
              case 'transpose':
                if (r < 1) continue;
                ref = O.transpose(ref, st.a % r, -1 - (st.b % r));
                t = t.transpose(st.a % r, -1 - (st.b % r));
                break;
              case 'slice':
                if (r < 1) continue;
                ref = O.slice(ref, st.dim % r, st.start, st.end, st.step);
                t = t.slice(st.dim % r, st.start, st.end, st.step);
                break;
              case 'flip': {
                const dims = ref.shape.map((_, i) => i).filter((i) => (st.mask >> i) & 1);
                ref = O.flip(ref, dims);
                t = t.flip(...dims);
                break;
              }
              case 'unsqueeze': {
                if (r >= 6) continue;
                const d = st.dim % (r + 1);
                ref = new Arr([...ref.shape.slice(0, d), 1, ...ref.shape.slice(d)], ref.data);
                t = t.unsqueeze(d);
                break;
              }
              case 'squeeze':
                ref = new Arr(ref.shape.filter((s) => s !== 1), ref.data);
                t = t.squeeze();
                break;
              case 'expand': {
                const target = ref.shape.map((s) => (s === 1 ? st.n : s));
                ref = O.broadcastTo(ref, target);
                t = t.expand(...target);
                break;
              }
              case 'select': {
                if (r < 1) continue;
                const d = st.dim % r;
                if (ref.shape[d] === 0) continue;
                const i = st.index % ref.shape[d];
                ref = O.select(ref, d, i);
                t = t.select(d, i);
                break;
              }
              case 'reshapeFlat':
                ref = new Arr([ref.data.length], ref.data);
                t = t.reshape([ref.data.length === 0 ? 0 : -1]);
                break;
              case 'contiguous':
                t = t.contiguous();
                expect(t.isContiguous()).toBe(true);
                break;
            }
            expect(t.shape).toEqual(ref.shape);
            expect(t.strides.length).toBe(ref.ndim);
          }
          expectTensor(t, ref, { dtype }, `${JSON.stringify(steps)}`);
          // any view computes like its contiguous copy
          if (dtype !== 'bool') expectTensor(t.add(1), ref.map((v) => v + 1), {}, 'view + 1');
          expect(values(t.contiguous())).toEqual(ref.data);
        }),
      ),
      { numRuns: 600 },
    );
  });

  it('matmul of random (batched, broadcast, 1-D) shapes matches the naive loop', () => {
    fc.assert(
      fc.property(
        fc.record({
          M: fc.integer({ min: 1, max: 9 }),
          K: fc.integer({ min: 1, max: 9 }),
          N: fc.integer({ min: 1, max: 9 }),
          batchA: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
          vecA: fc.boolean(),
          vecB: fc.boolean(),
          ones: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
        }),
        dtypeArb,
        layoutArb,
        layoutArb,
        fc.nat(),
        ({ M, K, N, batchA, vecA, vecB, ones }, dtype, la, lb, seed) =>
          scoped(() => {
            const batchB = batchA.map((b, i) => (ones[i] ? 1 : b));
            const sa = vecA ? [K] : [...batchA, M, K];
            const sb = vecB ? [K] : [...batchB, K, N];
            const a = dataFor(sa, dtype, seed, -2, 2), b = dataFor(sb, dtype, seed + 3, -2, 2);
            const ref = O.matmul(a, b);
            const out = make(a, dtype, la).matmul(make(b, dtype, lb));
            expectTensor(out, ref, { dtype, rtol: dtype === 'float32' ? 1e-5 : dtype === 'float64' ? 1e-12 : 0, atol: dtype === 'float32' ? 1e-5 : dtype === 'float64' ? 1e-12 : 0 }, `[${sa}]${la} @ [${sb}]${lb}`);
          }),
      ),
      RUNS,
    );
  });

  it('cat and stack of random parts', () => {
    fc.assert(
      fc.property(nonEmptyShapeArb(1, 3), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 }), fc.nat(), fc.constantFrom<DType>('float32', 'int32', 'bool'), fc.nat(), (shape, sizes, dimSeed, dtype, seed) =>
        scoped(() => {
          const d = dimSeed % shape.length;
          const parts = sizes.map((n, i) => dataFor(shape.map((s, k) => (k === d ? n : s)), dtype, seed + i));
          const ts = parts.map((p, i) => make(p, dtype, LAYOUTS[(i + seed) % LAYOUTS.length]));
          expectTensor(kiln.cat(ts, d - shape.length), O.cat(parts, d), { dtype });
          const same = sizes.map((_, i) => dataFor(shape, dtype, seed + 10 + i));
          const sd = dimSeed % (shape.length + 1);
          expectTensor(kiln.stack(same.map((p) => make(p, dtype, 'permuted')), sd), O.stack(same, sd), { dtype });
        }),
      ),
      RUNS,
    );
  });

  it('nested arrays round-trip through tensor() and arraySync()', () => {
    fc.assert(
      fc.property(nonEmptyShapeArb(1, 4), fc.nat(), (shape, seed) =>
        scoped(() => {
          const a = dataFor(shape, 'int32', seed, -1000, 1000);
          const nested = a.toNested();
          const t = kiln.tensor(nested as number[], { dtype: 'int32' });
          expect(t.shape).toEqual(shape);
          expect(t.arraySync()).toEqual(nested);
        }),
      ),
      RUNS,
    );
  });

  it('property runs leave no tensors behind', () => {
    const before = kiln.memory();
    fc.assert(
      fc.property(shapeArb(3, 4), layoutArb, fc.nat(), (s, layout, seed) =>
        scoped(() => {
          const a = dataFor(s, 'float32', seed);
          make(a, 'float32', layout).add(1).sum();
        }),
      ),
      { numRuns: 50 },
    );
    const after = kiln.memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.cpu.storages).toBe(before.cpu.storages);
  });
});
