// Conv3d, ConvTranspose1d/3d and the padding modes of Conv1d/2d/3d against direct float64 loops
// written here; PyTorch's weight layouts, default initialization and state-dict names.
import { describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, gradCheck, size, t64, uniform, vals } from '../helpers/nn.js';

const { nn } = kiln;

type Mode = 'zeros' | 'reflect' | 'replicate' | 'circular';

/** Row-major multi-indices of a shape. */
function* indices(shape: readonly number[]): Generator<number[]> {
  const n = size(shape);
  for (let flat = 0; flat < n; flat++) {
    const idx: number[] = new Array(shape.length);
    let rem = flat;
    for (let d = shape.length - 1; d >= 0; d--) { idx[d] = rem % shape[d]; rem = Math.floor(rem / shape[d]); }
    yield idx;
  }
}

const offset = (shape: readonly number[], idx: number[]) => idx.reduce((o, v, d) => o * shape[d] + v, 0);

/** Where padded position p (may lie outside [0, n)) reads from, or -1 for a zero. */
function fold(mode: Mode, p: number, n: number): number {
  if (p >= 0 && p < n) return p;
  if (mode === 'zeros') return -1;
  if (mode === 'replicate') return p < 0 ? 0 : n - 1;
  if (mode === 'circular') return p < 0 ? p + n : p - n;
  return p < 0 ? -p : 2 * (n - 1) - p; // reflect about the edge element
}

interface Geo { stride: number[]; before: number[]; after: number[]; dilation: number[]; groups: number; mode: Mode }

/** y[n, co, o] = b[co] + Σ w[co, ci, k] x[n, g·Cin/g + ci, o·s − before + k·d], x read through the padding mode. */
function convOracle(x: number[], xs: number[], w: number[], ws: readonly number[], b: number[] | null, g: Geo): { out: number[]; shape: number[] } {
  const sp = xs.slice(2), k = ws.slice(2), nd = sp.length;
  const outSize = sp.map((s, d) => Math.floor((s + g.before[d] + g.after[d] - g.dilation[d] * (k[d] - 1) - 1) / g.stride[d]) + 1);
  const cinG = ws[1], coutG = ws[0] / g.groups;
  const shape = [xs[0], ws[0], ...outSize];
  const out: number[] = [];
  for (const [n, co, ...o] of indices(shape)) {
    let s = b ? b[co] : 0;
    const grp = Math.floor(co / coutG);
    for (let ci = 0; ci < cinG; ci++) for (const kk of indices(k)) {
      const pos: number[] = [];
      for (let d = 0; d < nd; d++) pos.push(fold(g.mode, o[d] * g.stride[d] - g.before[d] + kk[d] * g.dilation[d], sp[d]));
      if (pos.some((p) => p < 0)) continue;
      s += w[offset(ws, [co, ci, ...kk])] * x[offset(xs, [n, grp * cinG + ci, ...pos])];
    }
    out.push(s);
  }
  return { out, shape };
}

/** The transposed convolution by scattering: y[n, co, i·s − p + k·d] += x[n, ci, i] w[ci, co_g, k]. */
function convTransposeOracle(x: number[], xs: number[], w: number[], ws: readonly number[], b: number[] | null,
  o: { stride: number[]; padding: number[]; dilation: number[]; outputPadding: number[]; groups: number }): { out: number[]; shape: number[] } {
  const sp = xs.slice(2), k = ws.slice(2);
  const coutG = ws[1], cinG = xs[1] / o.groups;
  const outSize = sp.map((s, d) => (s - 1) * o.stride[d] - 2 * o.padding[d] + o.dilation[d] * (k[d] - 1) + o.outputPadding[d] + 1);
  const shape = [xs[0], coutG * o.groups, ...outSize];
  const out = new Array<number>(size(shape)).fill(0);
  for (const [n, co] of indices([xs[0], shape[1]])) for (const p of indices(outSize)) if (b) out[offset(shape, [n, co, ...p])] = b[co];
  for (const [n, ci, ...i] of indices(xs)) {
    const grp = Math.floor(ci / cinG);
    for (let c = 0; c < coutG; c++) for (const kk of indices(k)) {
      const pos = i.map((v, d) => v * o.stride[d] - o.padding[d] + kk[d] * o.dilation[d]);
      if (pos.some((p, d) => p < 0 || p >= outSize[d])) continue;
      out[offset(shape, [n, grp * coutG + c, ...pos])] += x[offset(xs, [n, ci, ...i])] * w[offset(ws, [ci, c, ...kk])];
    }
  }
  return { out, shape };
}

