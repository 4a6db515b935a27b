// Reverse accumulation over recorded nodes: visit nodes outputs-first in topological order,
// call each pullback once with the summed cotangent, and free what is no longer needed.
import { KilnError, shapeStr } from '../errors.js';
import { add } from '../ops/elementwise.js';
import { alias } from '../ops/views.js';
import { tidy } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Node } from './node.js';

/** Nodes reachable from roots, ordered so that every node comes before its parents. */
function topoOrder(roots: readonly Node[]): Node[] {
  const post: Node[] = [];
  const visited = new Set<Node>();
  const stack: [Node, number][] = [];
  for (const r of roots) {
    if (visited.has(r)) continue;
    visited.add(r);
    stack.push([r, 0]);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [node, i] = top;
      if (i < node.parents.length) {
        top[1] = i + 1;
        const p = node.parents[i];
        if (p && !visited.has(p)) {
          visited.add(p);
          stack.push([p, 0]);
        }
      } else {
        stack.pop();
        post.push(node);
      }
    }
  }
  return post.reverse();
}

export interface BackpropOptions {
  /** Keep saved tensors so the graph can be traversed again. */
  retainGraph: boolean;
  /** Nodes treated as leaves: their cotangent is returned, not propagated further. */
  stopAt?: ReadonlySet<Node>;
}

/**
 * Propagates cotangents from `roots` (node, cotangent) to the leaves. Returns the cotangent that
 * reached each leaf node. The root cotangents are consumed (disposed) unless they are returned.
 */
export function backprop(roots: readonly { node: Node; g: Tensor }[], opts: BackpropOptions): Map<Node, Tensor> {
  const cot = new Map<Node, Tensor>();
  const accumulate = (node: Node, g: Tensor, from: string) => {
    if (g.shape.length !== node.shape.length || g.shape.some((s, i) => s !== node.shape[i])) {
      throw new KilnError(`backward: the gradient from '${from}' has shape ${shapeStr(g.shape)}, ` +
        `expected ${shapeStr(node.shape)} for '${node.name}'`);
    }
    const prev = cot.get(node);
    if (!prev) {
      cot.set(node, g);
      return;
    }
    cot.set(node, add(prev, g));
    prev.dispose();
    g.dispose();
  };
  for (const { node, g } of roots) accumulate(node, g, 'output');

  for (const node of topoOrder(roots.map((r) => r.node))) {
    if (node.isLeaf || opts.stopAt?.has(node)) continue;
    const g = cot.get(node);
    if (!g) {
      if (!opts.retainGraph) node.release();
      continue;
    }
    cot.delete(node);
    const grads = tidy(() => {
      const raw = node.pullback(g);
      // A rule may hand back g itself or one tensor twice; every slot gets its own object.
      const seen = new Set<Tensor>([g]);
      return raw.map((t) => {
        if (!t) return null;
        if (seen.has(t)) return alias(t);
        seen.add(t);
        return t;
      });
    });
    g.dispose();
    if (!opts.retainGraph) node.release();
    node.parents.forEach((p, i) => {
      const gi = grads[i];
      if (p && gi) accumulate(p, gi, node.name);
      else gi?.dispose();
    });
  }
  return cot;
}
