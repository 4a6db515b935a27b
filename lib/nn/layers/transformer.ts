// MultiheadAttention, the Transformer encoder/decoder layers, their stacks and nn.Transformer,
// with PyTorch's parameter names (in_proj_weight, out_proj.*, self_attn.*, linear1.*, norm1.*,
// encoder.layers.0.* ...).
import { KilnError, ShapeError, shapeStr } from '../../errors.js';
import * as ew from '../../ops/elementwise.js';
import { transpose, unsqueeze, squeeze } from '../../ops/views.js';
import { tidy } from '../../tensor/memory.js';
import { full } from '../../tensor/creation.js';
import { getDefaultDevice, parseDevice, type DeviceLike } from '../../tensor/device.js';
import type { DType } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import { gelu, relu } from '../functional/activation.js';
import { causalMask, multiHeadAttentionForward, type MhaOptions } from '../functional/attention.js';
import * as init from '../init.js';
import { Module, ModuleList, type Parameter } from '../module.js';
import { Linear, type LayerOptions } from './linear.js';
import { Dropout, LayerNorm } from './normalization.js';
import { empty } from './util.js';

export interface MultiheadAttentionOptions extends LayerOptions {
  dropout?: number;
  bias?: boolean;
  kdim?: number;
  vdim?: number;
  /** Learned bias_k, bias_v [1, 1, E]: one more key and value after the projected ones. */
  addBiasKv?: boolean;
  /** A zero key and value appended after the projected ones (and bias_k / bias_v). */
  addZeroAttn?: boolean;
  /** Inputs are [batch, seq, feature] instead of [seq, batch, feature]. */
  batchFirst?: boolean;
}

export class MultiheadAttention extends Module<[Tensor, Tensor, Tensor, MhaOptions?], [Tensor, Tensor | null]> {
  in_proj_weight!: Parameter | null;
  q_proj_weight!: Parameter | null;
  k_proj_weight!: Parameter | null;
  v_proj_weight!: Parameter | null;
  in_proj_bias!: Parameter | null;
  bias_k!: Parameter | null;
  bias_v!: Parameter | null;
  out_proj!: Linear;
  readonly addZeroAttn: boolean;
  readonly dropout: number;
  readonly batchFirst: boolean;
  readonly kdim: number;
  readonly vdim: number;

  constructor(readonly embedDim: number, readonly numHeads: number, opts: MultiheadAttentionOptions = {}) {
    super();
    if (embedDim % numHeads !== 0) throw new ShapeError(`MultiheadAttention: embedDim ${embedDim} must be divisible by numHeads ${numHeads}`);
    this.dropout = opts.dropout ?? 0;
    this.batchFirst = opts.batchFirst ?? false;
    this.kdim = opts.kdim ?? embedDim;
    this.vdim = opts.vdim ?? embedDim;
    const same = this.kdim === embedDim && this.vdim === embedDim;
    const E = embedDim;
    this.registerParameter('in_proj_weight', same ? empty([3 * E, E], opts.dtype) : null);
    this.registerParameter('q_proj_weight', same ? null : empty([E, E], opts.dtype));
    this.registerParameter('k_proj_weight', same ? null : empty([E, this.kdim], opts.dtype));
    this.registerParameter('v_proj_weight', same ? null : empty([E, this.vdim], opts.dtype));
    this.registerParameter('in_proj_bias', opts.bias ?? true ? empty([3 * E], opts.dtype) : null);
    this.registerParameter('bias_k', opts.addBiasKv ? empty([1, 1, E], opts.dtype) : null);
    this.registerParameter('bias_v', opts.addBiasKv ? empty([1, 1, E], opts.dtype) : null);
    this.registerModule('out_proj', new Linear(E, E, { bias: opts.bias ?? true, dtype: opts.dtype }));
    this.addZeroAttn = opts.addZeroAttn ?? false;
    this.resetParameters();
  }

  resetParameters(): void {
    if (this.in_proj_weight) init.xavierUniform(this.in_proj_weight);
    else for (const w of [this.q_proj_weight, this.k_proj_weight, this.v_proj_weight]) init.xavierUniform(w!);
    if (this.in_proj_bias) init.zeros(this.in_proj_bias);
    if (this.out_proj.bias) init.zeros(this.out_proj.bias);
    if (this.bias_k) init.xavierNormal(this.bias_k);
    if (this.bias_v) init.xavierNormal(this.bias_v);
  }

