// The PyTorch style on the same engine: loss.backward(), autograd.grad(outputs, inputs),
// noGrad/enableGrad. These traverse the level-0 graph recorded in tensors' gradFn.
import { DTypeError, KilnError, ShapeError, shapeStr } from '../errors.js';
import { add } from '../ops/elementwise.js';
import { onesLike } from '../tensor/creation.js';
import { adopt, unscope } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';
import { backprop } from './backprop.js';
import { level0Node, withGradMode } from './interpreter.js';
import type { Node } from './node.js';

export interface BackwardOptions {
  /** Record the backward pass so its results can be differentiated again. */
  createGraph?: boolean;
  /** Keep the graph's saved tensors for another backward pass (default: createGraph). */
  retainGraph?: boolean;
}

function seedFor(op: string, out: Tensor, g: Tensor | undefined): Tensor {
  if (g === undefined) {
    if (out.numel() !== 1) throw new ShapeError(`${op}: a gradient must be given for a non-scalar output of shape ${shapeStr(out.shape)}`);
    return onesLike(out);
  }
  if (g.shape.join() !== out.shape.join()) throw new ShapeError(`${op}: gradient shape ${shapeStr(g.shape)} does not match output ${shapeStr(out.shape)}`);
  return g.ownedAlias();
}

function rootsOf(op: string, outputs: readonly Tensor[], grads: readonly (Tensor | undefined)[]): { node: Node; g: Tensor }[] {
  return outputs.map((o, i) => {
    const node = level0Node(o);
    if (!node) throw new KilnError(`${op}: output ${i} does not require grad and has no gradFn (was it computed under noGrad, or from tensors without requiresGrad?)`);
    return { node, g: seedFor(op, o, grads[i]) };
  });
}

/** Accumulates d(out)/d(leaf) into every leaf's .grad. */
export function backward(out: Tensor, grad?: Tensor, opts: BackwardOptions = {}): void {
  const createGraph = opts.createGraph ?? false;
  const retainGraph = opts.retainGraph ?? createGraph;
  withGradMode(createGraph, () => {
    const res = backprop(rootsOf('backward', [out], [grad]), { retainGraph });
    for (const [node, g] of res) {
      const target = node.target;
      if (!target) {
        g.dispose();
        continue;
      }
      unscope(g);
      if (target.grad) {
        const sum = add(target.grad, g);
        unscope(sum);
        target.grad.dispose();
        g.dispose();
        target.grad = sum;
      } else {
        target.grad = g;
      }
    }
  });
}

/**
 * torch.autograd.grad: the gradients of outputs with respect to inputs, returned rather than
 * accumulated into .grad.
 */
export function autogradGrad(
  outputs: Tensor | readonly Tensor[],
  inputs: Tensor | readonly Tensor[],
  opts: BackwardOptions & { gradOutputs?: Tensor | readonly (Tensor | undefined)[]; allowUnused?: boolean } = {},
): (Tensor | null)[] {
  const outs = Array.isArray(outputs) ? (outputs as Tensor[]) : [outputs as Tensor];
  const ins = Array.isArray(inputs) ? (inputs as Tensor[]) : [inputs as Tensor];
  const gouts = opts.gradOutputs === undefined ? [] : Array.isArray(opts.gradOutputs) ? opts.gradOutputs : [opts.gradOutputs as Tensor];
  const createGraph = opts.createGraph ?? false;
  for (const x of ins) {
    if (!x.requiresGrad) throw new DTypeError(`autograd.grad: input of shape ${shapeStr(x.shape)} does not require grad`);
  }
  return withGradMode(createGraph, () => {
    const nodes = ins.map((x) => level0Node(x)!);
    const wanted = new Set(nodes);
    const res = backprop(rootsOf('autograd.grad', outs, gouts), { retainGraph: opts.retainGraph ?? createGraph, stopAt: wanted });
    for (const [node, g] of res) if (!wanted.has(node)) g.dispose();
    return ins.map((x, i) => {
      const g = res.get(nodes[i]);
      if (g) return adopt(g);
      if (opts.allowUnused) return null;
      throw new KilnError(`autograd.grad: input ${i} was not used to compute the outputs (pass allowUnused: true to get null)`);
    });
  });
}

/** Runs fn without recording gradients (inference, parameter updates). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs fn with gradient recording on, even inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

