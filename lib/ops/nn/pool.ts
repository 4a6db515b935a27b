// Pooling. Max pooling is a native argmax kernel (which element of each window is the maximum,
// a nondifferentiable int32 output) followed by a gather of those elements, so its derivatives
// are gather's: the gradient is scattered to the argmax positions, to any order. Average
// pooling is linear: a primitive whose VJP is its adjoint (the window mean spread back), and the
// adjoint's VJP is average pooling again.
import { opIds } from '../../backend/native.js';
import { DTypeError, KilnError, ShapeError, shapeStr } from '../../errors.js';
import { isFloating } from '../../tensor/dtype.js';
import { tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import { gather } from '../indexing.js';
import { runKernel1 } from '../kernel.js';
import { bind, definePrimitive, type Primitive } from '../primitive.js';
import { reshape, squeeze, unsqueeze } from '../views.js';
import { tuple, type IntOrTuple } from './conv.js';

/** Windows over the spatial dims of x [N, C, *inSize] giving y [N, C, *outSize]. */
export interface PoolGeometry {
  /** Window o covers [floor(o·in/out), ceil((o+1)·in/out)); the four lists below are then unused. */
  readonly adaptive: boolean;
  readonly kernel: readonly number[];
  readonly stride: readonly number[];
  readonly padding: readonly number[];
  readonly dilation: readonly number[];
  /** Average pooling: whether padding counts in the divisor. */
  readonly countIncludePad: boolean;
  /** Average pooling: a fixed divisor when > 0. */
  readonly divisor: number;
  readonly inSize: readonly number[];
  readonly outSize: readonly number[];
}

function nativeAttrs(g: PoolGeometry): number[] {
  return [g.inSize.length, g.adaptive ? 1 : 0, ...g.kernel, ...g.stride, ...g.padding, ...g.dilation,
    g.countIncludePad ? 1 : 0, g.divisor];
}

/** For each window, the flat position (within the spatial dims) of its first maximum; int32. */
export const maxPoolIndicesP = definePrimitive<PoolGeometry>({
  name: 'maxPoolIndices',
  nondifferentiable: true,
  impl: ([x], g) => runKernel1('maxPoolIndices', { shape: [x.shape[0], x.shape[1], ...g.outSize], dtype: 'int32', device: x.device }, [x], nativeAttrs(g)),
});

/**
 * y = the maximum of each window of x, one kernel. Its reverse rule is maxPoolGrad, one
 * kernel that recomputes the argmax from x: nothing but x is kept for the backward pass, and
 * there is no gather pass nor zero fill. Forward-mode and higher-order rules gather at the
 * indices.
 */
export const maxPoolP: Primitive<PoolGeometry> = definePrimitive<PoolGeometry>({
  name: 'maxPool',
  saves: 'inputs',
  impl: ([x], g) => runKernel1('maxPool', { shape: [x.shape[0], x.shape[1], ...g.outSize], dtype: x.dtype, device: x.device }, [x], nativeAttrs(g)),
  vjp: ({ inputs: [x], attrs }) => (gy) => [bind(maxPoolGradP, [x, gy], attrs)],
  jvp: ({ inputs: [x], attrs }, [t]) => atArgmax(t!, x, attrs),
});

/** dx = max pooling's VJP at x for gy: gy added at each window's argmax. Linear in gy; x only picks. */
export const maxPoolGradP: Primitive<PoolGeometry> = definePrimitive<PoolGeometry>({
  name: 'maxPoolGrad',
  saves: 'inputs',
  impl: ([x, gy], g) => runKernel1('maxPoolGrad', { shape: x.shape, dtype: gy.dtype, device: x.device }, [x, gy], nativeAttrs(g)),
  vjp: ({ inputs: [x], attrs }) => (gg) => [null, atArgmax(gg, x, attrs)],
  jvp: ({ inputs: [x], attrs }, [, tg]) => (tg ? bind(maxPoolGradP, [x, tg], attrs) : null),
});

/** t (shaped like x) at the argmax of each window of x. */
function atArgmax(t: Tensor, x: Tensor, g: PoolGeometry): Tensor {
  const [n, c] = x.shape;
  const idx = bind(maxPoolIndicesP, [x], g);
  return reshape(gather(reshape(t, [n, c, -1]), 2, reshape(idx, [n, c, -1])), [n, c, ...g.outSize]);
}

/** y = the mean of each window of x. */
export const avgPoolP: Primitive<PoolGeometry> = definePrimitive<PoolGeometry>({
  name: 'avgPool',
  linear: true,
  saves: 'none',
  vjp: ({ attrs }) => (g) => [bind(avgPoolTransposeP, [g], attrs)],
  impl: ([x], g) => runKernel1('avgPool', { shape: [x.shape[0], x.shape[1], ...g.outSize], dtype: x.dtype, device: x.device }, [x], nativeAttrs(g)),
});

/** The adjoint of avgPool: each y[o] divided by its window's divisor and added over the window. */
export const avgPoolTransposeP: Primitive<PoolGeometry> = definePrimitive<PoolGeometry>({
  name: 'avgPoolTranspose',
  linear: true,
  saves: 'none',
  vjp: ({ attrs }) => (g) => [bind(avgPoolP, [g], attrs)],
  impl: ([y], g) => runKernel1('avgPoolTranspose', { shape: [y.shape[0], y.shape[1], ...g.inSize], dtype: y.dtype, device: y.device }, [y], nativeAttrs(g)),
});

// ------------------------------------------------------------------ functional API

export interface MaxPoolOptions {
  /** Defaults to the kernel size. */
  stride?: IntOrTuple | null;
  padding?: IntOrTuple;
  dilation?: IntOrTuple;
  ceilMode?: boolean;
}

export interface AvgPoolOptions {
  stride?: IntOrTuple | null;
  padding?: IntOrTuple;
  ceilMode?: boolean;
  countIncludePad?: boolean;
  divisorOverride?: number | null;
}

export type AdaptiveSize = number | readonly (number | null)[];

/** Output length of a window sliding over `size` (PyTorch's rule, including ceil mode). */
function outputLength(size: number, k: number, s: number, p: number, d: number, ceilMode: boolean): number {
  const span = size + 2 * p - d * (k - 1) - 1;
  if (span < 0) return 0;
  let n = (ceilMode ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  // The last window must start inside the input or its left padding.
  if (ceilMode && (n - 1) * s >= size + p) n--;
  return n;
}

function checkInput(op: string, x: Tensor, nd: number): void {
  if (x.ndim !== nd + 2) {
    throw new ShapeError(`${op}: expects an input [N, C, ${nd} spatial dims] or unbatched [C, ...], got ${shapeStr(x.shape)}`);
  }
  if (!isFloating(x.dtype)) throw new DTypeError(`${op}: expects a float tensor, got ${x.dtype}`);
}

function slidingGeometry(op: string, x: Tensor, nd: number, kernelSize: IntOrTuple, opts: MaxPoolOptions & AvgPoolOptions, avg: boolean): PoolGeometry {
  checkInput(op, x, nd);
  const kernel = tuple(kernelSize, nd, 'kernel size', op, 1);
  const stride = opts.stride === undefined || opts.stride === null ? kernel : tuple(opts.stride, nd, 'stride', op, 1);
  const padding = tuple(opts.padding ?? 0, nd, 'padding', op);
  const dilation = avg ? new Array<number>(nd).fill(1) : tuple(opts.dilation ?? 1, nd, 'dilation', op, 1);
  if (padding.some((p, d) => p > kernel[d] / 2)) {
    throw new KilnError(`${op}: padding ${shapeStr(padding)} must be at most half the kernel size ${shapeStr(kernel)}`);
  }
  const divisor = opts.divisorOverride ?? 0;
  if (!Number.isSafeInteger(divisor) || divisor < 0) throw new KilnError(`${op}: divisorOverride must be a positive integer, got ${divisor}`);
  const inSize = x.shape.slice(2);
  const outSize = inSize.map((s, d) => outputLength(s, kernel[d], stride[d], padding[d], dilation[d], opts.ceilMode ?? false));
  if (outSize.some((s) => s < 1)) {
    throw new ShapeError(`${op}: input ${shapeStr(x.shape)} is too small for kernel ${shapeStr(kernel)} ` +
      `(padding ${shapeStr(padding)}, dilation ${shapeStr(dilation)})`);
  }
  return { adaptive: false, kernel, stride, padding, dilation, countIncludePad: opts.countIncludePad ?? true, divisor, inSize, outSize };
}

function adaptiveGeometry(op: string, x: Tensor, nd: number, outputSize: AdaptiveSize): PoolGeometry {
  checkInput(op, x, nd);
  const inSize = x.shape.slice(2);
  const raw = typeof outputSize === 'number' ? new Array<number>(nd).fill(outputSize) : Array.isArray(outputSize) ? [...outputSize] : [];
  if (raw.length !== nd) throw new KilnError(`${op}: outputSize must be a number or ${nd} of them, got ${JSON.stringify(outputSize)}`);
  const outSize = raw.map((v, d) => (v === null || v === undefined ? inSize[d] : v));
  if (!outSize.every((v) => Number.isSafeInteger(v) && v >= 1)) {
    throw new KilnError(`${op}: output sizes must be positive integers, got ${JSON.stringify(outputSize)}`);
  }
  if (inSize.some((s) => s < 1)) throw new ShapeError(`${op}: input ${shapeStr(x.shape)} has an empty spatial dim`);
  const ones = new Array<number>(nd).fill(1);
  return { adaptive: true, kernel: ones, stride: ones, padding: new Array<number>(nd).fill(0), dilation: ones, countIncludePad: true, divisor: 0, inSize, outSize };
}

/** Runs f on a batched input, adding and removing the batch dim for an unbatched [C, ...] one. */
function batched<T extends Tensor | [Tensor, Tensor]>(x: Tensor, nd: number, f: (xb: Tensor) => T): T {
  if (x.ndim !== nd + 1) return f(x);
  return tidy(() => {
    const r = f(unsqueeze(x, 0));
    return (Array.isArray(r) ? r.map((t) => squeeze(t, 0)) : squeeze(r, 0)) as T;
  });
}

/** Values and argmax indices (flat positions within each input plane, like PyTorch's return_indices). */
function maxPoolWith(x: Tensor, g: PoolGeometry): [Tensor, Tensor] {
  return tidy(() => {
    const [n, c] = x.shape;
    const idx = bind(maxPoolIndicesP, [x], g);
    const flat = reshape(x, [n, c, -1]);
    const values = gather(flat, 2, reshape(idx, [n, c, -1]));
    return [reshape(values, [n, c, ...g.outSize]), idx];
  });
}

function maxPoolNd(op: string, nd: number, x: Tensor, kernelSize: IntOrTuple, opts: MaxPoolOptions): [Tensor, Tensor] {
  return batched(x, nd, (xb) => maxPoolWith(xb, slidingGeometry(op, xb, nd, kernelSize, opts, false)));
}

/** The values alone: one kernel (maxPoolP, CPU and CUDA), else the indices and a gather. */
function maxPoolValues(op: string, nd: number, x: Tensor, kernelSize: IntOrTuple, opts: MaxPoolOptions): Tensor {
  if (!isFloating(x.dtype) || opIds.maxPool === undefined) return first(maxPoolNd(op, nd, x, kernelSize, opts));
  return batched(x, nd, (xb) => bind(maxPoolP, [xb], slidingGeometry(op, xb, nd, kernelSize, opts, false)));
}

export function maxPool1d(x: Tensor, kernelSize: IntOrTuple, opts: MaxPoolOptions = {}): Tensor {
  return maxPoolValues('maxPool1d', 1, x, kernelSize, opts);
}
export function maxPool2d(x: Tensor, kernelSize: IntOrTuple, opts: MaxPoolOptions = {}): Tensor {
  return maxPoolValues('maxPool2d', 2, x, kernelSize, opts);
}
export function maxPool3d(x: Tensor, kernelSize: IntOrTuple, opts: MaxPoolOptions = {}): Tensor {
  return maxPoolValues('maxPool3d', 3, x, kernelSize, opts);
}
/** [values, indices]: indices (int32) are flat positions within each input plane. */
export function maxPool1dWithIndices(x: Tensor, kernelSize: IntOrTuple, opts: MaxPoolOptions = {}): [Tensor, Tensor] {
  return maxPoolNd('maxPool1d', 1, x, kernelSize, opts);
}
export function maxPool2dWithIndices(x: Tensor, kernelSize: IntOrTuple, opts: MaxPoolOptions = {}): [Tensor, Tensor] {
  return maxPoolNd('maxPool2d', 2, x, kernelSize, opts);
}
export function maxPool3dWithIndices(x: Tensor, kernelSize: IntOrTuple, opts: MaxPoolOptions = {}): [Tensor, Tensor] {
  return maxPoolNd('maxPool3d', 3, x, kernelSize, opts);
}

function adaptiveMaxPoolNd(op: string, nd: number, x: Tensor, outputSize: AdaptiveSize): [Tensor, Tensor] {
  return batched(x, nd, (xb) => maxPoolWith(xb, adaptiveGeometry(op, xb, nd, outputSize)));
}
export function adaptiveMaxPool1d(x: Tensor, outputSize: AdaptiveSize): Tensor {
  return first(adaptiveMaxPoolNd('adaptiveMaxPool1d', 1, x, outputSize));
}
export function adaptiveMaxPool2d(x: Tensor, outputSize: AdaptiveSize): Tensor {
  return first(adaptiveMaxPoolNd('adaptiveMaxPool2d', 2, x, outputSize));
}
export function adaptiveMaxPool2dWithIndices(x: Tensor, outputSize: AdaptiveSize): [Tensor, Tensor] {
  return adaptiveMaxPoolNd('adaptiveMaxPool2d', 2, x, outputSize);
}

/** The first of a [values, indices] pair, disposing the indices. */
function first([values, indices]: [Tensor, Tensor]): Tensor {
  indices.dispose();
  return values;
}

function avgPoolNd(op: string, nd: number, x: Tensor, kernelSize: IntOrTuple, opts: AvgPoolOptions): Tensor {
  return batched(x, nd, (xb) => bind(avgPoolP, [xb], slidingGeometry(op, xb, nd, kernelSize, opts, true)));
}
export function avgPool1d(x: Tensor, kernelSize: IntOrTuple, opts: AvgPoolOptions = {}): Tensor {
  return avgPoolNd('avgPool1d', 1, x, kernelSize, opts);
}
export function avgPool2d(x: Tensor, kernelSize: IntOrTuple, opts: AvgPoolOptions = {}): Tensor {
  return avgPoolNd('avgPool2d', 2, x, kernelSize, opts);
}
export function avgPool3d(x: Tensor, kernelSize: IntOrTuple, opts: AvgPoolOptions = {}): Tensor {
  return avgPoolNd('avgPool3d', 3, x, kernelSize, opts);
}

function adaptiveAvgPoolNd(op: string, nd: number, x: Tensor, outputSize: AdaptiveSize): Tensor {
  return batched(x, nd, (xb) => bind(avgPoolP, [xb], adaptiveGeometry(op, xb, nd, outputSize)));
}
export function adaptiveAvgPool1d(x: Tensor, outputSize: AdaptiveSize): Tensor {
  return adaptiveAvgPoolNd('adaptiveAvgPool1d', 1, x, outputSize);
}
export function adaptiveAvgPool2d(x: Tensor, outputSize: AdaptiveSize): Tensor {
  return adaptiveAvgPoolNd('adaptiveAvgPool2d', 2, x, outputSize);
}
export function adaptiveAvgPool3d(x: Tensor, outputSize: AdaptiveSize): Tensor {
  return adaptiveAvgPoolNd('adaptiveAvgPool3d', 3, x, outputSize);
}
