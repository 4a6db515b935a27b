// Pooling layers.
import type { Tensor } from '../../tensor/tensor.js';
import * as F from '../functional/conv.js';
import { Module } from '../module.js';

export class MaxPool2d extends Module {
  constructor(readonly kernelSize: F.IntOrPair, readonly opts: F.PoolOptions = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, this.opts);
  }
  override extraRepr(): string {
    return `kernelSize=${JSON.stringify(this.kernelSize)}${describe(this.opts)}`;
  }
}

export class MaxPool1d extends Module {
  constructor(readonly kernelSize: F.IntOrPair, readonly opts: F.PoolOptions = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.maxPool1d(x, this.kernelSize, this.opts);
  }
  override extraRepr(): string {
    return `kernelSize=${JSON.stringify(this.kernelSize)}${describe(this.opts)}`;
  }
}

export class AvgPool2d extends Module {
  constructor(readonly kernelSize: F.IntOrPair, readonly opts: F.AvgPoolOptions = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, this.opts);
  }
  override extraRepr(): string {
    return `kernelSize=${JSON.stringify(this.kernelSize)}${describe(this.opts)}`;
  }
}

export class AvgPool1d extends Module {
  constructor(readonly kernelSize: F.IntOrPair, readonly opts: F.AvgPoolOptions = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.avgPool1d(x, this.kernelSize, this.opts);
  }
  override extraRepr(): string {
    return `kernelSize=${JSON.stringify(this.kernelSize)}${describe(this.opts)}`;
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: F.AdaptiveSize) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
  override extraRepr(): string {
    return `outputSize=${JSON.stringify(this.outputSize)}`;
  }
}

function describe(opts: object): string {
  const parts = Object.entries(opts).filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return parts.length ? `, ${parts.join(', ')}` : '';
}
