// Primitives: the small set of operations everything else is composed of. Each is defined once,
// next to its kernel call, in lib/ops/*.ts. The autodiff engine attaches its rules to these same
// definitions (vjp/jvp slots below) and records every application through `bind`.
import type { Tensor } from '../tensor/tensor.js';

export interface Primitive<A = unknown> {
  readonly name: string;
  /** Computes the output from inputs and attributes (a kernel call, or a view computed in TS). */
  readonly impl: (inputs: readonly Tensor[], attrs: A) => Tensor;
  /** Linear in its (single differentiable) input: its JVP is itself. */
  readonly linear?: boolean;
  /** Integer/bool outputs, comparisons, random draws: no derivative. */
  readonly nondifferentiable?: boolean;
  /** Reverse-mode rule, attached by the autodiff engine. */
  vjp?: unknown;
  /** Forward-mode rule, attached by the autodiff engine. */
  jvp?: unknown;
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
