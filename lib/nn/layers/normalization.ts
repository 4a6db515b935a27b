// BatchNorm1d/2d, LayerNorm, GroupNorm, Dropout, Embedding.
import { noGrad } from '../../autograd/backward.js';
import { KilnError, ShapeError, shapeStr } from '../../errors.js';
import { zeros } from '../../tensor/creation.js';
import { tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import * as F from '../functional/normalization.js';
import * as init from '../init.js';
import { Module, type Parameter } from '../module.js';
import type { LayerOptions } from './linear.js';
import { empty, filled } from './util.js';

export interface BatchNormLayerOptions extends LayerOptions {
  eps?: number;
  /** Weight of each new batch in the running statistics; null = cumulative average. */
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
}

abstract class BatchNormBase extends Module {
  weight!: Parameter | null;
  bias!: Parameter | null;
  running_mean!: Tensor | null;
  running_var!: Tensor | null;
  num_batches_tracked!: Tensor | null;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;

  constructor(readonly numFeatures: number, opts: BatchNormLayerOptions = {}) {
    super();
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    this.affine = opts.affine ?? true;
    this.trackRunningStats = opts.trackRunningStats ?? true;
    this.registerParameter('weight', this.affine ? empty([numFeatures], opts.dtype) : null);
    this.registerParameter('bias', this.affine ? empty([numFeatures], opts.dtype) : null);
    if (this.trackRunningStats) {
      this.registerBuffer('running_mean', filled([numFeatures], 0, opts.dtype));
      this.registerBuffer('running_var', filled([numFeatures], 1, opts.dtype));
      this.registerBuffer('num_batches_tracked', zeros([], { dtype: 'int32' }));
    } else {
      this.registerBuffer('running_mean', null);
      this.registerBuffer('running_var', null);
      this.registerBuffer('num_batches_tracked', null);
    }
    this.resetParameters();
  }

  resetRunningStats(): void {
    if (!this.trackRunningStats) return;
    noGrad(() => {
      this.running_mean!.fill_(0);
      this.running_var!.fill_(1);
      this.num_batches_tracked!.fill_(0);
    });
  }

  resetParameters(): void {
    this.resetRunningStats();
    if (this.affine) {
      init.ones(this.weight!);
      init.zeros(this.bias!);
    }
  }

  protected abstract checkInput(x: Tensor): void;

  forward(x: Tensor): Tensor {
    this.checkInput(x);
    if (x.shape[1] !== this.numFeatures) {
      throw new ShapeError(`${this.constructor.name}: expected ${this.numFeatures} channels, got input ${shapeStr(x.shape)}`);
    }
    let factor = this.momentum ?? 0;
    if (this.training && this.trackRunningStats) {
      const n = (this.num_batches_tracked!.item() as number) + 1;
      noGrad(() => this.num_batches_tracked!.fill_(n));
      if (this.momentum === null) factor = 1 / n;
    }
    // Batch statistics in training, or when no running statistics are kept.
    const useBatch = this.training || !this.trackRunningStats;
    return F.batchNorm(x, useBatch && !this.training ? null : this.running_mean, useBatch && !this.training ? null : this.running_var,
      this.weight, this.bias, { training: useBatch, momentum: factor, eps: this.eps });
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.affine}, trackRunningStats=${this.trackRunningStats}`;
  }
}

/** Input [N, C] or [N, C, L]. */
export class BatchNorm1d extends BatchNormBase {
  protected checkInput(x: Tensor): void {
    if (x.ndim !== 2 && x.ndim !== 3) throw new ShapeError(`BatchNorm1d: expected 2-D or 3-D input, got ${shapeStr(x.shape)}`);
  }
}

/** Input [N, C, H, W]. */
export class BatchNorm2d extends BatchNormBase {
  protected checkInput(x: Tensor): void {
    if (x.ndim !== 4) throw new ShapeError(`BatchNorm2d: expected 4-D input, got ${shapeStr(x.shape)}`);
  }
}

export class LayerNorm extends Module {
  weight!: Parameter | null;
  bias!: Parameter | null;
  readonly normalizedShape: number[];
  readonly eps: number;

  constructor(normalizedShape: number | readonly number[], opts: LayerOptions & { eps?: number; elementwiseAffine?: boolean; bias?: boolean } = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.elementwiseAffine ?? true;
    this.registerParameter('weight', affine ? empty(this.normalizedShape, opts.dtype) : null);
    this.registerParameter('bias', affine && (opts.bias ?? true) ? empty(this.normalizedShape, opts.dtype) : null);
    if (this.weight) init.ones(this.weight);
    if (this.bias) init.zeros(this.bias);
  }

  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    return `[${this.normalizedShape}], eps=${this.eps}, elementwiseAffine=${this.weight !== null}`;
  }
}

export class GroupNorm extends Module {
  weight!: Parameter | null;
  bias!: Parameter | null;
  readonly eps: number;

  constructor(readonly numGroups: number, readonly numChannels: number, opts: LayerOptions & { eps?: number; affine?: boolean } = {}) {
    super();
    if (numChannels % numGroups !== 0) throw new KilnError(`GroupNorm: numChannels ${numChannels} must be divisible by numGroups ${numGroups}`);
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.affine ?? true;
    this.registerParameter('weight', affine ? empty([numChannels], opts.dtype) : null);
    this.registerParameter('bias', affine ? empty([numChannels], opts.dtype) : null);
    if (this.weight) init.ones(this.weight);
    if (this.bias) init.zeros(this.bias);
  }

  forward(x: Tensor): Tensor {
    return F.groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}, affine=${this.weight !== null}`;
  }
}

/** Inverted dropout in training mode; the identity in evaluation mode. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new KilnError(`Dropout: probability must be in [0, 1], got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }
  override extraRepr(): string {
    return `p=${this.p}`;
  }
}

/** A lookup table weight [numEmbeddings, embeddingDim] initialized N(0, 1); the padding row starts at zero. */
export class Embedding extends Module<[Tensor]> {
  weight!: Parameter;
  readonly paddingIdx: number | null;

  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, opts: LayerOptions & { paddingIdx?: number | null } = {}) {
    super();
    const p = opts.paddingIdx ?? null;
    if (p !== null && (p >= numEmbeddings || p < -numEmbeddings)) throw new KilnError(`Embedding: paddingIdx ${p} out of range for ${numEmbeddings} embeddings`);
    this.paddingIdx = p === null ? null : p < 0 ? p + numEmbeddings : p;
    this.registerParameter('weight', empty([numEmbeddings, embeddingDim], opts.dtype));
    this.resetParameters();
  }

  resetParameters(): void {
    init.normal(this.weight);
    if (this.paddingIdx !== null) noGrad(() => tidy(() => void this.weight.narrow(0, this.paddingIdx!, 1).fill_(0)));
  }

  forward(indices: Tensor): Tensor {
    return F.embedding(indices, this.weight, this.paddingIdx);
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx !== null ? `, paddingIdx=${this.paddingIdx}` : ''}`;
  }
}
