// Functional transforms over pytrees of tensors: grad, valueAndGrad, vjp, jvp, hvp, jacrev,
// jacfwd, hessian. Each opens a trace level, runs f on tracers, then lowers the results.
import { KilnError, ShapeError, shapeStr } from '../errors.js';
import { cast } from '../ops/copy.js';
import { onesLike, zerosLike } from '../tensor/creation.js';
import { isFloating } from '../tensor/dtype.js';
import { adopt, tidy } from '../tensor/memory.js';
import { stack } from '../ops/indexing.js';
import { Tensor } from '../tensor/tensor.js';
import { backprop } from './backprop.js';
import { enterLevel, exitLevel, makeTracer } from './interpreter.js';
import { leafNode, type Node } from './node.js';
import { flatten, type Flat } from './pytree.js';

type Fn = (...args: any[]) => any;

function checkDifferentiable(op: string, leaves: readonly Tensor[]): void {
  for (const t of leaves) {
    if (!isFloating(t.dtype)) throw new KilnError(`${op}: can only differentiate with respect to float tensors, got ${t.dtype}`);
  }
}

/** Takes a result out of a finished level: a tracer of that level gives up its primal. */
function lowerResult(t: Tensor, level: number): { value: Tensor; node: Node | null; tangent: Tensor | null } {
  if (!(t instanceof Tensor)) throw new KilnError(`transform: the function must return tensors, got ${typeof t}`);
  if (!t.trace || t.trace.level !== level) return { value: t, node: null, tangent: null };
  const { primal, node, tangent } = t.trace;
  t.trace = null; // the tracer no longer owns its primal and tangent
  t.dispose();
  return { value: adopt(primal), node, tangent: tangent ? adopt(tangent) : null };
}

function argnumList(argnums: number | readonly number[], nargs: number, op: string): number[] {
  const list = typeof argnums === 'number' ? [argnums] : [...argnums];
  for (const a of list) if (!Number.isInteger(a) || a < 0 || a >= nargs) throw new KilnError(`${op}: argnum ${a} out of range for ${nargs} arguments`);
  return list;
}

/** Runs f at a new reverse level with the chosen arguments traced. */
function traceReverse(op: string, f: Fn, args: unknown[], argnums: number[]) {
  const flats: Flat[] = argnums.map((i) => flatten(args[i]));
  for (const fl of flats) checkDifferentiable(op, fl.leaves);
  const level = enterLevel();
  const leafNodes: Node[][] = [];
  let out: unknown;
  try {
    const traced = [...args];
    flats.forEach((fl, k) => {
      const nodes = fl.leaves.map((x) => leafNode('input', x.shape));
      leafNodes.push(nodes);
      traced[argnums[k]] = fl.unflatten(fl.leaves.map((x, j) => makeTracer(x.ownedAlias(), { level, kind: 'rev', node: nodes[j], tangent: null })));
    });
    out = f(...traced);
  } finally {
    exitLevel(level);
  }
  return { level, flats, leafNodes, out };
}

/** Gradients for each traced argument (zeros where f did not depend on it). */
function collect(flats: Flat[], leafNodes: Node[][], res: Map<Node, Tensor>): unknown[] {
  return flats.map((fl, k) => fl.unflatten(fl.leaves.map((x, j) => res.get(leafNodes[k][j]) ?? zerosLike(x))));
}

/** f's value and its gradient; f must return a single-element tensor. */
export function valueAndGrad(f: Fn, argnums: number | readonly number[] = 0) {
  return (...args: unknown[]): [Tensor, any] =>
    tidy(() => {
      const nums = argnumList(argnums, args.length, 'grad');
      const { level, flats, leafNodes, out } = traceReverse('grad', f, args, nums);
      if (!(out instanceof Tensor) || out.numel() !== 1) {
        throw new ShapeError(`grad: the function must return a single-element tensor, got ${out instanceof Tensor ? shapeStr(out.shape) : typeof out}`);
      }
      const { value, node } = lowerResult(out, level);
      const res = node ? backprop([{ node, g: onesLike(value) }], { retainGraph: false }) : new Map<Node, Tensor>();
      const grads = collect(flats, leafNodes, res);
      return [value, typeof argnums === 'number' ? grads[0] : grads];
    });
}

/** The gradient of a scalar function (with respect to argument `argnums`, default 0). */
export function grad(f: Fn, argnums: number | readonly number[] = 0) {
  const vg = valueAndGrad(f, argnums);
  return (...args: unknown[]): any => {
    const [value, g] = vg(...args);
    value.dispose();
    return g;
  };
}

/**
 * Evaluates f at the primals and returns [output, pullback]; pullback(cotangent) gives one
 * cotangent per primal (matching their pytree structure). The pullback can be called repeatedly.
 */
