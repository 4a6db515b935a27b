// Fused layer norm over the last dim of x [M, D] with a weight and a bias [D]: one native kernel
// forward (y and the rows' mean and rstd) and one native op backward (dx, dw and db packed in one
// output), where the composite normalize * weight + bias takes three kernels forward and about
// five backward. With xhat = (x - mean) rstd:
//   y = xhat w + b
//   dx = rstd (g w - mean(g w) - xhat mean(g w xhat)),  dw = Σ_rows g xhat,  db = Σ_rows g
// The forward op's statistics are kept (by the storage of y) for the first backward pass that
// needs them; a later one recomputes them. Both ops' higher-order rules differentiate the
// composites below, so derivatives of every order stay exact.
import { jvp, vjp } from '../../autograd/functional.js';
import { isGradEnabled } from '../../autograd/interpreter.js';
import { opIds } from '../../backend/native.js';
import { full } from '../../tensor/creation.js';
import { keep } from '../../tensor/memory.js';
import type { Storage } from '../../tensor/storage.js';
import type { Tensor } from '../../tensor/tensor.js';
import * as ew from '../elementwise.js';
import { cat } from '../indexing.js';
import { runKernel, runKernel1 } from '../kernel.js';
import { bind, definePrimitive, type Primitive } from '../primitive.js';
import { mean, sum } from '../reduce.js';
import { expand, narrow, reshape } from '../views.js';

interface LayerNormAttrs {
  eps: number;
}

/** y = (x - mean) rstd w + b over the rows of x [M, D], written with differentiable primitives. */
export function layerNormReference(x: Tensor, w: Tensor, b: Tensor, eps: number): Tensor {
  const d = ew.sub(x, mean(x, [1], true));
  const r = ew.rsqrt(ew.add(mean(ew.square(d), [1], true), eps));
  return ew.add(ew.mul(ew.mul(d, r), w), b);
}

/** Its VJP for the cotangent g, packed [dx (M D); dw (D); db (D)], written with differentiable primitives. */
export function layerNormBackwardReference(x: Tensor, w: Tensor, g: Tensor, eps: number): Tensor {
  const [M, D] = x.shape;
  const d = ew.sub(x, mean(x, [1], true));
  const r = ew.rsqrt(ew.add(mean(ew.square(d), [1], true), eps));
  const xhat = ew.mul(d, r);
  const gw = ew.mul(g, w);
  const dx = ew.mul(r, ew.sub(ew.sub(gw, mean(gw, [1], true)), ew.mul(xhat, mean(ew.mul(gw, xhat), [1], true))));
  return cat([reshape(dx, [M * D]), sum(ew.mul(g, xhat), [0]), sum(g, [0])], 0);
}

/** The VJP as one op: ins x [M, D], w [D], stats [2, M] (the forward's mean; rstd), g [M, D]. */
export const layerNormBackwardP: Primitive<LayerNormAttrs> = definePrimitive<LayerNormAttrs>({
  name: 'layerNormBackward',
  saves: 'inputs',
  // The statistics are a function of x: the reference recomputes them, so they take no gradient.
  vjp: ({ inputs: [x, w, , g], attrs }) => (ct) => {
    const [, pullback] = vjp((xx: Tensor, ww: Tensor, gg: Tensor) => layerNormBackwardReference(xx, ww, gg, attrs.eps), x, w, g);
    const [dx, dw, dg] = pullback(ct) as Tensor[];
    return [dx, dw, null, dg];
  },
  jvp: ({ inputs: [x, w, , g], attrs }, [tx, tw, , tg]) => jvp(
    (xx: Tensor, ww: Tensor, gg: Tensor) => layerNormBackwardReference(xx, ww, gg, attrs.eps),
    [x, w, g], [tx ?? ew.mul(x, 0), tw ?? ew.mul(w, 0), tg ?? ew.mul(g, 0)],
  )[1] as Tensor,
  impl: ([x, w, stats, g]) => {
    const [M, D] = x.shape;
    return runKernel1('layerNormBackward', { shape: [M * D + 2 * D], dtype: x.dtype, device: x.device }, [x, w, stats, g]);
  },
});