  /**
   * query [L, N, E], key [S, N, kdim], value [S, N, vdim] ([N, L, E] ... with batchFirst; 2-D
   * for one unbatched sequence). Returns [output, attention weights averaged over heads or null].
   */
  forward(query: Tensor, key: Tensor, value: Tensor, opts: MhaOptions = {}): [Tensor, Tensor | null] {
    return tidy(() => {
      const unbatched = query.ndim === 2;
      if (!unbatched && query.ndim !== 3) throw new ShapeError(`MultiheadAttention: expected 2-D or 3-D query, got ${shapeStr(query.shape)}`);
      const prep = (x: Tensor) => (unbatched ? unsqueeze(x, 1) : this.batchFirst ? transpose(x, 0, 1) : x);
      const kpm = opts.keyPaddingMask && unbatched ? unsqueeze(opts.keyPaddingMask, 0) : opts.keyPaddingMask;
      // Self-attention: one view for all three (its input copy, if any, is made once).
      const q = prep(query);
      const k = key === query ? q : prep(key);
      const v = value === key ? k : prep(value);
      let [out, w] = multiHeadAttentionForward(q, k, v, {
        numHeads: this.numHeads,
        inProjWeight: this.in_proj_weight,
        inProjBias: this.in_proj_bias,
        qProjWeight: this.q_proj_weight,
        kProjWeight: this.k_proj_weight,
        vProjWeight: this.v_proj_weight,
        outProjWeight: this.out_proj.weight,
        outProjBias: this.out_proj.bias,
        biasK: this.bias_k,
        biasV: this.bias_v,
        addZeroAttn: this.addZeroAttn,
        dropoutP: this.dropout,
        training: this.training,
      }, { ...opts, keyPaddingMask: kpm });
      if (unbatched) {
        out = squeeze(out, 1);
        if (w) w = squeeze(w, 0);
      } else if (this.batchFirst) out = transpose(out, 0, 1);
      return [out, w] as [Tensor, Tensor | null];
    });
  }

  override extraRepr(): string {
    const parts = [`embedDim=${this.embedDim}`, `numHeads=${this.numHeads}`];
    if (this.dropout) parts.push(`dropout=${this.dropout}`);
    if (this.kdim !== this.embedDim || this.vdim !== this.embedDim) parts.push(`kdim=${this.kdim}, vdim=${this.vdim}`);
    if (this.bias_k) parts.push('addBiasKv=true');
    if (this.addZeroAttn) parts.push('addZeroAttn=true');
    if (this.batchFirst) parts.push('batchFirst=true');
    return parts.join(', ');
  }
}

export type Activation = 'relu' | 'gelu' | ((x: Tensor) => Tensor);

export interface TransformerLayerOptions extends LayerOptions {
  dimFeedforward?: number;
  dropout?: number;
  activation?: Activation;
  layerNormEps?: number;
  batchFirst?: boolean;
  /** Pre-norm (LayerNorm before each block) instead of post-norm. */
  normFirst?: boolean;
  bias?: boolean;
}

function activationFn(a: Activation | undefined): (x: Tensor) => Tensor {
  if (a === undefined || a === 'relu') return relu;
  if (a === 'gelu') return (x) => gelu(x);
  return a;
}

export interface EncoderLayerCallOptions {
  srcMask?: Tensor | null;
  srcKeyPaddingMask?: Tensor | null;
  isCausal?: boolean;
}

export class TransformerEncoderLayer extends Module<[Tensor, EncoderLayerCallOptions?]> {
  self_attn!: MultiheadAttention;
  linear1!: Linear;
  dropout!: Dropout;
  linear2!: Linear;
  norm1!: LayerNorm;
  norm2!: LayerNorm;
  dropout1!: Dropout;
  dropout2!: Dropout;
  readonly normFirst: boolean;
  readonly activation: (x: Tensor) => Tensor;

  constructor(dModel: number, nhead: number, opts: TransformerLayerOptions = {}) {
    super();
    const p = opts.dropout ?? 0.1;
    const ff = opts.dimFeedforward ?? 2048;
    const eps = opts.layerNormEps ?? 1e-5;
    const bias = opts.bias ?? true;
    this.registerModule('self_attn', new MultiheadAttention(dModel, nhead, { dropout: p, bias, batchFirst: opts.batchFirst, dtype: opts.dtype }));
    this.registerModule('linear1', new Linear(dModel, ff, { bias, dtype: opts.dtype }));
    this.registerModule('dropout', new Dropout(p));
    this.registerModule('linear2', new Linear(ff, dModel, { bias, dtype: opts.dtype }));
    this.normFirst = opts.normFirst ?? false;
    this.registerModule('norm1', new LayerNorm(dModel, { eps, bias, dtype: opts.dtype }));
    this.registerModule('norm2', new LayerNorm(dModel, { eps, bias, dtype: opts.dtype }));
    this.registerModule('dropout1', new Dropout(p));
    this.registerModule('dropout2', new Dropout(p));
    this.activation = activationFn(opts.activation);
  }

