// Linear, Bilinear, Identity, Flatten, Unflatten.
import { KilnError } from '../../errors.js';
import { empty } from './util.js';
import { flatten, reshape } from '../../ops/views.js';
import type { DType } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import * as F from '../functional/linear.js';
import * as init from '../init.js';
import { Module, type Parameter } from '../module.js';

export interface LayerOptions {
  dtype?: DType;
}

/** y = x W^T + b with weight [out, in]; PyTorch's default init (kaiming_uniform(a = sqrt 5)). */
export class Linear extends Module {
  weight!: Parameter;
  bias!: Parameter | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LayerOptions & { bias?: boolean } = {}) {
    super();
    checkPositive('Linear', { inFeatures, outFeatures });
    this.registerParameter('weight', empty([outFeatures, inFeatures], opts.dtype));
    this.registerParameter('bias', opts.bias ?? true ? empty([outFeatures], opts.dtype) : null);
    this.resetParameters();
  }

  resetParameters(): void {
    init.kaimingUniform(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const bound = this.inFeatures > 0 ? 1 / Math.sqrt(this.inFeatures) : 0;
      init.uniform(this.bias, -bound, bound);
    }
  }

  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

/** y_o = x1^T A_o x2 + b_o with weight [out, in1, in2]. */
export class Bilinear extends Module<[Tensor, Tensor]> {
  weight!: Parameter;
  bias!: Parameter | null;

  constructor(readonly in1Features: number, readonly in2Features: number, readonly outFeatures: number, opts: LayerOptions & { bias?: boolean } = {}) {
    super();
    checkPositive('Bilinear', { in1Features, in2Features, outFeatures });
    this.registerParameter('weight', empty([outFeatures, in1Features, in2Features], opts.dtype));
    this.registerParameter('bias', opts.bias ?? true ? empty([outFeatures], opts.dtype) : null);
    this.resetParameters();
  }

  resetParameters(): void {
    const bound = 1 / Math.sqrt(this.weight.shape[1]);
    init.uniform(this.weight, -bound, bound);
    if (this.bias) init.uniform(this.bias, -bound, bound);
  }

  forward(x1: Tensor, x2: Tensor): Tensor {
    return F.bilinear(x1, x2, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `in1Features=${this.in1Features}, in2Features=${this.in2Features}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x.mul(1);
  }
}

/** Flattens dims startDim..endDim (default: all but the batch dim). */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
  override extraRepr(): string {
    return `startDim=${this.startDim}, endDim=${this.endDim}`;
  }
}

/** Expands one dim into a shape. */
export class Unflatten extends Module {
  constructor(readonly dim: number, readonly unflattenedSize: readonly number[]) {
    super();
  }
  forward(x: Tensor): Tensor {
    const d = this.dim < 0 ? this.dim + x.ndim : this.dim;
    return reshape(x, [...x.shape.slice(0, d), ...this.unflattenedSize, ...x.shape.slice(d + 1)]);
  }
}

export function checkPositive(layer: string, sizes: Record<string, number>): void {
  for (const [k, v] of Object.entries(sizes)) {
    if (!Number.isInteger(v) || v < 0) throw new KilnError(`${layer}: ${k} must be a non-negative integer, got ${v}`);
  }
}