// The forward pass's statistics by the storage of its output, for the first backward pass.
const savedStats = new WeakMap<Storage, Tensor>();
let keepStats = false;

function runForward(x: Tensor, w: Tensor, b: Tensor, eps: number): [Tensor, Tensor] {
  const [M] = x.shape;
  const [y, stats] = runKernel('layerNorm', [
    { shape: x.shape, dtype: x.dtype, device: x.device },
    { shape: [2, M], dtype: x.dtype, device: x.device },
  ], [x, w, b], [eps]);
  return [y, stats];
}

/** y = (x - mean) rstd w + b over the rows of x [M, D]; w and b [D]. */
export const layerNormP: Primitive<LayerNormAttrs> = definePrimitive<LayerNormAttrs>({
  name: 'layerNorm',
  saves: 'both',
  vjp: ({ inputs: [x, w], out, attrs }) => (g) => {
    const [M, D] = x.shape;
    let stats = savedStats.get(out.storage);
    // Used up by a first-order pass (nothing records it); a higher order keeps them for the recorded op.
    const firstOrder = !isGradEnabled() && !x.trace && !w.trace && !g.trace;
    if (stats && firstOrder) savedStats.delete(out.storage);
    let owned = stats !== undefined && firstOrder;
    if (!stats) {
      // Not kept (a second backward pass, or no gradient was expected): recompute them.
      const [y, s] = runForward(x, w, w, attrs.eps);
      y.dispose();
      stats = s;
      owned = true;
    }
    try {
      const packed = bind(layerNormBackwardP, [x, w, stats, g], attrs);
      // dw and db are copied out: as views they would keep the whole packed buffer (the size of
      // x) alive for as long as the parameters' .grad holds them.
      return [reshape(narrow(packed, 0, 0, M * D), [M, D]), narrow(packed, 0, M * D, D).clone(), narrow(packed, 0, M * D + D, D).clone()];
    } finally {
      if (owned && firstOrder) stats.dispose();
    }
  },
  jvp: ({ inputs: [x, w, b], attrs }, [tx, tw, tb]) => jvp(
    (xx: Tensor, ww: Tensor, bb: Tensor) => layerNormReference(xx, ww, bb, attrs.eps),
    [x, w, b], [tx ?? ew.mul(x, 0), tw ?? ew.mul(w, 0), tb ?? ew.mul(b, 0)],
  )[1] as Tensor,
  impl: ([x, w, b], { eps }) => {
    const [y, stats] = runForward(x, w, b, eps);
    if (keepStats) savedStats.set(y.storage, keep(stats));
    else stats.dispose();
    return y;
  },
});

/** Whether fusedLayerNorm can run: float32/float64 operands of one dtype and device, and an addon with the ops. */
export function fusedLayerNormApplies(x: Tensor, weight: Tensor | null | undefined, bias: Tensor | null | undefined): boolean {
  if (opIds.layerNorm === undefined || opIds.layerNormBackward === undefined) return false;
  if (x.dtype !== 'float32' && x.dtype !== 'float64') return false;
  if (x.numel() === 0) return false;
  return [weight, bias].every((v) => !v || (v.dtype === x.dtype && v.device === x.device));
}

/**
 * Layer norm of x over its trailing D elements per row (D = the product of the normalized
 * shape), then weight and bias (of D elements each, or absent), by the fused ops.
 */
export function fusedLayerNorm(x: Tensor, D: number, weight: Tensor | null | undefined, bias: Tensor | null | undefined, eps: number): Tensor {
  const M = x.numel() / D;
  const constant = (value: number) => expand(full([1], value, { dtype: x.dtype, device: x.device }), [D]);
  const w = weight ? reshape(weight, [D]) : constant(1);
  const b = bias ? reshape(bias, [D]) : constant(0);
  // Keep the statistics only when a backward pass can follow.
  keepStats = isGradEnabled() && [x, weight, bias].some((v) => v && (v.requiresGrad || v.trace));
  try {
    return reshape(bind(layerNormP, [reshape(x, [M, D]), w, b], { eps }), x.shape);
  } finally {
    keepStats = false;
  }
}