  private sa(x: Tensor, o: EncoderLayerCallOptions): Tensor {
    const [y] = this.self_attn.forward(x, x, x, { attnMask: o.srcMask, keyPaddingMask: o.srcKeyPaddingMask, isCausal: o.isCausal && !o.srcMask, needWeights: false });
    return this.dropout1.forward(y);
  }

  private ff(x: Tensor): Tensor {
    return this.dropout2.forward(this.linear2.forward(this.dropout.forward(this.activation(this.linear1.forward(x)))));
  }

  forward(src: Tensor, o: EncoderLayerCallOptions = {}): Tensor {
    return tidy(() => {
      let x = src;
      if (this.normFirst) {
        x = x.add(this.sa(this.norm1.forward(x), o));
        x = x.add(this.ff(this.norm2.forward(x)));
      } else {
        x = this.norm1.forward(x.add(this.sa(x, o)));
        x = this.norm2.forward(x.add(this.ff(x)));
      }
      return x;
    });
  }
}

export interface DecoderLayerCallOptions {
  tgtMask?: Tensor | null;
  memoryMask?: Tensor | null;
  tgtKeyPaddingMask?: Tensor | null;
  memoryKeyPaddingMask?: Tensor | null;
  tgtIsCausal?: boolean;
  /** Causal attention over the memory as well (used when memoryMask is absent). */
  memoryIsCausal?: boolean;
}

export class TransformerDecoderLayer extends Module<[Tensor, Tensor, DecoderLayerCallOptions?]> {
  self_attn!: MultiheadAttention;
  multihead_attn!: MultiheadAttention;
  linear1!: Linear;
  dropout!: Dropout;
  linear2!: Linear;
  norm1!: LayerNorm;
  norm2!: LayerNorm;
  norm3!: LayerNorm;
  dropout1!: Dropout;
  dropout2!: Dropout;
  dropout3!: Dropout;
  readonly normFirst: boolean;
  readonly activation: (x: Tensor) => Tensor;

  constructor(dModel: number, nhead: number, opts: TransformerLayerOptions = {}) {
    super();
    const p = opts.dropout ?? 0.1;
    const ff = opts.dimFeedforward ?? 2048;
    const eps = opts.layerNormEps ?? 1e-5;
    const bias = opts.bias ?? true;
    const mha = () => new MultiheadAttention(dModel, nhead, { dropout: p, bias, batchFirst: opts.batchFirst, dtype: opts.dtype });
    this.registerModule('self_attn', mha());
    this.registerModule('multihead_attn', mha());
    this.registerModule('linear1', new Linear(dModel, ff, { bias, dtype: opts.dtype }));
    this.registerModule('dropout', new Dropout(p));
    this.registerModule('linear2', new Linear(ff, dModel, { bias, dtype: opts.dtype }));
    this.normFirst = opts.normFirst ?? false;
    for (const n of ['norm1', 'norm2', 'norm3']) this.registerModule(n, new LayerNorm(dModel, { eps, bias, dtype: opts.dtype }));
    for (const n of ['dropout1', 'dropout2', 'dropout3']) this.registerModule(n, new Dropout(p));
    this.activation = activationFn(opts.activation);
  }

  private sa(x: Tensor, o: DecoderLayerCallOptions): Tensor {
    const [y] = this.self_attn.forward(x, x, x, { attnMask: o.tgtMask, keyPaddingMask: o.tgtKeyPaddingMask, isCausal: o.tgtIsCausal && !o.tgtMask, needWeights: false });
    return this.dropout1.forward(y);
  }

  private mha(x: Tensor, mem: Tensor, o: DecoderLayerCallOptions): Tensor {
    const [y] = this.multihead_attn.forward(x, mem, mem, {
      attnMask: o.memoryMask, keyPaddingMask: o.memoryKeyPaddingMask, isCausal: o.memoryIsCausal && !o.memoryMask, needWeights: false,
    });
    return this.dropout2.forward(y);
  }

  private ff(x: Tensor): Tensor {
    return this.dropout3.forward(this.linear2.forward(this.dropout.forward(this.activation(this.linear1.forward(x)))));
  }

