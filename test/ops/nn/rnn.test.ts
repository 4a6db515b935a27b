// The fused LSTM and GRU cells against float64 loop oracles written here (forward, and the VJP
// by central differences of the oracle), checkGrads at order 2 in both modes (the second-order
// rules go through the reference composites), agreement with the composites, and errors.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../../lib/index.js';
import type { Tensor } from '../../../lib/index.js';
import {
  gruCell, gruCellBackwardP, gruCellBackwardReference, gruCellP, gruCellReference, gruGates,
  lstmCell, lstmCellBackwardP, lstmCellBackwardReference, lstmCellP, lstmCellReference, lstmGates,
} from '../../../lib/ops/nn/index.js';
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

// ---------------------------------------------------------------- GRU

/** h' of every row, from gi, gh [B, 3H] (r, z, n) and h [B, H]. */
function gruRef(gi: Arr, gh: Arr, h: Arr): Arr {
  const [B, H] = h.shape;
  const out: number[] = [];
  for (let b = 0; b < B; b++)
    for (let j = 0; j < H; j++) {
      const x = (k: number) => gi.get([b, k * H + j]);
      const y = (k: number) => gh.get([b, k * H + j]);
      const r = sig(x(0) + y(0));
      const z = sig(x(1) + y(1));
      const n = Math.tanh(x(2) + r * y(2));
      out.push((1 - z) * n + z * h.get([b, j]));
    }
  return new Arr([B, H], out);
}

/** The VJP by central differences of gruRef (float64): [dgi, dgh, dh] as [B, 7H]. */
function gruVjpRef(gi: Arr, gh: Arr, h: Arr, grad: Arr): Arr {
  const [B, H] = h.shape;
  const eps = 1e-6;
  const dot = (out: Arr) => out.data.reduce((a, v, i) => a + v * grad.data[i], 0);
  const bumped = (a: Arr, idx: number, d: number) => new Arr(a.shape, a.data.map((v, i) => (i === idx ? v + d : v)));
  const partial = (which: 0 | 1 | 2, idx: number) => {
    const at = (d: number) => dot(gruRef(which === 0 ? bumped(gi, idx, d) : gi, which === 1 ? bumped(gh, idx, d) : gh, which === 2 ? bumped(h, idx, d) : h));
    return (at(eps) - at(-eps)) / (2 * eps);
  };
  return O.fromFn([B, 7 * H], ([b, k]) => (k < 3 * H ? partial(0, b * 3 * H + k) : k < 6 * H ? partial(1, b * 3 * H + k - 3 * H) : partial(2, b * H + k - 6 * H)));
}