export function vjp(f: Fn, ...primals: unknown[]): [any, (cotangent: unknown) => any] {
  return tidy(() => {
    const nums = primals.map((_, i) => i);
    const { level, flats, leafNodes, out } = traceReverse('vjp', f, primals, nums);
    const outFlat = flatten(out);
    const lowered = outFlat.leaves.map((t) => lowerResult(t, level));
    const pullback = (cotangent: unknown) =>
      tidy(() => {
        const cts = flatten(cotangent).leaves;
        if (cts.length !== lowered.length) throw new KilnError(`vjp: expected ${lowered.length} cotangent tensors, got ${cts.length}`);
        const roots: { node: Node; g: Tensor }[] = [];
        lowered.forEach((o, i) => {
          if (cts[i].shape.join() !== o.value.shape.join()) {
            throw new ShapeError(`vjp: cotangent ${i} has shape ${shapeStr(cts[i].shape)}, expected ${shapeStr(o.value.shape)}`);
          }
          if (o.node) roots.push({ node: o.node, g: cts[i].dtype === o.value.dtype ? cts[i].ownedAlias() : cast(cts[i], o.value.dtype) });
        });
        const res = roots.length ? backprop(roots, { retainGraph: true }) : new Map<Node, Tensor>();
        const grads = collect(flats, leafNodes, res);
        return primals.length === 1 ? grads[0] : grads;
      });
    return [outFlat.unflatten(lowered.map((o) => o.value)), pullback];
  });
}

/** Forward mode: [f(primals), the directional derivative of f along tangents]. */
export function jvp(f: Fn, primals: readonly unknown[], tangents: readonly unknown[]): [any, any] {
  if (primals.length !== tangents.length) throw new KilnError(`jvp: got ${primals.length} primals and ${tangents.length} tangents`);
  return tidy(() => {
    const level = enterLevel();
    let out: unknown;
    try {
      const traced = primals.map((p, i) => {
        const fp = flatten(p);
        const ft = flatten(tangents[i]).leaves;
        checkDifferentiable('jvp', fp.leaves);
        if (ft.length !== fp.leaves.length) throw new KilnError(`jvp: tangent ${i} does not match its primal's structure`);
        return fp.unflatten(fp.leaves.map((x, j) => {
          const t = ft[j];
          if (t.shape.join() !== x.shape.join()) throw new ShapeError(`jvp: tangent shape ${shapeStr(t.shape)} does not match primal ${shapeStr(x.shape)}`);
          return makeTracer(x.ownedAlias(), { level, kind: 'fwd', node: null, tangent: t.dtype === x.dtype ? t.ownedAlias() : cast(t, x.dtype) });
        }));
      });
      out = f(...traced);
    } finally {
      exitLevel(level);
    }
    const outFlat = flatten(out);
    const lowered = outFlat.leaves.map((t) => lowerResult(t, level));
    return [outFlat.unflatten(lowered.map((o) => o.value)), outFlat.unflatten(lowered.map((o) => o.tangent ?? zerosLike(o.value)))];
  });
}

/** Hessian-vector product by forward-over-reverse: jvp of grad(f) at x along v. */
export function hvp(f: Fn, x: unknown, v: unknown): any {
  return tidy(() => jvp((y: unknown) => grad(f)(y), [x], [v])[1]);
}

/** One-hot basis tensors for a shape, one per element. */
function basis(like: Tensor, i: number): Tensor {
  const e = zerosLike(like);
  const flat = e.reshape([-1]);
  flat.narrow(0, i, 1).fill_(1);
  flat.dispose();
  return e;
}

/** The Jacobian by reverse mode (one pullback per output element): shape [...out, ...in]. */
export function jacrev(f: (x: Tensor) => Tensor) {
  return (x: Tensor): Tensor =>
    tidy(() => {
      const [y, pullback] = vjp(f, x) as [Tensor, (ct: Tensor) => Tensor];
      const rows = Array.from({ length: y.numel() }, (_, i) => pullback(basis(y, i)));
      if (rows.length === 0) return zerosLike(x).reshape([...y.shape, ...x.shape]);
      return stack(rows, 0).reshape([...y.shape, ...x.shape]);
    });
}

/** The Jacobian by forward mode (one jvp per input element): shape [...out, ...in]. */
export function jacfwd(f: (x: Tensor) => Tensor) {
  return (x: Tensor): Tensor =>
    tidy(() => {
      const cols = Array.from({ length: x.numel() }, (_, j) => jvp(f, [x], [basis(x, j)])[1] as Tensor);
      if (cols.length === 0) {
        const y = f(x);
        return zerosLike(y).reshape([...y.shape, ...x.shape]);
      }
      const outShape = cols[0].shape;
      return stack(cols, -1).reshape([...outShape, ...x.shape]);
    });
}

/** The Hessian of a scalar function: forward over reverse. */
export function hessian(f: (x: Tensor) => Tensor) {
  return jacfwd((x: Tensor) => grad(f)(x) as Tensor);
}
