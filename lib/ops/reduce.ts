// Reduction primitives (native reduce over a set of dims, keeping them as size 1) and the
// composites built on them: mean, var, std, logsumexp, softmax, logSoftmax.
import { DTypeError, ShapeError, shapeStr } from '../errors.js';
import { isFloating, toFloating, type DType } from '../tensor/dtype.js';
import { tidy } from '../tensor/memory.js';
import { normDim, normDims } from '../tensor/shape.js';
import type { Dims, Tensor } from '../tensor/tensor.js';
import { cast } from './copy.js';
import * as ew from './elementwise.js';
import { runKernel1 } from './kernel.js';
import { bind, definePrimitive, type Primitive } from './primitive.js';
import { detach, expand, flip, reshape, view } from './views.js';

interface ReduceAttrs {
  dims: readonly number[];
}

function keptShape(shape: readonly number[], dims: readonly number[]): number[] {
  return shape.map((s, i) => (dims.includes(i) ? 1 : s));
}

function reducePrimitive(name: string, opts: {
  nondifferentiable?: boolean; outDType?: DType; linear?: boolean; saves?: 'inputs' | 'out' | 'both' | 'none';
  vjp?: Primitive<ReduceAttrs>['vjp']; jvp?: Primitive<ReduceAttrs>['jvp'];
} = {}): Primitive<ReduceAttrs> {
  return definePrimitive<ReduceAttrs>({
    name,
    nondifferentiable: opts.nondifferentiable,
    linear: opts.linear,
    saves: opts.saves,
    vjp: opts.vjp,
    jvp: opts.jvp,
    impl: ([x], { dims }) => {
      const mask = dims.reduce((m, d) => m + 2 ** d, 0);
      return runKernel1(name, { shape: keptShape(x.shape, dims), dtype: opts.outDType ?? x.dtype, device: x.device }, [x], [mask]);
    },
  });
}

/** Primitives keep reduced dims (size 1); the public functions drop them unless keepdim. */
export const sumP = reducePrimitive('sum', {
  linear: true,
  saves: 'none',
  vjp: ({ inputShapes: [shape] }) => (g) => [expand(g, shape)],
});
// d prod / dx_i = prod / x_i (inputs containing zeros get no special treatment).
export const prodP = reducePrimitive('prod', {
  vjp: ({ inputs: [x], out }) => (g) => [ew.mul(g, ew.div(out, x))],
  jvp: ({ inputs: [x], out, attrs: { dims } }, [t]) => ew.mul(out, sum(ew.div(t!, x), dims, true)),
});
/** The gradient of max/min goes to the extremal elements, split evenly between ties. */
function extremumRules(): Pick<Primitive<ReduceAttrs>, 'vjp' | 'jvp'> {
  const share = (x: Tensor, out: Tensor, dims: readonly number[]) => {
    const hit = cast(ew.eq(x, out), x.dtype);
    return ew.div(hit, sum(hit, dims, true));
  };
  return {
    vjp: ({ inputs: [x], out, attrs: { dims } }) => (g) => [ew.mul(g, share(x, out, dims))],
    jvp: ({ inputs: [x], out, attrs: { dims } }, [t]) => sum(ew.mul(t!, share(x, out, dims)), dims, true),
  };
}
export const maxP = reducePrimitive('max', extremumRules());
export const minP = reducePrimitive('min', extremumRules());
export const argmaxP = reducePrimitive('argmax', { nondifferentiable: true, outDType: 'int32' });
export const argminP = reducePrimitive('argmin', { nondifferentiable: true, outDType: 'int32' });

/** Inclusive cumulative sum along one dim. */
export const cumsumP: Primitive<{ dim: number }> = definePrimitive<{ dim: number }>({
  name: 'cumsum',
  linear: true,
  saves: 'none',
  // The transpose of a running sum is a running sum from the other end.
  vjp: ({ attrs: { dim } }) => (g) => [flip(bind(cumsumP, [flip(g, [dim])], { dim }), [dim])],
  impl: ([x], { dim }) => runKernel1('cumsum', { shape: x.shape, dtype: x.dtype, device: x.device }, [x], [dim]),
});

function dropDims(x: Tensor, dims: readonly number[], keepdim: boolean): Tensor {
  if (keepdim || dims.length === 0) return x;
  const out = view(x, x.shape.filter((_, i) => !dims.includes(i)));
  x.dispose();
  return out;
}

function reduceWith(prim: Primitive<ReduceAttrs>, x: Tensor, dim: Dims | undefined, keepdim: boolean, inDType: DType): Tensor {
  const dims = normDims(dim, x.ndim, prim.name);
  const xc = x.dtype === inDType ? x : cast(x, inDType);
  try {
    for (const d of dims) {
      if (x.shape[d] === 0 && prim !== sumP && prim !== prodP) {
        throw new ShapeError(`${prim.name}: cannot reduce over the empty dim ${d} of ${shapeStr(x.shape)}`);
      }
    }
    return dropDims(bind(prim, [xc], { dims }), dims, keepdim);
  } finally {
    if (xc !== x) xc.dispose();
  }
}

