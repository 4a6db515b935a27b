// Conv1d, Conv2d, ConvTranspose2d with PyTorch's weight layouts and default initialization.
import { KilnError } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import * as F from '../functional/conv.js';
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
}

abstract class ConvNd extends Module {
  weight!: Parameter;
  bias!: Parameter | null;
  readonly kernelSize: number[];
  readonly stride: number[];
  readonly padding: number[] | 'same' | 'valid' | (readonly [number, number])[];
  readonly dilation: number[];
  readonly groups: number;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: F.IntOrPair, nd: number, opts: ConvLayerOptions, transposed: boolean) {
    super();
    const name = this.constructor.name;
    this.kernelSize = F.tuple(kernelSize, nd, 'kernelSize', name);
    this.stride = F.tuple(opts.stride ?? 1, nd, 'stride', name);
    this.dilation = F.tuple(opts.dilation ?? 1, nd, 'dilation', name);
    const p = opts.padding ?? 0;
    if (p === 'same' || p === 'valid') this.padding = p;
    else if (Array.isArray(p) && p.some((v) => Array.isArray(v))) this.padding = (p as readonly (readonly [number, number])[]).map((v) => [v[0], v[1]] as [number, number]);
    else this.padding = F.tuple(p as F.IntOrPair, nd, 'padding', name);
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
    return parts.join(', ');
  }

  protected convOpts(): F.ConvOptions {
    return { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups };
  }
}

/** Weight [out, in / groups, k]; input [N, C, L]. */
export class Conv1d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: F.IntOrPair, opts: ConvLayerOptions = {}) {
    super(inChannels, outChannels, kernelSize, 1, opts, false);
  }
  forward(x: Tensor): Tensor {
    return F.conv1d(x, this.weight, this.bias, this.convOpts());
  }
}

/** Weight [out, in / groups, kh, kw]; input [N, C, H, W]. */
export class Conv2d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: F.IntOrPair, opts: ConvLayerOptions = {}) {
    super(inChannels, outChannels, kernelSize, 2, opts, false);
  }
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, this.convOpts());
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

/** Weight [in, out / groups, kh, kw] (PyTorch's transposed layout). */
export class ConvTranspose2d extends ConvNd {
  readonly outputPadding: number[];
  constructor(inChannels: number, outChannels: number, kernelSize: F.IntOrPair, opts: ConvTransposeLayerOptions = {}) {
    super(inChannels, outChannels, kernelSize, 2, opts, true);
    this.outputPadding = F.tuple(opts.outputPadding ?? 0, 2, 'outputPadding', 'ConvTranspose2d');
  }
  forward(x: Tensor): Tensor {
    return F.convTranspose2d(x, this.weight, this.bias, {
      stride: this.stride, padding: this.padding as number[], outputPadding: this.outputPadding, dilation: this.dilation, groups: this.groups,
    });
  }
}