/** Kaiming-uniform(a = √5) bounds: |w|, |b| <= 1/√fanIn, and the draws fill most of the range. */
function expectDefaultInit(m: { weight: Tensor; bias: Tensor | null }, fanIn: number): void {
  const bound = 1 / Math.sqrt(fanIn);
  const w = vals(m.weight).map(Math.abs);
  expect(Math.max(...w)).toBeLessThanOrEqual(bound);
  expect(Math.max(...w)).toBeGreaterThan(0.5 * bound);
  for (const v of vals(m.bias!)) expect(Math.abs(v)).toBeLessThanOrEqual(bound);
}

describe('Conv3d', () => {
  it('weight [out, in/groups, kd, kh, kw], default init, state-dict names', () => {
    kiln.manualSeed(21);
    const c = new nn.Conv3d(4, 6, [2, 3, 1], { groups: 2 });
    expect(c.weight.shape).toEqual([6, 2, 2, 3, 1]);
    expect(c.bias!.shape).toEqual([6]);
    expect(Object.keys(c.stateDict())).toEqual(['weight', 'bias']);
    expectDefaultInit(c, 2 * 2 * 3 * 1);
    expect(Object.keys(new nn.Conv3d(1, 1, 1, { bias: false }).stateDict())).toEqual(['weight']);
  });
  it('matches a direct loop with stride, padding, dilation and groups; unbatched input', () => {
    kiln.manualSeed(22);
    const c = new nn.Conv3d(4, 2, [2, 3, 2], { stride: [1, 2, 1], padding: [1, 0, 2], dilation: [2, 1, 1], groups: 2, dtype: 'float64' });
    const xs = [2, 4, 4, 5, 3];
    const xv = uniform(size(xs), 23);
    const want = convOracle(xv, xs, vals(c.weight), c.weight.shape, vals(c.bias!),
      { stride: [1, 2, 1], before: [1, 0, 2], after: [1, 0, 2], dilation: [2, 1, 1], groups: 2, mode: 'zeros' });
    const y = c.forward(t64(xs, xv));
    expect(y.shape).toEqual(want.shape);
    expectClose(y, want.out, 1e-12);
    const single = c.forward(t64(xs.slice(1), xv.slice(0, size(xs.slice(1)))));
    expectClose(single, want.out.slice(0, size(want.shape.slice(1))), 1e-12);
  });
  it('checkGrads for input, weight and bias', () => {
    const c = new nn.Conv3d(2, 2, 2, { dtype: 'float64' });
    gradCheck((x, w, b) => nn.functional.conv3d(x, w, b, { padding: 1, stride: [1, 2, 1] }), [t64([1, 2, 3, 3, 2], 24), c.weight.detach(), c.bias!.detach()]);
  });
});

