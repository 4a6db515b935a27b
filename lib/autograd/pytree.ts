// Pytrees: tensors nested in arrays and plain objects (e.g. a model's parameters). Transforms
// flatten them to a list of tensors and rebuild the same structure for their results.
import { Tensor } from '../tensor/tensor.js';

export type Pytree = Tensor | readonly Pytree[] | { readonly [key: string]: Pytree } | number | boolean | null | undefined;

export interface Flat {
  leaves: Tensor[];
  unflatten(leaves: readonly (Tensor | null)[]): any;
}

export function flatten(tree: unknown): Flat {
  const leaves: Tensor[] = [];
  const build = (node: unknown): (next: () => Tensor | null) => unknown => {
    if (node instanceof Tensor) {
      leaves.push(node);
      return (next) => next();
    }
    if (Array.isArray(node)) {
      const parts = node.map(build);
      return (next) => parts.map((p) => p(next));
    }
    if (node !== null && typeof node === 'object' && Object.getPrototypeOf(node) === Object.prototype) {
      const entries = Object.entries(node).map(([k, v]) => [k, build(v)] as const);
      return (next) => Object.fromEntries(entries.map(([k, p]) => [k, p(next)]));
    }
    return () => node; // numbers, strings, null: passed through unchanged
  };
  const rebuild = build(tree);
  return {
    leaves,
    unflatten(values) {
      let i = 0;
      return rebuild(() => values[i++] ?? null);
    },
  };
}