describe('gruCell', () => {
  it('forward: float64 and float32, every input layout', () => {
    const r = rng(11);
    const gi = rand([3, 3 * 5], r);
    const gh = rand([3, 3 * 5], r);
    const h = rand([3, 5], r, 1);
    const expected = gruRef(gi, gh, h);
    for (const layout of LAYOUTS) {
      const args64 = [make(gi, 'float64', layout), make(gh, 'float64', layout), make(h, 'float64', layout)];
      expectTensor(bind(gruCellP, args64, undefined), expected, { rtol: 1e-13, atol: 1e-13 }, layout);
      const args32 = [make(gi, 'float32', layout), make(gh, 'float32', layout), make(h, 'float32', layout)];
      expectTensor(bind(gruCellP, args32, undefined), expected, { rtol: 1e-5, atol: 2e-6 }, `${layout} f32`);
    }
  });

  it('projections that are column slices of wider matrices (row-strided views)', () => {
    const r = rng(12);
    const wide = rand([2, 20], r);
    const h = rand([2, 4], r, 1);
    const gi = O.fromFn([2, 12], ([b, k]) => wide.get([b, k + 1]));
    const gh = O.fromFn([2, 12], ([b, k]) => wide.get([b, k + 8]));
    const w = make(wide, 'float64');
    expectTensor(bind(gruCellP, [w.narrow(1, 1, 12), w.narrow(1, 8, 12), make(h, 'float64')], undefined), gruRef(gi, gh, h), { rtol: 1e-13, atol: 1e-13 });
  });

  it('the fused VJP kernel matches the derivative of the oracle, and the reference composite', () => {
    const r = rng(13);
    const gi = rand([2, 3 * 3], r);
    const gh = rand([2, 3 * 3], r);
    const h = rand([2, 3], r, 1);
    const grad = rand([2, 3], r);
    const expected = gruVjpRef(gi, gh, h, grad);
    for (const layout of LAYOUTS) {
      const args = [make(gi, 'float64', layout), make(gh, 'float64', layout), make(h, 'float64', layout), make(grad, 'float64', layout)];
      expectTensor(bind(gruCellBackwardP, args, undefined), expected, { rtol: 1e-7, atol: 1e-8 }, layout);
      expectTensor(gruCellBackwardReference(args[0], args[1], args[2], args[3]), expected, { rtol: 1e-7, atol: 1e-8 }, `${layout} reference`);
    }
    const f32 = bind(gruCellBackwardP, [make(gi, 'float32'), make(gh, 'float32'), make(h, 'float32'), make(grad, 'float32')], undefined);
    expectTensor(f32, expected, { rtol: 1e-5, atol: 1e-5 }, 'f32');
  });

  it('the gradients through backward() are the oracle VJP', () => {
    const r = rng(14);
    const [gi, gh, h, grad] = [rand([2, 6], r), rand([2, 6], r), rand([2, 2], r, 1), rand([2, 2], r)];
    const expected = gruVjpRef(gi, gh, h, grad);
    const ts = [make(gi, 'float64'), make(gh, 'float64'), make(h, 'float64')].map((v) => v.requiresGrad_());
    gruGates(ts[0], ts[1], ts[2]).mul(make(grad, 'float64')).sum().backward();
    const got = kiln.cat([ts[0].grad!, ts[1].grad!, ts[2].grad!], 1);
    expectTensor(got, expected, { rtol: 1e-7, atol: 1e-8 });
  });

  it('full-size cells (vectorized activations; row blocks in parallel) agree with the composite', () => {
    for (const [B, H] of [[32, 256], [96, 1024]]) {
      const gi = kiln.randn([B, 3 * H]);
      const gh = kiln.randn([B, 3 * H]);
      const h = kiln.randn([B, H]);
      const g = kiln.randn([B, H]);
      const fused = bind(gruCellP, [gi, gh, h], undefined);
      expect(fused.sub(gruCellReference(gi, gh, h)).abs().max().item()).toBeLessThan(1e-5);
      const dFused = bind(gruCellBackwardP, [gi, gh, h, g], undefined);
      expect(dFused.sub(gruCellBackwardReference(gi, gh, h, g)).abs().max().item()).toBeLessThan(1e-5);
    }
  });

  it('gruCell (torch.nn.GRUCell as a function) against the oracle, batched and unbatched, through backward()', () => {
    const r = rng(15);
    const [B, I, H] = [2, 3, 4];
    const [x, h] = [rand([B, I], r), rand([B, H], r, 1)];
    const [wIh, wHh, bIh, bHh] = [rand([3 * H, I], r, 0.5), rand([3 * H, H], r, 0.5), rand([3 * H], r, 0.5), rand([3 * H], r, 0.5)];
    // gi = x W_ih^T + b_ih, gh = h W_hh^T + b_hh in float64 loops: b_hn stays inside r (...).
    const proj = (v: Arr, w: Arr, bias: Arr, n: number) => O.fromFn([B, 3 * H], ([b, k]) => {
      let s = bias.get([k]);
      for (let i = 0; i < n; i++) s += v.get([b, i]) * w.get([k, i]);
      return s;
    });
    const expected = gruRef(proj(x, wIh, bIh, I), proj(h, wHh, bHh, H), h);
    const params = [wIh, wHh, bIh, bHh].map((a) => make(a, 'float64').requiresGrad_());
    const out = gruCell(make(x, 'float64'), make(h, 'float64'), params[0], params[1], params[2], params[3]);
    expectTensor(out, expected, { rtol: 1e-13, atol: 1e-13 });
    const row = gruCell(make(x, 'float64').select(0, 1), make(h, 'float64').select(0, 1), params[0], params[1], params[2], params[3]);
    expect(row.shape).toEqual([H]);
    expectTensor(row, O.fromFn([H], ([j]) => expected.get([1, j])), { rtol: 1e-13, atol: 1e-13 });
    out.square().sum().backward();
    const fused = params.map((p) => Array.from(p.grad!.dataSync()));
    for (const p of params) p.grad = null;
    const xt = make(x, 'float64');
    const ht = make(h, 'float64');
    gruCellReference(xt.matmul(params[0].t()).add(params[2]), ht.matmul(params[1].t()).add(params[3]), ht).square().sum().backward();
    params.forEach((p, i) => O.assertClose(Array.from(p.grad!.dataSync()), fused[i], { rtol: 1e-12, atol: 1e-13 }));
  });
});