  forward(tgt: Tensor, memory: Tensor, o: DecoderLayerCallOptions = {}): Tensor {
    return tidy(() => {
      let x = tgt;
      if (this.normFirst) {
        x = x.add(this.sa(this.norm1.forward(x), o));
        x = x.add(this.mha(this.norm2.forward(x), memory, o));
        x = x.add(this.ff(this.norm3.forward(x)));
      } else {
        x = this.norm1.forward(x.add(this.sa(x, o)));
        x = this.norm2.forward(x.add(this.mha(x, memory, o)));
        x = this.norm3.forward(x.add(this.ff(x)));
      }
      return x;
    });
  }
}

// ------------------------------------------------------------------ stacks

/** What TransformerEncoder stacks: a TransformerEncoderLayer or a layer with its call signature. */
export type EncoderLayerLike = Module<[Tensor, EncoderLayerCallOptions?], Tensor>;
export type DecoderLayerLike = Module<[Tensor, Tensor, DecoderLayerCallOptions?], Tensor>;
/** The final normalization of a stack (a LayerNorm in nn.Transformer). */
export type NormLike = Module<[Tensor], Tensor>;

export interface EncoderCallOptions {
  /** The attention mask of every layer ([S, S] or [N * heads, S, S]). */
  mask?: Tensor | null;
  srcKeyPaddingMask?: Tensor | null;
  isCausal?: boolean;
}

function stackOf<M extends Module<any[], any>>(what: string, layer: M, numLayers: number): ModuleList<M> {
  if (!(layer instanceof Module)) throw new KilnError(`${what}: expects a layer module, got ${String(layer)}`);
  if (!Number.isSafeInteger(numLayers) || numLayers < 0) throw new KilnError(`${what}: numLayers must be an integer >= 0, got ${numLayers}`);
  // Deep copies, as PyTorch: the layers start equal and train apart; the given layer is not used.
  return new ModuleList(Array.from({ length: numLayers }, () => layer.clone()));
}

/** numLayers deep copies of an encoder layer run in turn (layers.0, layers.1, ...), then an optional norm. */
export class TransformerEncoder extends Module<[Tensor, EncoderCallOptions?]> {
  layers!: ModuleList<EncoderLayerLike>;
  norm!: NormLike | null;

  constructor(encoderLayer: EncoderLayerLike, readonly numLayers: number, opts: { norm?: NormLike | null } = {}) {
    super();
    this.registerModule('layers', stackOf('TransformerEncoder', encoderLayer, numLayers));
    this.registerModule('norm', opts.norm ?? null);
  }

  forward(src: Tensor, o: EncoderCallOptions = {}): Tensor {
    return tidy(() => {
      let x = src;
      for (const layer of this.layers) x = layer.forward(x, { srcMask: o.mask, srcKeyPaddingMask: o.srcKeyPaddingMask, isCausal: o.isCausal });
      return this.norm ? this.norm.forward(x) : x;
    });
  }
}

/** numLayers deep copies of a decoder layer, each attending to the same memory, then an optional norm. */
export class TransformerDecoder extends Module<[Tensor, Tensor, DecoderLayerCallOptions?]> {
  layers!: ModuleList<DecoderLayerLike>;
  norm!: NormLike | null;

  constructor(decoderLayer: DecoderLayerLike, readonly numLayers: number, opts: { norm?: NormLike | null } = {}) {
    super();
    this.registerModule('layers', stackOf('TransformerDecoder', decoderLayer, numLayers));
    this.registerModule('norm', opts.norm ?? null);
  }

  forward(tgt: Tensor, memory: Tensor, o: DecoderLayerCallOptions = {}): Tensor {
    return tidy(() => {
      let x = tgt;
      for (const layer of this.layers) x = layer.forward(x, memory, o);
      return this.norm ? this.norm.forward(x) : x;
    });
  }
}

export interface TransformerOptions extends Omit<TransformerLayerOptions, 'dimFeedforward'> {
  /** 512 by default, as every size here is PyTorch's default. */
  dModel?: number;
  nhead?: number;
  numEncoderLayers?: number;
  numDecoderLayers?: number;
  dimFeedforward?: number;
  customEncoder?: Module<[Tensor, EncoderCallOptions?], Tensor>;
  customDecoder?: Module<[Tensor, Tensor, DecoderLayerCallOptions?], Tensor>;
}

export interface TransformerCallOptions {
  srcMask?: Tensor | null;
  tgtMask?: Tensor | null;
  memoryMask?: Tensor | null;
  srcKeyPaddingMask?: Tensor | null;
  tgtKeyPaddingMask?: Tensor | null;
  memoryKeyPaddingMask?: Tensor | null;
  srcIsCausal?: boolean;
  tgtIsCausal?: boolean;
  memoryIsCausal?: boolean;
}

