// A whole LSTM layer (one direction) as one differentiable operation. The forward pass runs the
// fused cell step by step without recording anything; the backward pass is backpropagation
// through time written out: the fused cell's backward per step, then the weight gradients as
// three large matrix products over all steps at once (instead of a small product and a large
// accumulation per step). First-order backward passes reuse the gates the forward pass kept;
// higher-order ones differentiate the same computation written with recorded ops.
import { vjp } from '../../autograd/functional.js';
import { customVjp } from '../../autograd/custom.js';
import { isGradEnabled } from '../../autograd/interpreter.js';
import * as ew from '../../ops/elementwise.js';
import { cat, stack } from '../../ops/indexing.js';
import { matmul, matmulP } from '../../ops/linalg.js';
import { lstmCellBackwardP, lstmGates } from '../../ops/nn/rnn.js';
import { bind } from '../../ops/primitive.js';
import { sum } from '../../ops/reduce.js';
import { alias, narrow, reshape, select, t, unsqueeze } from '../../ops/views.js';
import { keep } from '../../tensor/memory.js';
import type { Storage } from '../../tensor/storage.js';
import type { Tensor } from '../../tensor/tensor.js';

interface Trace {
  /** h_0 .. h_T and c_0 .. c_T. */
  hs: Tensor[];
  cs: Tensor[];
  /** The gate pre-activations of steps 0 .. T-1. */
  gates: Tensor[];
}

const mm2 = (a: Tensor, b: Tensor) => bind(matmulP, [a, b], undefined);

/** x [T, B, I], h0 and c0 [B, H], wIh [4H, I], wHh [4H, H], b [4H] (both biases summed). */
function run(x: Tensor, h0: Tensor, c0: Tensor, wIh: Tensor, wHh: Tensor, b: Tensor): Trace {
  const [T, B, I] = x.shape;
  const G = wIh.shape[0];
  const pre = reshape(ew.add(matmul(reshape(x, [T * B, I]), t(wIh)), b), [T, B, G]);
  const wHhT = t(wHh);
  const tr: Trace = { hs: [h0], cs: [c0], gates: [] };
  let h = h0;
  let c = c0;
  for (let s = 0; s < T; s++) {
    const g = ew.add(select(pre, 0, s), mm2(h, wHhT));
    [h, c] = lstmGates(g, c);
    tr.gates.push(g);
    tr.hs.push(h);
    tr.cs.push(c);
  }
  return tr;
}

/** [outputs h_1..h_T; h_T; c_T] packed as [T + 2, B, H] (a primitive has one output). */
function pack(tr: Trace): Tensor {
  const T = tr.gates.length;
  return cat([stack(tr.hs.slice(1), 0), unsqueeze(tr.hs[T], 0), unsqueeze(tr.cs[T], 0)], 0);
}

/** The same function written with recorded ops (what higher-order derivatives differentiate). */
const plain = (x: Tensor, h0: Tensor, c0: Tensor, wIh: Tensor, wHh: Tensor, b: Tensor) => pack(run(x, h0, c0, wIh, wHh, b));

// The forward pass's gates, by the storage of the packed output, for the first backward pass.
const traces = new WeakMap<Storage, Trace>();
let keepTrace = false;

function bptt(inputs: readonly Tensor[], tr: Trace, g: Tensor): Tensor[] {
  const [x, , , wIh, wHh] = inputs;
  const T = tr.gates.length;
  const [, B, I] = x.shape;
  const H = wHh.shape[1];
  let dh = select(g, 0, T);
  let dc = select(g, 0, T + 1);
  const dG: Tensor[] = new Array(T);
  for (let s = T - 1; s >= 0; s--) {
    const d = bind(lstmCellBackwardP, [tr.gates[s], tr.cs[s], stack([ew.add(dh, select(g, 0, s)), dc], 0)], undefined);
    dG[s] = narrow(d, 1, 0, 4 * H);
    dc = narrow(d, 1, 4 * H, H);
    dh = mm2(dG[s], wHh);
  }
  const dGall = reshape(stack(dG, 0), [T * B, 4 * H]);
  const dx = reshape(mm2(dGall, wIh), [T, B, I]);
  const dWih = mm2(t(dGall), reshape(x, [T * B, I]));
  const dWhh = mm2(t(dGall), reshape(stack(tr.hs.slice(0, T), 0), [T * B, H]));
  return [dx, dh, dc, dWih, dWhh, sum(dGall, 0)];
}

const layer = customVjp(
  (x, h0, c0, wIh, wHh, b) => {
    const tr = run(x, h0, c0, wIh, wHh, b);
    const out = pack(tr);
    // The trace owns its tensors (h0 and c0 through aliases: the caller may free its own).
    if (keepTrace) traces.set(out.storage, keep({ ...tr, hs: [alias(h0), ...tr.hs.slice(1)], cs: [alias(c0), ...tr.cs.slice(1)] }));
    return out;
  },
  (inputs, out, g) => {
    const tr = traces.get(out.storage);
    if (tr && !isGradEnabled() && inputs.every((i) => !i.trace)) {
      // Used once: a second backward pass (retainGraph) recomputes through `plain`.
      traces.delete(out.storage);
      try {
        return bptt(inputs, tr, g);
      } finally {
        for (const v of [...tr.hs, ...tr.cs, ...tr.gates]) v.dispose();
      }
    }
    const [, pullback] = vjp(plain, ...inputs);
    return pullback(g) as Tensor[];
  },
  { name: 'lstmLayer' },
);

/**
 * One direction of one LSTM layer over x [T, B, I] from (h0, c0) [B, H]: returns
 * [outputs [T, B, H], hT, cT]. The bias is b_ih + b_hh (or zeros).
 */
export function lstmLayer(x: Tensor, h0: Tensor, c0: Tensor, wIh: Tensor, wHh: Tensor, b: Tensor): [Tensor, Tensor, Tensor] {
  const T = x.shape[0];
  // Keep the gates only when a backward pass can follow.
  keepTrace = isGradEnabled() && [x, h0, c0, wIh, wHh, b].some((v) => v.requiresGrad || v.trace);
  let packed: Tensor;
  try {
    packed = layer(x, h0, c0, wIh, wHh, b);
  } finally {
    keepTrace = false;
  }
  return [narrow(packed, 0, 0, T), select(packed, 0, T), select(packed, 0, T + 1)];
}
