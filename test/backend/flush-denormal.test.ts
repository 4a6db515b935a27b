// kiln.setFlushDenormal: CPU kernels flush denormal floats to zero by default (float_env.h),
// keep them when asked, and never change JavaScript's own arithmetic.
import { afterAll, describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';

const DENORMAL_F32 = 1e-40; // below float32's smallest normal, 1.1754944e-38
const big = 1 << 18; // large enough to run on the thread pool's workers too

// The switch exists everywhere; the flushing itself is implemented for x86-64 and arm64.
const flushes = process.arch === 'x64' || process.arch === 'arm64';

describe('setFlushDenormal', () => {
  afterAll(() => kiln.setFlushDenormal(true));

  it.runIf(flushes)('is on by default: denormal inputs and results become zero, on the caller and the workers', () => {
    expect(kiln.getFlushDenormal()).toBe(true);
    const one = kiln.tidy(() => Array.from(kiln.tensor([DENORMAL_F32, 1]).mul(1).dataSync() as Float32Array));
    expect(one).toEqual([0, 1]);
    // a normal input whose product is denormal
    expect(kiln.tidy(() => (kiln.tensor([1e-30]).mul(1e-15).dataSync() as Float32Array)[0])).toBe(0);
    const many = kiln.tidy(() => kiln.full([big], DENORMAL_F32).mul(1).sum().item());
    expect(many).toBe(0);
  });

  it('off keeps IEEE denormals', () => {
    kiln.setFlushDenormal(false);
    expect(kiln.getFlushDenormal()).toBe(false);
    const v = kiln.tidy(() => (kiln.tensor([DENORMAL_F32]).mul(1).dataSync() as Float32Array)[0]);
    expect(v).toBe(Math.fround(DENORMAL_F32));
    expect(v).toBeGreaterThan(0);
    const many = kiln.tidy(() => kiln.full([big], DENORMAL_F32).mul(2).dataSync() as Float32Array);
    expect(many[0]).toBe(Math.fround(2 * Math.fround(DENORMAL_F32)));
    expect(many[big - 1]).toBe(many[0]);
    kiln.setFlushDenormal(true);
    expect(kiln.getFlushDenormal()).toBe(true);
    if (flushes) expect(kiln.tidy(() => (kiln.tensor([DENORMAL_F32]).mul(1).dataSync() as Float32Array)[0])).toBe(0);
  });

  it('leaves JavaScript arithmetic alone after kernels ran', () => {
    kiln.tidy(() => void kiln.full([big], DENORMAL_F32).mul(1).sum().item());
    const smallestNormal = Number('2.2250738585072014e-308'); // read at run time: not folded
    expect(smallestNormal / 2).toBeGreaterThan(0); // a float64 denormal result is kept
    expect(Number.MIN_VALUE * Number('1')).toBe(Number.MIN_VALUE); // and a denormal input
    expect(Math.fround(DENORMAL_F32)).toBeGreaterThan(0);
  });

  it('rejects a non-boolean', () => {
    expect(() => kiln.setFlushDenormal(1 as unknown as boolean)).toThrow(kiln.KilnError);
  });
});
