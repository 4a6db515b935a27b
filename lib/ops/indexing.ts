// Indexing primitives (gather, scatterAdd, indexSelect), padding and concatenation.
import { DeviceError, DTypeError, KilnError, ShapeError, shapeStr } from '../errors.js';
import { opIds } from '../backend/native.js';
import { isFloating, promoteTypes } from '../tensor/dtype.js';
import { tidy } from '../tensor/memory.js';
import { normDim } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { cast, contiguous } from './copy.js';
import { runInPlace, runKernel1 } from './kernel.js';
import { bind, definePrimitive, type Primitive } from './primitive.js';
import { expand, reshape, slice, unsqueeze } from './views.js';

/** out[i][j] = x[index[i][j]][j] for dim 0 (and likewise for other dims). */
export const gatherP: Primitive<{ dim: number }> = definePrimitive<{ dim: number }>({
  name: 'gather',
  saves: 'inputs',
  vjp: ({ inputs: [x, index], inputShapes: [shape], attrs: { dim } }) => (g) => [bind(scatterZerosP, [index, g], { dim, shape, }), null],
  jvp: ({ inputs: [, index], attrs }, [t]) => bind(gatherP, [t!, index], attrs),
  impl: ([x, index], { dim }) => runKernel1('gather', { shape: index.shape, dtype: x.dtype, device: x.device }, [x, index], [dim]),
});

/** A copy of x with out[index[i][j]][j] += src[i][j] for dim 0. */
export const scatterAddP: Primitive<{ dim: number }> = definePrimitive<{ dim: number }>({
  name: 'scatterAdd',
  saves: 'inputs',
  vjp: ({ inputs: [, index], attrs }) => (g) => [g, null, bind(gatherP, [g, index], attrs)],
  jvp: ({ inputs: [x, index, src], attrs }, [tx, , tsrc]) =>
    bind(scatterAddP, [tx ?? zerosOf(x), index, tsrc ?? zerosOf(src)], attrs),
  impl: ([x, index, src], { dim }) => {
    const out = contiguous(x);
    runInPlace('scatterAdd', out, [index, src], [dim]);
    return out;
  },
});

/**
 * scatterAdd into zeros of `shape` (the reverse rule of gather and indexSelect): the zeros are
 * filled and scattered into in place, without scatterAdd's copy of its input.
 */
export const scatterZerosP: Primitive<{ dim: number; shape: readonly number[] }> = definePrimitive<{ dim: number; shape: readonly number[] }>({
  name: 'scatterZeros',
  saves: 'inputs',
  vjp: ({ inputs: [index], attrs: { dim } }) => (g) => [null, bind(gatherP, [g, index], { dim })],
  jvp: ({ inputs: [index], attrs }, [, t]) => bind(scatterZerosP, [index, t!], attrs),
  impl: ([index, src], { dim, shape }) => {
    if (lastDimOfPlanes(index, src, dim, shape)) {
      return runKernel1('maxPoolBackward', { shape, dtype: src.dtype, device: src.device }, [src, index]);
    }
    const out = runKernel1('fill', { shape, dtype: src.dtype, device: src.device }, [], [0]);
    runInPlace('scatterAdd', out, [index, src], [dim]);
    return out;
  },
});

/**
 * Whether scatterZeros is the one-pass kernel for max pooling's gradient: along the last
 * dim of [N, C, L] planes, the index covering every plane (max pooling's reverse rule: the
 * gather of pooled values from [N, C, H*W]). That kernel zeroes each plane and scatters into it
 * while it is in cache, instead of a fill pass and a scatterAdd pass.
 */
function lastDimOfPlanes(index: Tensor, src: Tensor, dim: number, shape: readonly number[]): boolean {
  return isFloating(src.dtype) && opIds.maxPoolBackward !== undefined &&
    shape.length === 3 && dim === 2 && index.ndim === 3 && src.ndim === 3 &&
    index.shape[0] === shape[0] && index.shape[1] === shape[1] &&
    src.shape[0] === index.shape[0] && src.shape[1] === index.shape[1] && src.shape[2] === index.shape[2];
}

