// Differentiable optimizers: pure init/update functions written with kiln ops over pytrees of
// tensors (arrays or plain objects), so a whole training run can be differentiated, e.g. with
// respect to the learning rate (hypergradients). The update returns new tensors; nothing is
// modified in place. Hyper-parameters may be numbers or (traced) scalar tensors.
import { flatten } from '../autograd/pytree.js';
import * as ew from '../ops/elementwise.js';
import type { Tensor } from '../tensor/tensor.js';

export type Hyper = number | Tensor;
type Tree = any;

function map(tree: Tree, fn: (...xs: Tensor[]) => Tensor, ...others: Tree[]): Tree {
  const f = flatten(tree);
  const rest = others.map((o) => flatten(o).leaves);
  return f.unflatten(f.leaves.map((x, i) => fn(x, ...rest.map((r) => r[i]))));
}

const zerosLikeTree = (params: Tree): Tree => map(params, (p) => ew.mul(p, 0));

export interface SgdState {
  step: number;
}

/** Plain SGD: p - lr g. */
export const sgd = {
  init: (_params: Tree): SgdState => ({ step: 0 }),
  update(params: Tree, grads: Tree, state: SgdState, opts: { lr: Hyper; weightDecay?: Hyper }): [Tree, SgdState] {
    const next = map(params, (p, g) => {
      const d = opts.weightDecay ? ew.add(g, ew.mul(p, opts.weightDecay)) : g;
      return ew.sub(p, ew.mul(d, opts.lr));
    }, grads);
    return [next, { step: state.step + 1 }];
  },
};

export interface MomentumState {
  step: number;
  velocity: Tree;
}

/** SGD with (optionally Nesterov) momentum, PyTorch's convention: v = mu v + g; p -= lr v. */
export const momentum = {
  init: (params: Tree): MomentumState => ({ step: 0, velocity: zerosLikeTree(params) }),
  update(params: Tree, grads: Tree, state: MomentumState, opts: { lr: Hyper; momentum?: Hyper; nesterov?: boolean; weightDecay?: Hyper }): [Tree, MomentumState] {
    const mu = opts.momentum ?? 0.9;
    const d = opts.weightDecay ? map(grads, (g, p) => ew.add(g, ew.mul(p, opts.weightDecay!)), params) : grads;
    const velocity = state.step === 0 ? map(d, (g) => ew.mul(g, 1)) : map(state.velocity, (v, g) => ew.add(ew.mul(v, mu), g), d);
    const dir = opts.nesterov ? map(d, (g, v) => ew.add(g, ew.mul(v, mu)), velocity) : velocity;
    const next = map(params, (p, u) => ew.sub(p, ew.mul(u, opts.lr)), dir);
    return [next, { step: state.step + 1, velocity }];
  },
};

export interface AdamState {
  step: number;
  m: Tree;
  v: Tree;
}

/** Adam with bias correction (and decoupled weight decay when decoupled is set: AdamW). */
export const adam = {
  init: (params: Tree): AdamState => ({ step: 0, m: zerosLikeTree(params), v: zerosLikeTree(params) }),
  update(params: Tree, grads: Tree, state: AdamState, opts: { lr: Hyper; betas?: [number, number]; eps?: number; weightDecay?: number; decoupled?: boolean }): [Tree, AdamState] {
    const [b1, b2] = opts.betas ?? [0.9, 0.999];
    const eps = opts.eps ?? 1e-8;
    const wd = opts.weightDecay ?? 0;
    const step = state.step + 1;
    const d = wd && !opts.decoupled ? map(grads, (g, p) => ew.add(g, ew.mul(p, wd)), params) : grads;
    const m = map(state.m, (mm, g) => ew.add(ew.mul(mm, b1), ew.mul(g, 1 - b1)), d);
    const v = map(state.v, (vv, g) => ew.add(ew.mul(vv, b2), ew.mul(ew.square(g), 1 - b2)), d);
    const bc1 = 1 - b1 ** step;
    const bc2Sqrt = Math.sqrt(1 - b2 ** step);
    const next = map(params, (p, mm, vv) => {
      const base = wd && opts.decoupled ? ew.sub(p, ew.mul(ew.mul(p, wd), opts.lr)) : p;
      const upd = ew.div(ew.div(mm, bc1), ew.add(ew.div(ew.sqrt(vv), bc2Sqrt), eps));
      return ew.sub(base, ew.mul(upd, opts.lr));
    }, m, v);
    return [next, { step, m, v }];
  },
};
