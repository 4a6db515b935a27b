// How primitives are applied under autodiff (HIPS autograd / JAX semantics).
//
// Level 0 is PyTorch-style recording: an op on a tensor with requiresGrad records a Node in its
// gradFn, unless grad mode is off. Functional transforms open levels 1, 2, ...: their inputs are
// tracers (tensors whose `trace` points at the value one level down). A primitive applied to
// tracers is handled at the highest level among its inputs: the inputs are lowered one level,
// the primitive is applied again there (recursively, so lower levels see it too), and the
// result is wrapped as a tracer of this level carrying a Node (reverse) or a tangent (forward).
// A pullback therefore runs its rules on lower-level values, which outer transforms record:
// that is all higher-order differentiation needs.
import { KilnError } from '../errors.js';
import { bind, setInterpreter, type Primitive, type RuleContext } from '../ops/primitive.js';
import { aliasP } from '../ops/views.js';
import { unscope } from '../tensor/memory.js';
import type { Tensor, TraceInfo } from '../tensor/tensor.js';
import { leafNode, Node, saveForBackward } from './node.js';

// ------------------------------------------------------------------ levels and grad mode

let depth = 0;
let gradEnabled = true;

/** Opens a new trace level for a transform; pair with exitLevel in a finally block. */
export function enterLevel(): number {
  return ++depth;
}

export function exitLevel(level: number): void {
  depth = level - 1;
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn with reverse-mode recording switched on or off; returns its result. */
export function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = enabled;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

// ------------------------------------------------------------------ tracers

/** Wraps `primal` (taking ownership of it) as a tracer of `level`. */
export function makeTracer(primal: Tensor, info: Omit<TraceInfo, 'primal'>): Tensor {
  const t = primal.asView(primal.shape, primal.strides, primal.offset);
  unscope(primal);
  if (info.tangent) unscope(info.tangent);
  t.trace = { ...info, primal };
  return t;
}

/** The value of t one level below `level` (t itself when t is not traced at that level). */
export function lower(t: Tensor, level: number): Tensor {
  return t.trace && t.trace.level === level ? t.trace.primal : t;
}

export function traceLevel(t: Tensor): number {
  return t.trace ? t.trace.level : 0;
}

/** The node gradients of t flow into at level 0, creating a leaf's node on first use. */
export function level0Node(t: Tensor): Node | null {
  if (t.gradFn) return t.gradFn;
  if (!t.requiresGrad) return null;
  t.leafNode ??= leafNode('leaf', t.shape, t);
  return t.leafNode;
}

// ------------------------------------------------------------------ recording

function ruleContext<A>(prim: Primitive<A>, inputs: readonly Tensor[], out: Tensor, attrs: A, save: boolean,
  parents?: readonly (Node | null)[]): { ctx: RuleContext<A>; saved: Tensor[] } {
  const saves = prim.saves ?? 'both';
  const saved: Tensor[] = [];
  const keep = (t: Tensor) => {
    if (!save) return t;
    const a = saveForBackward(t);
    saved.push(a);
    return a;
  };
  const ins = saves === 'inputs' || saves === 'both' ? inputs.map(keep) : [];
  const o = saves === 'out' || saves === 'both' ? keep(out) : (undefined as unknown as Tensor);
  const ctx: RuleContext<A> = {
    inputs: ins,
    out: o,
    attrs,
    inputShapes: inputs.map((t) => t.shape),
    inputDTypes: inputs.map((t) => t.dtype),
    needsGrad: parents ? parents.map((p) => p !== null) : inputs.map(() => true),
  };
  return { ctx, saved };
}

function makeNode<A>(prim: Primitive<A>, inputs: readonly Tensor[], out: Tensor, attrs: A, parents: (Node | null)[]): Node {
  if (!prim.vjp) throw new KilnError(`${prim.name}: this primitive has no reverse-mode (VJP) rule`);
  const { ctx, saved } = ruleContext(prim, inputs, out, attrs, true, parents);
  return new Node(prim.name, parents, prim.vjp(ctx), saved, out.shape);
}

function applyLevel0<A>(prim: Primitive<A>, inputs: readonly Tensor[], attrs: A): Tensor {
  const out = prim.impl(inputs, attrs);
  if (!gradEnabled || prim.nondifferentiable) return out;
  let any = false;
  const parents = inputs.map((t) => {
    const n = level0Node(t);
    if (n) any = true;
    return n;
  });
  if (!any) return out;
  out.gradFn = makeNode(prim, inputs, out, attrs, parents);
  out.requiresGrad = true;
  return out;
}

function applyReverse<A>(level: number, prim: Primitive<A>, inputs: readonly Tensor[], attrs: A): Tensor {
  const primals = inputs.map((t) => lower(t, level));
  const out = bind(prim, primals, attrs);
  if (prim.nondifferentiable || !gradEnabled) return out;
  const parents = inputs.map((t) => (t.trace?.level === level ? t.trace.node : null));
  if (parents.every((p) => p === null)) return out;
  return makeTracer(out, { level, kind: 'rev', node: makeNode(prim, primals, out, attrs, parents), tangent: null });
}

function applyForward<A>(level: number, prim: Primitive<A>, inputs: readonly Tensor[], attrs: A): Tensor {
  const primals = inputs.map((t) => lower(t, level));
  const tangents = inputs.map((t) => (t.trace?.level === level ? t.trace.tangent : null));
  const out = bind(prim, primals, attrs);
  if (prim.nondifferentiable || tangents.every((t) => t === null)) return out;
  let tangent: Tensor | null;
  if (prim.jvp) {
    const { ctx } = ruleContext(prim, primals, out, attrs, false);
    tangent = prim.jvp(ctx, tangents);
  } else if (prim.linear && inputs.length === 1) {
    tangent = bind(prim, [tangents[0]!], attrs);
  } else {
    throw new KilnError(`${prim.name}: this primitive has no forward-mode (JVP) rule`);
  }
  if (tangent === null) return out;
  // A rule may pass an input's tangent straight through; the output needs its own object.
  if (tangents.includes(tangent)) tangent = bind(aliasP, [tangent], undefined);
  return makeTracer(out, { level, kind: 'fwd', node: null, tangent });
}

function interpret<A>(prim: Primitive<A>, inputs: readonly Tensor[], attrs: A): Tensor {
  let top = 0;
  let kind: 'rev' | 'fwd' = 'rev';
  for (const t of inputs) {
    if (t.trace && t.trace.level > top) {
      top = t.trace.level;
      kind = t.trace.kind;
    }
  }
  if (top === 0) return applyLevel0(prim, inputs, attrs);
  return kind === 'rev' ? applyReverse(top, prim, inputs, attrs) : applyForward(top, prim, inputs, attrs);
}

setInterpreter(interpret);
