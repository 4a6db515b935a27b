// Conv1d/2d/3d and ConvTranspose1d/2d/3d with PyTorch's weight layouts, default initialization
// and padding modes.
import { KilnError, ShapeError, shapeStr } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import * as F from '../functional/conv.js';
import { pad } from '../functional/padding.js';
import * as init from '../init.js';
import { Module, type Parameter } from '../module.js';
import type { LayerOptions } from './linear.js';
import { empty } from './util.js';

export interface ConvLayerOptions extends LayerOptions {
  stride?: F.IntOrPair;
  padding?: F.Padding;
  dilation?: F.IntOrPair;
  groups?: number;
  bias?: boolean;
  /**
   * How the padding is filled: 'zeros' (the default), or 'reflect', 'replicate', 'circular', which
   * pad the input explicitly (nn.functional.pad) before an unpadded convolution, as PyTorch.
   */
  paddingMode?: PaddingMode;
}

export type PaddingMode = 'zeros' | 'reflect' | 'replicate' | 'circular';

abstract class ConvNd extends Module {
  weight!: Parameter;
  bias!: Parameter | null;
  readonly kernelSize: number[];
  readonly stride: number[];
  readonly padding: number[] | 'same' | 'valid' | (readonly [number, number])[];
  readonly dilation: number[];
  readonly groups: number;
  readonly paddingMode: PaddingMode;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: F.IntOrPair, protected readonly nd: number, opts: ConvLayerOptions, transposed: boolean) {
    super();
    const name = this.constructor.name;
    this.kernelSize = F.tuple(kernelSize, nd, 'kernelSize', name);
    this.stride = F.tuple(opts.stride ?? 1, nd, 'stride', name);
    this.dilation = F.tuple(opts.dilation ?? 1, nd, 'dilation', name);
    const p = opts.padding ?? 0;
    if (p === 'same' || p === 'valid') this.padding = p;
    else if (Array.isArray(p) && p.some((v) => Array.isArray(v))) this.padding = (p as readonly (readonly [number, number])[]).map((v) => [v[0], v[1]] as [number, number]);
    else this.padding = F.tuple(p as F.IntOrPair, nd, 'padding', name);
    if (this.padding === 'same' && this.stride.some((v) => v !== 1)) {
      throw new KilnError(`${name}: padding 'same' is not supported for strided convolutions (stride [${this.stride}])`);
    }
    this.paddingMode = opts.paddingMode ?? 'zeros';
    if (!['zeros', 'reflect', 'replicate', 'circular'].includes(this.paddingMode)) {
      throw new KilnError(`${name}: paddingMode must be 'zeros', 'reflect', 'replicate' or 'circular', got '${String(this.paddingMode)}'`);
    }
    this.groups = opts.groups ?? 1;
    if (!Number.isInteger(this.groups) || this.groups < 1 || inChannels % this.groups || outChannels % this.groups) {
      throw new KilnError(`${name}: groups = ${this.groups} must divide inChannels ${inChannels} and outChannels ${outChannels}`);
    }
    const shape = transposed
      ? [inChannels, outChannels / this.groups, ...this.kernelSize]
      : [outChannels, inChannels / this.groups, ...this.kernelSize];
    this.registerParameter('weight', empty(shape, opts.dtype));
    this.registerParameter('bias', opts.bias ?? true ? empty([outChannels], opts.dtype) : null);
    this.resetParameters();
  }

  resetParameters(): void {
    init.kaimingUniform(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const [fanIn] = init.calculateFanInAndFanOut(this.weight);
      const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
      init.uniform(this.bias, -bound, bound);
    }
  }

  override extraRepr(): string {
    const parts = [`${this.inChannels}, ${this.outChannels}`, `kernelSize=[${this.kernelSize}]`];
    if (this.stride.some((s) => s !== 1)) parts.push(`stride=[${this.stride}]`);
    if (typeof this.padding === 'string') parts.push(`padding='${this.padding}'`);
    else if (this.padding.flat().some((s) => s !== 0)) parts.push(`padding=${JSON.stringify(this.padding)}`);
    if (this.dilation.some((s) => s !== 1)) parts.push(`dilation=[${this.dilation}]`);
    if (this.groups !== 1) parts.push(`groups=${this.groups}`);
    if (!this.bias) parts.push('bias=false');
    if (this.paddingMode !== 'zeros') parts.push(`paddingMode='${this.paddingMode}'`);
    return parts.join(', ');
  }

  /** [before, after] per spatial dim, with 'same' split as PyTorch (the odd element after). */
  private paddingPairs(): [number, number][] {
    const p = this.padding;
    if (p === 'valid') return this.kernelSize.map(() => [0, 0]);
    if (p === 'same') {
      return this.kernelSize.map((k, d) => {
        const total = this.dilation[d] * (k - 1);
        return [Math.floor(total / 2), total - Math.floor(total / 2)];
      });
    }
    return (p as (number | readonly [number, number])[]).map((v) => (typeof v === 'number' ? [v, v] : [v[0], v[1]]));
  }

  /** Pads x explicitly for the non-zero padding modes; the convolution then pads nothing. */
  protected convInput(x: Tensor): [Tensor, F.ConvOptions] {
    const opts = { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups };
    if (this.paddingMode === 'zeros') return [x, opts];
    // nn.functional.pad takes the pairs from the last dim backwards.
    const pads = this.paddingPairs().reverse().flat();
    return [pad(x, pads, this.paddingMode), { ...opts, padding: 0 }];
  }
}

