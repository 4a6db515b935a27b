// View primitives: new shape/strides/offset over the same storage, computed in TS. All linear.
import { IndexError, ShapeError, shapeStr } from '../errors.js';
import { checkShape, inferShape, normDim, normDims, numel, viewStrides } from '../tensor/shape.js';
import type { Dims, Tensor } from '../tensor/tensor.js';
import { contiguous } from './copy.js';
import { pad } from './indexing.js';
import { sum } from './reduce.js';
import { bind, definePrimitive, type Primitive } from './primitive.js';

/** Reinterprets the elements under a new shape; the input must be viewable as it. */
export const viewP = definePrimitive<{ shape: readonly number[] }>({
  name: 'view',
  linear: true,
  saves: 'none',
  vjp: ({ inputShapes: [shape] }) => (g) => [reshape(g, shape)],
  impl: ([x], { shape }) => {
    const strides = viewStrides(x.shape, x.strides, shape);
    if (!strides) {
      throw new ShapeError(`view: shape ${shapeStr(shape)} is not compatible with the input's size and strides ` +
        `(shape ${shapeStr(x.shape)}, strides ${shapeStr(x.strides)}); use reshape() to copy`);
    }
    return x.asView(shape, strides, x.offset);
  },
});

export const permuteP: Primitive<{ dims: readonly number[] }> = definePrimitive<{ dims: readonly number[] }>({
  name: 'permute',
  linear: true,
  saves: 'none',
  vjp: ({ attrs: { dims } }) => (g) => {
    const inverse = new Array<number>(dims.length);
    dims.forEach((d, i) => (inverse[d] = i));
    return [bind(permuteP, [g], { dims: inverse })];
  },
  impl: ([x], { dims }) => x.asView(dims.map((d) => x.shape[d]), dims.map((d) => x.strides[d]), x.offset),
});

/** Broadcasts size-1 dims (stride 0) and prepends new leading dims. */
export const expandP = definePrimitive<{ shape: readonly number[] }>({
  name: 'expand',
  linear: true,
  saves: 'none',
  // Every broadcast's gradient is reduced here: sum over the new leading dims and the size-1 dims.
  vjp: ({ inputShapes: [shape] }) => (g) => [sumToShape(g, shape)],
  impl: ([x], { shape }) => {
    const lead = shape.length - x.ndim;
    const strides = shape.map((s, i) => (i < lead || x.shape[i - lead] !== s ? 0 : x.strides[i - lead]));
    return x.asView(shape, strides, x.offset);
  },
});

/** Elements start, start+step, ... < end along dim (normalized, in range, step > 0). */
export const sliceP = definePrimitive<{ dim: number; start: number; end: number; step: number }>({
  name: 'slice',
  linear: true,
  saves: 'none',
  vjp: ({ inputShapes: [shape], attrs }) => (g) => [unslice(g, shape, attrs)],
  impl: ([x], { dim, start, end, step }) => {
    const shape = [...x.shape];
    const strides = [...x.strides];
    shape[dim] = Math.max(0, Math.ceil((end - start) / step));
    strides[dim] = x.strides[dim] * step;
    return x.asView(shape, strides, shape[dim] === 0 ? x.offset : x.offset + start * x.strides[dim]);
  },
});

/** Reverses the listed dims with negative strides. */
export const flipP: Primitive<{ dims: readonly number[] }> = definePrimitive<{ dims: readonly number[] }>({
  name: 'flip',
  linear: true,
  saves: 'none',
  vjp: ({ attrs }) => (g) => [bind(flipP, [g], attrs)],
  impl: ([x], { dims }) => {
    const strides = [...x.strides];
    let offset = x.offset;
    for (const d of dims) {
      if (x.shape[d] === 0) continue;
      offset += (x.shape[d] - 1) * x.strides[d];
      strides[d] = -strides[d];
    }
    return x.asView(x.shape, strides, offset);
  },
});

/** A second tensor object over the same view (so disposing one leaves the other intact). */
export const aliasP = definePrimitive<undefined>({
  name: 'alias',
  linear: true,
  saves: 'none',
  vjp: () => (g) => [g],
  impl: ([x]) => x.asView(x.shape, x.strides, x.offset),
});

/** Same data, cut off from autodiff: the derivative is zero. */
export const detachP = definePrimitive<undefined>({
  name: 'detach',
  nondifferentiable: true,
  impl: ([x]) => x.asView(x.shape, x.strides, x.offset),
});

/** Sums g (a broadcast of something shaped `shape`) back down to `shape`. */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  const lead = g.ndim - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < g.ndim; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i);
  if (dims.length === 0) return g;
  const summed = sum(g, dims, true);
  const out = reshape(summed, shape);
  if (out !== summed) summed.dispose();
  return out;
}

/**
 * The transpose of slice: g placed back at positions start, start+step, ... of a zero tensor
 * shaped like the input. Built from pad and reshape so it stays differentiable.
 */
function unslice(g: Tensor, shape: readonly number[], { dim, start, step }: { dim: number; start: number; step: number }): Tensor {
  const k = g.shape[dim];
  let spread = g;
  if (step > 1) {
    // Interleave step-1 zeros after every element along dim: [k, 1] -> pad -> [k, step] -> [k * step].
    const u = unsqueeze(g, dim + 1);
    const padded = pad(u, padSpec(u.ndim, dim + 1, 0, step - 1));
    spread = reshape(padded, [...g.shape.slice(0, dim), k * step, ...g.shape.slice(dim + 1)]);
  }
  const after = shape[dim] - start - spread.shape[dim];
  return pad(spread, padSpec(spread.ndim, dim, start, after));
}