describe('padding modes', () => {
  const cases: { mode: Mode; nd: 1 | 2 | 3; xs: number[]; cout: number; k: number[]; padding: number[] | 'same'; stride?: number[]; dilation?: number[]; groups?: number }[] = [
    { mode: 'reflect', nd: 1, xs: [2, 2, 7], cout: 3, k: [3], padding: [2], stride: [2] },
    { mode: 'circular', nd: 1, xs: [1, 2, 5], cout: 2, k: [4], padding: [3], dilation: [2] },
    { mode: 'replicate', nd: 1, xs: [2, 1, 4], cout: 2, k: [2], padding: [3] },
    { mode: 'reflect', nd: 2, xs: [1, 2, 4, 5], cout: 2, k: [3, 2], padding: [1, 2] },
    { mode: 'circular', nd: 2, xs: [2, 4, 3, 4], cout: 2, k: [2, 3], padding: [2, 1], stride: [2, 1], groups: 2 },
    { mode: 'replicate', nd: 2, xs: [1, 1, 3, 3], cout: 1, k: [3, 3], padding: [2, 1], dilation: [1, 2] },
    { mode: 'reflect', nd: 2, xs: [1, 2, 5, 6], cout: 2, k: [2, 4], padding: 'same' },
    { mode: 'circular', nd: 2, xs: [1, 1, 4, 5], cout: 1, k: [3, 2], padding: 'same', dilation: [2, 1] },
    { mode: 'replicate', nd: 3, xs: [1, 2, 3, 4, 3], cout: 2, k: [2, 3, 2], padding: [1, 1, 2] },
    { mode: 'reflect', nd: 3, xs: [2, 1, 3, 3, 4], cout: 1, k: [3, 2, 2], padding: [2, 1, 1], stride: [1, 1, 2] },
    { mode: 'circular', nd: 3, xs: [1, 1, 2, 3, 3], cout: 2, k: [1, 2, 3], padding: 'same' },
  ];
  for (const c of cases) {
    it(`Conv${c.nd}d ${c.mode} padding ${JSON.stringify(c.padding)}, kernel [${c.k}]`, () => {
      kiln.manualSeed(30 + c.k.length);
      const Layer = [nn.Conv1d, nn.Conv2d, nn.Conv3d][c.nd - 1];
      const m = new Layer(c.xs[1], c.cout, c.k, { padding: c.padding, paddingMode: c.mode, stride: c.stride, dilation: c.dilation, groups: c.groups, dtype: 'float64' });
      expect(m.paddingMode).toBe(c.mode);
      expect(Object.keys(m.stateDict())).toEqual(['weight', 'bias']);
      const dil = c.dilation ?? c.k.map(() => 1);
      // 'same': the total dilation·(k − 1), the odd element after.
      const before = c.padding === 'same' ? c.k.map((k, d) => Math.floor((dil[d] * (k - 1)) / 2)) : c.padding;
      const after = c.padding === 'same' ? c.k.map((k, d) => dil[d] * (k - 1) - before[d]) : c.padding;
      const xv = uniform(size(c.xs), 40 + c.xs.length);
      const want = convOracle(xv, c.xs, vals(m.weight), m.weight.shape, vals(m.bias!),
        { stride: c.stride ?? c.k.map(() => 1), before, after, dilation: dil, groups: c.groups ?? 1, mode: c.mode });
      const y = m.forward(t64(c.xs, xv));
      expect(y.shape).toEqual(want.shape);
      if (c.padding === 'same') expect(y.shape.slice(2)).toEqual(c.xs.slice(2));
      expectClose(y, want.out, 1e-12);
      expect(m.toString()).toContain(`paddingMode='${c.mode}'`);
    });
  }
  it('unbatched input pads only the spatial dims', () => {
    const m = new nn.Conv2d(2, 3, 3, { padding: 1, paddingMode: 'reflect', dtype: 'float64' });
    const x = t64([1, 2, 4, 5], 49);
    expectClose(m.forward(x.select(0, 0)), vals(m.forward(x)), 1e-12);
  });
  it('checkGrads through the padded input, and the weights get gradients', () => {
    for (const mode of ['reflect', 'replicate', 'circular'] as const) {
      const m = new nn.Conv2d(2, 2, 3, { padding: [2, 1], paddingMode: mode, dtype: 'float64' });
      gradCheck((x) => m.forward(x), [t64([1, 2, 3, 4], 50)]);
      m.forward(t64([1, 2, 3, 4], 51)).square().sum().backward();
      expect(m.weight.grad).not.toBeNull();
      expect(m.bias!.grad).not.toBeNull();
    }
  });
  it('errors: unknown mode, reflect padding >= size, same with stride', () => {
    expect(() => new nn.Conv1d(1, 1, 3, { paddingMode: 'mirror' as Mode })).toThrow(/paddingMode must be/);
    const m = new nn.Conv1d(1, 1, 3, { padding: 4, paddingMode: 'reflect' });
    expect(() => m.forward(kiln.randn([1, 1, 4]))).toThrow(kiln.ShapeError);
    expect(() => new nn.Conv2d(1, 1, 3, { padding: 'same', stride: 2 })).toThrow(/not supported for strided/);
  });
});

