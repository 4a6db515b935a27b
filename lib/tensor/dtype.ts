// Element types, their native codes (mirroring native/core/dtype.h) and promotion rules.
import { DTypeError } from '../errors.js';

export type DType = 'float32' | 'float64' | 'int32' | 'bool';

export const dtypeCode: Record<DType, number> = { float32: 0, float64: 1, int32: 2, bool: 3 };
export const dtypeSize: Record<DType, number> = { float32: 4, float64: 8, int32: 4, bool: 1 };

export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int32'
      ? Int32Array
      : Uint8Array;
export type AnyTypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export const typedArrayCtor = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  bool: Uint8Array,
} as const;

export function isFloating(d: DType): boolean {
  return d === 'float32' || d === 'float64';
}

export function checkDType(d: unknown, op: string): DType {
  if (d === 'float32' || d === 'float64' || d === 'int32' || d === 'bool') return d;
  throw new DTypeError(`${op}: unknown dtype ${String(d)} (expected float32, float64, int32 or bool)`);
}

const rank: Record<DType, number> = { bool: 0, int32: 1, float32: 2, float64: 3 };

/** The dtype two tensors are computed in: bool < int32 < float32 < float64 (PyTorch order). */
export function promoteTypes(a: DType, b: DType): DType {
  return rank[a] >= rank[b] ? a : b;
}

/**
 * The dtype of `tensor op number`. A JS number never widens a float tensor (x32 + 1.5 stays
 * float32); it lifts bool/int32 to int32 when it is an integer, else to float32.
 */
export function promoteWithScalar(t: DType, value: number | boolean): DType {
  if (typeof value === 'boolean') return t;
  if (isFloating(t)) return t;
  return Number.isInteger(value) ? 'int32' : 'float32';
}

/** The float dtype an op like exp or mean computes in: floats stay, the rest become float32. */
export function toFloating(d: DType): DType {
  return isFloating(d) ? d : 'float32';
}
