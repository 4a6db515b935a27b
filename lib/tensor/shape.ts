// Shape and stride arithmetic shared by views and ops. Pure functions over number arrays.
import { IndexError, ShapeError, shapeStr } from '../errors.js';

export const MAX_DIMS = 16;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function isContiguous(shape: readonly number[], strides: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

/** Validates a user-given shape: integers >= 0, at most MAX_DIMS dims. */
export function checkShape(shape: readonly number[], op: string): number[] {
  if (!Array.isArray(shape)) throw new ShapeError(`${op}: shape must be an array of integers, got ${String(shape)}`);
  if (shape.length > MAX_DIMS) throw new ShapeError(`${op}: at most ${MAX_DIMS} dims are supported, got ${shape.length}`);
  for (const s of shape) {
    if (!Number.isSafeInteger(s) || s < 0) throw new ShapeError(`${op}: invalid shape ${shapeStr(shape)} (sizes must be integers >= 0)`);
  }
  if (numel(shape) > 2 ** 48) throw new ShapeError(`${op}: shape ${shapeStr(shape)} has too many elements`);
  return [...shape];
}

/** Normalizes a possibly negative dim for a tensor of rank `ndim` (or ndim+1 with `extra`). */
export function normDim(dim: number, ndim: number, op: string, extra = 0): number {
  const n = ndim + extra;
  if (!Number.isInteger(dim) || dim < -Math.max(n, 1) || dim >= Math.max(n, 1)) {
    throw new IndexError(`${op}: dim ${dim} out of range for a tensor of rank ${ndim}`);
  }
  return dim < 0 ? dim + Math.max(n, 1) : dim;
}

export function normDims(dims: number | readonly number[] | undefined, ndim: number, op: string): number[] {
  if (dims === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof dims === 'number' ? [dims] : [...dims];
  const out = list.map((d) => normDim(d, ndim, op));
  if (new Set(out).size !== out.length) throw new IndexError(`${op}: repeated dim in ${shapeStr(list)}`);
  return out.sort((a, b) => a - b);
}

/** NumPy/PyTorch broadcasting of two shapes. */
export function broadcastShapes(a: readonly number[], b: readonly number[], op: string): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) {
      throw new ShapeError(`${op}: shapes ${shapeStr(a)} and ${shapeStr(b)} cannot be broadcast (dim ${i}: ${x} vs ${y})`);
    }
    out[i] = x === 1 ? y : x;
  }
  return out;
}

/** Resolves one -1 in a reshape target. */
export function inferShape(shape: readonly number[], total: number, op: string): number[] {
  const out = [...shape];
  let infer = -1;
  let known = 1;
  for (let i = 0; i < out.length; i++) {
    if (out[i] === -1) {
      if (infer >= 0) throw new ShapeError(`${op}: only one dimension can be -1, got ${shapeStr(shape)}`);
      infer = i;
    } else {
      if (!Number.isSafeInteger(out[i]) || out[i] < 0) throw new ShapeError(`${op}: invalid shape ${shapeStr(shape)}`);
      known *= out[i];
    }
  }
  if (infer >= 0) {
    if (known === 0 || total % known !== 0) {
      throw new ShapeError(`${op}: cannot reshape ${total} elements into ${shapeStr(shape)}`);
    }
    out[infer] = total / known;
  }
  if (numel(out) !== total) throw new ShapeError(`${op}: cannot reshape ${total} elements into ${shapeStr(shape)}`);
  return checkShape(out, op);
}

/**
 * Strides for viewing (shape, strides) as `target` without copying, or null when impossible
 * (PyTorch's computeStride: split/merge runs of dims that are contiguous with each other).
 */
export function viewStrides(shape: readonly number[], strides: readonly number[], target: readonly number[]): number[] | null {
  const total = numel(shape);
  const out = new Array<number>(target.length);
  if (total === 0 || shape.length === 0) return contiguousStrides(target);
  let viewD = target.length - 1;
  let chunkBase = strides[strides.length - 1] ?? 1;
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    tensorNumel *= shape[d];
    if (d === 0 || (shape[d - 1] !== 1 && strides[d - 1] !== tensorNumel * chunkBase)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || target[viewD] === 1)) {
        out[viewD] = viewNumel * chunkBase;
        viewNumel *= target[viewD];
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (d > 0) {
        chunkBase = strides[d - 1];
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  if (viewD !== -1) return null;
  return out;
}
