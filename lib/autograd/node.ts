// A node of a recorded computation: one primitive application (or a custom rule) at one trace
// level, with the pullback that maps its output cotangent to its inputs' cotangents.
import { KilnError } from '../errors.js';
import { unscope } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';

export type Pullback = (g: Tensor) => readonly (Tensor | null)[];

export class Node {
  /** Released after a backward pass without retainGraph; a second pass then fails clearly. */
  released = false;

  constructor(
    readonly name: string,
    /** One entry per input: the input's node at this level, or null when no gradient flows there. */
    readonly parents: readonly (Node | null)[],
    private pullbackFn: Pullback | null,
    /** Aliases this node keeps alive for its pullback; disposed when it is released. */
    private readonly saved: readonly Tensor[],
    /** The output's shape, to check and to seed cotangents. */
    readonly shape: readonly number[],
    /** For a PyTorch-style leaf: the tensor whose .grad accumulates the gradient. */
    readonly target: Tensor | null = null,
  ) {
    this.isLeaf = pullbackFn === null;
  }

  /** A leaf has no pullback: gradients stop and are collected here. */
  readonly isLeaf: boolean;

  pullback(g: Tensor): readonly (Tensor | null)[] {
    if (this.released) {
      throw new KilnError(
        `backward: trying to backward through '${this.name}' a second time; its saved tensors were freed. ` +
          `Pass { retainGraph: true } to the first backward() to keep them.`,
      );
    }
    return this.pullbackFn!(g);
  }

  release(): void {
    if (this.released || this.isLeaf) return;
    this.released = true;
    this.pullbackFn = null;
    for (const t of this.saved) {
      t.storage.savedBy--;
      t.dispose();
    }
  }
}

/** A leaf: where gradients stop (a transform's input, or a tensor with requiresGrad). */
export function leafNode(name: string, shape: readonly number[], target: Tensor | null = null): Node {
  return new Node(name, [], null, [], shape, target);
}

/**
 * An alias of t that a node owns: it shares t's storage, survives the disposal of t (e.g. by a
 * tidy scope), and marks the storage as saved for the in-place guard.
 */
export function saveForBackward(t: Tensor): Tensor {
  const a = t.ownedAlias();
  a.storage.savedBy++;
  unscope(a);
  return a;
}