describe('gruCell rules: checkGrads order 2, both modes', () => {
  it('the cell', () => {
    check((gi, gh, h) => bind(gruCellP, [gi, gh, h], undefined), [sample([2, 6]), sample([2, 6]), sample([2, 2])]);
  });
  it('its VJP primitive', () => {
    check((gi, gh, h, d) => bind(gruCellBackwardP, [gi, gh, h, d], undefined), [sample([1, 6]), sample([1, 6]), sample([1, 2]), sample([1, 2])]);
  });
  it('two steps of gruCell with shared weights', () => {
    check((x, wIh, wHh, h) => {
      const h1 = gruCell(x, h, wIh, wHh);
      return gruCell(h1.narrow(1, 0, 1), h1, wIh, wHh);
    }, [sample([1, 1]), sample([6, 1]), sample([6, 2]), sample([1, 2])]);
  });
});

describe('gruCell errors', () => {
  it('shapes, dtypes', () => {
    expectError(() => gruGates(kiln.zeros([2, 7]), kiln.zeros([2, 6]), kiln.zeros([2, 2])), kiln.ShapeError, /input projection.*3H/);
    expectError(() => gruGates(kiln.zeros([2, 6]), kiln.zeros([3, 6]), kiln.zeros([2, 2])), kiln.ShapeError, /hidden projection/);
    expectError(() => gruGates(kiln.zeros([2, 6]), kiln.zeros([2, 6]), kiln.zeros([2])), kiln.ShapeError, /\[B, H\]/);
    expectError(() => gruGates(kiln.zeros([2, 6], { dtype: 'int32' }), kiln.zeros([2, 6], { dtype: 'int32' }), kiln.zeros([2, 2], { dtype: 'int32' })), kiln.DTypeError);
    expectError(() => gruGates(kiln.zeros([2, 6]), kiln.zeros([2, 6], { dtype: 'float64' }), kiln.zeros([2, 2])), kiln.DTypeError);
    expectError(() => gruCell(kiln.zeros([2, 3]), kiln.zeros([2, 2]), kiln.zeros([6, 3]), kiln.zeros([5, 2])), kiln.ShapeError);
    // The native checks, reached by binding the primitives directly.
    expectError(() => bind(gruCellP, [kiln.zeros([2, 7]), kiln.zeros([2, 6]), kiln.zeros([2, 2])], undefined), kiln.ShapeError, /gruCell.*\[B, 3H\]/);
    expectError(() => bind(gruCellP, [kiln.zeros([2, 6]), kiln.zeros([2, 6]), kiln.zeros([2, 2], { dtype: 'float64' })], undefined), kiln.DTypeError, /gruCell/);
    expectError(() => bind(gruCellP, [kiln.zeros([2, 6], { dtype: 'int32' }), kiln.zeros([2, 6], { dtype: 'int32' }), kiln.zeros([2, 2], { dtype: 'int32' })], undefined), kiln.DTypeError);
    expectError(() => bind(gruCellBackwardP, [kiln.zeros([2, 6]), kiln.zeros([2, 6]), kiln.zeros([2, 2]), kiln.zeros([2, 3])], undefined), kiln.ShapeError, /gruCellBackward: gradient/);
    expectError(() => bind(gruCellBackwardP, [kiln.zeros([2, 6]), kiln.zeros([2, 6]), kiln.zeros([2, 2]), kiln.zeros([2, 2], { dtype: 'float64' })], undefined), kiln.DTypeError);
  });
});