export const indexSelectP: Primitive<{ dim: number }> = definePrimitive<{ dim: number }>({
  name: 'indexSelect',
  saves: 'inputs',
  // The transpose of selecting rows is adding them back: a scatter-add with the index broadcast.
  vjp: ({ inputs: [, index], inputShapes: [xShape], attrs: { dim } }) => (g) => {
    const shape = g.shape.map((_, i) => (i === dim ? g.shape[dim] : 1));
    const idx = expand(reshape(index, shape), g.shape);
    return [bind(scatterZerosP, [idx, g], { dim, shape: xShape }), null];
  },
  jvp: ({ inputs: [, index], attrs }, [t]) => bind(indexSelectP, [t!, index], attrs),
  impl: ([x, index], { dim }) => {
    const shape = [...x.shape];
    shape[dim] = index.shape[0];
    return runKernel1('indexSelect', { shape, dtype: x.dtype, device: x.device }, [x, index], [dim]);
  },
});

/** Constant padding: `before[d]` and `after[d]` elements on each dim (all >= 0). */
type PadAttrs = { before: readonly number[]; after: readonly number[]; value: number };
export const padP: Primitive<PadAttrs> = definePrimitive<PadAttrs>({
  name: 'pad',
  saves: 'none',
  // Linear up to the constant: the tangent is padded with zeros, the cotangent cropped.
  vjp: ({ inputShapes: [shape], attrs: { before } }) => (g) => {
    let out = g;
    shape.forEach((n, d) => {
      if (g.shape[d] !== n) out = slice(out, d, before[d], before[d] + n);
    });
    return [out === g ? g : out];
  },
  jvp: ({ attrs }, [t]) => bind(padP, [t!], { ...attrs, value: 0 }),
  impl: ([x], { before, after, value }) => {
    const shape = x.shape.map((s, d) => s + before[d] + after[d]);
    return runKernel1('pad', { shape, dtype: x.dtype, device: x.device }, [x], [value, ...before]);
  },
});

/** Concatenation along dim of tensors with equal dtype and matching other dims. */
export const catP: Primitive<{ dim: number }> = definePrimitive<{ dim: number }>({
  name: 'cat',
  saves: 'none',
  vjp: ({ inputShapes, attrs: { dim } }) => (g) => {
    let start = 0;
    return inputShapes.map((shape) => {
      const part = slice(g, dim, start, start + shape[dim]);
      start += shape[dim];
      return part;
    });
  },
  jvp: ({ inputShapes, inputDTypes, attrs }, tangents) => {
    const device = tangents.find((t) => t)!.device;
    const filled = tangents.map((t, i) => t ?? runKernel1('fill', { shape: inputShapes[i], dtype: inputDTypes[i], device }, [], [0]));
    return bind(catP, filled, attrs);
  },
  impl: (xs, { dim }) => {
    const shape = [...xs[0].shape];
    shape[dim] = xs.reduce((n, x) => n + x.shape[dim], 0);
    // The copies below write every element: no fill first (one kernel less per cat).
    const out = runKernel1('empty', { shape, dtype: xs[0].dtype, device: xs[0].device }, []);
    let start = 0;
    for (const x of xs) {
      const part = slice(out, dim, start, start + x.shape[dim]);
      runInPlace('copy', part, [x]);
      part.dispose();
      start += x.shape[dim];
    }
    return out;
  },
});

function zerosOf(x: Tensor): Tensor {
  return runKernel1('fill', { shape: x.shape, dtype: x.dtype, device: x.device }, [], [0]);
}

function checkIndex(op: string, x: Tensor, index: Tensor): void {
  if (index.dtype !== 'int32') throw new DTypeError(`${op}: index must be int32, got ${index.dtype}`);
  if (index.device !== x.device) throw new DeviceError(`${op}: index is on ${index.device}, input on ${x.device}`);
}

export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  checkIndex('gather', x, index);
  const d = normDim(dim, x.ndim, 'gather');
  if (index.ndim !== x.ndim) {
    throw new ShapeError(`gather: index ${shapeStr(index.shape)} must have the same rank as the input ${shapeStr(x.shape)}`);
  }
  return bind(gatherP, [x, index], { dim: d });
}

