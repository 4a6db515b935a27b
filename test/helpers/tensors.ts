// Bridges between the oracle (test/helpers/oracle.ts) and kiln tensors: build kiln tensors with a
// chosen memory layout holding known values, and compare kiln results against oracle arrays.
import { expect } from 'vitest';

import * as kiln from '../../lib/index.js';
import { Arr, type CloseOpts, type DType, assertClose, flip, numel, permute } from './oracle.js';

export type Tensor = kiln.Tensor;

export const DTYPES: DType[] = ['float32', 'float64', 'int32', 'bool'];
export const FLOAT_DTYPES: DType[] = ['float32', 'float64'];
export const NUMERIC_DTYPES: DType[] = ['float32', 'float64', 'int32'];

/**
 * How the test tensor's elements sit in memory. Every layout holds the same logical values;
 * only 'contiguous' is a plain buffer.
 * - permuted: a transposed buffer viewed through permute (rank >= 2; else a step slice)
 * - strided:  every other element of a larger buffer (slice with step 2 on every dim)
 * - flipped:  negative strides on every dim (flip)
 * - offset:   a contiguous view that starts inside its storage (select on a leading dim)
 */
export type LayoutKind = 'contiguous' | 'permuted' | 'strided' | 'flipped' | 'offset';
export const LAYOUTS: LayoutKind[] = ['contiguous', 'permuted', 'strided', 'flipped', 'offset'];

export function typedArrayFor(dtype: DType, data: readonly number[]): Float32Array | Float64Array | Int32Array | Uint8Array {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(data);
    case 'float64':
      return Float64Array.from(data);
    case 'int32':
      return Int32Array.from(data);
    case 'bool':
      return Uint8Array.from(data.map((v) => (v !== 0 ? 1 : 0)));
  }
}

/** A contiguous kiln tensor holding `a` (built from a typed array, so empty dims survive). */
export function contiguous(a: Arr, dtype: DType): Tensor {
  return kiln.tensor(typedArrayFor(dtype, a.data), { dtype, shape: [...a.shape] });
}

const SENTINEL: Record<DType, number> = { float32: 1234.5, float64: -4321.25, int32: 777, bool: 1 };

/** A kiln tensor with the logical values of `a`, laid out as `kind`. */
export function make(a: Arr, dtype: DType, kind: LayoutKind = 'contiguous'): Tensor {
  const rank = a.ndim;
  if (kind === 'contiguous' || rank === 0) return contiguous(a, dtype);
  if (kind === 'permuted' && rank >= 2) {
    const perm = a.shape.map((_, i) => rank - 1 - i); // reversed dims: its own inverse
    return contiguous(permute(a, perm), dtype).permute(...perm);
  }
  if (kind === 'permuted' || kind === 'strided') {
    // Embed a at odd positions of a buffer of size 2n+1 per dim, garbage elsewhere.
    const bigShape = a.shape.map((s) => 2 * s + 1);
    const big = new Arr(bigShape, new Array(numel(bigShape)).fill(SENTINEL[dtype]));
    const bigStrides = contiguousStridesOf(bigShape);
    for (let i = 0; i < a.data.length; i++) {
      const idx = unravelLocal(i, a.shape);
      let o = 0;
      for (let d = 0; d < rank; d++) o += (2 * idx[d] + 1) * bigStrides[d];
      big.data[o] = a.data[i];
    }
    let t = contiguous(big, dtype);
    for (let d = 0; d < rank; d++) t = t.slice(d, 1, undefined, 2);
    return t;
  }
  if (kind === 'flipped') {
    const dims = a.shape.map((_, i) => i);
    return contiguous(flip(a, dims), dtype).flip(...dims);
  }
  // offset: the values live in the second slab of a [2, ...shape] buffer
  const big = new Arr([2, ...a.shape], [...new Array(a.data.length).fill(SENTINEL[dtype]), ...a.data]);
  return contiguous(big, dtype).select(0, 1);
}

function contiguousStridesOf(shape: number[]): number[] {
  const s: number[] = [];
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}
function unravelLocal(i: number, shape: number[]): number[] {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

/** The tensor's values in logical order as JS numbers (bools as 0/1). */
export function values(t: Tensor): number[] {
  return Array.from(t.dataSync() as ArrayLike<number>, Number);
}

/** Default comparison tolerances for results of simple (correctly rounded) arithmetic. */
export function tol(dtype: DType, kind: 'exact' | 'transcendental' = 'exact'): CloseOpts {
  if (dtype === 'int32' || dtype === 'bool') return { rtol: 0, atol: 0 };
  if (dtype === 'float32') return kind === 'exact' ? { rtol: 1e-6, atol: 1e-30 } : { rtol: 2e-5, atol: 1e-6 };
  return kind === 'exact' ? { rtol: 1e-14, atol: 1e-300 } : { rtol: 1e-12, atol: 1e-14 };
}

/** Asserts shape, dtype (when given) and values of a kiln tensor against an oracle array. */
export function expectTensor(t: Tensor, expected: Arr, opts: CloseOpts & { dtype?: DType } = {}, label = ''): void {
  expect(t.shape, `${label} shape`).toEqual(expected.shape);
  const dtype = opts.dtype ?? (t.dtype as DType);
  if (opts.dtype) expect(t.dtype, `${label} dtype`).toBe(opts.dtype);
  const o = opts.rtol !== undefined || opts.atol !== undefined ? opts : { ...tol(dtype), ...opts };
  assertClose(values(t), expected.data, o, label);
}

/** Asserts that fn throws an instance of the given kiln error class whose message matches. */
export function expectError(fn: () => unknown, cls: abstract new (...a: never[]) => Error, msg?: RegExp | string): Error {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a thrown error').toBeDefined();
  expect(err, `expected ${cls.name}, got ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`).toBeInstanceOf(cls);
  expect(err, 'kiln errors extend KilnError').toBeInstanceOf(kiln.KilnError);
  if (msg !== undefined) expect((err as Error).message).toMatch(msg);
  return err as Error;
}
