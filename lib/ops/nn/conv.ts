// Convolution primitives and the functional convolutions built on them.
//
// conv, convTranspose and convWeightGrad are the three partial derivatives of one trilinear form
//   T(x, w, y) = Σ y[n, co, o] · w[co, ci, k] · x[n, ci, o·stride − pad + k·dilation]
// (per group; positions outside x count as zero), so the derivative rules of each are the other
// two and convolutions differentiate to any order:
//   conv(x, w)            = ∂T/∂y     VJP: (convTranspose(g, w), convWeightGrad(x, g))
//   convTranspose(y, w)   = ∂T/∂x     VJP: (conv(g, w),          convWeightGrad(g, y))
//   convWeightGrad(x, y)  = ∂T/∂w     VJP: (convTranspose(y, g), conv(x, g))
// Each is bilinear, so its JVP is the sum of the primitive applied with one tangent at a time.
import { DeviceError, DTypeError, KilnError, ShapeError, shapeStr } from '../../errors.js';
import { isFloating, promoteTypes } from '../../tensor/dtype.js';
import { tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import { cast } from '../copy.js';
import { add } from '../elementwise.js';
import { runKernel1 } from '../kernel.js';
import { bind, definePrimitive, type Primitive } from '../primitive.js';
import { sum } from '../reduce.js';
import { expand, reshape, squeeze, unsqueeze } from '../views.js';

/** Geometry shared by the three primitives; the sizes are the spatial extents of x, w and y. */
export interface ConvGeometry {
  readonly stride: readonly number[];
  /** Zeros before each spatial dim of x (those after are implied by outSize). */
  readonly padding: readonly number[];
  readonly dilation: readonly number[];
  readonly groups: number;
  readonly inSize: readonly number[];
  readonly kernelSize: readonly number[];
  readonly outSize: readonly number[];
}

function nativeAttrs(g: ConvGeometry): number[] {
  return [g.stride.length, ...g.stride, ...g.padding, ...g.dilation, g.groups];
}

/** The sum of the terms that are present (a bilinear JVP with some zero tangents). */
function sumTerms(terms: (Tensor | null)[]): Tensor | null {
  const present = terms.filter((t): t is Tensor => t !== null);
  if (present.length === 0) return null;
  return present.reduce((a, b) => add(a, b));
}

/** y = conv(x, w) (+ bias): x [N, Cin, *inSize], w [Cout, Cin/groups, *kernelSize], bias [Cout]. */
export const convP: Primitive<ConvGeometry> = definePrimitive<ConvGeometry>({
  name: 'conv',
  saves: 'inputs',
  vjp: ({ inputs: [x, w, b], attrs: g, needsGrad: [nx, nw, nb] }) => (gy) => {
    const grads: (Tensor | null)[] = [
      nx ? bind(convTransposeP, [gy, w], g) : null,
      nw ? bind(convWeightGradP, [x, gy], g) : null,
    ];
    if (b) grads.push(nb ? sum(gy, gy.shape.map((_, d) => d).filter((d) => d !== 1)) : null);
    return grads;
  },
  jvp: ({ inputs: [x, w, b], attrs: g }, [tx, tw, tb]) => {
    const terms = [tx ? bind(convP, [tx, w], g) : null, tw ? bind(convP, [x, tw], g) : null];
    if (b && tb) {
      const shape = [x.shape[0], w.shape[0], ...g.outSize];
      terms.push(expand(reshape(tb, [w.shape[0], ...g.outSize.map(() => 1)]), shape));
    }
    return sumTerms(terms);
  },
  impl: ([x, w, b], g) => {
    const shape = [x.shape[0], w.shape[0], ...g.outSize];
    return runKernel1(b ? 'convBias' : 'conv', { shape, dtype: x.dtype, device: x.device }, b ? [x, w, b] : [x, w], nativeAttrs(g));
  },
});

/** x = convTranspose(y, w): the adjoint of conv in x (its input gradient); x [N, w.shape[1]·groups, *inSize]. */
export const convTransposeP: Primitive<ConvGeometry> = definePrimitive<ConvGeometry>({
  name: 'convTranspose',
  saves: 'inputs',
  vjp: ({ inputs: [y, w], attrs: g, needsGrad: [ny, nw] }) => (gx) => [
    ny ? bind(convP, [gx, w], g) : null,
    nw ? bind(convWeightGradP, [gx, y], g) : null,
  ],
  jvp: ({ inputs: [y, w], attrs: g }, [ty, tw]) =>
    sumTerms([ty ? bind(convTransposeP, [ty, w], g) : null, tw ? bind(convTransposeP, [y, tw], g) : null]),
  impl: ([y, w], g) => {
    const shape = [y.shape[0], w.shape[1] * g.groups, ...g.inSize];
    return runKernel1('convTranspose', { shape, dtype: y.dtype, device: y.device }, [y, w], nativeAttrs(g));
  },
});

/** w = convWeightGrad(x, y): the adjoint of conv in w (its weight gradient); w [Cout, Cin/groups, *kernelSize]. */
export const convWeightGradP: Primitive<ConvGeometry> = definePrimitive<ConvGeometry>({
  name: 'convWeightGrad',
  saves: 'inputs',
  vjp: ({ inputs: [x, y], attrs: g, needsGrad: [nx, ny] }) => (gw) => [
    nx ? bind(convTransposeP, [y, gw], g) : null,
    ny ? bind(convP, [x, gw], g) : null,
  ],
  jvp: ({ inputs: [x, y], attrs: g }, [tx, ty]) =>
    sumTerms([tx ? bind(convWeightGradP, [tx, y], g) : null, ty ? bind(convWeightGradP, [x, ty], g) : null]),
  impl: ([x, y], g) => {
    const shape = [y.shape[1], x.shape[1] / g.groups, ...g.kernelSize];
    return runKernel1('convWeightGrad', { shape, dtype: x.dtype, device: x.device }, [x, y], nativeAttrs(g));
  },
});

// ------------------------------------------------------------------ functional API

export type IntOrTuple = number | readonly number[];
/**
 * Convolution padding: one size for every side, one per spatial dim (both sides), explicit
 * [before, after] pairs per spatial dim, or 'same' / 'valid' as in PyTorch.
 */
export type ConvPadding = IntOrTuple | readonly (readonly [number, number])[] | 'same' | 'valid';

export interface ConvOptions {
  stride?: IntOrTuple;
  padding?: ConvPadding;
  dilation?: IntOrTuple;
  groups?: number;
}

export interface ConvTransposeOptions {
  stride?: IntOrTuple;
  padding?: IntOrTuple;
  outputPadding?: IntOrTuple;
  dilation?: IntOrTuple;
  groups?: number;
}

/** n integers >= min from a number or a list of n. */
export function tuple(v: IntOrTuple, n: number, what: string, op: string, min = 0): number[] {
  const arr = typeof v === 'number' ? new Array<number>(n).fill(v) : Array.isArray(v) ? [...v] : [];
  if (arr.length !== n || !arr.every((x) => Number.isSafeInteger(x) && x >= min)) {
    throw new KilnError(`${op}: ${what} must be an integer >= ${min} or a list of ${n} of them, got ${JSON.stringify(v)}`);
  }
  return arr;
}

/** Promotes x, w (and bias) to one float dtype on one device; returns the operands to use. */
function convOperands(op: string, ts: (Tensor | null | undefined)[]): Tensor[] {
  const present = ts.filter((t): t is Tensor => !!t);
  const device = present[0].device;
  let dtype = present[0].dtype;
  for (const t of present) {
    if (t.device !== device) throw new DeviceError(`${op}: operands are on different devices (${device} and ${t.device})`);
    dtype = promoteTypes(dtype, t.dtype);
  }
  if (!isFloating(dtype)) throw new DTypeError(`${op}: expects float tensors, got ${present.map((t) => t.dtype).join(', ')}`);
  return present.map((t) => (t.dtype === dtype ? t : cast(t, dtype)));
}

function resolvePadding(op: string, padding: ConvPadding, nd: number, k: number[], stride: number[], dilation: number[]): [number[], number[]] {
  if (padding === 'valid') return [new Array<number>(nd).fill(0), new Array<number>(nd).fill(0)];
  if (padding === 'same') {
    if (stride.some((s) => s !== 1)) throw new KilnError(`${op}: padding 'same' needs stride 1, got ${shapeStr(stride)}`);
    // An odd total puts the extra element after, like PyTorch.
    const before = k.map((kk, d) => Math.floor((dilation[d] * (kk - 1)) / 2));
    return [before, k.map((kk, d) => dilation[d] * (kk - 1) - before[d])];
  }
  if (Array.isArray(padding) && padding.length > 0 && Array.isArray(padding[0])) {
    const pairs = padding as readonly (readonly number[])[];
    if (pairs.length !== nd || !pairs.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => Number.isSafeInteger(v) && v >= 0))) {
      throw new KilnError(`${op}: padding pairs must be ${nd} [before, after] pairs of integers >= 0, got ${JSON.stringify(padding)}`);
    }
    return [pairs.map((p) => p[0]), pairs.map((p) => p[1])];
  }
  const p = tuple(padding as IntOrTuple, nd, 'padding', op);
  return [p, p];
}

