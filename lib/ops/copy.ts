// Copies and conversions: contiguous, cast, device transfer, and the in-place writes.
import { addon, call } from '../backend/native.js';
import { isGradEnabled } from '../autograd/interpreter.js';
import { DeviceError, DTypeError, KilnError, ShapeError, shapeStr } from '../errors.js';
import { deviceCode, type Device } from '../tensor/device.js';
import { dtypeCode, isFloating, typedArrayCtor, type DType } from '../tensor/dtype.js';
import { Tensor, type TensorOrScalar } from '../tensor/tensor.js';
import { runInPlace, runKernel1 } from './kernel.js';
import { bind, definePrimitive, type Primitive } from './primitive.js';

/** A contiguous copy (same dtype and device). */
export const contiguousP = definePrimitive<undefined>({
  name: 'contiguous',
  linear: true,
  saves: 'none',
  vjp: () => (g) => [g],
  impl: ([x]) => runKernel1('copy', { shape: x.shape, dtype: x.dtype, device: x.device }, [x]),
});

export const castP = definePrimitive<{ dtype: DType }>({
  name: 'cast',
  saves: 'none',
  // Only float-to-float casts carry a derivative.
  vjp: ({ inputDTypes: [from], attrs: { dtype } }) => (g) => [isFloating(from) && isFloating(dtype) ? cast(g, from) : null],
  jvp: ({ inputDTypes: [from], attrs: { dtype } }, [t]) => (isFloating(from) && isFloating(dtype) ? cast(t!, dtype) : null),
  impl: ([x], { dtype }) => runKernel1('cast', { shape: x.shape, dtype, device: x.device }, [x]),
});

export function contiguous(x: Tensor): Tensor {
  return bind(contiguousP, [x], undefined);
}

export function cast(x: Tensor, dtype: DType): Tensor {
  if (!(dtype in typedArrayCtor)) throw new DTypeError(`to: unknown dtype ${String(dtype)}`);
  if (dtype === x.dtype) return contiguous(x);
  return bind(castP, [x], { dtype });
}

/**
 * A copy on another device. Differentiable: the cotangent goes back to the source device, so a
 * loss computed on CUDA from CPU parameters has CPU gradients (and the JVP moves the tangent).
 * The bytes travel through host memory: read() waits for the source device's queued work,
 * fromBuffer() stages them through pinned memory and returns without waiting for the upload.
 */
export const toDeviceP: Primitive<{ from: Device; to: Device }> = definePrimitive<{ from: Device; to: Device }>({
  name: 'toDevice',
  linear: true,
  saves: 'none',
  vjp: ({ attrs: { from, to } }) => (g: Tensor): Tensor[] => [bind(toDeviceP, [g], { from: to, to: from })],
  impl: ([x], { to }) => {
    const host = x.dataSync();
    const handle = call(() => addon.fromBuffer(host, dtypeCode[x.dtype], deviceCode(to)));
    return Tensor.fromHandle(handle, x.shape, x.dtype, to);
  },
});

/** Moves a tensor to another device (a contiguous copy when it is already there). */
export function toDevice(x: Tensor, device: Device): Tensor {
  if (device === x.device) return contiguous(x);
  return bind(toDeviceP, [x], { from: x.device, to: device });
}

/** A 0-d tensor holding one value. */
export function scalarTensor(value: number | boolean, dtype: DType, device: Device): Tensor {
  return runKernel1('fill', { shape: [], dtype, device }, [], [Number(value)]);
}

/** In-place writes would silently corrupt a recorded computation; refuse them clearly. */
function guardInPlace(op: string, dst: Tensor): void {
  dst.assertAlive(op);
  if (dst.storage.savedBy > 0) {
    throw new KilnError(`${op}: this tensor's data is saved by the autodiff graph for a backward pass; ` +
      'modifying it in place would corrupt the gradients (clone() it first, or finish backward)');
  }
  if (dst.trace) throw new KilnError(`${op}: in-place ops are not allowed on values traced by grad/jvp/vjp`);
  if (dst.requiresGrad && !dst.gradFn && isGradEnabled()) {
    throw new KilnError(`${op}: a leaf tensor that requires grad cannot be modified in place while gradients are recorded ` +
      '(wrap the update in kiln.noGrad)');
  }
}

/** dst[...] = src, broadcasting src to dst's shape and casting it to dst's dtype. */
export function copyInto(dst: Tensor, src: TensorOrScalar): void {
  guardInPlace('copy_', dst);
  if (!(src instanceof Tensor)) {
    fillInto(dst, src);
    return;
  }
  if (src.device !== dst.device) throw new DeviceError(`copy_: source is on ${src.device}, destination on ${dst.device}`);
  let s = src;
  if (s.dtype !== dst.dtype) s = cast(s, dst.dtype);
  const lead = dst.ndim - s.ndim;
  const ok = lead >= 0 && s.shape.every((n, i) => n === 1 || n === dst.shape[lead + i]);
  if (!ok) throw new ShapeError(`copy_: source shape ${shapeStr(src.shape)} cannot be broadcast to ${shapeStr(dst.shape)}`);
  const strides = dst.shape.map((n, i) => (i < lead || s.shape[i - lead] !== n ? 0 : s.strides[i - lead]));
  const expanded = s.asView(dst.shape, strides, s.offset);
  try {
    runInPlace('copy', dst, [expanded]);
  } finally {
    expanded.dispose();
    if (s !== src) s.dispose();
  }
}

export function fillInto(dst: Tensor, value: number | boolean): void {
  guardInPlace('fill_', dst);
  if (typeof value !== 'number' && typeof value !== 'boolean') {
    throw new DTypeError(`fill_: value must be a number or boolean, got ${typeof value}`);
  }
  runInPlace('fill', dst, [], [Number(value)]);
}
