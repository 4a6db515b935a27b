// Loss modules: the functional losses with their options bound.
import type { Tensor } from '../../tensor/tensor.js';
import * as F from '../functional/loss.js';
import { Module } from '../module.js';

export class CrossEntropyLoss extends Module<[Tensor, Tensor]> {
  constructor(readonly opts: F.CrossEntropyOptions = {}) {
    super();
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.crossEntropy(input, target, this.opts);
  }
}

export class NLLLoss extends Module<[Tensor, Tensor]> {
  constructor(readonly opts: F.NllOptions = {}) {
    super();
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.nllLoss(input, target, this.opts);
  }
}

export class MSELoss extends Module<[Tensor, Tensor]> {
  constructor(readonly opts: { reduction?: F.Reduction } = {}) {
    super();
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.mseLoss(input, target, this.opts);
  }
}

export class L1Loss extends Module<[Tensor, Tensor]> {
  constructor(readonly opts: { reduction?: F.Reduction } = {}) {
    super();
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.l1Loss(input, target, this.opts);
  }
}

export class SmoothL1Loss extends Module<[Tensor, Tensor]> {
  constructor(readonly opts: { reduction?: F.Reduction; beta?: number } = {}) {
    super();
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.smoothL1Loss(input, target, this.opts);
  }
}

export class HuberLoss extends Module<[Tensor, Tensor]> {
  constructor(readonly opts: { reduction?: F.Reduction; delta?: number } = {}) {
    super();
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.huberLoss(input, target, this.opts);
  }
}

export class BCELoss extends Module<[Tensor, Tensor]> {
  constructor(readonly opts: { weight?: Tensor | null; reduction?: F.Reduction } = {}) {
    super();
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.bceLoss(input, target, this.opts);
  }
}

export class BCEWithLogitsLoss extends Module<[Tensor, Tensor]> {
  constructor(readonly opts: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: F.Reduction } = {}) {
    super();
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.bceWithLogits(input, target, this.opts);
  }
}

export class KLDivLoss extends Module<[Tensor, Tensor]> {
  constructor(readonly opts: { reduction?: F.Reduction | 'batchmean'; logTarget?: boolean } = {}) {
    super();
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.klDiv(input, target, this.opts);
  }
}