/** Weight [out, in / groups, k]; input [N, C, L]. */
export class Conv1d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: F.IntOrPair, opts: ConvLayerOptions = {}) {
    super(inChannels, outChannels, kernelSize, 1, opts, false);
  }
  forward(x: Tensor): Tensor {
    const [input, opts] = this.convInput(x);
    return F.conv1d(input, this.weight, this.bias, opts);
  }
}

/** Weight [out, in / groups, kh, kw]; input [N, C, H, W]. */
export class Conv2d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: F.IntOrPair, opts: ConvLayerOptions = {}) {
    super(inChannels, outChannels, kernelSize, 2, opts, false);
  }
  forward(x: Tensor): Tensor {
    const [input, opts] = this.convInput(x);
    return F.conv2d(input, this.weight, this.bias, opts);
  }
}

/** Weight [out, in / groups, kd, kh, kw]; input [N, C, D, H, W]. */
export class Conv3d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: F.IntOrPair, opts: ConvLayerOptions = {}) {
    super(inChannels, outChannels, kernelSize, 3, opts, false);
  }
  forward(x: Tensor): Tensor {
    const [input, opts] = this.convInput(x);
    return F.conv3d(input, this.weight, this.bias, opts);
  }
}

export interface ConvTransposeLayerOptions extends LayerOptions {
  stride?: F.IntOrPair;
  padding?: F.IntOrPair;
  outputPadding?: F.IntOrPair;
  dilation?: F.IntOrPair;
  groups?: number;
  bias?: boolean;
}

/** Weight [in, out / groups, ...kernel] (PyTorch's transposed layout); only zero padding. */
abstract class ConvTransposeNd extends ConvNd {
  readonly outputPadding: number[];
  constructor(inChannels: number, outChannels: number, kernelSize: F.IntOrPair, nd: number, opts: ConvTransposeLayerOptions) {
    if (typeof opts.padding === 'string') throw new KilnError(`ConvTranspose${nd}d: padding must be integers, got '${opts.padding}'`);
    const mode = (opts as ConvLayerOptions).paddingMode;
    if (mode !== undefined && mode !== 'zeros') throw new KilnError(`ConvTranspose${nd}d: only paddingMode 'zeros' is supported, got '${mode}'`);
    super(inChannels, outChannels, kernelSize, nd, opts, true);
    this.outputPadding = F.tuple(opts.outputPadding ?? 0, nd, 'outputPadding', this.constructor.name);
  }

  /**
   * The output padding that gives `outputSize` (the trailing spatial sizes, or the full shape),
   * which must lie between the smallest output size and that plus stride − 1, as PyTorch.
   */
  private outputPaddingFor(x: Tensor, outputSize?: readonly number[]): number[] {
    if (!outputSize) return this.outputPadding;
    const nd = this.nd;
    const size = outputSize.length === nd + 2 || outputSize.length === nd + 1 ? outputSize.slice(-nd) : outputSize;
    if (size.length !== nd) throw new ShapeError(`${this.constructor.name}: outputSize ${shapeStr(outputSize)} must list ${nd} spatial sizes`);
    const inSize = x.shape.slice(-nd);
    const pad = this.padding as number[];
    return size.map((want, d) => {
      const min = (inSize[d] - 1) * this.stride[d] - 2 * pad[d] + this.dilation[d] * (this.kernelSize[d] - 1) + 1;
      const max = min + this.stride[d] - 1;
      if (!(want >= min && want <= max)) {
        throw new ShapeError(`${this.constructor.name}: requested output size ${shapeStr(size)} is not reachable from input ` +
          `${shapeStr(x.shape)}: dim ${d} must be between ${min} and ${max}`);
      }
      return want - min;
    });
  }

  protected transposeOpts(x: Tensor, outputSize?: readonly number[]): F.ConvTransposeOptions {
    return {
      stride: this.stride, padding: this.padding as number[], outputPadding: this.outputPaddingFor(x, outputSize),
      dilation: this.dilation, groups: this.groups,
    };
  }
}

/** Weight [in, out / groups, k]; input [N, C, L]. */
export class ConvTranspose1d extends ConvTransposeNd {
  constructor(inChannels: number, outChannels: number, kernelSize: F.IntOrPair, opts: ConvTransposeLayerOptions = {}) {
    super(inChannels, outChannels, kernelSize, 1, opts);
  }
  forward(x: Tensor, outputSize?: readonly number[]): Tensor {
    return F.convTranspose1d(x, this.weight, this.bias, this.transposeOpts(x, outputSize));
  }
}

/** Weight [in, out / groups, kh, kw]; input [N, C, H, W]. */
export class ConvTranspose2d extends ConvTransposeNd {
  constructor(inChannels: number, outChannels: number, kernelSize: F.IntOrPair, opts: ConvTransposeLayerOptions = {}) {
    super(inChannels, outChannels, kernelSize, 2, opts);
  }
  forward(x: Tensor, outputSize?: readonly number[]): Tensor {
    return F.convTranspose2d(x, this.weight, this.bias, this.transposeOpts(x, outputSize));
  }
}

/** Weight [in, out / groups, kd, kh, kw]; input [N, C, D, H, W]. */
export class ConvTranspose3d extends ConvTransposeNd {
  constructor(inChannels: number, outChannels: number, kernelSize: F.IntOrPair, opts: ConvTransposeLayerOptions = {}) {
    super(inChannels, outChannels, kernelSize, 3, opts);
  }
  forward(x: Tensor, outputSize?: readonly number[]): Tensor {
    return F.convTranspose3d(x, this.weight, this.bias, this.transposeOpts(x, outputSize));
  }
}
