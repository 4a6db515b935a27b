// Adagrad and RMSprop, as torch.optim.
import { assign } from '../nn/assign.js';
import { KilnError } from '../errors.js';
import * as ew from '../ops/elementwise.js';
import { Tensor } from '../tensor/tensor.js';
import { canFuse, fusedStep } from './fused.js';
import { Optimizer, type ParamGroup, type ParamGroupSpec, type ParamState } from './optimizer.js';

export interface AdagradOptions {
  lr: number;
  lrDecay: number;
  weightDecay: number;
  initialAccumulatorValue: number;
  eps: number;
  maximize: boolean;
}

export class Adagrad extends Optimizer<AdagradOptions> {
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupSpec<AdagradOptions>>, opts: Partial<AdagradOptions> = {}) {
    super(params, { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false, ...opts });
  }

  protected override validate(g: ParamGroup<AdagradOptions>): void {
    if (!(g.lr >= 0) || !(g.lrDecay >= 0) || !(g.weightDecay >= 0) || !(g.initialAccumulatorValue >= 0) || !(g.eps >= 0)) {
      throw new KilnError(`Adagrad: invalid options ${JSON.stringify({ ...g, params: undefined })}`);
    }
  }

  protected update(p: Tensor, grad: Tensor, g: ParamGroup<AdagradOptions>, state: ParamState): void {
    if (!(state.sum instanceof Tensor)) {
      state.step = 0;
      this.keepState(state, 'sum', ew.add(ew.mul(p, 0), g.initialAccumulatorValue));
    }
    const step = (state.step as number) + 1;
    state.step = step;
    const sum = state.sum as Tensor;
    const clr = g.lr / (1 + (step - 1) * g.lrDecay);
    if (canFuse('adagradStep', p, grad, [sum])) {
      fusedStep('adagradStep', p, grad, [sum], [clr, g.weightDecay, g.eps, Number(g.maximize)]);
      return;
    }
    let d = g.maximize ? ew.neg(grad) : grad;
    if (g.weightDecay !== 0) d = ew.add(d, ew.mul(p, g.weightDecay));
    assign(sum, ew.add(sum, ew.square(d)));
    assign(p, ew.sub(p, ew.mul(ew.div(d, ew.add(ew.sqrt(sum), g.eps)), clr)));
  }
}

export interface RMSpropOptions {
  lr: number;
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  centered: boolean;
  maximize: boolean;
}

export class RMSprop extends Optimizer<RMSpropOptions> {
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupSpec<RMSpropOptions>>, opts: Partial<RMSpropOptions> = {}) {
    super(params, { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false, ...opts });
  }

  protected override validate(g: ParamGroup<RMSpropOptions>): void {
    if (!(g.lr >= 0) || !(g.alpha >= 0) || !(g.eps >= 0) || !(g.weightDecay >= 0) || !(g.momentum >= 0)) {
      throw new KilnError(`RMSprop: invalid options ${JSON.stringify({ ...g, params: undefined })}`);
    }
  }

  protected update(p: Tensor, grad: Tensor, g: ParamGroup<RMSpropOptions>, state: ParamState): void {
    if (!(state.square_avg instanceof Tensor)) {
      state.step = 0;
      this.keepState(state, 'square_avg', ew.mul(p, 0));
      if (g.momentum > 0) this.keepState(state, 'momentum_buffer', ew.mul(p, 0));
      if (g.centered) this.keepState(state, 'grad_avg', ew.mul(p, 0));
    }
    state.step = (state.step as number) + 1;
    const sq = state.square_avg as Tensor;
    const buf = g.momentum > 0 ? (state.momentum_buffer as Tensor) : null;
    const gavg = g.centered ? (state.grad_avg as Tensor) : null;
    const attrs = [g.lr, g.alpha, g.eps, g.weightDecay, g.momentum, Number(g.centered), Number(g.maximize)];
    if (canFuse('rmspropStep', p, grad, [sq, buf, gavg])) {
      fusedStep('rmspropStep', p, grad, [sq, buf, gavg], attrs);
      return;
    }
    let d = g.maximize ? ew.neg(grad) : grad;
    if (g.weightDecay !== 0) d = ew.add(d, ew.mul(p, g.weightDecay));
    assign(sq, ew.add(ew.mul(sq, g.alpha), ew.mul(ew.square(d), 1 - g.alpha)));
    let avg: Tensor;
    if (gavg) {
      assign(gavg, ew.add(ew.mul(gavg, g.alpha), ew.mul(d, 1 - g.alpha)));
      avg = ew.add(ew.sqrt(ew.sub(sq, ew.square(gavg))), g.eps);
    } else avg = ew.add(ew.sqrt(sq), g.eps);
    if (buf) {
      assign(buf, ew.add(ew.mul(buf, g.momentum), ew.div(d, avg)));
      assign(p, ew.sub(p, ew.mul(buf, g.lr)));
    } else assign(p, ew.sub(p, ew.mul(ew.div(d, avg), g.lr)));
  }
}
