// Packs one native exec call: the only place that writes the argument buffer.
import { addon, args, call, opId } from '../backend/native.js';
import { profiling, profilingByShape, timeOp } from '../profiler.js';
import { deviceCode, type Device } from '../tensor/device.js';
import { dtypeCode, type DType } from '../tensor/dtype.js';
import { contiguousStrides } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';

export interface OutSpec {
  shape: readonly number[];
  dtype: DType;
  device: Device;
}

function writeOperand(p: number, handle: number, dtype: DType, device: Device, shape: readonly number[],
  strides: readonly number[], offset: number): number {
  args[p++] = handle;
  args[p++] = dtypeCode[dtype];
  args[p++] = deviceCode(device);
  args[p++] = shape.length;
  args[p++] = offset;
  for (let i = 0; i < shape.length; i++) args[p++] = shape[i];
  for (let i = 0; i < shape.length; i++) args[p++] = strides[i];
  return p;
}

function writeCall(outs: readonly (OutSpec | Tensor)[], ins: readonly Tensor[], attrs: readonly number[]): number[] {
  let p = 0;
  args[p++] = outs.length;
  args[p++] = ins.length;
  const handlePos: number[] = [];
  for (const o of outs) {
    handlePos.push(p);
    if (o instanceof Tensor) p = writeOperand(p, o.storage.handle, o.dtype, o.device, o.shape, o.strides, o.offset);
    else p = writeOperand(p, 0, o.dtype, o.device, o.shape, contiguousStrides(o.shape), 0);
  }
  for (const t of ins) p = writeOperand(p, t.storage.handle, t.dtype, t.device, t.shape, t.strides, t.offset);
  args[p++] = attrs.length;
  for (const a of attrs) args[p++] = a;
  return handlePos;
}

function exec(op: string, id: number, device: Device | undefined, ins: readonly Tensor[]): void {
  if (!profiling()) {
    call(() => addon.exec(id));
    return;
  }
  const key = profilingByShape() ? `${op} ${ins.map((t) => `[${t.shape.join(',')}]`).join(' ')}` : op;
  timeOp(key, device ?? 'cpu', () => call(() => addon.exec(id)));
}

/** Runs a native op that allocates its outputs; returns them as new tensors. */
export function runKernel(op: string, outs: readonly OutSpec[], ins: readonly Tensor[], attrs: readonly number[] = []): Tensor[] {
  for (const t of ins) t.assertAlive(op);
  const id = opId(op);
  const handlePos = writeCall(outs, ins, attrs);
  exec(op, id, outs[0]?.device ?? ins[0]?.device, ins);
  return outs.map((o, i) => Tensor.fromHandle(args[handlePos[i]], o.shape, o.dtype, o.device));
}

export function runKernel1(op: string, out: OutSpec, ins: readonly Tensor[], attrs: readonly number[] = []): Tensor {
  return runKernel(op, [out], ins, attrs)[0];
}

/** Runs a native op that writes into an existing tensor (copy, fill, scatterAdd). */
export function runInPlace(op: string, out: Tensor, ins: readonly Tensor[], attrs: readonly number[] = []): void {
  out.assertAlive(op);
  for (const t of ins) t.assertAlive(op);
  const id = opId(op);
  writeCall([out], ins, attrs);
  exec(op, id, out.device, ins);
}

/** Runs a native op that updates several existing tensors in place (the fused optimizer steps). */
export function runInPlaceN(op: string, outs: readonly Tensor[], ins: readonly Tensor[], attrs: readonly number[] = []): void {
  for (const t of outs) t.assertAlive(op);
  for (const t of ins) t.assertAlive(op);
  const id = opId(op);
  writeCall(outs, ins, attrs);
  exec(op, id, outs[0].device, ins);
}