/** Convolution over the trailing `nd` dims: x [N, Cin, ...], w [Cout, Cin/groups, ...kernel]. */
export function convNd(op: string, nd: number, x: Tensor, w: Tensor, bias: Tensor | null | undefined, opts: ConvOptions = {}): Tensor {
  if (x.ndim === nd + 1) return tidy(() => squeeze(convNd(op, nd, unsqueeze(x, 0), w, bias, opts), 0));
  if (x.ndim !== nd + 2 || w.ndim !== nd + 2) {
    throw new ShapeError(`${op}: expects input [N, C, ${nd} spatial dims] (or unbatched) and a weight of rank ${nd + 2}, ` +
      `got ${shapeStr(x.shape)} and ${shapeStr(w.shape)}`);
  }
  const groups = opts.groups ?? 1;
  const cin = x.shape[1];
  const cout = w.shape[0];
  const k = w.shape.slice(2);
  if (!Number.isSafeInteger(groups) || groups < 1 || cin % groups !== 0 || cout % groups !== 0) {
    throw new ShapeError(`${op}: groups = ${groups} must divide in_channels ${cin} and out_channels ${cout}`);
  }
  if (w.shape[1] * groups !== cin) {
    throw new ShapeError(`${op}: weight ${shapeStr(w.shape)} expects ${w.shape[1] * groups} input channels, input ${shapeStr(x.shape)} has ${cin}`);
  }
  if (k.some((v) => v < 1)) throw new ShapeError(`${op}: weight ${shapeStr(w.shape)} has an empty kernel dim`);
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== cout)) {
    throw new ShapeError(`${op}: bias ${shapeStr(bias.shape)} must have shape [${cout}]`);
  }
  const stride = tuple(opts.stride ?? 1, nd, 'stride', op, 1);
  const dilation = tuple(opts.dilation ?? 1, nd, 'dilation', op, 1);
  const [before, after] = resolvePadding(op, opts.padding ?? 0, nd, k, stride, dilation);
  const inSize = x.shape.slice(2);
  const outSize = inSize.map((s, d) => Math.floor((s + before[d] + after[d] - dilation[d] * (k[d] - 1) - 1) / stride[d]) + 1);
  if (outSize.some((s) => s < 1)) {
    throw new ShapeError(`${op}: input ${shapeStr(x.shape)} padded by ${shapeStr(before)}/${shapeStr(after)} is smaller than ` +
      `the kernel ${shapeStr(k)} with dilation ${shapeStr(dilation)}`);
  }
  const geometry: ConvGeometry = { stride, padding: before, dilation, groups, inSize, kernelSize: k, outSize };
  return tidy(() => bind(convP, convOperands(op, [x, w, bias]), geometry));
}