describe('ConvTranspose1d and ConvTranspose3d', () => {
  it('weight [in, out/groups, ...kernel], default init from fan-in out/groups · prod(kernel), names', () => {
    kiln.manualSeed(60);
    const t1 = new nn.ConvTranspose1d(4, 6, 3, { groups: 2 });
    expect(t1.weight.shape).toEqual([4, 3, 3]);
    expect(Object.keys(t1.stateDict())).toEqual(['weight', 'bias']);
    expectDefaultInit(t1, 3 * 3);
    const t3 = new nn.ConvTranspose3d(2, 5, [2, 3, 2]);
    expect(t3.weight.shape).toEqual([2, 5, 2, 3, 2]);
    expectDefaultInit(t3, 5 * 12);
  });
  it('ConvTranspose1d matches a scatter loop (stride, padding, output padding, dilation, groups)', () => {
    const opts = { stride: [3], padding: [1], outputPadding: [2], dilation: [2], groups: 2 };
    const m = new nn.ConvTranspose1d(4, 6, 3, { ...opts, dtype: 'float64' });
    const xs = [2, 4, 5];
    const xv = uniform(size(xs), 61);
    const want = convTransposeOracle(xv, xs, vals(m.weight), m.weight.shape, vals(m.bias!), opts);
    const y = m.forward(t64(xs, xv));
    expect(y.shape).toEqual(want.shape);
    expectClose(y, want.out, 1e-12);
  });
  it('ConvTranspose3d matches a scatter loop; checkGrads', () => {
    const opts = { stride: [2, 1, 2], padding: [1, 0, 0], outputPadding: [1, 0, 0], dilation: [1, 2, 1], groups: 1 };
    const m = new nn.ConvTranspose3d(2, 3, [3, 2, 2], { ...opts, dtype: 'float64' });
    const xs = [1, 2, 3, 2, 3];
    const xv = uniform(size(xs), 62);
    const want = convTransposeOracle(xv, xs, vals(m.weight), m.weight.shape, vals(m.bias!), opts);
    const y = m.forward(t64(xs, xv));
    expect(y.shape).toEqual(want.shape);
    expectClose(y, want.out, 1e-12);
    gradCheck((x, w, b) => nn.functional.convTranspose3d(x, w, b, { stride: 2, padding: [1, 0, 0] }), [t64([1, 2, 2, 2, 2], 63), m.weight.detach(), m.bias!.detach()]);
  });
  it('forward(x, outputSize) picks the output padding, as PyTorch', () => {
    const m = new nn.ConvTranspose1d(1, 1, 3, { stride: 3, dtype: 'float64' });
    const x = t64([1, 1, 4], 64);
    // (4 − 1)·3 + 3 = 12 .. 14
    expect(m.forward(x).shape).toEqual([1, 1, 12]);
    const y = m.forward(x, [14]);
    expect(y.shape).toEqual([1, 1, 14]);
    const want = convTransposeOracle(vals(x), [1, 1, 4], vals(m.weight), m.weight.shape, vals(m.bias!),
      { stride: [3], padding: [0], outputPadding: [2], dilation: [1], groups: 1 });
    expectClose(y, want.out, 1e-12);
    expect(m.forward(x, [1, 1, 13]).shape).toEqual([1, 1, 13]);
    expect(() => m.forward(x, [15])).toThrow(/must be between 12 and 14/);
    expect(() => new nn.ConvTranspose1d(1, 1, 3, { paddingMode: 'reflect' } as kiln.nn.ConvTransposeLayerOptions)).toThrow(/only paddingMode 'zeros'/);
    const t3 = new nn.ConvTranspose3d(1, 1, 2, { stride: 2 });
    expect(t3.forward(kiln.randn([1, 1, 2, 3, 2]), [5, 6, 4]).shape).toEqual([1, 1, 5, 6, 4]);
  });
});
