// A whole LSTM layer (one direction) as one differentiable operation. The forward pass runs the
// fused cell step by step without recording anything; the backward pass is backpropagation
// through time written out: the fused cell's backward per step, then the weight gradients as
// three large matrix products over all steps at once (instead of a small product and a large
// accumulation per step). First-order backward passes reuse the gates the forward pass kept;
// higher-order ones differentiate the same computation written with recorded ops.
//
// With a projection (PyTorch's proj_size) the state fed back and returned is h = (o tanh(c)) W_hr^T
// of size P < H, so outputs and h are [., B, P] while c stays [B, H].
import { vjp } from '../../autograd/functional.js';
import { customVjp } from '../../autograd/custom.js';
import { isGradEnabled } from '../../autograd/interpreter.js';
import * as ew from '../../ops/elementwise.js';
import { cat, stack } from '../../ops/indexing.js';
import { matmul, matmulP } from '../../ops/linalg.js';
import { lstmCellBackwardP, lstmGates } from '../../ops/nn/rnn.js';
import { bind } from '../../ops/primitive.js';
import { sum } from '../../ops/reduce.js';
import { contiguous } from '../../ops/copy.js';
import { alias, narrow, reshape, select, t } from '../../ops/views.js';
import { keep } from '../../tensor/memory.js';
import type { Storage } from '../../tensor/storage.js';
import type { Tensor } from '../../tensor/tensor.js';
import { cudnnLstmApplies, lstmCudnnPacked } from './lstm-cudnn.js';

interface Trace {
  /** h_0 .. h_T (projected when there is a projection) and c_0 .. c_T. */
  hs: Tensor[];
  cs: Tensor[];
  /** The gate pre-activations of steps 0 .. T-1. */
  gates: Tensor[];
  /** With a projection: o tanh(c) of steps 1 .. T, before W_hr. */
  raw: Tensor[];
}

const mm2 = (a: Tensor, b: Tensor) => bind(matmulP, [a, b], undefined);

/**
 * x [T, B, I], h0 [B, P] and c0 [B, H], wIh [4H, I], wHh [4H, P], b [4H] (both biases summed),
 * wHr [P, H] or absent (then P = H).
 */
function run(x: Tensor, h0: Tensor, c0: Tensor, wIh: Tensor, wHh: Tensor, b: Tensor, wHr?: Tensor): Trace {
  const [T, B, I] = x.shape;
  const G = wIh.shape[0];
  const pre = reshape(ew.add(matmul(reshape(x, [T * B, I]), t(wIh)), b), [T, B, G]);
  // Every step multiplies by W_hh^T: one contiguous copy up front makes each of those T small
  // products read a plain row-major operand instead of packing a transposed one.
  const wHhT = contiguous(t(wHh));
  const wHrT = wHr ? contiguous(t(wHr)) : null;
  const tr: Trace = { hs: [h0], cs: [c0], gates: [], raw: [] };
  let h = h0;
  let c = c0;
  for (let s = 0; s < T; s++) {
    const g = ew.add(select(pre, 0, s), mm2(h, wHhT));
    [h, c] = lstmGates(g, c);
    if (wHrT) {
      tr.raw.push(h);
      h = mm2(h, wHrT);
    }
    tr.gates.push(g);
    tr.hs.push(h);
    tr.cs.push(c);
  }
  return tr;
}

/**
 * [outputs h_1..h_T; h_T; c_T] flattened into one vector (a primitive has one output, and with a
 * projection h and c differ in size): (T + 1) B P + B H elements.
 */
function pack(tr: Trace): Tensor {
  const T = tr.gates.length;
  const flat = (v: Tensor) => reshape(v, [v.numel()]);
  return cat([flat(stack(tr.hs.slice(1), 0)), flat(tr.hs[T]), flat(tr.cs[T])], 0);
}

/** The parts of a packed vector (or of its cotangent): [outputs [T, B, P], h_T [B, P], c_T [B, H]]. */
function unpack(v: Tensor, T: number, B: number, P: number, H: number): [Tensor, Tensor, Tensor] {
  const n = T * B * P;
  return [
    reshape(narrow(v, 0, 0, n), [T, B, P]),
    reshape(narrow(v, 0, n, B * P), [B, P]),
    reshape(narrow(v, 0, n + B * P, B * H), [B, H]),
  ];
}

/** The same function written with recorded ops (what higher-order derivatives differentiate). */
const plain = (x: Tensor, h0: Tensor, c0: Tensor, wIh: Tensor, wHh: Tensor, b: Tensor, wHr?: Tensor) => pack(run(x, h0, c0, wIh, wHh, b, wHr));

