// Adam (with L2 weight decay and AMSGrad) and AdamW (decoupled weight decay), as torch.optim.
import { assign } from '../nn/assign.js';
import { KilnError } from '../errors.js';
import * as ew from '../ops/elementwise.js';
import { Tensor } from '../tensor/tensor.js';
import { canFuse, fusedStep } from './fused.js';
import { Optimizer, type ParamGroup, type ParamGroupSpec, type ParamState } from './optimizer.js';

export interface AdamOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
}

export class Adam extends Optimizer<AdamOptions> {
  /** AdamW applies the weight decay to the parameter directly instead of to the gradient. */
  protected readonly decoupled: boolean = false;

  constructor(params: Iterable<Tensor> | Iterable<ParamGroupSpec<AdamOptions>>, opts: Partial<AdamOptions> = {}, defaultDecay = 0) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: defaultDecay, amsgrad: false, maximize: false, ...opts });
  }

  protected override validate(g: ParamGroup<AdamOptions>): void {
    const name = this.constructor.name;
    if (!(g.lr >= 0)) throw new KilnError(`${name}: invalid learning rate ${g.lr}`);
    if (!(g.eps >= 0)) throw new KilnError(`${name}: invalid eps ${g.eps}`);
    if (!Array.isArray(g.betas) || g.betas.length !== 2 || !g.betas.every((b) => b >= 0 && b < 1)) {
      throw new KilnError(`${name}: betas must be two numbers in [0, 1), got ${JSON.stringify(g.betas)}`);
    }
    if (!(g.weightDecay >= 0)) throw new KilnError(`${name}: invalid weightDecay ${g.weightDecay}`);
  }

  protected update(p: Tensor, grad: Tensor, g: ParamGroup<AdamOptions>, state: ParamState): void {
    if (!(state.exp_avg instanceof Tensor)) {
      state.step = 0;
      this.keepState(state, 'exp_avg', ew.mul(p, 0));
      this.keepState(state, 'exp_avg_sq', ew.mul(p, 0));
      if (g.amsgrad) this.keepState(state, 'max_exp_avg_sq', ew.mul(p, 0));
    }
    const step = (state.step as number) + 1;
    state.step = step;
    const m = state.exp_avg as Tensor;
    const v = state.exp_avg_sq as Tensor;
    const vmax = g.amsgrad ? (state.max_exp_avg_sq as Tensor) : null;
    const [b1, b2] = g.betas;
    const attrs = [g.lr, b1, b2, g.eps, g.weightDecay, Number(this.decoupled), Number(g.amsgrad), Number(g.maximize), step];
    if (canFuse('adamStep', p, grad, [m, v, vmax])) {
      fusedStep('adamStep', p, grad, [m, v, vmax], attrs);
      return;
    }
    let d = g.maximize ? ew.neg(grad) : grad;
    let param = p;
    if (g.weightDecay !== 0) {
      if (this.decoupled) param = ew.mul(p, 1 - g.lr * g.weightDecay);
      else d = ew.add(d, ew.mul(p, g.weightDecay));
    }
    assign(m, ew.add(ew.mul(m, b1), ew.mul(d, 1 - b1)));
    assign(v, ew.add(ew.mul(v, b2), ew.mul(ew.square(d), 1 - b2)));
    const bc1 = 1 - b1 ** step;
    const bc2Sqrt = Math.sqrt(1 - b2 ** step);
    let second = v;
    if (vmax) {
      assign(vmax, ew.maximum(vmax, v));
      second = vmax;
    }
    const denom = ew.add(ew.div(ew.sqrt(second), bc2Sqrt), g.eps);
    assign(p, ew.sub(param, ew.mul(ew.div(m, denom), g.lr / bc1)));
  }
}

/** Adam with decoupled weight decay (Loshchilov & Hutter); weightDecay defaults to 0.01. */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupSpec<AdamOptions>>, opts: Partial<AdamOptions> = {}) {
    super(params, opts, 0.01);
  }
}
