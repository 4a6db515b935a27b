// The Tensor: a view (shape, strides, offset) over a refcounted native Storage, plus its dtype,
// device and autodiff fields. Every method delegates to lib/ops; nothing here loops over data.
import { addon, call, synchronizeDevice } from '../backend/native.js';
import { KilnError, ShapeError } from '../errors.js';
import * as copy from '../ops/copy.js';
import * as ew from '../ops/elementwise.js';
import * as idx from '../ops/indexing.js';
import * as linalg from '../ops/linalg.js';
import * as red from '../ops/reduce.js';
import * as views from '../ops/views.js';
import { parseDevice, type Device, type DeviceLike } from './device.js';
import { typedArrayCtor, type AnyTypedArray, type DType } from './dtype.js';
import { formatTensor } from './format.js';
import { track, unscope, untrack } from './memory.js';
import { backward, type BackwardOptions } from '../autograd/backward.js';
import { leafNode, type Node } from '../autograd/node.js';
import { contiguousStrides, isContiguous, normDim, numel } from './shape.js';
import { Storage } from './storage.js';

export type Scalar = number | boolean;
export type TensorOrScalar = Tensor | Scalar;
export type Dims = number | readonly number[];
export type NestedArray = Scalar | NestedArray[];

/** A value traced by a functional transform (grad, jvp, ...) at one trace level >= 1. */
export interface TraceInfo {
  readonly level: number;
  readonly kind: 'rev' | 'fwd';
  /** The same value one level down; owned (disposed) by the traced tensor. */
  readonly primal: Tensor;
  /** Reverse-mode levels: the node that produced this value. */
  readonly node: Node | null;
  /** Forward-mode levels: the tangent (null = zero); owned like the primal. */
  readonly tangent: Tensor | null;
}

export class Tensor {
  readonly storage: Storage;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  /** Whether gradients flow to this tensor (a leaf the user asked about, or a traced result). */
  requiresGrad = false;
  /** The accumulated gradient of a leaf after backward(). */
  grad: Tensor | null = null;
  /** The recorded operation that produced this tensor (PyTorch's grad_fn); null for leaves. */
  gradFn: Node | null = null;
  /** For a leaf with requiresGrad: the node gradients accumulate into (created on first use). */
  leafNode: Node | null = null;
  /** Set when a functional transform traces this value. */
  trace: TraceInfo | null = null;
  private disposed = false;
  /**
   * The FinalizationRegistry's unregister token (the tensor itself cannot be the token's holder
   * without keeping it alive); null until the tensor leaves every tidy scope (see memory.ts).
   */
  finalizerToken: object | null = null;

  constructor(storage: Storage, shape: readonly number[], strides: readonly number[], offset: number, dtype: DType) {
    this.storage = storage;
    // Views of a tensor share its frozen shape and strides; only new arrays are copied and frozen.
    this.shape = Object.isFrozen(shape) ? shape : Object.freeze([...shape]);
    this.strides = Object.isFrozen(strides) ? strides : Object.freeze([...strides]);
    this.offset = offset;
    this.dtype = dtype;
    track(this, storage);
  }

  /** Wraps a fresh contiguous native allocation. */
  static fromHandle(handle: number, shape: readonly number[], dtype: DType, device: Device): Tensor {
    const storage = new Storage(handle, dtype, device, numel(shape));
    return new Tensor(storage, shape, contiguousStrides(shape), 0, dtype);
  }

  /** A new view of this tensor's storage. */
  asView(shape: readonly number[], strides: readonly number[], offset: number): Tensor {
    this.assertAlive('view');
    return new Tensor(this.storage, shape, strides, offset, this.dtype);
  }

