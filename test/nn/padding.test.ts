// nn.functional.pad in its four modes against index tables built here by spelling each mode out
// (mirror, edge copies, wrap-around), gradients by checkGrads and by counting copies, and errors.
import { describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import { expectClose, gradCheck, size, t64, uniform, vals } from '../helpers/nn.js';

const F = kiln.nn.functional;
type Mode = 'constant' | 'reflect' | 'replicate' | 'circular';

/** The source position of each output position along one dim of size n (-1 = the fill value). */
export function padIndex(mode: Mode, n: number, before: number, after: number): number[] {
  const range = (a: number, b: number) => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
  const body = range(Math.max(0, -before), n - Math.max(0, -after));
  let left: number[] = [];
  let right: number[] = [];
  const b = Math.max(0, before), a = Math.max(0, after);
  if (mode === 'constant') { left = new Array(b).fill(-1); right = new Array(a).fill(-1); }
  // reflect: x[b], ..., x[1] | x | x[n-2], ..., x[n-1-a]
  if (mode === 'reflect') { left = range(1, b + 1).reverse(); right = range(n - 1 - a, n - 1).reverse(); }
  if (mode === 'replicate') { left = new Array(b).fill(0); right = new Array(a).fill(n - 1); }
  // circular: the last b kept elements, then the kept ones, then the first a kept ones
  if (mode === 'circular') { left = body.slice(body.length - b); right = body.slice(0, a); }
  return [...left, ...body, ...right];
}

/** Pads a row-major array of `shape` with `pad` (pairs from the last dim backwards). */
export function padOracle(x: number[], shape: number[], pad: number[], mode: Mode, value = 0): { out: number[]; shape: number[] } {
  const tables = shape.map((n, d) => {
    const i = shape.length - 1 - d;
    return 2 * i < pad.length ? padIndex(mode, n, pad[2 * i], pad[2 * i + 1]) : Array.from({ length: n }, (_, k) => k);
  });
  const oshape = tables.map((t) => t.length);
  const out: number[] = [];
  for (let flat = 0; flat < size(oshape); flat++) {
    let rem = flat, src = 0, stride = 1, fill = false;
    const idx: number[] = [];
    for (let d = oshape.length - 1; d >= 0; d--) { idx[d] = rem % oshape[d]; rem = Math.floor(rem / oshape[d]); }
    for (let d = shape.length - 1; d >= 0; d--) {
      const s = tables[d][idx[d]];
      if (s < 0) fill = true;
      src += s * stride;
      stride *= shape[d];
    }
    out.push(fill ? value : x[src]);
  }
  return { out, shape: oshape };
}

describe('nn.functional.pad', () => {
  it('the index tables spell the modes out', () => {
    expect(padIndex('reflect', 4, 2, 3)).toEqual([2, 1, 0, 1, 2, 3, 2, 1, 0]);
    expect(padIndex('replicate', 3, 2, 1)).toEqual([0, 0, 0, 1, 2, 2]);
    expect(padIndex('circular', 3, 2, 3)).toEqual([1, 2, 0, 1, 2, 0, 1, 2]);
    expect(padIndex('constant', 3, 1, -1)).toEqual([-1, 0, 1]);
    expect(padIndex('circular', 4, -1, 2)).toEqual([1, 2, 3, 1, 2]);
  });
  const cases: [Mode, number[], number[]][] = [
    ['reflect', [2, 5], [3, 4]],
    ['reflect', [2, 2, 3, 4], [1, 2, 2, 1]],
    ['reflect', [1, 2, 3, 3, 4], [1, 0, 2, 2, 1, 1]],
    ['replicate', [2, 3, 4], [3, 1]],
    ['replicate', [1, 2, 3, 4], [2, 0, 1, 3]],
    ['replicate', [1, 1, 2, 3, 2], [1, 1, 0, 2, 3, 0]],
    ['circular', [2, 3, 5], [5, 2]],
    ['circular', [2, 1, 3, 4], [4, 1, 3, 2]],
    ['circular', [1, 1, 2, 3, 3], [1, 2, 3, 0, 2, 1]],
    ['constant', [2, 3, 4], [1, 2, 0, 1]],
    ['reflect', [2, 6], [-1, 2]],
    ['circular', [3, 4], [-1, 2, 1, -2]],
  ];
  for (const [mode, shape, pad] of cases) {
    it(`${mode} ${JSON.stringify(shape)} by ${JSON.stringify(pad)}`, () => {
      const xv = uniform(size(shape), shape.length * 7 + pad.length);
      const want = padOracle(xv, shape, pad, mode, 0.5);
      const y = F.pad(t64(shape, xv), pad, mode, mode === 'constant' ? 0.5 : undefined);
      expect(y.shape).toEqual(want.shape);
      expectClose(y, want.out, 0);
    });
  }
  it('gradients: each input element collects the gradient of every copy of it', () => {
    const x = t64([4], [1, 2, 3, 4], { requiresGrad: true });
    F.pad(x.reshape([1, 4]), [2, 3], 'reflect').sum().backward();
    // reflect (2, 3) on 4: sources 2 1 | 0 1 2 3 | 2 1 0
    expect(vals(x.grad!)).toEqual([2, 3, 3, 1]);
    const y = t64([3], [1, 2, 3], { requiresGrad: true });
    F.pad(y.reshape([1, 3]), [2, 1], 'replicate').sum().backward();
    expect(vals(y.grad!)).toEqual([3, 1, 2]);
    const z = t64([3], [1, 2, 3], { requiresGrad: true });
    F.pad(z.reshape([1, 3]), [3, 2], 'circular').sum().backward();
    expect(vals(z.grad!)).toEqual([3, 3, 2]);
  });
  it('checkGrads for every mode (reverse and forward)', () => {
    for (const mode of ['reflect', 'replicate', 'circular', 'constant'] as const) {
      gradCheck((x) => F.pad(x, [1, 2, 2, 1], mode).square(), [t64([1, 2, 3, 3], 31)]);
      gradCheck((x) => F.pad(x, [1, 1, 0, 2, 2, 0], mode).square(), [t64([1, 1, 3, 3, 3], 32)]);
    }
  });
  it('typed errors as PyTorch', () => {
    const x = t64([1, 2, 3], 33);
    expect(() => F.pad(x, [3, 0], 'reflect')).toThrow(kiln.ShapeError);
    expect(() => F.pad(x, [3, 0], 'reflect')).toThrow(/reflect padding \(3, 0\) of dim 2 must be smaller than its size 3/);
    expect(() => F.pad(x, [0, 4], 'circular')).toThrow(/circular padding .* must not exceed its size 3/);
    expect(() => F.pad(x, [1], 'replicate')).toThrow(kiln.ShapeError);
    expect(() => F.pad(x, [1, 1], 'wrap' as 'reflect')).toThrow(/mode must be one of/);
    expect(() => F.pad(x, [1, 1], 'reflect', 2)).toThrow(/takes no fill value/);
    expect(() => F.pad(kiln.zeros([2, 0]), [1, 1], 'replicate')).toThrow(/cannot pad the empty dim/);
  });
});
