// User-defined derivative rules and transforms built from them: customVjp, customJvp,
// stopGradient, checkpoint and fixedPoint (implicit differentiation).
import { KilnError } from '../errors.js';
import * as ew from '../ops/elementwise.js';
import { bind, definePrimitive } from '../ops/primitive.js';
import { detach } from '../ops/views.js';
import { tidy } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';
import { jvp, vjp } from './functional.js';
import { lower, makeTracer, withGradMode } from './interpreter.js';
import { flatten } from './pytree.js';

type TensorFn = (...xs: Tensor[]) => Tensor;

/**
 * f with a hand-written reverse rule: bwd(inputs, out, g, needsGrad) returns one gradient (or
 * null) per input; needsGrad[i] is false for an input no gradient flows to, whose gradient the
 * rule may skip. The rule is used at every level, and since it is written with kiln ops it can
 * itself be differentiated. Forward mode differentiates f's own operations unless fwdRule is given.
 */
export function customVjp(
  f: TensorFn,
  bwd: (inputs: readonly Tensor[], out: Tensor, g: Tensor, needsGrad: readonly boolean[]) => readonly (Tensor | null)[],
  opts: { name?: string; jvp?: (inputs: readonly Tensor[], out: Tensor, tangents: readonly (Tensor | null)[]) => Tensor | null } = {},
): TensorFn {
  const prim = definePrimitive<undefined>({
    name: opts.name ?? `customVjp(${f.name || 'f'})`,
    // The primal runs with recording off: the custom rule replaces f's own derivative.
    impl: (inputs) => withGradMode(false, () => f(...inputs)),
    vjp: ({ inputs, out, needsGrad }) => (g) => bwd(inputs, out, g, needsGrad),
    jvp: opts.jvp
      ? ({ inputs, out }, tangents) => opts.jvp!(inputs, out, tangents)
      : ({ inputs }, tangents) => jvp(f, inputs, inputs.map((x, i) => tangents[i] ?? ew.mul(x, 0)))[1],
  });
  return (...xs) => bind(prim, xs, undefined);
}

/**
 * f with a hand-written forward rule jvpRule(inputs, out, tangents). Reverse mode differentiates
 * through f's own operations (a rule for the tangent alone cannot be transposed in general).
 */
export function customJvp(f: TensorFn, jvpRule: (inputs: readonly Tensor[], out: Tensor, tangents: readonly (Tensor | null)[]) => Tensor | null): TensorFn {
  const custom = (...xs: Tensor[]): Tensor => {
    let top = 0;
    for (const x of xs) if (x.trace && x.trace.level > top) top = x.trace.level;
    const topKind = xs.find((x) => x.trace?.level === top)?.trace?.kind;
    if (top === 0 || topKind !== 'fwd') return f(...xs);
    const primals = xs.map((x) => lower(x, top));
    const tangents = xs.map((x) => (x.trace?.level === top ? x.trace.tangent : null));
    const out = custom(...primals);
    const tangent = jvpRule(primals, out, tangents);
    return tangent ? makeTracer(out, { level: top, kind: 'fwd', node: null, tangent }) : out;
  };
  return custom;
}

/** The value of x with a zero derivative in every mode (JAX's stop_gradient). */
export function stopGradient(x: Tensor): Tensor {
  return detach(x);
}

/**
 * Gradient checkpointing: f's intermediate values are not kept for the backward pass; the
 * pullback recomputes them. Trades compute for memory on deep models.
 */
export function checkpoint(f: TensorFn): TensorFn {
  const prim = definePrimitive<undefined>({
    name: `checkpoint(${f.name || 'f'})`,
    saves: 'inputs',
    impl: (inputs) => withGradMode(false, () => f(...inputs)),
    vjp: ({ inputs }) => (g) => {
      const [, pullback] = vjp((...xs: Tensor[]) => f(...xs), ...inputs);
      const grads = pullback(g);
      return inputs.length === 1 ? [grads as Tensor] : (grads as Tensor[]);
    },
    jvp: ({ inputs }, tangents) => jvp(f, inputs, inputs.map((x, i) => tangents[i] ?? ew.mul(x, 0)))[1],
  });
  return (...xs) => bind(prim, xs, undefined);
}

export interface FixedPointOptions {
  /** Stop when max |x_{k+1} - x_k| falls below this (default 1e-10 for float64, 1e-6 for float32). */
  tol?: number;
  maxIter?: number;
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return tidy(() => ew.abs(ew.sub(a, b)).max().item() as number);
}

function iterate(step: (x: Tensor) => Tensor, x0: Tensor, tol: number, maxIter: number, what: string): Tensor {
  let x = step(x0);
  let diff = maxAbsDiff(x, x0);
  for (let k = 1; k < maxIter && !(diff <= tol); k++) {
    const next = step(x);
    diff = maxAbsDiff(next, x);
    x.dispose();
    x = next;
  }
  if (!(diff <= tol)) throw new KilnError(`fixedPoint: ${what} did not converge in ${maxIter} iterations (last change ${diff})`);
  return x;
}

/**
 * The fixed point x* = f(params, x*), found by iterating from x0. Its derivative with respect to
 * params comes from the implicit function theorem: the backward pass solves the adjoint fixed
 * point u = g + (df/dx)^T u and returns (df/dparams)^T u, instead of unrolling the iterations.
 * params is a pytree of tensors; f(params, x) must return a tensor shaped like x.
 */
export function fixedPoint(f: (params: any, x: Tensor) => Tensor, params: unknown, x0: Tensor, opts: FixedPointOptions = {}): Tensor {
  const flat = flatten(params);
  const n = flat.leaves.length;
  const tol = opts.tol ?? (x0.dtype === 'float64' ? 1e-10 : 1e-6);
  const maxIter = opts.maxIter ?? 1000;
  const fOf = (ps: readonly Tensor[], x: Tensor) => f(flat.unflatten(ps), x);
  const prim = definePrimitive<undefined>({
    name: 'fixedPoint',
    impl: (inputs) =>
      withGradMode(false, () => {
        const ps = inputs.slice(0, n);
        return iterate((x) => tidy(() => fOf(ps, x)), inputs[n], tol, maxIter, "the forward iteration");
      }),
    vjp: ({ inputs, out }) => (g) => {
      const ps = inputs.slice(0, n);
      const [, pullback] = vjp((p: Tensor[], x: Tensor) => fOf(p, x), ps, out);
      const pbX = (u: Tensor) => (pullback(u) as [Tensor[], Tensor])[1];
      const u = iterate((v) => tidy(() => ew.add(g, pbX(v))), g, tol, maxIter, 'the adjoint iteration');
      const [gp] = pullback(u) as [Tensor[], Tensor];
      u.dispose();
      return [...gp, null];
    },
    jvp: ({ inputs, out }, tangents) => {
      const ps = inputs.slice(0, n);
      const tps = ps.map((p, i) => tangents[i] ?? ew.mul(p, 0));
      // t = (df/dp) tp + (df/dx) t, solved by iteration.
      const direct = jvp((p: Tensor[]) => fOf(p, out), [ps], [tps])[1] as Tensor;
      const dx = (t: Tensor) => jvp((x: Tensor) => fOf(ps, x), [out], [t])[1] as Tensor;
      return iterate((t) => tidy(() => ew.add(direct, dx(t))), direct, tol, maxIter, 'the tangent iteration');
    },
  });
  return bind(prim, [...flat.leaves, x0], undefined);
}