/** A torch-style pad list (last dim first) that pads only `dim`. */
function padSpec(ndim: number, dim: number, before: number, after: number): number[] {
  const spec = new Array<number>(2 * (ndim - dim)).fill(0);
  spec[2 * (ndim - 1 - dim)] = before;
  spec[2 * (ndim - 1 - dim) + 1] = after;
  return spec;
}

export function alias(x: Tensor): Tensor {
  return bind(aliasP, [x], undefined);
}

export function detach(x: Tensor): Tensor {
  return bind(detachP, [x], undefined);
}

export function view(x: Tensor, shape: readonly number[]): Tensor {
  return bind(viewP, [x], { shape: inferShape(shape, x.numel(), 'view') });
}

/** view() when the strides allow it, otherwise a contiguous copy reshaped. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const target = inferShape(shape, x.numel(), 'reshape');
  if (viewStrides(x.shape, x.strides, target)) return bind(viewP, [x], { shape: target });
  const c = contiguous(x);
  const out = bind(viewP, [c], { shape: target });
  c.dispose();
  return out;
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== x.ndim) throw new ShapeError(`permute: got ${dims.length} dims for a tensor of rank ${x.ndim}`);
  const norm = dims.map((d) => normDim(d, x.ndim, 'permute'));
  if (new Set(norm).size !== norm.length) throw new IndexError(`permute: repeated dim in ${shapeStr(dims)}`);
  return bind(permuteP, [x], { dims: norm });
}

export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const dims = x.shape.map((_, i) => i);
  const a = normDim(dim0, x.ndim, 'transpose');
  const b = normDim(dim1, x.ndim, 'transpose');
  [dims[a], dims[b]] = [dims[b], dims[a]];
  return bind(permuteP, [x], { dims });
}

export function t(x: Tensor): Tensor {
  if (x.ndim > 2) throw new ShapeError(`t: expects a tensor of rank <= 2, got ${shapeStr(x.shape)}; use transpose()`);
  return x.ndim < 2 ? alias(x) : transpose(x, 0, 1);
}

export function expand(x: Tensor, shape: readonly number[]): Tensor {
  if (shape.length < x.ndim) {
    throw new ShapeError(`expand: cannot expand ${shapeStr(x.shape)} to fewer dims ${shapeStr(shape)}`);
  }
  const lead = shape.length - x.ndim;
  const target = shape.map((s, i) => (s === -1 && i >= lead ? x.shape[i - lead] : s));
  checkShape(target, 'expand');
  for (let i = lead; i < target.length; i++) {
    const have = x.shape[i - lead];
    if (have !== target[i] && have !== 1) {
      throw new ShapeError(`expand: cannot expand ${shapeStr(x.shape)} to ${shapeStr(shape)} (dim ${i}: ${have} vs ${target[i]})`);
    }
  }
  if (target.length === x.ndim && target.every((s, i) => s === x.shape[i])) return alias(x);
  return bind(expandP, [x], { shape: target });
}

/** Python-style slice: negative indices count from the end, out-of-range bounds clamp. */
export function slice(x: Tensor, dim: number, start?: number, end?: number, step = 1): Tensor {
  const d = normDim(dim, x.ndim, 'slice');
  const n = x.shape[d];
  if (!Number.isInteger(step) || step <= 0) throw new IndexError(`slice: step must be a positive integer, got ${step}`);
  const clampIndex = (v: number | undefined, dflt: number) => {
    if (v === undefined || v === null) return dflt;
    if (!Number.isInteger(v)) throw new IndexError(`slice: indices must be integers, got ${v}`);
    const r = v < 0 ? v + n : v;
    return Math.min(Math.max(r, 0), n);
  };
  const s = clampIndex(start, 0);
  const e = Math.max(clampIndex(end, n), s);
  return bind(sliceP, [x], { dim: d, start: s, end: e, step });
}

export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const d = normDim(dim, x.ndim, 'narrow');
  const s = start < 0 ? start + x.shape[d] : start;
  if (!Number.isInteger(s) || !Number.isInteger(length) || s < 0 || length < 0 || s + length > x.shape[d]) {
    throw new IndexError(`narrow: start ${start} and length ${length} out of range for dim ${d} of size ${x.shape[d]}`);
  }
  return bind(sliceP, [x], { dim: d, start: s, end: s + length, step: 1 });
}

export function select(x: Tensor, dim: number, index: number): Tensor {
  const d = normDim(dim, x.ndim, 'select');
  const n = x.shape[d];
  const i = index < 0 ? index + n : index;
  if (!Number.isInteger(i) || i < 0 || i >= n) {
    throw new IndexError(`select: index ${index} out of range for dim ${d} of size ${n}`);
  }
  const s = bind(sliceP, [x], { dim: d, start: i, end: i + 1, step: 1 });
  const out = view(s, x.shape.filter((_, k) => k !== d));
  s.dispose();
  return out;
}

export function squeeze(x: Tensor, dims?: Dims): Tensor {
  const drop = new Set(dims === undefined ? x.shape.flatMap((s, i) => (s === 1 ? [i] : [])) : normDims(dims, x.ndim, 'squeeze'));
  return view(x, x.shape.filter((s, i) => !(drop.has(i) && s === 1)));
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normDim(dim, x.ndim, 'unsqueeze', 1);
  const shape = [...x.shape];
  shape.splice(d, 0, 1);
  return view(x, shape);
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normDim(startDim, x.ndim, 'flatten');
  const e = normDim(endDim, x.ndim, 'flatten');
  if (s > e) throw new IndexError(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  const shape = [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

export function flip(x: Tensor, dims: readonly number[]): Tensor {
  return bind(flipP, [x], { dims: normDims(dims, x.ndim, 'flip') });
}