// The forward pass's gates, by the storage of the packed output, for the first backward pass.
const traces = new WeakMap<Storage, Trace>();
let keepTrace = false;

function bptt(inputs: readonly Tensor[], tr: Trace, g: Tensor, needsGrad: readonly boolean[]): (Tensor | null)[] {
  const [x, , , wIh, wHh, , wHr] = inputs;
  const T = tr.gates.length;
  const [, B, I] = x.shape;
  const P = wHh.shape[1];
  const H = wHr ? wHr.shape[1] : P;
  const [gOut, gH, gC] = unpack(g, T, B, P, H);
  let dh = gH;
  let dc = gC;
  const dG: Tensor[] = new Array(T);
  const dOut: Tensor[] = new Array(T);
  for (let s = T - 1; s >= 0; s--) {
    dOut[s] = ew.add(dh, select(gOut, 0, s));
    // Through the projection: the cell's own output o tanh(c) gets dh W_hr.
    const dRaw = wHr ? mm2(dOut[s], wHr) : dOut[s];
    const d = bind(lstmCellBackwardP, [tr.gates[s], tr.cs[s], stack([dRaw, dc], 0)], undefined);
    dG[s] = narrow(d, 1, 0, 4 * H);
    dc = narrow(d, 1, 4 * H, H);
    dh = mm2(dG[s], wHh);
  }
  const dGall = reshape(stack(dG, 0), [T * B, 4 * H]);
  // The input's gradient (a product as large as W_ih's) only when one flows there.
  const dx = needsGrad[0] ? reshape(mm2(dGall, wIh), [T, B, I]) : null;
  const dWih = mm2(t(dGall), reshape(x, [T * B, I]));
  const dWhh = mm2(t(dGall), reshape(stack(tr.hs.slice(0, T), 0), [T * B, P]));
  const grads = [dx, dh, dc, dWih, dWhh, sum(dGall, 0)];
  if (wHr) grads.push(mm2(t(reshape(stack(dOut, 0), [T * B, P])), reshape(stack(tr.raw, 0), [T * B, H])));
  return grads;
}

const layer = customVjp(
  (...args) => {
    const [x, h0, c0, wIh, wHh, b, wHr] = args;
    const tr = run(x, h0, c0, wIh, wHh, b, wHr);
    const out = pack(tr);
    // The trace owns its tensors (h0 and c0 through aliases: the caller may free its own).
    if (keepTrace) traces.set(out.storage, keep({ ...tr, hs: [alias(h0), ...tr.hs.slice(1)], cs: [alias(c0), ...tr.cs.slice(1)] }));
    return out;
  },
  (inputs, out, g, needsGrad) => {
    const tr = traces.get(out.storage);
    if (tr && !isGradEnabled() && inputs.every((i) => !i.trace)) {
      // Used once: a second backward pass (retainGraph) recomputes through `plain`.
      traces.delete(out.storage);
      try {
        return bptt(inputs, tr, g, needsGrad);
      } finally {
        for (const v of [...tr.hs, ...tr.cs, ...tr.gates, ...tr.raw]) v.dispose();
      }
    }
    const [, pullback] = vjp(plain, ...inputs);
    return pullback(g) as Tensor[];
  },
  { name: 'lstmLayer' },
);

/**
 * One direction of one LSTM layer over x [T, B, I] from h0 [B, P] and c0 [B, H]: returns
 * [outputs [T, B, P], hT [B, P], cT [B, H]]. The bias is b_ih + b_hh (or zeros); wHr [P, H]
 * projects h (without it P = H).
 */
export function lstmLayer(x: Tensor, h0: Tensor, c0: Tensor, wIh: Tensor, wHh: Tensor, b: Tensor, wHr?: Tensor | null): [Tensor, Tensor, Tensor] {
  const [T, B] = x.shape;
  // On CUDA without a projection: cuDNN's RNN (lstm-cudnn.ts, kiln.backends.cudnn.rnn).
  if (cudnnLstmApplies(x, h0, c0, wIh, wHh, b, wHr)) return unpack(lstmCudnnPacked(x, h0, c0, wIh, wHh, b), T, B, wHh.shape[1], c0.shape[1]);
  const inputs = wHr ? [x, h0, c0, wIh, wHh, b, wHr] : [x, h0, c0, wIh, wHh, b];
  // Keep the gates only when a backward pass can follow.
  keepTrace = isGradEnabled() && inputs.some((v) => v.requiresGrad || v.trace);
  let packed: Tensor;
  try {
    packed = layer(...inputs);
  } finally {
    keepTrace = false;
  }
  return unpack(packed, T, B, wHh.shape[1], c0.shape[1]);
}
