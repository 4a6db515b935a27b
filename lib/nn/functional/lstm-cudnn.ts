// One direction of one LSTM layer (no projection) on CUDA as cuDNN's RNN: the forward pass is one
// native op (lstmSequence, a single cudnnRNNForward) and the first backward pass another
// (lstmSequenceBackward: cudnnRNNBackwardData_v8 + cudnnRNNBackwardWeights_v8), where the
// fused-cell path of lstm-layer.ts launches a few kernels per time step.
//
// The op's output is the same packed vector lstm-layer.ts's operation returns, [y; hT; cT], so
// unpacking is shared. Besides it the forward op writes a `reserve` tensor (the packed weights and
// cuDNN's reserve space) whose size the addon reports beforehand (lstmReserveBytes). The reserve
// is kept, by the output's storage, only when a backward pass can follow; the backward op
// overwrites it, so it serves one backward pass. A second backward pass (retainGraph) and every
// higher-order derivative differentiate `plain`, the same function written with recorded ops.
import { vjp } from '../../autograd/functional.js';
import { customVjp } from '../../autograd/custom.js';
import { isGradEnabled } from '../../autograd/interpreter.js';
import { backends } from '../../backend/cuda.js';
import { addon, call, opIds } from '../../backend/native.js';
import * as ew from '../../ops/elementwise.js';
import { cat, stack } from '../../ops/indexing.js';
import { runKernel } from '../../ops/kernel.js';
import { matmul } from '../../ops/linalg.js';
import { lstmGates } from '../../ops/nn/rnn.js';
import { narrow, reshape, select, t } from '../../ops/views.js';
import { deviceCode } from '../../tensor/device.js';
import { dtypeCode } from '../../tensor/dtype.js';
import { keep } from '../../tensor/memory.js';
import type { Storage } from '../../tensor/storage.js';
import type { Tensor } from '../../tensor/tensor.js';

/** How often each op ran (tests assert the path was taken). */
export const lstmCudnnCalls = { forward: 0, backward: 0 };

// Backend::kLstmTraining / kLstmTF32 (native/core/backend.h).
const TRAINING = 1;
const TF32 = 2;

/**
 * Whether lstmCudnn can run this layer: CUDA operands of float32 or float64 with nonzero sizes,
 * no projection, a native addon with the ops and kiln.backends.cudnn.rnn on.
 */
export function cudnnLstmApplies(x: Tensor, h0: Tensor, c0: Tensor, wIh: Tensor, wHh: Tensor, b: Tensor, wHr?: Tensor | null): boolean {
  if (wHr || !backends.cudnn.rnn || !x.device.startsWith('cuda')) return false;
  if (x.dtype !== 'float32' && x.dtype !== 'float64') return false;
  if (opIds.lstmSequence === undefined || opIds.lstmSequenceBackward === undefined) return false;
  const operands = [h0, c0, wIh, wHh, b];
  if (operands.some((v) => v.device !== x.device || v.dtype !== x.dtype)) return false;
  if (x.ndim !== 3 || h0.ndim !== 2 || wHh.ndim !== 2 || wHh.shape[0] !== 4 * wHh.shape[1]) return false;
  return x.shape.every((s) => s > 0) && h0.shape[1] > 0;
}

/** The same function written with recorded ops: what higher-order derivatives differentiate. */
function plain(x: Tensor, h0: Tensor, c0: Tensor, wIh: Tensor, wHh: Tensor, b: Tensor): Tensor {
  const [T, B, I] = x.shape;
  const G = wIh.shape[0];
  const pre = reshape(ew.add(matmul(reshape(x, [T * B, I]), t(wIh)), b), [T, B, G]);
  const wHhT = t(wHh);
  let h = h0;
  let c = c0;
  const hs: Tensor[] = [];
  for (let s = 0; s < T; s++) {
    [h, c] = lstmGates(ew.add(select(pre, 0, s), matmul(h, wHhT)), c);
    hs.push(h);
  }
  const flat = (v: Tensor) => reshape(v, [v.numel()]);
  return cat([flat(stack(hs, 0)), flat(h), flat(c)], 0);
}

interface Saved {
  reserve: Tensor;
  flags: number;
}

// The forward pass's reserve, by the storage of its output, for the first backward pass.
const saved = new WeakMap<Storage, Saved>();
let training = false;

const layer = customVjp(
  (x, h0, c0, wIh, wHh, b) => {
    const [T, B, I] = x.shape;
    const H = h0.shape[1];
    const flags = (training ? TRAINING : 0) | (backends.cuda.allowTF32 ? TF32 : 0);
    const bytes = call(() => addon.lstmReserveBytes(deviceCode(x.device), dtypeCode[x.dtype], T, B, I, H, flags));
    const elt = x.dtype === 'float64' ? 8 : 4;
    const spec = (shape: number[]) => ({ shape, dtype: x.dtype, device: x.device });
    const [out, reserve] = runKernel('lstmSequence', [spec([(T + 2) * B * H]), spec([Math.max(1, Math.ceil(bytes / elt))])], [x, h0, c0, wIh, wHh, b], [flags]);
    lstmCudnnCalls.forward++;
    if (training) saved.set(out.storage, keep({ reserve, flags }));
    else reserve.dispose();
    return out;
  },
  (inputs, out, g) => {
    const s = saved.get(out.storage);
    if (s && !isGradEnabled() && inputs.every((v) => !v.trace)) {
      // Used once: the backward op overwrites the reserve.
      saved.delete(out.storage);
      try {
        const [x, h0, c0] = inputs;
        const spec = (v: Tensor) => ({ shape: v.shape, dtype: v.dtype, device: v.device });
        const grads = runKernel('lstmSequenceBackward', inputs.map(spec), [x, h0, c0, out, s.reserve, g], [s.flags]);
        lstmCudnnCalls.backward++;
        return grads;
      } finally {
        s.reserve.dispose();
      }
    }
    if (s) {
      // Higher order: the recorded ops need no reserve.
      saved.delete(out.storage);
      s.reserve.dispose();
    }
    const [, pullback] = vjp(plain, ...inputs);
    return pullback(g) as Tensor[];
  },
  { name: 'lstmLayerCudnn' },
);

/**
 * lstmLayer's packed result ([outputs; hT; cT] flattened) for one direction of one layer without
 * a projection, through cuDNN; cudnnLstmApplies says when it can run.
 */
export function lstmCudnnPacked(x: Tensor, h0: Tensor, c0: Tensor, wIh: Tensor, wHh: Tensor, b: Tensor): Tensor {
  const inputs = [x, h0, c0, wIh, wHh, b];
  // Keep the reserve only when a backward pass can follow.
  training = isGradEnabled() && inputs.some((v) => v.requiresGrad || v.trace);
  try {
    return layer(...inputs);
  } finally {
    training = false;
  }
}

/** One direction of one LSTM layer through cuDNN: [outputs [T, B, H], hT [B, H], cT [B, H]]. */
export function lstmCudnn(x: Tensor, h0: Tensor, c0: Tensor, wIh: Tensor, wHh: Tensor, b: Tensor): [Tensor, Tensor, Tensor] {
  const [T, B] = x.shape;
  const H = h0.shape[1];
  const packed = lstmCudnnPacked(x, h0, c0, wIh, wHh, b);
  const n = T * B * H;
  return [
    reshape(narrow(packed, 0, 0, n), [T, B, H]),
    reshape(narrow(packed, 0, n, B * H), [B, H]),
    reshape(narrow(packed, 0, n + B * H, B * H), [B, H]),
  ];
}
