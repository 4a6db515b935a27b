// The Optimizer base: parameter groups with per-group options, per-parameter state, zeroGrad,
// and PyTorch-shaped state dicts ({ state: {index: {...}}, paramGroups: [{...options, params: [indices]}] }).
import { noGrad } from '../autograd/backward.js';
import { KilnError } from '../errors.js';
import { isFloating } from '../tensor/dtype.js';
import { tidy, unscope } from '../tensor/memory.js';
import { Tensor } from '../tensor/tensor.js';

export type ParamState = Record<string, Tensor | number>;

/** A group as given by the user: its parameters plus options overriding the defaults. */
export type ParamGroupSpec<O> = { params: Iterable<Tensor> } & Partial<O>;

/** A group as held by the optimizer: every option filled in. */
export type ParamGroup<O> = O & { params: Tensor[] };

export interface OptimizerStateDict {
  state: Record<number, ParamState>;
  paramGroups: Record<string, unknown>[];
}

export type Closure = () => number | Tensor;

export abstract class Optimizer<O extends object = Record<string, unknown>> {
  readonly paramGroups: ParamGroup<O>[] = [];
  readonly state = new Map<Tensor, ParamState>();

  constructor(params: Iterable<Tensor> | Iterable<ParamGroupSpec<O>>, readonly defaults: O) {
    const list = [...(params as Iterable<Tensor | ParamGroupSpec<O>>)];
    if (list.length === 0) throw new KilnError(`${this.constructor.name}: got an empty parameter list`);
    if (list.every((p) => p instanceof Tensor)) this.addParamGroup({ params: list as Tensor[] } as unknown as ParamGroupSpec<O>);
    else for (const g of list) this.addParamGroup(g as ParamGroupSpec<O>);
  }

  addParamGroup(spec: ParamGroupSpec<O>): void {
    if (!spec || typeof spec !== 'object' || !('params' in spec)) throw new KilnError(`${this.constructor.name}: a parameter group needs 'params'`);
    const params = [...spec.params];
    const seen = new Set(this.paramGroups.flatMap((g) => g.params));
    for (const p of params) {
      if (!(p instanceof Tensor)) throw new KilnError(`${this.constructor.name}: parameters must be tensors`);
      if (!isFloating(p.dtype)) throw new KilnError(`${this.constructor.name}: can only optimize float tensors, got ${p.dtype}`);
      if (seen.has(p)) throw new KilnError(`${this.constructor.name}: a parameter appears in more than one group`);
      seen.add(p);
    }
    const group = { ...this.defaults, ...spec, params } as ParamGroup<O>;
    this.validate(group);
    this.paramGroups.push(group);
  }

  /** Throws on invalid option values. */
  protected validate(_group: ParamGroup<O>): void {}

  /** Clears every parameter's gradient (disposing it). */
  zeroGrad(): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  /** One update of every parameter with a gradient. */
  step(closure?: Closure): number | undefined {
    let loss: number | undefined;
    if (closure) loss = toNumber(closure());
    noGrad(() => {
      for (const group of this.paramGroups) {
        for (const p of group.params) {
          if (!p.grad) continue;
          tidy(() => this.update(p, p.grad!, group, this.stateOf(p)));
        }
      }
    });
    return loss;
  }

  /** Updates one parameter in place (called under noGrad, inside tidy). */
  protected abstract update(p: Tensor, grad: Tensor, group: ParamGroup<O>, state: ParamState): void;

  protected stateOf(p: Tensor): ParamState {
    let s = this.state.get(p);
    if (!s) {
      s = {};
      this.state.set(p, s);
    }
    return s;
  }

  /** Stores a state tensor (outside tidy scopes: the optimizer owns it). */
  protected keepState(state: ParamState, key: string, t: Tensor): Tensor {
    const old = state[key];
    if (old instanceof Tensor && old !== t) old.dispose();
    unscope(t);
    state[key] = t;
    return t;
  }

  /** The state and groups with parameters replaced by their position (PyTorch's layout). */
  stateDict(): OptimizerStateDict {
    const index = new Map<Tensor, number>();
    const paramGroups = this.paramGroups.map((g) => {
      const { params, ...opts } = g as ParamGroup<O> & Record<string, unknown>;
      return { ...opts, params: params.map((p) => {
        if (!index.has(p)) index.set(p, index.size);
        return index.get(p)!;
      }) };
    });
    const state: Record<number, ParamState> = {};
    for (const [p, s] of this.state) {
      const i = index.get(p);
      if (i === undefined) continue;
      state[i] = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v instanceof Tensor ? v.clone() : v]));
    }
    return { state, paramGroups };
  }

  /** Restores options and state saved by stateDict() from an optimizer over the same parameters. */
  loadStateDict(sd: OptimizerStateDict): void {
    if (!sd || !Array.isArray(sd.paramGroups) || sd.paramGroups.length !== this.paramGroups.length) {
      throw new KilnError(`loadStateDict: expected ${this.paramGroups.length} parameter groups, got ${sd?.paramGroups?.length}`);
    }
    const byIndex = new Map<number, Tensor>();
    sd.paramGroups.forEach((g, gi) => {
      const ids = g.params as number[];
      const own = this.paramGroups[gi].params;
      if (!Array.isArray(ids) || ids.length !== own.length) {
        throw new KilnError(`loadStateDict: group ${gi} has ${Array.isArray(ids) ? ids.length : '?'} parameters, this optimizer ${own.length}`);
      }
      ids.forEach((id, k) => byIndex.set(id, own[k]));
    });
    for (const [gi, g] of sd.paramGroups.entries()) {
      const { params: _ignored, ...opts } = g;
      Object.assign(this.paramGroups[gi], opts);
    }
    for (const s of this.state.values()) for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
    this.state.clear();
    for (const [k, s] of Object.entries(sd.state)) {
      const p = byIndex.get(Number(k));
      if (!p) throw new KilnError(`loadStateDict: state for unknown parameter index ${k}`);
      const copy: ParamState = {};
      for (const [name, v] of Object.entries(s)) {
        if (v instanceof Tensor) {
          if (v.shape.join() !== p.shape.join() && v.numel() !== 1) {
            throw new KilnError(`loadStateDict: state '${name}' of parameter ${k} has shape [${v.shape}], the parameter [${p.shape}]`);
          }
          const c = v.to({ dtype: v.numel() === p.numel() ? p.dtype : v.dtype, device: p.device });
          copy[name] = keepClone(c, v);
        } else copy[name] = v;
      }
      this.state.set(p, copy);
    }
  }

  /** Frees the optimizer's state tensors. */
  dispose(): void {
    for (const s of this.state.values()) for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
    this.state.clear();
  }
}

function keepClone(c: Tensor, src: Tensor): Tensor {
  const out = c === src ? src.clone() : c;
  unscope(out);
  return out;
}

export function toNumber(v: number | Tensor): number {
  if (typeof v === 'number') return v;
  return Number(v.item());
}
