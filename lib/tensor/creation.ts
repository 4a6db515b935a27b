// Creating tensors from JS data and from scratch.
import { addon, call } from '../backend/native.js';
import { DTypeError, KilnError, ShapeError, shapeStr } from '../errors.js';
import { runKernel1 } from '../ops/kernel.js';
import * as ew from '../ops/elementwise.js';
import { deviceCode, getDefaultDevice, parseDevice, type DeviceLike } from './device.js';
import { checkDType, dtypeCode, typedArrayCtor, type AnyTypedArray, type DType } from './dtype.js';
import { tidy } from './memory.js';
import { checkShape, numel } from './shape.js';
import { Tensor, type NestedArray } from './tensor.js';

export interface TensorOptions {
  dtype?: DType;
  device?: DeviceLike;
  requiresGrad?: boolean;
}

function finish(t: Tensor, opts: TensorOptions): Tensor {
  if (opts.requiresGrad) {
    if (t.dtype !== 'float32' && t.dtype !== 'float64') {
      t.dispose();
      throw new DTypeError(`requiresGrad: only float tensors can require gradients, got ${t.dtype}`);
    }
    t.requiresGrad = true;
  }
  return t;
}

function dtypeOfTypedArray(a: ArrayBufferView): DType | null {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint8Array) return 'bool';
  return null;
}

/** Infers the shape of nested arrays, rejecting ragged ones. */
function nestedShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let level: unknown = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }
  const check = (v: unknown, dim: number): void => {
    if (dim === shape.length) {
      if (Array.isArray(v)) throw new ShapeError(`tensor: ragged nested array (too deep at dim ${dim}, expected shape ${shapeStr(shape)})`);
      if (typeof v !== 'number' && typeof v !== 'boolean') {
        throw new DTypeError(`tensor: elements must be numbers or booleans, got ${v === null ? 'null' : typeof v}`);
      }
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[dim]) {
      throw new ShapeError(`tensor: ragged nested array (expected length ${shape[dim]} at dim ${dim}, got ${Array.isArray(v) ? v.length : 'a scalar'})`);
    }
    for (const x of v) check(x, dim + 1);
  };
  check(data, 0);
  return checkShape(shape, 'tensor');
}

/** Uploads a typed array (copied) as a tensor of the given shape. */
export function fromTypedArray(data: AnyTypedArray, shape: readonly number[], dtype: DType, device: DeviceLike = getDefaultDevice()): Tensor {
  const dev = parseDevice(device, 'tensor');
  const handle = call(() => addon.fromBuffer(data, dtypeCode[dtype], deviceCode(dev)));
  return Tensor.fromHandle(handle, shape, dtype, dev);
}

/**
 * A tensor from a number, boolean, nested arrays or a typed array. JS numbers become float32
 * unless opts.dtype says otherwise; booleans become bool; typed arrays keep their type.
 */
export function tensor(data: NestedArray | AnyTypedArray, opts: TensorOptions & { shape?: readonly number[] } = {}): Tensor {
  if (data instanceof Tensor) throw new KilnError('tensor: got a Tensor; use t.clone() or t.to(...) instead');
  let dtype: DType;
  let flat: AnyTypedArray;
  let shape: number[];
  if (ArrayBuffer.isView(data)) {
    const native = dtypeOfTypedArray(data);
    if (!native) throw new DTypeError(`tensor: unsupported typed array ${data.constructor.name} (use Float32Array, Float64Array, Int32Array or Uint8Array)`);
    dtype = opts.dtype ? checkDType(opts.dtype, 'tensor') : native;
    flat = native === dtype ? data : (typedArrayCtor[dtype].from(data as ArrayLike<number>) as AnyTypedArray);
    if (dtype === 'bool' && native !== 'bool') flat = Uint8Array.from(data as ArrayLike<number>, (v) => (v ? 1 : 0));
    shape = opts.shape ? checkShape(opts.shape, 'tensor') : [data.length];
    if (numel(shape) !== data.length) throw new ShapeError(`tensor: shape ${shapeStr(shape)} does not hold ${data.length} elements`);
  } else {
    shape = nestedShape(data);
    const values = (Array.isArray(data) ? (data as unknown[]).flat(Infinity) : [data]) as (number | boolean)[];
    const allBool = values.length > 0 && values.every((v) => typeof v === 'boolean');
    dtype = opts.dtype ? checkDType(opts.dtype, 'tensor') : allBool || typeof data === 'boolean' ? 'bool' : 'float32';
    flat = dtype === 'bool'
      ? Uint8Array.from(values, (v) => (v ? 1 : 0))
      : (typedArrayCtor[dtype] as { from(a: ArrayLike<unknown>, f: (v: unknown) => number): AnyTypedArray }).from(values, Number);
    if (opts.shape) {
      const target = checkShape(opts.shape, 'tensor');
      if (numel(target) !== flat.length) throw new ShapeError(`tensor: shape ${shapeStr(target)} does not hold ${flat.length} elements`);
      shape = target;
    }
  }
  return finish(fromTypedArray(flat, shape, dtype, opts.device ?? getDefaultDevice()), opts);
}

