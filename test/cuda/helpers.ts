// Shared by the CUDA tests: whether CUDA is usable here (and why not), twin tensors on CPU and
// CUDA with the same values and the same memory layout, and a parity check of two results.
import { expect } from 'vitest';

import * as kiln from '../../lib/index.js';

/** A small seeded generator (mulberry32), so both devices get the same values. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * KILN_CUDA_FAKE=1 runs the suites with 'cpu' standing in for 'cuda', to check the tests
 * themselves on a machine without a GPU (the parity is then trivially exact).
 */
export const fake = process.env.KILN_CUDA_FAKE === '1';
export const dev: 'cpu' | 'cuda' = fake ? 'cpu' : 'cuda';
export const available = fake || kiln.cuda.isAvailable();
export const reason = kiln.cuda.unavailableReason();
/** A describe title that says, when the suite cannot run, that it was skipped and why. */
export const title = (what: string): string => (available ? what : `${what} (skipped: ${reason})`);

type T = kiln.Tensor;
type DType = kiln.DType;

/**
 * How a test operand sits in memory. All kinds hold the same logical values; the CUDA twin is
 * built by applying the same view ops to a copy of the same base buffer, so both devices see
 * the same strides and offset.
 */
export type Layout = 'contiguous' | 'permuted' | 'strided' | 'flipped' | 'offset';
export const LAYOUTS: Layout[] = ['contiguous', 'permuted', 'strided', 'flipped', 'offset'];
/** A layout for a second operand, so both operands are rarely laid out alike. */
export const OTHER: Record<Layout, Layout> = {
  contiguous: 'flipped',
  permuted: 'contiguous',
  strided: 'permuted',
  flipped: 'strided',
  offset: 'offset',
};
/** The default operand shape: three dims of different, non-power-of-two sizes. */
export const SHAPE = [5, 6, 7];

function baseShape(shape: number[], layout: Layout): number[] {
  switch (layout) {
    case 'permuted':
      return [...shape].reverse();
    case 'strided':
      return shape.map((s) => 2 * s + 1);
    case 'offset':
      return [2, ...shape];
    default:
      return shape;
  }
}

function applyLayout(base: T, shape: number[], layout: Layout): T {
  const rank = shape.length;
  switch (layout) {
    case 'permuted':
      return rank >= 2 ? base.permute(...shape.map((_, i) => rank - 1 - i)) : base;
    case 'strided': {
      let v = base;
      for (let d = 0; d < rank; d++) v = v.slice(d, 1, 2 * shape[d] + 1, 2);
      return v;
    }
    case 'flipped':
      return rank ? base.flip(...shape.map((_, i) => i)) : base;
    case 'offset':
      return base.select(0, 1);
    default:
      return base;
  }
}

export interface TwinOpts {
  lo?: number;
  hi?: number;
  seed?: number;
  /** Values drawn from this list instead of [lo, hi). */
  choices?: number[];
}

/** [cpu, cuda] tensors of `shape` with equal values and equal strides. */
export function twins(shape: number[], dtype: DType, layout: Layout = 'contiguous', opts: TwinOpts = {}): [T, T] {
  const r = rng(opts.seed ?? 1234);
  const bs = layout === 'permuted' && shape.length < 2 ? shape : baseShape(shape, layout);
  const n = bs.reduce((a, b) => a * b, 1);
  const lo = opts.lo ?? -2, hi = opts.hi ?? 2;
  const vals = Array.from({ length: n }, () => {
    if (opts.choices) return opts.choices[Math.floor(r() * opts.choices.length)];
    const v = lo + (hi - lo) * r();
    return dtype === 'int32' ? Math.floor(v) : dtype === 'bool' ? (v > (lo + hi) / 2 ? 1 : 0) : v;
  });
  const base = kiln.tensor(vals, { dtype, shape: bs });
  const baseGpu = base.to(dev);
  return [applyLayout(base, shape, layout), applyLayout(baseGpu, shape, layout)];
}

export interface ParityOpts {
  rtol?: number;
  atol?: number;
}

/** The CUDA result equals the CPU one: same shape, dtype, NaN/inf positions, values within tolerance. */
export function expectParity(cpu: T, gpu: T, label = '', opts: ParityOpts = {}): void {
  if (!fake) expect(gpu.device, label).toMatch(/^cuda/);
  expect(gpu.shape, label).toEqual(cpu.shape);
  expect(gpu.dtype, label).toBe(cpu.dtype);
  const a = Array.from(cpu.dataSync() as ArrayLike<number>);
  const b = Array.from(gpu.dataSync() as ArrayLike<number>);
  const exact = cpu.dtype === 'int32' || cpu.dtype === 'bool';
  const rtol = opts.rtol ?? (cpu.dtype === 'float64' ? 1e-12 : 1e-5);
  const atol = opts.atol ?? (cpu.dtype === 'float64' ? 1e-12 : 1e-6);
  let bad = -1;
  for (let i = 0; i < a.length && bad < 0; i++) {
    const x = a[i], y = b[i];
    if (exact) {
      if (x !== y) bad = i;
    } else if (Number.isNaN(x) || Number.isNaN(y)) {
      if (!(Number.isNaN(x) && Number.isNaN(y))) bad = i;
    } else if (!Number.isFinite(x) || !Number.isFinite(y)) {
      if (x !== y) bad = i;
    } else if (Math.abs(x - y) > atol + rtol * Math.abs(x)) {
      bad = i;
    }
  }
  if (bad >= 0) expect.fail(`${label}: element ${bad} differs: cpu ${a[bad]}, cuda ${b[bad]} (rtol ${rtol}, atol ${atol})`);
}

/** Bitwise equality of two tensors' contents. */
export function expectBitIdentical(cpu: T, gpu: T, label = ''): void {
  expect(gpu.shape, label).toEqual(cpu.shape);
  const a = new Uint8Array((cpu.dataSync() as ArrayBufferView & { buffer: ArrayBuffer }).buffer.slice(0));
  const b = new Uint8Array((gpu.dataSync() as ArrayBufferView & { buffer: ArrayBuffer }).buffer.slice(0));
  expect(b.length, label).toBe(a.length);
  let first = -1;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) { first = i; break; }
  if (first >= 0) expect.fail(`${label}: byte ${first} differs (element ${Math.floor(first / (a.length / cpu.numel()))})`);
}
