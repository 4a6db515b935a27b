// Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay,
// exactly as torch.optim.SGD.
import { assign } from '../nn/assign.js';
import { KilnError } from '../errors.js';
import * as ew from '../ops/elementwise.js';
import { Tensor } from '../tensor/tensor.js';
import { canFuse, fusedStep } from './fused.js';
import { Optimizer, type ParamGroup, type ParamGroupSpec, type ParamState } from './optimizer.js';

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
}

export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupSpec<SGDOptions>>, opts: Partial<SGDOptions> = {}) {
    super(params, { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, ...opts });
  }

  protected override validate(g: ParamGroup<SGDOptions>): void {
    if (!(g.lr >= 0)) throw new KilnError(`SGD: invalid learning rate ${g.lr}`);
    if (!(g.momentum >= 0)) throw new KilnError(`SGD: invalid momentum ${g.momentum}`);
    if (!(g.weightDecay >= 0)) throw new KilnError(`SGD: invalid weightDecay ${g.weightDecay}`);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) throw new KilnError('SGD: Nesterov momentum needs momentum > 0 and zero dampening');
  }

  protected update(p: Tensor, grad: Tensor, g: ParamGroup<SGDOptions>, state: ParamState): void {
    const first = !(state.momentum_buffer instanceof Tensor);
    if (g.momentum !== 0 && first) this.keepState(state, 'momentum_buffer', ew.mul(p, 0));
    const buf = g.momentum !== 0 ? (state.momentum_buffer as Tensor) : null;
    const attrs = [g.lr, g.momentum, g.dampening, g.weightDecay, Number(g.nesterov), Number(g.maximize), Number(first)];
    if (canFuse('sgdStep', p, grad, [buf])) {
      fusedStep('sgdStep', p, grad, [buf], attrs);
      return;
    }
    let d = g.maximize ? ew.neg(grad) : grad;
    if (g.weightDecay !== 0) d = ew.add(d, ew.mul(p, g.weightDecay));
    if (buf) {
      const next = first ? d : ew.add(ew.mul(buf, g.momentum), ew.mul(d, 1 - g.dampening));
      assign(buf, next);
      d = g.nesterov ? ew.add(d, ew.mul(buf, g.momentum)) : buf;
    }
    assign(p, ew.sub(p, ew.mul(d, g.lr)));
  }
}
