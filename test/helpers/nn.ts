// Small helpers for the nn/optim/data/train tests: seeded float64 data, tensors from flat
// arrays, and closeness checks against plain-JS float64 oracles.
import { expect } from 'vitest';
import * as kiln from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';

/** A deterministic generator (mulberry32) for test inputs. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n values uniform in [lo, hi). */
export function uniform(n: number, seed: number, lo = -1, hi = 1): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => lo + (hi - lo) * r());
}

export const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** A float64 tensor of the given shape with values (or seeded uniform values). */
export function t64(shape: number[], values: number[] | number = 1, opts: { requiresGrad?: boolean } = {}): Tensor {
  const v = typeof values === 'number' ? uniform(size(shape), values) : values;
  return kiln.tensor(Float64Array.from(v), { shape, dtype: 'float64', requiresGrad: opts.requiresGrad });
}

export function i32(shape: number[], values: number[]): Tensor {
  return kiln.tensor(Int32Array.from(values), { shape, dtype: 'int32' });
}

export function vals(t: Tensor): number[] {
  return Array.from(t.dataSync() as ArrayLike<number>);
}

/** Element-wise |a - b| <= atol + rtol |b|, with a readable failure. */
export function expectClose(actual: Tensor | number[] | number, expected: number[] | number, atol = 1e-10, rtol = 1e-8): void {
  const a = typeof actual === 'number' ? [actual] : Array.isArray(actual) ? actual : vals(actual);
  const e = typeof expected === 'number' ? [expected] : expected;
  expect(a.length).toBe(e.length);
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i] - e[i]) - (atol + rtol * Math.abs(e[i]));
    if (!(err <= 0) && (worst < 0 || err > worstErr || Number.isNaN(err))) {
      worst = i;
      worstErr = err;
    }
  }
  if (worst >= 0) expect.fail(`element ${worst}: got ${a[worst]}, expected ${e[worst]} (of ${a.length})`);
}

/** Row-major matrix product of a [m, k] and b [k, n]. */
export function matmul(a: number[], b: number[], m: number, k: number, n: number): number[] {
  const out = new Array<number>(m * n).fill(0);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) out[i * n + j] += a[i * k + p] * b[p * n + j];
  return out;
}

/** a [m, k] times b^T for b [n, k]. */
export function matmulT(a: number[], b: number[], m: number, k: number, n: number): number[] {
  const out = new Array<number>(m * n).fill(0);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let p = 0; p < k; p++) s += a[i * k + p] * b[j * k + p];
    out[i * n + j] = s;
  }
  return out;
}

export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** checkGrads on f at the inputs (float64), first order both modes; throws with details on failure. */
export function gradCheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: { order?: 1 | 2; atol?: number; rtol?: number } = {}): void {
  const report = kiln.checkGrads(f, inputs, { order: opts.order ?? 1, atol: opts.atol ?? 1e-6, rtol: opts.rtol ?? 1e-4, raise: false });
  if (!report.ok) expect.fail(`checkGrads failed: ${JSON.stringify(report.worst)}`);
}

/** Runs Adam training steps of an RNN (sum of its output as the loss) and checks that once the
 * first step has made the optimizer's state, later steps leave no tensors behind. */
export function expectRnnStepsLeakNothing(m: { forward(x: Tensor): [Tensor, ...unknown[]]; parameters(): Tensor[] }, xs: Tensor): void {
  const opt = new kiln.optim.Adam(m.parameters());
  const step = () => kiln.tidy(() => {
    opt.zeroGrad();
    m.forward(xs)[0].sum().backward();
    opt.step();
  });
  step();
  const before = kiln.memory().tensors;
  for (let i = 0; i < 5; i++) step();
  expect(kiln.memory().tensors).toBe(before);
}