/**
 * The encoder-decoder Transformer of "Attention Is All You Need" (torch.nn.Transformer): an
 * encoder stack with a final LayerNorm (encoder.layers.*, encoder.norm) and a decoder stack with
 * one (decoder.layers.*, decoder.norm). Every weight of 2 or more dims starts xavier-uniform.
 */
export class Transformer extends Module<[Tensor, Tensor, TransformerCallOptions?]> {
  encoder!: Module<[Tensor, EncoderCallOptions?], Tensor>;
  decoder!: Module<[Tensor, Tensor, DecoderLayerCallOptions?], Tensor>;
  readonly dModel: number;
  readonly nhead: number;
  readonly batchFirst: boolean;

  constructor(opts: TransformerOptions = {}) {
    super();
    const { dModel = 512, nhead = 8, numEncoderLayers = 6, numDecoderLayers = 6, customEncoder, customDecoder, ...layerOpts } = opts;
    this.dModel = dModel;
    this.nhead = nhead;
    this.batchFirst = opts.batchFirst ?? false;
    const layer = { ...layerOpts, dimFeedforward: opts.dimFeedforward ?? 2048 };
    const norm = () => new LayerNorm(dModel, { eps: opts.layerNormEps ?? 1e-5, bias: opts.bias ?? true, dtype: opts.dtype });
    this.registerModule('encoder', customEncoder ?? new TransformerEncoder(new TransformerEncoderLayer(dModel, nhead, layer), numEncoderLayers, { norm: norm() }));
    this.registerModule('decoder', customDecoder ?? new TransformerDecoder(new TransformerDecoderLayer(dModel, nhead, layer), numDecoderLayers, { norm: norm() }));
    this.resetParameters();
  }

  resetParameters(): void {
    for (const p of this.parameters()) if (p.ndim > 1) init.xavierUniform(p);
  }

  /**
   * src [S, N, E] and tgt [T, N, E] ([N, S, E], [N, T, E] with batchFirst; 2-D unbatched);
   * returns [T, N, E]. Masks follow the layers: srcMask [S, S], tgtMask [T, T], memoryMask [T, S].
   */
  forward(src: Tensor, tgt: Tensor, o: TransformerCallOptions = {}): Tensor {
    const batched = src.ndim === 3;
    const b = this.batchFirst ? 0 : 1;
    if (batched && src.shape[b] !== tgt.shape[b]) {
      throw new ShapeError(`Transformer: the batch sizes of src ${shapeStr(src.shape)} and tgt ${shapeStr(tgt.shape)} must be equal`);
    }
    if (src.shape[src.ndim - 1] !== this.dModel || tgt.shape[tgt.ndim - 1] !== this.dModel) {
      throw new ShapeError(`Transformer: the feature sizes of src ${shapeStr(src.shape)} and tgt ${shapeStr(tgt.shape)} must equal dModel ${this.dModel}`);
    }
    return tidy(() => {
      const memory = this.encoder.forward(src, { mask: o.srcMask, srcKeyPaddingMask: o.srcKeyPaddingMask, isCausal: o.srcIsCausal });
      return this.decoder.forward(tgt, memory, {
        tgtMask: o.tgtMask, memoryMask: o.memoryMask, tgtKeyPaddingMask: o.tgtKeyPaddingMask,
        memoryKeyPaddingMask: o.memoryKeyPaddingMask, tgtIsCausal: o.tgtIsCausal, memoryIsCausal: o.memoryIsCausal,
      });
    });
  }

  /** The float [n, n] causal mask: 0 where key j <= query i, -inf above the diagonal. */
  static generateSquareSubsequentMask(n: number, opts: { dtype?: DType; device?: DeviceLike } = {}): Tensor {
    if (!Number.isSafeInteger(n) || n < 0) throw new KilnError(`generateSquareSubsequentMask: size must be an integer >= 0, got ${n}`);
    const device = parseDevice(opts.device ?? getDefaultDevice(), 'generateSquareSubsequentMask');
    return tidy(() => ew.where(causalMask(n, n, device), full([n, n], 0, { dtype: opts.dtype ?? 'float32', device }), -Infinity));
  }

  override extraRepr(): string {
    return `dModel=${this.dModel}, nhead=${this.nhead}${this.batchFirst ? ', batchFirst=true' : ''}`;
  }
}
