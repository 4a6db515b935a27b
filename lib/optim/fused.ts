// The fused native update kernels (native/cpu/optim.cpp, native/cuda/optim.cu): one pass over a
// parameter updates it and its state buffers in place. Used when the addon has the op and the
// tensors are dense floats on one device; the optimizers fall back to kiln ops otherwise.
import { opIds } from '../backend/native.js';
import { runInPlaceN } from '../ops/kernel.js';
import { zeros } from '../tensor/creation.js';
import type { Device } from '../tensor/device.js';
import { keep } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';

export type FusedOp = 'sgdStep' | 'adamStep' | 'adagradStep' | 'rmspropStep';

// One per device: every operand of a kernel call lives on the parameter's device.
const placeholders = new Map<string, Tensor>();
/** The empty tensor passed for an absent state buffer. */
function none(device: Device): Tensor {
  let t = placeholders.get(device);
  if (!t || t.isDisposed) {
    t = keep(zeros([0], { device }));
    placeholders.set(device, t);
  }
  return t;
}

function dense(t: Tensor): boolean {
  return t.isContiguous();
}

/** Whether the fused kernel can update p with grad g and these state buffers. */
export function canFuse(op: FusedOp, p: Tensor, g: Tensor, states: readonly (Tensor | null)[]): boolean {
  if (!enabled || opIds[op] === undefined || g.device !== p.device || g.dtype !== p.dtype) return false;
  if (!dense(p)) return false;
  return states.every((s) => s === null || (s.dtype === p.dtype && s.device === p.device && dense(s) && s.numel() === p.numel()));
}

/** Runs the kernel: outs are [param, ...states] updated in place (null = absent). */
export function fusedStep(op: FusedOp, p: Tensor, g: Tensor, states: readonly (Tensor | null)[], attrs: readonly number[]): void {
  // Gradients of transposed weights arrive as strided views: one copy makes them dense.
  const gd = dense(g) ? g : g.contiguous();
  try {
    runInPlaceN(op, [p, ...states.map((s) => s ?? none(p.device))], [gd], attrs);
    steps++;
  } finally {
    if (gd !== g) gd.dispose();
  }
}

let steps = 0;
/** How many fused steps have run (lets tests see which path an optimizer took). */
export function fusedStepCount(): number {
  return steps;
}

let enabled = true;
/** Turns the fused kernels off (the ops fallback then runs everywhere); for tests and debugging. */
export function setFusedEnabled(on: boolean): void {
  enabled = on;
}
