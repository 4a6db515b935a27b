// RNN, LSTM and GRU: multi-layer, optionally bidirectional, with PyTorch's parameter names
// (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, weight_hr_l0 for a projected LSTM,
// ..._reverse) and gate orders.
import { KilnError, ShapeError, shapeStr } from '../../errors.js';
import { squeeze, transpose, unsqueeze } from '../../ops/views.js';
import { tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import { gateCount, rnnForward, type RnnMode, type RnnWeights } from '../functional/rnn.js';
import * as init from '../init.js';
import { Module, type Parameter } from '../module.js';
import type { LayerOptions } from './linear.js';
import { empty } from './util.js';

export interface RnnOptions extends LayerOptions {
  numLayers?: number;
  bias?: boolean;
  /** Input and output are [batch, time, feature] instead of [time, batch, feature]. */
  batchFirst?: boolean;
  /** Dropout on the outputs of every layer but the last (training only). */
  dropout?: number;
  bidirectional?: boolean;
}

export interface LstmOptions extends RnnOptions {
  /** PyTorch's proj_size: h = (o tanh(c)) W_hr^T of this size (0 < projSize < hiddenSize); 0 = none. */
  projSize?: number;
}

abstract class RnnBase<State> extends Module<[Tensor, State?], [Tensor, State]> {
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  /** LSTM only; 0 when h is not projected. */
  readonly projSize: number;

  constructor(readonly mode: RnnMode, readonly inputSize: number, readonly hiddenSize: number, opts: LstmOptions) {
    super();
    this.numLayers = opts.numLayers ?? 1;
    this.bias = opts.bias ?? true;
    this.batchFirst = opts.batchFirst ?? false;
    this.dropout = opts.dropout ?? 0;
    this.bidirectional = opts.bidirectional ?? false;
    this.projSize = opts.projSize ?? 0;
    if (!Number.isInteger(this.numLayers) || this.numLayers < 1) throw new KilnError(`${mode}: numLayers must be a positive integer`);
    if (!(this.dropout >= 0 && this.dropout <= 1)) throw new KilnError(`${mode}: dropout must be in [0, 1]`);
    if (!Number.isInteger(this.projSize) || this.projSize < 0) {
      throw new KilnError(`${mode}: projSize must be a positive integer, or 0 to disable projections; got ${this.projSize}`);
    }
    if (this.projSize > 0 && mode !== 'LSTM') throw new KilnError(`${mode}: projSize is only supported for LSTM`);
    if (this.projSize > 0 && this.projSize >= hiddenSize) {
      throw new KilnError(`${mode}: projSize (${this.projSize}) must be smaller than hiddenSize (${hiddenSize})`);
    }
    const G = gateCount[mode] * hiddenSize;
    const dirs = this.bidirectional ? 2 : 1;
    // The state fed back, and each layer's output per direction: projSize when projecting.
    const realHidden = this.projSize || hiddenSize;
    for (let layer = 0; layer < this.numLayers; layer++) {
      for (let dir = 0; dir < dirs; dir++) {
        const suffix = `_l${layer}${dir === 1 ? '_reverse' : ''}`;
        const inF = layer === 0 ? inputSize : realHidden * dirs;
        this.registerParameter(`weight_ih${suffix}`, empty([G, inF], opts.dtype));
        this.registerParameter(`weight_hh${suffix}`, empty([G, realHidden], opts.dtype));
        if (this.bias) {
          this.registerParameter(`bias_ih${suffix}`, empty([G], opts.dtype));
          this.registerParameter(`bias_hh${suffix}`, empty([G], opts.dtype));
        }
        if (this.projSize > 0) this.registerParameter(`weight_hr${suffix}`, empty([this.projSize, hiddenSize], opts.dtype));
      }
    }
    this.resetParameters();
  }

  /** Every weight and bias uniform in +-1/sqrt(hiddenSize). */
  resetParameters(): void {
    const bound = this.hiddenSize > 0 ? 1 / Math.sqrt(this.hiddenSize) : 0;
    for (const p of this.parameters(false)) init.uniform(p, -bound, bound);
  }

  protected weights(): RnnWeights[] {
    const out: RnnWeights[] = [];
    const dirs = this.bidirectional ? 2 : 1;
    const self = this as unknown as Record<string, Parameter | undefined>;
    for (let layer = 0; layer < this.numLayers; layer++) {
      for (let dir = 0; dir < dirs; dir++) {
        const s = `_l${layer}${dir === 1 ? '_reverse' : ''}`;
        out.push({
          wIh: self[`weight_ih${s}`]!, wHh: self[`weight_hh${s}`]!, bIh: self[`bias_ih${s}`] ?? null, bHh: self[`bias_hh${s}`] ?? null,
          wHr: self[`weight_hr${s}`] ?? null,
        });
      }
    }
    return out;
  }

  /** Normalizes the input to [T, N, F]; reports whether it was unbatched. */
  protected prepare(x: Tensor): { seq: Tensor; unbatched: boolean } {
    if (x.ndim !== 2 && x.ndim !== 3) throw new ShapeError(`${this.mode}: expected a 2-D or 3-D input, got ${shapeStr(x.shape)}`);
    if (x.shape[x.ndim - 1] !== this.inputSize) throw new ShapeError(`${this.mode}: expected input size ${this.inputSize}, got ${shapeStr(x.shape)}`);
    if (x.ndim === 2) return { seq: unsqueeze(x, 1), unbatched: true };
    return { seq: this.batchFirst ? transpose(x, 0, 1) : x, unbatched: false };
  }

  protected run(x: Tensor, h0: Tensor | null, c0: Tensor | null): [Tensor, Tensor, Tensor | null] {
    return tidy(() => {
      const { seq, unbatched } = this.prepare(x);
      const state = (s: Tensor | null) => (s && unbatched ? unsqueeze(s, 1) : s);
      let [out, hN, cN] = rnnForward(seq, this.weights(), {
        mode: this.mode, hiddenSize: this.hiddenSize, numLayers: this.numLayers, bidirectional: this.bidirectional,
        dropout: this.dropout, training: this.training, projSize: this.projSize,
      }, state(h0), state(c0));
      if (unbatched) {
        out = squeeze(out, 1);
        hN = squeeze(hN, 1);
        cN = cN ? squeeze(cN, 1) : null;
      } else if (this.batchFirst) out = transpose(out, 0, 1);
      return [out, hN, cN] as [Tensor, Tensor, Tensor | null];
    });
  }

  override extraRepr(): string {
    const parts = [`${this.inputSize}, ${this.hiddenSize}`];
    if (this.numLayers !== 1) parts.push(`numLayers=${this.numLayers}`);
    if (!this.bias) parts.push('bias=false');
    if (this.batchFirst) parts.push('batchFirst=true');
    if (this.dropout) parts.push(`dropout=${this.dropout}`);
    if (this.bidirectional) parts.push('bidirectional=true');
    if (this.projSize) parts.push(`projSize=${this.projSize}`);
    return parts.join(', ');
  }
}

/** Elman RNN: h' = tanh (or relu) of x W_ih^T + b_ih + h W_hh^T + b_hh. forward(x, h0?) -> [output, hN]. */
export class RNN extends RnnBase<Tensor> {
  constructor(inputSize: number, hiddenSize: number, opts: RnnOptions & { nonlinearity?: 'tanh' | 'relu' } = {}) {
    super((opts.nonlinearity ?? 'tanh') === 'tanh' ? 'RNN_TANH' : 'RNN_RELU', inputSize, hiddenSize, opts);
  }
  forward(x: Tensor, h0?: Tensor): [Tensor, Tensor] {
    const [out, hN] = this.run(x, h0 ?? null, null);
    return [out, hN];
  }
}

/**
 * LSTM with gates i, f, g, o. forward(x, [h0, c0]?) -> [output, [hN, cN]]. With projSize P,
 * h = (o tanh(c)) W_hr^T: output [T, N, D P], h0 and hN [L D, N, P], c0 and cN [L D, N, H].
 */
export class LSTM extends RnnBase<[Tensor, Tensor]> {
  constructor(inputSize: number, hiddenSize: number, opts: LstmOptions = {}) {
    super('LSTM', inputSize, hiddenSize, opts);
  }
  forward(x: Tensor, state?: [Tensor, Tensor]): [Tensor, [Tensor, Tensor]] {
    const [out, hN, cN] = this.run(x, state?.[0] ?? null, state?.[1] ?? null);
    return [out, [hN, cN!]];
  }
}

/** GRU with gates r, z, n. forward(x, h0?) -> [output, hN]. */
export class GRU extends RnnBase<Tensor> {
  constructor(inputSize: number, hiddenSize: number, opts: RnnOptions = {}) {
    super('GRU', inputSize, hiddenSize, opts);
  }
  forward(x: Tensor, h0?: Tensor): [Tensor, Tensor] {
    const [out, hN] = this.run(x, h0 ?? null, null);
    return [out, hN];
  }
}

