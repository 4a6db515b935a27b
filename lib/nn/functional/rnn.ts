// Recurrent cells (PyTorch's gate order and weight layouts) and the multi-layer, optionally
// bidirectional, recurrence that nn.RNN / nn.LSTM / nn.GRU run.
import { KilnError, ShapeError, shapeStr } from '../../errors.js';
import * as ew from '../../ops/elementwise.js';
import { cat, stack } from '../../ops/indexing.js';
import { matmul, matmulP } from '../../ops/linalg.js';
import { gruGates } from '../../ops/nn/rnn.js';
import { bind } from '../../ops/primitive.js';
import { flip, select, t, transpose } from '../../ops/views.js';
import { zeros } from '../../tensor/creation.js';
import { tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import { lstmLayer } from './lstm-layer.js';
import { dropout } from './normalization.js';

export type RnnMode = 'RNN_TANH' | 'RNN_RELU' | 'LSTM' | 'GRU';

export const gateCount: Record<RnnMode, number> = { RNN_TANH: 1, RNN_RELU: 1, LSTM: 4, GRU: 3 };

function affine(x: Tensor, w: Tensor, b: Tensor | null | undefined): Tensor {
  const y = matmul(x, t(w));
  return b ? ew.add(y, b) : y;
}

/** a @ b for 2-D operands, binding the primitive directly (the recurrence's hot path). */
function mm2(a: Tensor, b: Tensor): Tensor {
  return bind(matmulP, [a, b], undefined);
}

/** h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh). */
export function rnnCell(x: Tensor, h: Tensor, wIh: Tensor, wHh: Tensor, bIh?: Tensor | null, bHh?: Tensor | null, nonlinearity: 'tanh' | 'relu' = 'tanh'): Tensor {
  return tidy(() => {
    const pre = ew.add(affine(x, wIh, bIh), affine(h, wHh, bHh));
    return nonlinearity === 'tanh' ? ew.tanh(pre) : ew.relu(pre);
  });
}

/** One LSTM step (gates i, f, g, o stacked in that order in the weights' rows): the fused kernel of lib/ops/nn. */
export { lstmCell } from '../../ops/nn/rnn.js';

/** One GRU step (gates r, z, n; b_hn inside r (h W_hn^T + b_hn)): the fused kernel of lib/ops/nn. */
export { gruCell } from '../../ops/nn/rnn.js';

export interface RnnWeights {
  wIh: Tensor;
  wHh: Tensor;
  bIh: Tensor | null;
  bHh: Tensor | null;
  /** LSTM with a projection: W_hr [projSize, hiddenSize]. */
  wHr?: Tensor | null;
}

export interface RnnConfig {
  mode: RnnMode;
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
  dropout: number;
  training: boolean;
  /** LSTM only: h = (o tanh(c)) W_hr^T has this size instead of hiddenSize (0 or absent: none). */
  projSize?: number;
}

/**
 * Runs the recurrence over x [T, N, in] (sequence first). weights[layer * dirs + dir].
 * h0 (and c0 for LSTM) are [layers * dirs, N, H]. Returns [output [T, N, dirs * H], hN, cN].
 * With an LSTM projection, output, h0 and hN use projSize in place of H (c0 and cN keep H).
 */
export function rnnForward(x: Tensor, weights: readonly RnnWeights[], cfg: RnnConfig, h0?: Tensor | null, c0?: Tensor | null): [Tensor, Tensor, Tensor | null] {
  const [T, N] = x.shape;
  const H = cfg.hiddenSize;
  const dirs = cfg.bidirectional ? 2 : 1;
  const lstm = cfg.mode === 'LSTM';
  const P = cfg.projSize ?? 0;
  if (P !== 0 && !lstm) throw new KilnError(`${cfg.mode}: projSize is only supported for LSTM`);
  if (!Number.isInteger(P) || P < 0 || (P > 0 && P >= H)) {
    throw new KilnError(`${cfg.mode}: projSize must be an integer in [0, hiddenSize), got ${P}`);
  }
  const stateShape = [cfg.numLayers * dirs, N, H];
  const hShape = [cfg.numLayers * dirs, N, P || H];
  for (const [name, s, shape] of [['h0', h0, hShape], ['c0', c0, stateShape]] as const) {
    if (s && (s.ndim !== 3 || s.shape.some((v, i) => v !== shape[i]))) {
      throw new ShapeError(`${cfg.mode}: ${name} must be ${shapeStr(shape)}, got ${shapeStr(s.shape)}`);
    }
  }
  if (c0 && !lstm) throw new KilnError(`${cfg.mode}: only LSTM takes a cell state`);
  if (lstm && weights.some((w) => !!w.wHr !== P > 0)) {
    throw new KilnError(`LSTM: weights must carry wHr exactly when projSize > 0 (projSize ${P})`);
  }
  return tidy(() => {
    const hInit = h0 ?? zeros(hShape, { dtype: x.dtype, device: x.device });
    const cInit = lstm ? (c0 ?? zeros(stateShape, { dtype: x.dtype, device: x.device })) : null;
    if (lstm) return lstmLayers(x, weights, cfg, hInit, cInit!);
    // GRU and Elman RNN: the sequence is handled as a list of per-step tensors from end to end.
    // Slicing one big tensor per step (an input projection for all steps, or a layer's stacked
    // output) would make every step's gradient a zero-padded copy of the whole tensor.
    let inputs: Tensor[] = Array.from({ length: T }, (_, s) => select(x, 0, s));
    const hN: Tensor[] = [];
    const gru = cfg.mode === 'GRU';
    for (let layer = 0; layer < cfg.numLayers; layer++) {
      if (layer > 0 && cfg.dropout > 0 && cfg.training) inputs = inputs.map((v) => dropout(v, cfg.dropout, true));
      const outs: Tensor[][] = [];
      for (let dir = 0; dir < dirs; dir++) {
        const k = layer * dirs + dir;
        const w = weights[k];
        const wIhT = t(w.wIh);
        const wHhT = t(w.wHh);
        // Outside GRU (whose b_hn sits inside r * (...)) both biases are one.
        const bias = gru ? w.bIh : w.bIh && w.bHh ? ew.add(w.bIh, w.bHh) : (w.bIh ?? w.bHh);
        let h = select(hInit, 0, k);
        const steps: Tensor[] = new Array(T);
        for (let s = 0; s < T; s++) {
          const step = dir === 0 ? s : T - 1 - s;
          const xi = mm2(inputs[step], wIhT);
          const hh = mm2(h, wHhT);
          if (gru) {
            h = gruGates(bias ? ew.add(xi, bias) : xi, w.bHh ? ew.add(hh, w.bHh) : hh, h);
          } else {
            const pre = bias ? ew.add(ew.add(xi, hh), bias) : ew.add(xi, hh);
            h = cfg.mode === 'RNN_TANH' ? ew.tanh(pre) : ew.relu(pre);
          }
          steps[step] = h;
        }
        outs.push(steps);
        hN.push(h);
      }
      inputs = dirs === 1 ? outs[0] : outs[0].map((f, s) => cat([f, outs[1][s]], 1));
    }
    return [stack(inputs, 0), stack(hN, 0), null] as [Tensor, Tensor, Tensor | null];
  });
}

/** LSTM layers: each direction of each layer is one lstmLayer operation over the whole sequence. */
function lstmLayers(x: Tensor, weights: readonly RnnWeights[], cfg: RnnConfig, hInit: Tensor, cInit: Tensor): [Tensor, Tensor, Tensor] {
  const dirs = cfg.bidirectional ? 2 : 1;
  const G = 4 * cfg.hiddenSize;
  let seq = x;
  const hN: Tensor[] = [];
  const cN: Tensor[] = [];
  for (let layer = 0; layer < cfg.numLayers; layer++) {
    if (layer > 0 && cfg.dropout > 0 && cfg.training) seq = dropout(seq, cfg.dropout, true);
    const outs: Tensor[] = [];
    for (let dir = 0; dir < dirs; dir++) {
      const k = layer * dirs + dir;
      const w = weights[k];
      const b = w.bIh && w.bHh ? ew.add(w.bIh, w.bHh) : (w.bIh ?? w.bHh ?? zeros([G], { dtype: x.dtype, device: x.device }));
      const input = dir === 0 ? seq : flip(seq, [0]);
      const [out, h, c] = lstmLayer(input, select(hInit, 0, k), select(cInit, 0, k), w.wIh, w.wHh, b, w.wHr);
      outs.push(dir === 0 ? out : flip(out, [0]));
      hN.push(h);
      cN.push(c);
    }
    seq = dirs === 1 ? outs[0] : cat(outs, 2);
  }
  return [seq, stack(hN, 0), stack(cN, 0)];
}

/** [B, T, F] <-> [T, B, F]. */
export function swapBatchTime(x: Tensor): Tensor {
  return transpose(x, 0, 1);
}