function shapeArg(shape: readonly number[] | number, op: string): number[] {
  return checkShape(typeof shape === 'number' ? [shape] : shape, op);
}

export function full(shape: readonly number[] | number, value: number | boolean, opts: TensorOptions = {}): Tensor {
  if (typeof value !== 'number' && typeof value !== 'boolean') throw new DTypeError(`full: value must be a number or boolean`);
  const dtype = opts.dtype ? checkDType(opts.dtype, 'full') : typeof value === 'boolean' ? 'bool' : 'float32';
  const device = parseDevice(opts.device ?? getDefaultDevice(), 'full');
  return finish(runKernel1('fill', { shape: shapeArg(shape, 'full'), dtype, device }, [], [Number(value)]), opts);
}

export function zeros(shape: readonly number[] | number, opts: TensorOptions = {}): Tensor {
  return full(shape, 0, opts);
}

export function ones(shape: readonly number[] | number, opts: TensorOptions = {}): Tensor {
  return full(shape, 1, opts);
}

export function zerosLike(x: Tensor, opts: TensorOptions = {}): Tensor {
  return full(x.shape, 0, { dtype: x.dtype, device: x.device, ...opts });
}
export function onesLike(x: Tensor, opts: TensorOptions = {}): Tensor {
  return full(x.shape, 1, { dtype: x.dtype, device: x.device, ...opts });
}
export function fullLike(x: Tensor, value: number | boolean, opts: TensorOptions = {}): Tensor {
  return full(x.shape, value, { dtype: x.dtype, device: x.device, ...opts });
}

/** arange(end) or arange(start, end, step = 1): values start, start + step, ... < end. */
export function arange(startOrEnd: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  const start = end === undefined ? 0 : startOrEnd;
  const stop = end === undefined ? startOrEnd : end;
  if (![start, stop, step].every(Number.isFinite) || step === 0) {
    throw new KilnError(`arange: need finite start, end and a non-zero step, got (${start}, ${stop}, ${step})`);
  }
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const dtype = opts.dtype ? checkDType(opts.dtype, 'arange') : 'float32';
  const device = parseDevice(opts.device ?? getDefaultDevice(), 'arange');
  return finish(runKernel1('arange', { shape: shapeArg([n], 'arange'), dtype, device }, [], [start, step]), opts);
}

/** `steps` evenly spaced values from start to end inclusive. */
export function linspace(start: number, end: number, steps: number, opts: TensorOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) throw new KilnError(`linspace: steps must be an integer >= 0, got ${steps}`);
  const step = steps > 1 ? (end - start) / (steps - 1) : 0;
  const dtype = opts.dtype ? checkDType(opts.dtype, 'linspace') : 'float32';
  const device = parseDevice(opts.device ?? getDefaultDevice(), 'linspace');
  const out = runKernel1('arange', { shape: [steps], dtype, device }, [], [start, step]);
  return finish(out, opts);
}

/** The n x m identity (m defaults to n). */
export function eye(n: number, m = n, opts: TensorOptions = {}): Tensor {
  const dtype = opts.dtype ? checkDType(opts.dtype, 'eye') : 'float32';
  const device = parseDevice(opts.device ?? getDefaultDevice(), 'eye');
  checkShape([n, m], 'eye');
  const out = tidy(() => {
    const rows = runKernel1('arange', { shape: [n], dtype: 'int32', device }, [], [0, 1]).reshape([n, 1]);
    const cols = runKernel1('arange', { shape: [m], dtype: 'int32', device }, [], [0, 1]);
    const mask = ew.eq(rows, cols);
    return dtype === 'bool' ? mask : mask.to(dtype);
  });
  return finish(out, opts);
}
