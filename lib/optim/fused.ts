// The fused native update kernels (native/cpu/optim.cpp): one pass over a parameter updates it
// and its state buffers in place. Used when the addon has the op and the tensors are dense CPU
// floats; the optimizers fall back to kiln ops otherwise (e.g. on CUDA).
import { opIds } from '../backend/native.js';
import { runInPlaceN } from '../ops/kernel.js';
import { zeros } from '../tensor/creation.js';
import { keep } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';

export type FusedOp = 'sgdStep' | 'adamStep' | 'adagradStep' | 'rmspropStep';

let placeholder: Tensor | null = null;
/** The empty tensor passed for an absent state buffer. */
function none(): Tensor {
  if (!placeholder || placeholder.isDisposed) placeholder = keep(zeros([0]));
  return placeholder;
}

function dense(t: Tensor): boolean {
  return t.isContiguous();
}

/** Whether the fused kernel can update p with grad g and these state buffers. */
export function canFuse(op: FusedOp, p: Tensor, g: Tensor, states: readonly (Tensor | null)[]): boolean {
  if (!enabled || opIds[op] === undefined || p.device !== 'cpu' || g.device !== 'cpu' || g.dtype !== p.dtype) return false;
  if (!dense(p)) return false;
  return states.every((s) => s === null || (s.dtype === p.dtype && dense(s) && s.numel() === p.numel()));
}

/** Runs the kernel: outs are [param, ...states] updated in place (null = absent). */
export function fusedStep(op: FusedOp, p: Tensor, g: Tensor, states: readonly (Tensor | null)[], attrs: readonly number[]): void {
  // Gradients of transposed weights arrive as strided views: one copy makes them dense.
  const gd = dense(g) ? g : g.contiguous();
  try {
    runInPlaceN(op, [p, ...states.map((s) => s ?? none())], [gd], attrs);
  } finally {
    if (gd !== g) gd.dispose();
  }
}

let enabled = true;
/** Turns the fused kernels off (the ops fallback then runs everywhere); for tests and debugging. */
export function setFusedEnabled(on: boolean): void {
  enabled = on;
}
