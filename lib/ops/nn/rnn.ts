// The fused LSTM and GRU cells. Four primitives, each one native kernel:
//   lstmCell(gates, c)               -> [2, B, H] = (h', c')
//   lstmCellBackward(gates, c, G)    -> [B, 5H]   = (dgates, dc), lstmCell's VJP
//   gruCell(gi, gh, h)               -> [B, H]    = h'
//   gruCellBackward(gi, gh, h, G)    -> [B, 7H]   = (dgi, dgh, dh), gruCell's VJP
// A cell's reverse rule is its backward primitive; every other rule (the cell's JVP, and both
// rules of the backward primitive, needed only for second derivatives) differentiates the
// reference composites below, which compute the same functions with elementwise primitives.
import { jvp, vjp } from '../../autograd/functional.js';
import { DeviceError, DTypeError, ShapeError, shapeStr } from '../../errors.js';
import { isFloating } from '../../tensor/dtype.js';
import { tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import * as ew from '../elementwise.js';
import { cat, stack } from '../indexing.js';
import { runKernel1 } from '../kernel.js';
import { matmul } from '../linalg.js';
import { bind, definePrimitive, type Primitive } from '../primitive.js';
import { narrow, select, t, unsqueeze } from '../views.js';

/** (h', c') stacked [2, B, H], from the gate pre-activations [B, 4H] (order i, f, g, o) and c. */
export function lstmCellReference(gates: Tensor, c: Tensor): Tensor {
  const H = c.shape[1];
  const i = ew.sigmoid(narrow(gates, 1, 0, H));
  const f = ew.sigmoid(narrow(gates, 1, H, H));
  const g = ew.tanh(narrow(gates, 1, 2 * H, H));
  const o = ew.sigmoid(narrow(gates, 1, 3 * H, H));
  const c2 = ew.add(ew.mul(f, c), ew.mul(i, g));
  return stack([ew.mul(o, ew.tanh(c2)), c2], 0);
}

/** The VJP of lstmCellReference: (dgates [B, 4H], dc [B, H]) side by side as [B, 5H]. */
export function lstmCellBackwardReference(gates: Tensor, c: Tensor, grad: Tensor): Tensor {
  const H = c.shape[1];
  const i = ew.sigmoid(narrow(gates, 1, 0, H));
  const f = ew.sigmoid(narrow(gates, 1, H, H));
  const g = ew.tanh(narrow(gates, 1, 2 * H, H));
  const o = ew.sigmoid(narrow(gates, 1, 3 * H, H));
  const tc = ew.tanh(ew.add(ew.mul(f, c), ew.mul(i, g)));
  const dh = select(grad, 0, 0);
  const dc2 = ew.add(select(grad, 0, 1), ew.mul(ew.mul(dh, o), ew.sub(1, ew.square(tc))));
  const dSigmoid = (s: Tensor) => ew.mul(s, ew.sub(1, s));
  return cat([
    ew.mul(ew.mul(dc2, g), dSigmoid(i)),
    ew.mul(ew.mul(dc2, c), dSigmoid(f)),
    ew.mul(ew.mul(dc2, i), ew.sub(1, ew.square(g))),
    ew.mul(ew.mul(dh, tc), dSigmoid(o)),
    ew.mul(dc2, f),
  ], 1);
}

/** Tangents with nulls replaced by zeros (the reference composites take every input). */
const filled = (inputs: readonly Tensor[], tangents: readonly (Tensor | null)[]) => inputs.map((x, k) => tangents[k] ?? ew.mul(x, 0));

export const lstmCellBackwardP: Primitive<undefined> = definePrimitive<undefined>({
  name: 'lstmCellBackward',
  saves: 'inputs',
  vjp: ({ inputs }) => (gg) => {
    const [, pullback] = vjp((a: Tensor, b: Tensor, c: Tensor) => lstmCellBackwardReference(a, b, c), ...inputs);
    return pullback(gg) as Tensor[];
  },
  jvp: ({ inputs }, tangents) => jvp((a: Tensor, b: Tensor, c: Tensor) => lstmCellBackwardReference(a, b, c), inputs, filled(inputs, tangents))[1] as Tensor,
  impl: ([gates, c, grad]) => runKernel1('lstmCellBackward', { shape: [c.shape[0], 5 * c.shape[1]], dtype: gates.dtype, device: gates.device }, [gates, c, grad]),
});

export const lstmCellP: Primitive<undefined> = definePrimitive<undefined>({
  name: 'lstmCell',
  saves: 'inputs',
  vjp: ({ inputs: [gates, c] }) => (g) => {
    const H = c.shape[1];
    const d = bind(lstmCellBackwardP, [gates, c, g], undefined);
    return [narrow(d, 1, 0, 4 * H), narrow(d, 1, 4 * H, H)];
  },
  jvp: ({ inputs }, tangents) => jvp((a: Tensor, b: Tensor) => lstmCellReference(a, b), inputs, filled(inputs, tangents))[1] as Tensor,
  impl: ([gates, c]) => runKernel1('lstmCell', { shape: [2, c.shape[0], c.shape[1]], dtype: gates.dtype, device: gates.device }, [gates, c]),
});

/**
 * One LSTM step from the gate pre-activations: gates [B, 4H] (i, f, g, o, as PyTorch stacks
 * them) and the cell state c [B, H] give [h', c'] (each [B, H]).
 */
export function lstmGates(gates: Tensor, c: Tensor): [Tensor, Tensor] {
  if (gates.ndim !== 2 || c.ndim !== 2 || gates.shape[0] !== c.shape[0] || gates.shape[1] !== 4 * c.shape[1]) {
    throw new ShapeError(`lstmCell: gates ${shapeStr(gates.shape)} must be [B, 4H] for the cell state ${shapeStr(c.shape)} [B, H]`);
  }
  if (gates.device !== c.device) throw new DeviceError(`lstmCell: gates are on ${gates.device}, the cell state on ${c.device}`);
  if (!isFloating(gates.dtype) || gates.dtype !== c.dtype) {
    throw new DTypeError(`lstmCell: gates and cell state must share a float dtype, got ${gates.dtype} and ${c.dtype}`);
  }
  return tidy(() => {
    const out = bind(lstmCellP, [gates, c], undefined);
    return [select(out, 0, 0), select(out, 0, 1)] as [Tensor, Tensor];
  });
}

/**
 * torch.nn.LSTMCell as a function: x [B, I], h and c [B, H], wIh [4H, I], wHh [4H, H], biases
 * [4H]. Returns [h', c'].
 */
export function lstmCell(x: Tensor, h: Tensor, c: Tensor, wIh: Tensor, wHh: Tensor, bIh?: Tensor | null, bHh?: Tensor | null): [Tensor, Tensor] {
  return tidy(() => {
    let gates = ew.add(matmul(x, t(wIh)), matmul(h, t(wHh)));
    if (bIh) gates = ew.add(gates, bIh);
    if (bHh) gates = ew.add(gates, bHh);
    return lstmGates(gates, c);
  });
}

/** The GRU step h' [B, H] from the projections gi, gh [B, 3H] (gate order r, z, n) and h [B, H]. */
export function gruCellReference(gi: Tensor, gh: Tensor, h: Tensor): Tensor {
  const H = h.shape[1];
  const r = ew.sigmoid(ew.add(narrow(gi, 1, 0, H), narrow(gh, 1, 0, H)));
  const z = ew.sigmoid(ew.add(narrow(gi, 1, H, H), narrow(gh, 1, H, H)));
  const n = ew.tanh(ew.add(narrow(gi, 1, 2 * H, H), ew.mul(r, narrow(gh, 1, 2 * H, H))));
  return ew.add(n, ew.mul(z, ew.sub(h, n)));
}

/** The VJP of gruCellReference: (dgi [B, 3H], dgh [B, 3H], dh [B, H]) side by side as [B, 7H]. */
export function gruCellBackwardReference(gi: Tensor, gh: Tensor, h: Tensor, grad: Tensor): Tensor {
  const H = h.shape[1];
  const r = ew.sigmoid(ew.add(narrow(gi, 1, 0, H), narrow(gh, 1, 0, H)));
  const z = ew.sigmoid(ew.add(narrow(gi, 1, H, H), narrow(gh, 1, H, H)));
  const ghn = narrow(gh, 1, 2 * H, H);
  const n = ew.tanh(ew.add(narrow(gi, 1, 2 * H, H), ew.mul(r, ghn)));
  const dSigmoid = (s: Tensor) => ew.mul(s, ew.sub(1, s));
  const dn = ew.mul(ew.mul(grad, ew.sub(1, z)), ew.sub(1, ew.square(n)));
  const dz = ew.mul(ew.mul(grad, ew.sub(h, n)), dSigmoid(z));
  const dr = ew.mul(ew.mul(dn, ghn), dSigmoid(r));
  return cat([dr, dz, dn, dr, dz, ew.mul(dn, r), ew.mul(grad, z)], 1);
}

export const gruCellBackwardP: Primitive<undefined> = definePrimitive<undefined>({
  name: 'gruCellBackward',
  saves: 'inputs',
  vjp: ({ inputs }) => (gg) => {
    const [, pullback] = vjp((a: Tensor, b: Tensor, c: Tensor, d: Tensor) => gruCellBackwardReference(a, b, c, d), ...inputs);
    return pullback(gg) as Tensor[];
  },
  jvp: ({ inputs }, tangents) => jvp((a: Tensor, b: Tensor, c: Tensor, d: Tensor) => gruCellBackwardReference(a, b, c, d), inputs, filled(inputs, tangents))[1] as Tensor,
  impl: ([gi, gh, h, grad]) => runKernel1('gruCellBackward', { shape: [h.shape[0], 7 * h.shape[1]], dtype: h.dtype, device: h.device }, [gi, gh, h, grad]),
});

export const gruCellP: Primitive<undefined> = definePrimitive<undefined>({
  name: 'gruCell',
  saves: 'inputs',
  vjp: ({ inputs: [gi, gh, h] }) => (g) => {
    const H = h.shape[1];
    const d = bind(gruCellBackwardP, [gi, gh, h, g], undefined);
    return [narrow(d, 1, 0, 3 * H), narrow(d, 1, 3 * H, 3 * H), narrow(d, 1, 6 * H, H)];
  },
  jvp: ({ inputs }, tangents) => jvp((a: Tensor, b: Tensor, c: Tensor) => gruCellReference(a, b, c), inputs, filled(inputs, tangents))[1] as Tensor,
  impl: ([gi, gh, h]) => runKernel1('gruCell', { shape: [h.shape[0], h.shape[1]], dtype: h.dtype, device: h.device }, [gi, gh, h]),
});

/**
 * One GRU step from the two projections: gi = x W_ih^T + b_ih and gh = h W_hh^T + b_hh, both
 * [B, 3H] (r, z, n, as PyTorch stacks them), and the state h [B, H] give h' [B, H].
 */
export function gruGates(gi: Tensor, gh: Tensor, h: Tensor): Tensor {
  if (h.ndim !== 2) throw new ShapeError(`gruCell: the hidden state must be [B, H], got ${shapeStr(h.shape)}`);
  for (const [name, v] of [['input', gi], ['hidden', gh]] as const) {
    if (v.ndim !== 2 || v.shape[0] !== h.shape[0] || v.shape[1] !== 3 * h.shape[1]) {
      throw new ShapeError(`gruCell: the ${name} projection ${shapeStr(v.shape)} must be [B, 3H] for the hidden state ${shapeStr(h.shape)} [B, H]`);
    }
  }
  if (gi.device !== h.device || gh.device !== h.device) {
    throw new DeviceError(`gruCell: projections on ${gi.device} and ${gh.device}, the hidden state on ${h.device}`);
  }
  if (!isFloating(h.dtype) || gi.dtype !== h.dtype || gh.dtype !== h.dtype) {
    throw new DTypeError(`gruCell: projections and hidden state must share a float dtype, got ${gi.dtype}, ${gh.dtype} and ${h.dtype}`);
  }
  return bind(gruCellP, [gi, gh, h], undefined);
}

/**
 * torch.nn.GRUCell as a function: x [B, I], h [B, H], wIh [3H, I], wHh [3H, H], biases [3H].
 * n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)), h' = (1 - z) n + z h.
 */
export function gruCell(x: Tensor, h: Tensor, wIh: Tensor, wHh: Tensor, bIh?: Tensor | null, bHh?: Tensor | null): Tensor {
  return tidy(() => {
    // Unbatched (x [I], h [H]) as PyTorch allows: a batch of one.
    const unbatched = x.ndim === 1 && h.ndim === 1;
    const xb = unbatched ? unsqueeze(x, 0) : x;
    const hb = unbatched ? unsqueeze(h, 0) : h;
    let gi = matmul(xb, t(wIh));
    let gh = matmul(hb, t(wHh));
    if (bIh) gi = ew.add(gi, bIh);
    if (bHh) gh = ew.add(gh, bHh);
    const out = gruGates(gi, gh, hb);
    return unbatched ? select(out, 0, 0) : out;
  });
}