export function conv1d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvOptions = {}): Tensor {
  return convNd('conv1d', 1, x, weight, bias, opts);
}

export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvOptions = {}): Tensor {
  return convNd('conv2d', 2, x, weight, bias, opts);
}

export function conv3d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvOptions = {}): Tensor {
  return convNd('conv3d', 3, x, weight, bias, opts);
}

/**
 * Transposed convolution over the trailing `nd` dims (PyTorch's conv_transpose): x [N, Cin, ...],
 * weight [Cin, Cout/groups, ...kernel]; output size (in − 1)·stride − 2·padding +
 * dilation·(k − 1) + outputPadding + 1. It is the adjoint of a convolution with the same weight.
 */
export function convTransposeNd(op: string, nd: number, x: Tensor, w: Tensor, bias: Tensor | null | undefined, opts: ConvTransposeOptions = {}): Tensor {
  if (x.ndim === nd + 1) return tidy(() => squeeze(convTransposeNd(op, nd, unsqueeze(x, 0), w, bias, opts), 0));
  if (x.ndim !== nd + 2 || w.ndim !== nd + 2) {
    throw new ShapeError(`${op}: expects input [N, C, ${nd} spatial dims] (or unbatched) and a weight of rank ${nd + 2}, ` +
      `got ${shapeStr(x.shape)} and ${shapeStr(w.shape)}`);
  }
  const groups = opts.groups ?? 1;
  const cin = x.shape[1];
  if (!Number.isSafeInteger(groups) || groups < 1 || w.shape[0] !== cin || cin % groups !== 0) {
    throw new ShapeError(`${op}: weight ${shapeStr(w.shape)} does not match ${cin} input channels with groups = ${groups}`);
  }
  const cout = w.shape[1] * groups;
  const k = w.shape.slice(2);
  if (k.some((v) => v < 1)) throw new ShapeError(`${op}: weight ${shapeStr(w.shape)} has an empty kernel dim`);
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== cout)) {
    throw new ShapeError(`${op}: bias ${shapeStr(bias.shape)} must have shape [${cout}]`);
  }
  const stride = tuple(opts.stride ?? 1, nd, 'stride', op, 1);
  const padding = tuple(opts.padding ?? 0, nd, 'padding', op);
  const outPad = tuple(opts.outputPadding ?? 0, nd, 'outputPadding', op);
  const dilation = tuple(opts.dilation ?? 1, nd, 'dilation', op, 1);
  if (outPad.some((p, d) => p >= Math.max(stride[d], dilation[d]))) {
    throw new KilnError(`${op}: outputPadding ${shapeStr(outPad)} must be smaller than stride or dilation`);
  }
  const outSize = x.shape.slice(2);
  const inSize = outSize.map((s, d) => (s - 1) * stride[d] - 2 * padding[d] + dilation[d] * (k[d] - 1) + outPad[d] + 1);
  if (inSize.some((s) => s < 1)) {
    throw new ShapeError(`${op}: input ${shapeStr(x.shape)} with padding ${shapeStr(padding)} gives an empty output`);
  }
  const geometry: ConvGeometry = { stride, padding, dilation, groups, inSize, kernelSize: k, outSize };
  return tidy(() => {
    const [xs, ws, bs] = convOperands(op, [x, w, bias]);
    const y = bind(convTransposeP, [xs, ws], geometry);
    return bs ? add(y, reshape(bs, [cout, ...inSize.map(() => 1)])) : y;
  });
}

export function convTranspose1d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvTransposeOptions = {}): Tensor {
  return convTransposeNd('convTranspose1d', 1, x, weight, bias, opts);
}

export function convTranspose2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvTransposeOptions = {}): Tensor {
  return convTransposeNd('convTranspose2d', 2, x, weight, bias, opts);
}

export function convTranspose3d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvTransposeOptions = {}): Tensor {
  return convTransposeNd('convTranspose3d', 3, x, weight, bias, opts);
}
