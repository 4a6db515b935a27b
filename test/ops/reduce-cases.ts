// The reduction cases, run once per instruction set of the SIMD kernels that reductions call
// (float32 max/min, through simd::best()): reduce.test.ts runs the best one this CPU has;
// reduce-avx2.test.ts and reduce-portable.test.ts set KILN_SIMD (read once, at the first kernel
// of the process; every test file runs in its own process) and run the others against the same
// oracles: every dim combination (single, several, negative, all), keepdim, every layout, the
// dtypes each takes, and shapes that reach every schedule (a conv bias gradient's runs of 64 and
// of 30 per output, columns, rows of 70000).
import { describe, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import * as O from '../helpers/oracle.js';
import { Arr, type DType, rng } from '../helpers/oracle.js';
import { LAYOUTS, expectTensor, make } from '../helpers/tensors.js';

type T = kiln.Tensor;
type Dims = number | number[] | undefined;

const toList = (d: Dims): number[] | undefined => (d === undefined ? undefined : Array.isArray(d) ? d : [d]);

interface ReduceSpec {
  name: string;
  call: (t: T, dim: Dims, keepdim: boolean) => T;
  ref: (vals: number[]) => number;
  dtypes: DType[];
  out: (t: DType) => DType;
  /** only single dims (argmax/argmin/logsumexp) */
  singleDim?: boolean;
  lo?: number;
  hi?: number;
  rtol32?: number;
}

const same = (t: DType) => t;
const REDUCTIONS: ReduceSpec[] = [
  { name: 'sum', call: (t, d, k) => t.sum(d, k), ref: O.sumOf, dtypes: ['float32', 'float64', 'int32', 'bool'], out: (t) => (t === 'bool' ? 'int32' : t) },
  { name: 'mean', call: (t, d, k) => t.mean(d, k), ref: O.meanOf, dtypes: ['float32', 'float64'], out: same },
  { name: 'prod', call: (t, d, k) => t.prod(d, k), ref: O.prodOf, dtypes: ['float32', 'float64', 'int32'], out: same, lo: -2, hi: 2.5 },
  { name: 'max', call: (t, d, k) => t.max(d as number, k), ref: O.maxOf, dtypes: ['float32', 'float64', 'int32'], out: same, singleDim: true },
  { name: 'min', call: (t, d, k) => t.min(d as number, k), ref: O.minOf, dtypes: ['float32', 'float64', 'int32'], out: same, singleDim: true },
  { name: 'argmax', call: (t, d, k) => t.argmax(d as number, k), ref: O.argmaxOf, dtypes: ['float32', 'float64', 'int32'], out: () => 'int32', singleDim: true },
  { name: 'argmin', call: (t, d, k) => t.argmin(d as number, k), ref: O.argminOf, dtypes: ['float32', 'float64', 'int32'], out: () => 'int32', singleDim: true },
  { name: 'var', call: (t, d, k) => t.var(d, { keepdim: k }), ref: (v) => O.varOf(v, 1), dtypes: ['float32', 'float64'], out: same, rtol32: 1e-4 },
  { name: 'var(correction=0)', call: (t, d, k) => t.var(d, { correction: 0, keepdim: k }), ref: (v) => O.varOf(v, 0), dtypes: ['float32', 'float64'], out: same, rtol32: 1e-4 },
  { name: 'std', call: (t, d, k) => t.std(d, { keepdim: k }), ref: (v) => Math.sqrt(O.varOf(v, 1)), dtypes: ['float32', 'float64'], out: same, rtol32: 1e-4 },
  { name: 'logsumexp', call: (t, d, k) => t.logsumexp(d as number, k), ref: O.logsumexpOf, dtypes: ['float32', 'float64'], out: same, singleDim: true },
];

const CASES: [number[], Dims[]][] = [
  [[7], [undefined, 0, -1]],
  [[3, 4], [undefined, 0, 1, -1, [0, 1]]],
  [[2, 3, 5], [undefined, 0, 1, 2, -2, [0, 2], [-1, -3], [1, 2]]],
  [[2, 1, 3, 4], [undefined, 1, 3, [0, 3], [0, 1, 2]]],
  [[1, 1], [undefined, 0]],
  [[2, 3, 8, 8], [[0, 2, 3], [0, 1]]],
  [[3, 4, 5, 6], [[0, 2, 3], 0]],
  [[3, 70000], [1]],
];

export function runReductionCases(isa: string) {
  describe(`reductions (${isa} loops)`, () => {
    for (const spec of REDUCTIONS) {
      for (const dtype of spec.dtypes) {
        it(`${spec.name} ${dtype}: dims x keepdim x layouts`, () => {
          const r = rng(spec.name.length * 31 + dtype.length);
          const outDtype = spec.out(dtype);
          for (const [shape, dimsList] of CASES) {
            // integer-valued data makes ties for max/argmax and exact int sums
            const a = O.randomArr(shape, dtype, r, spec.lo ?? -4, spec.hi ?? 4);
            for (const dims of dimsList) {
              if (spec.singleDim && Array.isArray(dims)) continue;
              for (const keepdim of [false, true]) {
                const expected = O.reduce(a, toList(dims), keepdim || false, spec.ref);
                // PyTorch: with no dim, keepdim is ignored by max/argmax-style ops
                const exp2 = dims === undefined && !keepdim ? new Arr([], expected.data) : expected;
                const n = O.numel(a.shape) / Math.max(1, O.numel(expected.shape));
                const rtol = outDtype === 'float32' ? spec.rtol32 ?? 1e-5 : outDtype === 'float64' ? 1e-12 : 0;
                const atol = outDtype === 'float32' ? 1e-5 * n : outDtype === 'float64' ? 1e-12 * n : 0;
                for (const layout of LAYOUTS) {
                  if (dims === undefined && keepdim && spec.singleDim) continue;
                  const t = make(a, dtype, layout);
                  const out = spec.call(t, dims, keepdim);
                  expectTensor(out, exp2, { dtype: outDtype, rtol, atol }, `${spec.name}(${JSON.stringify(dims)}, ${keepdim}) [${shape}] ${layout}`);
                }
              }
            }
          }
          // expanded (stride-0) input
          const b = O.randomArr([3, 1, 4], dtype, r, spec.lo ?? -4, spec.hi ?? 4);
          const e = make(b, dtype, 'strided').expand(3, 5, 4);
          const be = O.broadcastTo(b, [3, 5, 4]);
          for (const dims of (spec.singleDim ? [0, 1, 2] : [undefined, 1, [0, 1], [1, 2]]) as Dims[]) {
            const out = spec.call(e, dims, false);
            const n = 60 / Math.max(1, out.numel());
            const rtol = outDtype === 'float32' ? spec.rtol32 ?? 1e-5 : outDtype === 'float64' ? 1e-12 : 0;
            const atol = outDtype === 'float32' ? 1e-5 * n : outDtype === 'float64' ? 1e-12 * n : 0;
            expectTensor(out, O.reduce(be, toList(dims), false, spec.ref), { dtype: outDtype, rtol, atol }, `${spec.name}(${JSON.stringify(dims)}) expanded`);
          }
        });
      }
    }

  });
}
