// The fused LSTM cell against a float64 loop oracle written here (forward and the hand-derived
// VJP), checkGrads at order 2 in both modes (the second-order rules go through the reference
// composites), agreement with the composites, and errors.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../../lib/index.js';
import type { Tensor } from '../../../lib/index.js';
import { lstmCell, lstmCellBackwardP, lstmCellBackwardReference, lstmCellP, lstmCellReference, lstmGates } from '../../../lib/ops/nn/index.js';
import { bind } from '../../../lib/ops/primitive.js';
import * as O from '../../helpers/oracle.js';
import { Arr, rng } from '../../helpers/oracle.js';
import { expectError, expectTensor, LAYOUTS, make } from '../../helpers/tensors.js';

kiln.manualSeed(3);

const sig = (v: number) => 1 / (1 + Math.exp(-v));

/** [h', c'] of every row, from gates [B, 4H] and c [B, H]. */
function cellRef(gates: Arr, c: Arr): Arr {
  const [B, H] = c.shape;
  const h2: number[] = [];
  const c2: number[] = [];
  for (let b = 0; b < B; b++)
    for (let j = 0; j < H; j++) {
      const g = (k: number) => gates.get([b, k * H + j]);
      const cn = sig(g(1)) * c.get([b, j]) + sig(g(0)) * Math.tanh(g(2));
      c2.push(cn);
      h2.push(sig(g(3)) * Math.tanh(cn));
    }
  return new Arr([2, B, H], [...h2, ...c2]);
}

/** The VJP by finite differences of cellRef (central, float64): [dgates, dc] as [B, 5H]. */
function cellVjpRef(gates: Arr, c: Arr, grad: Arr): Arr {
  const [B, H] = c.shape;
  const eps = 1e-6;
  const dot = (out: Arr) => out.data.reduce((a, v, i) => a + v * grad.data[i], 0);
  const partial = (which: 'g' | 'c', idx: number) => {
    const bump = (d: number) => {
      const g2 = which === 'g' ? new Arr(gates.shape, gates.data.map((v, i) => (i === idx ? v + d : v))) : gates;
      const c2 = which === 'c' ? new Arr(c.shape, c.data.map((v, i) => (i === idx ? v + d : v))) : c;
      return dot(cellRef(g2, c2));
    };
    return (bump(eps) - bump(-eps)) / (2 * eps);
  };
  return O.fromFn([B, 5 * H], ([b, k]) => (k < 4 * H ? partial('g', b * 4 * H + k) : partial('c', b * H + (k - 4 * H))));
}

const rand = (shape: number[], r: () => number, s = 2) => O.randomArr(shape, 'float64', r, -s, s);