  get device(): Device {
    return this.storage.device;
  }
  get ndim(): number {
    return this.shape.length;
  }
  numel(): number {
    return numel(this.shape);
  }
  size(): number[];
  size(dim: number): number;
  size(dim?: number): number | number[] {
    if (dim === undefined) return [...this.shape];
    return this.shape[normDim(dim, this.ndim, 'size')];
  }
  isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }
  get isDisposed(): boolean {
    return this.disposed;
  }

  // ------------------------------------------------------------------ lifetime

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    untrack(this);
    if (this.trace) {
      this.trace.primal.dispose();
      this.trace.tangent?.dispose();
    }
  }

  /**
   * A second tensor object over the same data and the same autodiff identity (graph node, leaf,
   * trace), outside every tidy scope: autodiff uses it to keep values alive for a backward pass.
   */
  ownedAlias(): Tensor {
    this.assertAlive('alias');
    const a = new Tensor(this.storage, this.shape, this.strides, this.offset, this.dtype);
    unscope(a);
    a.requiresGrad = this.requiresGrad;
    a.gradFn = this.gradFn;
    // An alias of a leaf must feed the same leaf, so the leaf's node is created now if needed.
    if (this.requiresGrad && !this.gradFn) this.leafNode ??= leafNode('leaf', this.shape, this);
    a.leafNode = this.leafNode;
    if (this.trace) {
      a.trace = {
        level: this.trace.level,
        kind: this.trace.kind,
        primal: this.trace.primal.ownedAlias(),
        node: this.trace.node,
        tangent: this.trace.tangent?.ownedAlias() ?? null,
      };
    }
    return a;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
  assertAlive(op: string): void {
    if (this.disposed) throw new KilnError(`${op}: tensor of shape [${this.shape.join(',')}] was disposed`);
  }

  // ------------------------------------------------------------------ reading

  /** The elements in row-major order, copied into a new typed array. */
  dataSync(): AnyTypedArray {
    this.assertAlive('dataSync');
    if (this.numel() === 0) return new typedArrayCtor[this.dtype](0);
    const src = this.isContiguous() ? this : copy.contiguous(this);
    try {
      const buf = call(() => addon.read(src.storage.handle, src.offset, src.numel()));
      return new typedArrayCtor[this.dtype](buf);
    } finally {
      if (src !== this) src.dispose();
    }
  }
  async data(): Promise<AnyTypedArray> {
    // On CUDA, wait for the queued work off the event loop first; the read then finds it done.
    if (this.device !== 'cpu') await synchronizeDevice(this.device);
    return this.dataSync();
  }
  arraySync(): NestedArray {
    const flat = this.dataSync();
    const values: Scalar[] = this.dtype === 'bool' ? Array.from(flat, (v) => v !== 0) : Array.from(flat);
    const build = (dim: number, start: number): NestedArray => {
      if (dim === this.ndim) return values[start];
      const n = this.shape[dim];
      const step = numel(this.shape.slice(dim + 1));
      const out: NestedArray[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = build(dim + 1, start + i * step);
      return out;
    };
    return build(0, 0);
  }
  async array(): Promise<NestedArray> {
    return this.arraySync();
  }
  item(): number | boolean {
    if (this.numel() !== 1) throw new ShapeError(`item: only one-element tensors can be converted, got shape [${this.shape.join(',')}]`);
    const v = this.dataSync()[0];
    return this.dtype === 'bool' ? v !== 0 : v;
  }
  toString(): string {
    this.assertAlive('toString');
    return formatTensor(this);
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.disposed ? `Tensor(disposed, shape=[${this.shape.join(',')}], dtype=${this.dtype})` : this.toString();
  }

  // ------------------------------------------------------------------ device and dtype

  to(target: DType | DeviceLike | { dtype?: DType; device?: DeviceLike }): Tensor {
    const spec = typeof target === 'string' ? (target in typedArrayCtor ? { dtype: target as DType } : { device: target }) : target;
    let out: Tensor = this;
    if (spec.dtype !== undefined && spec.dtype !== this.dtype) out = copy.cast(out, spec.dtype);
    if (spec.device !== undefined && parseDevice(spec.device, 'to') !== this.device) {
      const moved = copy.toDevice(out, parseDevice(spec.device, 'to'));
      if (out !== this) out.dispose();
      out = moved;
    }
    return out;
  }
  cpu(): Tensor {
    return this.to({ device: 'cpu' });
  }
  cuda(index = 0): Tensor {
    return this.to({ device: `cuda:${index}` });
  }
  float(): Tensor {
    return this.to('float32');
  }
  double(): Tensor {
    return this.to('float64');
  }
  int(): Tensor {
    return this.to('int32');
  }
  bool(): Tensor {
    return this.to('bool');
  }

  // ------------------------------------------------------------------ views

  reshape(...shape: number[] | [readonly number[]]): Tensor {
    return views.reshape(this, flatArgs(shape));
  }
  view(...shape: number[] | [readonly number[]]): Tensor {
    return views.view(this, flatArgs(shape));
  }
  permute(...dims: number[] | [readonly number[]]): Tensor {
    return views.permute(this, flatArgs(dims));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return views.transpose(this, dim0, dim1);
  }
  t(): Tensor {
    return views.t(this);
  }
  get T(): Tensor {
    return views.permute(this, this.shape.map((_, i) => this.ndim - 1 - i));
  }
  expand(...shape: number[] | [readonly number[]]): Tensor {
    return views.expand(this, flatArgs(shape));
  }
  expandAs(other: Tensor): Tensor {
    return views.expand(this, other.shape);
  }
  broadcastTo(shape: readonly number[]): Tensor {
    return views.expand(this, shape);
  }
  slice(dim: number, start?: number, end?: number, step = 1): Tensor {
    return views.slice(this, dim, start, end, step);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return views.narrow(this, dim, start, length);
  }
  select(dim: number, index: number): Tensor {
    return views.select(this, dim, index);
  }
  squeeze(dim?: Dims): Tensor {
    return views.squeeze(this, dim);
  }
  unsqueeze(dim: number): Tensor {
    return views.unsqueeze(this, dim);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return views.flatten(this, startDim, endDim);
  }
  flip(...dims: number[] | [readonly number[]]): Tensor {
    return views.flip(this, flatArgs(dims));
  }
  contiguous(): Tensor {
    return this.isContiguous() ? views.alias(this) : copy.contiguous(this);
  }
  clone(): Tensor {
    return copy.contiguous(this);
  }
  detach(): Tensor {
    return views.detach(this);
  }

  // ------------------------------------------------------------------ elementwise

  add(other: TensorOrScalar, alpha?: number): Tensor {
    return ew.add(this, alpha === undefined ? other : ew.mul(other, alpha));
  }
  sub(other: TensorOrScalar, alpha?: number): Tensor {
    return ew.sub(this, alpha === undefined ? other : ew.mul(other, alpha));
  }
  mul(other: TensorOrScalar): Tensor {
    return ew.mul(this, other);
  }
  div(other: TensorOrScalar): Tensor {
    return ew.div(this, other);
  }
  pow(other: TensorOrScalar): Tensor {
    return ew.pow(this, other);
  }
  maximum(other: TensorOrScalar): Tensor {
    return ew.maximum(this, other);
  }
  minimum(other: TensorOrScalar): Tensor {
    return ew.minimum(this, other);
  }
  atan2(other: TensorOrScalar): Tensor {
    return ew.atan2(this, other);
  }
  fmod(other: TensorOrScalar): Tensor {
    return ew.fmod(this, other);
  }
  remainder(other: TensorOrScalar): Tensor {
    return ew.remainder(this, other);
  }
  eq(other: TensorOrScalar): Tensor {
    return ew.eq(this, other);
  }
  ne(other: TensorOrScalar): Tensor {
    return ew.ne(this, other);
  }
  lt(other: TensorOrScalar): Tensor {
    return ew.lt(this, other);
  }
  le(other: TensorOrScalar): Tensor {
    return ew.le(this, other);
  }
  gt(other: TensorOrScalar): Tensor {
    return ew.gt(this, other);
  }
  ge(other: TensorOrScalar): Tensor {
    return ew.ge(this, other);
  }
  logicalAnd(other: TensorOrScalar): Tensor {
    return ew.logicalAnd(this, other);
  }
  logicalOr(other: TensorOrScalar): Tensor {
    return ew.logicalOr(this, other);
  }
  logicalXor(other: TensorOrScalar): Tensor {
    return ew.logicalXor(this, other);
  }
  logicalNot(): Tensor {
    return ew.logicalNot(this);
  }
  neg(): Tensor {
    return ew.neg(this);
  }
  exp(): Tensor {
    return ew.exp(this);
  }
  log(): Tensor {
    return ew.log(this);
  }
  sqrt(): Tensor {
    return ew.sqrt(this);
  }
  rsqrt(): Tensor {
    return ew.rsqrt(this);
  }
  tanh(): Tensor {
    return ew.tanh(this);
  }
  sigmoid(): Tensor {
    return ew.sigmoid(this);
  }
  sin(): Tensor {
    return ew.sin(this);
  }
  cos(): Tensor {
    return ew.cos(this);
  }
  abs(): Tensor {
    return ew.abs(this);
  }
  sign(): Tensor {
    return ew.sign(this);
  }
  erf(): Tensor {
    return ew.erf(this);
  }
  reciprocal(): Tensor {
    return ew.reciprocal(this);
  }
  floor(): Tensor {
    return ew.floor(this);
  }
  ceil(): Tensor {
    return ew.ceil(this);
  }
  round(): Tensor {
    return ew.round(this);
  }
  log1p(): Tensor {
    return ew.log1p(this);
  }
  expm1(): Tensor {
    return ew.expm1(this);
  }
  relu(): Tensor {
    return ew.relu(this);
  }
  square(): Tensor {
    return ew.square(this);
  }
  clamp(min?: number | null, max?: number | null): Tensor {
    return ew.clamp(this, min, max);
  }
  where(condition: Tensor, other: TensorOrScalar): Tensor {
    return ew.where(condition, this, other);
  }

  // ------------------------------------------------------------------ reductions

  sum(dim?: Dims, keepdim = false): Tensor {
    return red.sum(this, dim, keepdim);
  }
  mean(dim?: Dims, keepdim = false): Tensor {
    return red.mean(this, dim, keepdim);
  }
  prod(dim?: Dims, keepdim = false): Tensor {
    return red.prod(this, dim, keepdim);
  }
  max(dim?: Dims, keepdim = false): Tensor {
    return red.max(this, dim, keepdim);
  }
  min(dim?: Dims, keepdim = false): Tensor {
    return red.min(this, dim, keepdim);
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return red.argmax(this, dim, keepdim);
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return red.argmin(this, dim, keepdim);
  }
  var(dim?: Dims, opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return red.variance(this, dim, opts);
  }
  std(dim?: Dims, opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return red.std(this, dim, opts);
  }
  logsumexp(dim: Dims, keepdim = false): Tensor {
    return red.logsumexp(this, dim, keepdim);
  }
  softmax(dim = -1): Tensor {
    return red.softmax(this, dim);
  }
  logSoftmax(dim = -1): Tensor {
    return red.logSoftmax(this, dim);
  }
  cumsum(dim: number): Tensor {
    return red.cumsum(this, dim);
  }

  // ------------------------------------------------------------------ linear algebra, indexing

  matmul(other: Tensor): Tensor {
    return linalg.matmul(this, other);
  }
  mm(other: Tensor): Tensor {
    return linalg.mm(this, other);
  }
  bmm(other: Tensor): Tensor {
    return linalg.bmm(this, other);
  }
  gather(dim: number, index: Tensor): Tensor {
    return idx.gather(this, dim, index);
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return idx.scatterAdd(this, dim, index, src);
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return idx.indexSelect(this, dim, index);
  }
  pad(pads: readonly number[], value = 0): Tensor {
    return idx.pad(this, pads, value);
  }

  // ------------------------------------------------------------------ autodiff (PyTorch style)

  /** Accumulates the gradient of this tensor into the .grad of every leaf it depends on. */
  backward(gradient?: Tensor, opts: BackwardOptions = {}): void {
    this.assertAlive('backward');
    backward(this, gradient, opts);
  }

  /** Marks a leaf as requiring gradients (or not). */
  requiresGrad_(flag = true): this {
    if (this.gradFn) throw new KilnError('requiresGrad_: only leaf tensors can change requiresGrad (use detach() for a new leaf)');
    if (flag && this.dtype !== 'float32' && this.dtype !== 'float64') {
      throw new KilnError(`requiresGrad_: only float tensors can require gradients, got ${this.dtype}`);
    }
    this.requiresGrad = flag;
    if (!flag) this.leafNode = null;
    return this;
  }

  /** Whether this tensor was created by the user (no recorded producer). */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  // ------------------------------------------------------------------ in place (outside autodiff)

  copy_(src: TensorOrScalar): this {
    copy.copyInto(this, src);
    return this;
  }
  fill_(value: number | boolean): this {
    copy.fillInto(this, value);
    return this;
  }
  zero_(): this {
    return this.fill_(0);
  }
}

function flatArgs(args: number[] | [readonly number[]]): number[] {
  return args.length === 1 && Array.isArray(args[0]) ? [...(args[0] as readonly number[])] : (args as number[]);
}