export function scatterAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  checkIndex('scatterAdd', x, index);
  const d = normDim(dim, x.ndim, 'scatterAdd');
  if (index.ndim !== x.ndim || src.ndim !== x.ndim || index.shape.some((s, i) => s > src.shape[i])) {
    throw new ShapeError(`scatterAdd: index ${shapeStr(index.shape)}, src ${shapeStr(src.shape)} and input ` +
      `${shapeStr(x.shape)} must have equal rank, and index must fit inside src`);
  }
  return tidy(() => {
    // The kernel reads src at index's shape: take that window of src.
    let s = src.dtype === x.dtype ? src : cast(src, x.dtype);
    for (let i = 0; i < s.ndim; i++) if (s.shape[i] !== index.shape[i]) s = slice(s, i, 0, index.shape[i]);
    return bind(scatterAddP, [x, index, s], { dim: d });
  });
}

export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  checkIndex('indexSelect', x, index);
  if (index.ndim !== 1) throw new ShapeError(`indexSelect: index must be 1-D, got ${shapeStr(index.shape)}`);
  return bind(indexSelectP, [x, index], { dim: normDim(dim, x.ndim, 'indexSelect') });
}

/**
 * torch.nn.functional.pad order: `pads` pairs start from the last dim, [left, right, top, bottom, ...].
 * Negative amounts crop.
 */
export function pad(x: Tensor, pads: readonly number[], value = 0): Tensor {
  if (pads.length % 2 !== 0 || pads.length / 2 > x.ndim || !pads.every(Number.isInteger)) {
    throw new ShapeError(`pad: pads ${shapeStr(pads)} must be integer pairs for at most ${x.ndim} dims`);
  }
  const before = x.shape.map(() => 0);
  const after = x.shape.map(() => 0);
  for (let i = 0; i < pads.length / 2; i++) {
    const d = x.ndim - 1 - i;
    before[d] = pads[2 * i];
    after[d] = pads[2 * i + 1];
    if (x.shape[d] + before[d] + after[d] < 0) {
      throw new ShapeError(`pad: padding ${shapeStr(pads)} makes dim ${d} of ${shapeStr(x.shape)} negative`);
    }
  }
  return tidy(() => {
    let input = x;
    for (let d = 0; d < x.ndim; d++) {
      if (before[d] < 0 || after[d] < 0) {
        input = slice(input, d, Math.max(0, -before[d]), input.shape[d] - Math.max(0, -after[d]));
      }
    }
    return bind(padP, [input], { before: before.map((v) => Math.max(0, v)), after: after.map((v) => Math.max(0, v)), value });
  });
}

export function cat(xs: readonly Tensor[], dim = 0): Tensor {
  if (!xs || typeof xs.length !== 'number' || xs.length === 0) throw new KilnError('cat: expects a non-empty array of tensors');
  const ref = xs[0];
  const d = normDim(dim, ref.ndim, 'cat');
  let dtype = ref.dtype;
  for (const x of xs) {
    if (x.device !== ref.device) throw new DeviceError(`cat: tensors are on different devices (${ref.device} and ${x.device})`);
    if (x.ndim !== ref.ndim || x.shape.some((s, i) => i !== d && s !== ref.shape[i])) {
      throw new ShapeError(`cat: shapes ${shapeStr(ref.shape)} and ${shapeStr(x.shape)} differ outside dim ${d}`);
    }
    dtype = promoteTypes(dtype, x.dtype);
  }
  return tidy(() => bind(catP, xs.map((x) => (x.dtype === dtype ? x : cast(x, dtype))), { dim: d }));
}

export function stack(xs: readonly Tensor[], dim = 0): Tensor {
  if (!xs || typeof xs.length !== 'number' || xs.length === 0) throw new KilnError('stack: expects a non-empty array of tensors');
  const d = normDim(dim, xs[0].ndim, 'stack', 1);
  for (const x of xs) {
    if (x.ndim !== xs[0].ndim || x.shape.some((s, i) => s !== xs[0].shape[i])) {
      throw new ShapeError(`stack: all tensors must have the same shape, got ${shapeStr(xs[0].shape)} and ${shapeStr(x.shape)}`);
    }
  }
  return tidy(() => cat(xs.map((x) => unsqueeze(x, d)), d));
}