const integral = (d: DType): DType => (d === 'bool' ? 'int32' : d);

export function sum(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  return reduceWith(sumP, x, dim, keepdim, integral(x.dtype));
}

export function prod(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  return reduceWith(prodP, x, dim, keepdim, integral(x.dtype));
}

function extremum(prim: Primitive<ReduceAttrs>, x: Tensor, dim: Dims | undefined, keepdim: boolean): Tensor {
  if (x.dtype !== 'bool') return reduceWith(prim, x, dim, keepdim, x.dtype);
  return tidy(() => cast(reduceWith(prim, x, dim, keepdim, 'int32'), 'bool'));
}

/** Values of the maximum over dim(s) (all dims when omitted). */
export function max(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  return extremum(maxP, x, dim, keepdim);
}

export function min(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  return extremum(minP, x, dim, keepdim);
}

function argExtremum(prim: Primitive<ReduceAttrs>, x: Tensor, dim: number | undefined, keepdim: boolean): Tensor {
  const input = x.dtype === 'bool' ? cast(x, 'int32') : x;
  try {
    if (dim === undefined) {
      // Over the flattened tensor, like PyTorch; keepdim keeps every dim as size 1.
      const flat = reshape(input, [-1]);
      try {
        const r = reduceWith(prim, flat, 0, false, flat.dtype);
        if (!keepdim) return r;
        const out = view(r, x.shape.map(() => 1));
        r.dispose();
        return out;
      } finally {
        flat.dispose();
      }
    }
    return reduceWith(prim, input, normDim(dim, x.ndim, prim.name), keepdim, input.dtype);
  } finally {
    if (input !== x) input.dispose();
  }
}

/** Index (int32) of the first maximum along dim, or over the flattened tensor. */
export function argmax(x: Tensor, dim?: number, keepdim = false): Tensor {
  return argExtremum(argmaxP, x, dim, keepdim);
}

export function argmin(x: Tensor, dim?: number, keepdim = false): Tensor {
  return argExtremum(argminP, x, dim, keepdim);
}

function countOf(x: Tensor, dims: readonly number[]): number {
  return dims.reduce((n, d) => n * x.shape[d], 1);
}

/** x itself when it is already float (cast() to the same dtype would copy it), else a float copy. */
function asFloat(x: Tensor): Tensor {
  return isFloating(x.dtype) ? x : cast(x, toFloating(x.dtype));
}

export function mean(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  const dims = normDims(dim, x.ndim, 'mean');
  return tidy(() => ew.div(sum(asFloat(x), dims, keepdim), countOf(x, dims)));
}

/** Variance with Bessel's correction by default (correction = 1), like torch.var. */
export function variance(x: Tensor, dim?: Dims, opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
  const dims = normDims(dim, x.ndim, 'var');
  const correction = opts.correction ?? 1;
  return tidy(() => {
    const xf = asFloat(x);
    const centered = ew.sub(xf, mean(xf, dims, true));
    const ss = sum(ew.square(centered), dims, opts.keepdim ?? false);
    return ew.div(ss, Math.max(0, countOf(x, dims) - correction));
  });
}

export function std(x: Tensor, dim?: Dims, opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
  return tidy(() => ew.sqrt(variance(x, dim, opts)));
}

function requireFloat(op: string, x: Tensor): void {
  if (!isFloating(x.dtype)) throw new DTypeError(`${op}: expects a float tensor, got ${x.dtype}`);
}

/** log(sum(exp(x))) computed stably: the max is factored out (and ±inf maxima handled). */
export function logsumexp(x: Tensor, dim: Dims, keepdim = false): Tensor {
  requireFloat('logsumexp', x);
  const dims = normDims(dim, x.ndim, 'logsumexp');
  return tidy(() => {
    const m = max(detach(x), dims, true); // detached before the max: nothing is recorded
    const safeM = ew.where(ew.eq(ew.abs(m), Infinity), 0, m);
    const lse = ew.add(ew.log(sum(ew.exp(ew.sub(x, safeM)), dims, true)), safeM);
    return keepdim ? lse : view(lse, x.shape.filter((_, i) => !dims.includes(i)));
  });
}

export function softmax(x: Tensor, dim = -1): Tensor {
  requireFloat('softmax', x);
  const d = normDim(dim, x.ndim, 'softmax');
  return tidy(() => {
    const e = ew.exp(ew.sub(x, max(detach(x), d, true)));
    return ew.div(e, sum(e, d, true));
  });
}

export function logSoftmax(x: Tensor, dim = -1): Tensor {
  requireFloat('logSoftmax', x);
  const d = normDim(dim, x.ndim, 'logSoftmax');
  return tidy(() => {
    const z = ew.sub(x, max(detach(x), d, true));
    return ew.sub(z, ew.log(sum(ew.exp(z), d, true)));
  });
}

export function cumsum(x: Tensor, dim: number): Tensor {
  const d = normDim(dim, x.ndim, 'cumsum');
  const input = x.dtype === 'bool' ? cast(x, 'int32') : x;
  try {
    return bind(cumsumP, [input], { dim: d });
  } finally {
    if (input !== x) input.dispose();
  }
}
