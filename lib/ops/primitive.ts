// Primitives: the small set of operations everything else is composed of. Each is defined once,
// next to its kernel call, in lib/ops/*.ts. The autodiff engine attaches its rules to these same
// definitions (vjp/jvp slots below) and records every application through `bind`.
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

/** What a derivative rule sees of one application: the inputs, the output and the attributes. */
export interface RuleContext<A> {
  /** The inputs (empty when the primitive saves neither 'inputs' nor 'both'). */
  readonly inputs: readonly Tensor[];
  /** The output (undefined when the primitive saves neither 'out' nor 'both'). */
  readonly out: Tensor;
  readonly attrs: A;
  readonly inputShapes: readonly (readonly number[])[];
  readonly inputDTypes: readonly DType[];
  /**
   * Reverse mode: whether a gradient flows to each input. A pullback may return null for the
   * others and skip computing them (all true when unknown, e.g. in forward mode).
   */
  readonly needsGrad: readonly boolean[];
}

/** Reverse mode: given the context, the pullback maps the output cotangent to one per input (null = zero). */
export type VjpRule<A> = (ctx: RuleContext<A>) => (g: Tensor) => readonly (Tensor | null)[];
/** Forward mode: the output tangent from the input tangents (null = zero). */
export type JvpRule<A> = (ctx: RuleContext<A>, tangents: readonly (Tensor | null)[]) => Tensor | null;

export interface Primitive<A = unknown> {
  readonly name: string;
  /** Computes the output from inputs and attributes (a kernel call, or a view computed in TS). */
  readonly impl: (inputs: readonly Tensor[], attrs: A) => Tensor;
  /** Linear in its single input: the JVP is the primitive applied to the tangent. */
  readonly linear?: boolean;
  /** Integer/bool outputs, comparisons, random draws, rounding: no derivative flows. */
  readonly nondifferentiable?: boolean;
  /**
   * What the rules read: 'inputs', 'out', 'both' or 'none' (shapes only). The engine keeps only
   * that alive between the forward and the backward pass. Defaults to 'both'.
   */
  readonly saves?: 'inputs' | 'out' | 'both' | 'none';
  /** Reverse-mode rule, written with kiln's own differentiable ops (so it can be differentiated). */
  readonly vjp?: VjpRule<A>;
  /** Forward-mode rule; linear primitives get theirs for free. */
  readonly jvp?: JvpRule<A>;
}

export function definePrimitive<A>(def: Primitive<A>): Primitive<A> {
  return def;
}

/** An interpreter that sees every primitive application (the autodiff trace installs one). */
export type Interpreter = <A>(prim: Primitive<A>, inputs: readonly Tensor[], attrs: A) => Tensor;

let interpreter: Interpreter | null = null;

export function setInterpreter(next: Interpreter | null): Interpreter | null {
  const prev = interpreter;
  interpreter = next;
  return prev;
}

/** Applies a primitive: the single path by which every primitive runs. */
export function bind<A>(prim: Primitive<A>, inputs: readonly Tensor[], attrs: A): Tensor {
  return interpreter ? interpreter(prim, inputs, attrs) : prim.impl(inputs, attrs);
}