describe('lstmCell', () => {
  it('forward: float64 and float32, every input layout', () => {
    const r = rng(1);
    const gates = rand([3, 4 * 5], r);
    const c = rand([3, 5], r);
    const expected = cellRef(gates, c);
    for (const layout of LAYOUTS) {
      expectTensor(bind(lstmCellP, [make(gates, 'float64', layout), make(c, 'float64', layout)], undefined), expected, { rtol: 1e-13, atol: 1e-13 }, layout);
      expectTensor(bind(lstmCellP, [make(gates, 'float32', layout), make(c, 'float32', layout)], undefined), expected, { rtol: 1e-5, atol: 2e-6 }, `${layout} f32`);
    }
  });

  it('the fused VJP kernel matches the derivative of the oracle, and the reference composite', () => {
    const r = rng(2);
    const gates = rand([2, 4 * 3], r);
    const c = rand([2, 3], r);
    const grad = rand([2, 2, 3], r);
    const expected = cellVjpRef(gates, c, grad);
    for (const layout of LAYOUTS) {
      const args = [make(gates, 'float64', layout), make(c, 'float64', layout), make(grad, 'float64', layout)];
      expectTensor(bind(lstmCellBackwardP, args, undefined), expected, { rtol: 1e-7, atol: 1e-8 }, layout);
      expectTensor(lstmCellBackwardReference(args[0], args[1], args[2]), expected, { rtol: 1e-7, atol: 1e-8 }, `${layout} reference`);
    }
    const f32 = bind(lstmCellBackwardP, [make(gates, 'float32'), make(c, 'float32'), make(grad, 'float32')], undefined);
    expectTensor(f32, expected, { rtol: 1e-5, atol: 1e-5 }, 'f32');
  });

  it('a full-size cell (vectorized activations) agrees with the composite', () => {
    const gates = kiln.randn([32, 4 * 256]);
    const c = kiln.randn([32, 256]);
    const g = kiln.randn([2, 32, 256]);
    const fused = bind(lstmCellP, [gates, c], undefined);
    const ref = lstmCellReference(gates, c);
    expect(fused.sub(ref).abs().max().item()).toBeLessThan(1e-5);
    const dFused = bind(lstmCellBackwardP, [gates, c, g], undefined);
    const dRef = lstmCellBackwardReference(gates, c, g);
    expect(dFused.sub(dRef).abs().max().item()).toBeLessThan(1e-5);
  });

  it('lstmCell (torch.nn.LSTMCell as a function) through backward()', () => {
    const r = rng(4);
    const [B, I, H] = [2, 3, 4];
    const x = make(rand([B, I], r), 'float64');
    const h = make(rand([B, H], r), 'float64');
    const c = make(rand([B, H], r), 'float64');
    const wIh = make(rand([4 * H, I], r, 0.5), 'float64').requiresGrad_();
    const wHh = make(rand([4 * H, H], r, 0.5), 'float64').requiresGrad_();
    const bIh = make(rand([4 * H], r, 0.5), 'float64').requiresGrad_();
    const [h2, c2] = lstmCell(x, h, c, wIh, wHh, bIh, null);
    const gates = x.matmul(wIh.t()).add(h.matmul(wHh.t())).add(bIh);
    const ref = lstmCellReference(gates, c);
    expect(h2.sub(ref.select(0, 0)).abs().max().item()).toBeLessThan(1e-14);
    expect(c2.sub(ref.select(0, 1)).abs().max().item()).toBeLessThan(1e-14);
    h2.sum().add(c2.mul(2).sum()).backward();
    const grads = [wIh.grad!, wHh.grad!, bIh.grad!].map((t) => Array.from(t.dataSync()));
    for (const t of [wIh, wHh, bIh]) t.grad = null;
    const again = lstmCellReference(x.matmul(wIh.t()).add(h.matmul(wHh.t())).add(bIh), c);
    again.select(0, 0).sum().add(again.select(0, 1).mul(2).sum()).backward();
    [wIh, wHh, bIh].forEach((t, i) => O.assertClose(Array.from(t.grad!.dataSync()), grads[i], { rtol: 1e-12, atol: 1e-13 }));
  });
});

function check(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[]) {
  const report = kiln.checkGrads(f, inputs, { order: 2, modes: ['fwd', 'rev'], atol: 1e-6, rtol: 1e-4 });
  expect(report.ok).toBe(true);
}
const sample = (shape: number[]) => kiln.rand(shape, { dtype: 'float64', low: -1.5, high: 1.5 });

describe('lstmCell rules: checkGrads order 2, both modes', () => {
  it('the cell', () => {
    check((g, c) => bind(lstmCellP, [g, c], undefined), [sample([2, 8]), sample([2, 2])]);
  });
  it('its VJP primitive', () => {
    check((g, c, d) => bind(lstmCellBackwardP, [g, c, d], undefined), [sample([1, 8]), sample([1, 2]), sample([2, 1, 2])]);
  });
  it('two steps of lstmGates with a shared weight', () => {
    check((x, w, c) => {
      const [h1, c1] = lstmGates(x.matmul(w), c);
      const [h2] = lstmGates(h1.matmul(w.narrow(0, 0, 2)), c1);
      return h2;
    }, [sample([1, 2]), sample([2, 8]), sample([1, 2])]);
  });
});

describe('lstmCell errors', () => {
  it('shapes, dtypes', () => {
    expectError(() => lstmGates(kiln.zeros([2, 7]), kiln.zeros([2, 2])), kiln.ShapeError, /4H/);
    expectError(() => lstmGates(kiln.zeros([2, 8]), kiln.zeros([3, 2])), kiln.ShapeError);
    expectError(() => lstmGates(kiln.zeros([2, 8], { dtype: 'int32' }), kiln.zeros([2, 2], { dtype: 'int32' })), kiln.DTypeError);
    expectError(() => bind(lstmCellP, [kiln.zeros([2, 7]), kiln.zeros([2, 2])], undefined), kiln.ShapeError);
    expectError(() => bind(lstmCellBackwardP, [kiln.zeros([2, 8]), kiln.zeros([2, 2]), kiln.zeros([2, 2, 3])], undefined), kiln.ShapeError);
    expectError(() => bind(lstmCellBackwardP, [kiln.zeros([2, 8]), kiln.zeros([2, 2]), kiln.zeros([2, 2, 2], { dtype: 'float64' })], undefined), kiln.DTypeError);
  });
});
