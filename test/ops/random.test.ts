// Random tensors: reproducibility (same seed, same values; bit-exact against an independent JS
// Philox4x32-10 following the stream layout of native/core/philox.h), and distribution checks
// (moments, Kolmogorov-Smirnov, chi-square) on 2^18 draws with bounds several sigma wide.
import { beforeEach, describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import * as O from '../helpers/oracle.js';
import { blocksFor, philoxBlock, randintStream, uniform24, uniform24Open, uniformF32, uniformF64, word1 } from '../helpers/philox.js';
import { expectError, values } from '../helpers/tensors.js';

const N = 1 << 18;

function moments(v: number[]) {
  const n = v.length;
  const mean = v.reduce((s, x) => s + x, 0) / n;
  let m2 = 0, m3 = 0, m4 = 0;
  for (const x of v) {
    const d = x - mean;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  return { mean, variance: m2, skew: m3 / m2 ** 1.5, kurtosis: m4 / (m2 * m2) };
}

/** Kolmogorov-Smirnov statistic of samples against a CDF. */
function ksStatistic(v: number[], cdf: (x: number) => number): number {
  const s = [...v].sort((a, b) => a - b);
  let d = 0;
  for (let i = 0; i < s.length; i++) {
    const f = cdf(s[i]);
    d = Math.max(d, Math.abs(f - i / s.length), Math.abs((i + 1) / s.length - f));
  }
  return d;
}
// P(D > 1.95/sqrt(n)) ~ 0.001 for the KS statistic
const KS_LIMIT = (n: number) => 1.95 / Math.sqrt(n);
const normalCdf = (x: number) => 0.5 * (1 + O.erf(x / Math.SQRT2));

describe('independent Philox4x32-10 reference', () => {
  it('matches the Random123 known-answer vectors', () => {
    expect(philoxBlock([0, 0, 0, 0], [0, 0])).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    expect(philoxBlock([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff])).toEqual([0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
    expect(philoxBlock([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])).toEqual([0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
  });
});

describe('reproducibility', () => {
  beforeEach(() => kiln.manualSeed(1234));

  it('the same seed gives identical draws, different seeds differ, consecutive draws differ', () => {
    kiln.manualSeed(42);
    const a = values(kiln.rand([1000]));
    const a2 = values(kiln.rand([1000]));
    kiln.manualSeed(42);
    const b = values(kiln.rand([1000]));
    kiln.manualSeed(43);
    const c = values(kiln.rand([1000]));
    expect(b).toEqual(a);
    expect(a2).not.toEqual(a);
    expect(c).not.toEqual(a);
    for (const f of [() => kiln.randn([257]), () => kiln.randint(0, 100, [257]), () => kiln.bernoulli(0.5, [257]), () => kiln.rand([3, 5], { dtype: 'float64' })]) {
      kiln.manualSeed(7);
      const x = values(f());
      kiln.manualSeed(7);
      expect(values(f())).toEqual(x);
      kiln.manualSeed(8);
      expect(values(f())).not.toEqual(x);
    }
  });

  it('getRngState / setRngState replay a draw', () => {
    kiln.manualSeed(5);
    kiln.rand([10]);
    const st = kiln.getRngState();
    const x = values(kiln.randn([33]));
    kiln.setRngState(st);
    expect(values(kiln.randn([33]))).toEqual(x);
  });

  it('float32 rand is bit-exact against the JS Philox stream, with the offset advancing per draw', () => {
    kiln.manualSeed(7);
    const a = values(kiln.rand([5]));
    const b = values(kiln.rand([2, 3]));
    const c = values(kiln.rand([4]));
    expect(a).toEqual(uniformF32(7, 0, 5));
    const off1 = blocksFor(5, 1); // 2 blocks
    expect(b).toEqual(uniformF32(7, off1, 6));
    expect(c).toEqual(uniformF32(7, off1 + blocksFor(6, 1), 4));
  });

  it('float64 rand, randint and large 64-bit seeds are bit-exact too', () => {
    kiln.manualSeed(2 ** 40 + 12345);
    const d = values(kiln.rand([7], { dtype: 'float64' }));
    expect(d).toEqual(uniformF64(2 ** 40 + 12345, 0, 7));
    const r = values(kiln.randint(-3, 10, [9]));
    expect(r).toEqual(randintStream(2 ** 40 + 12345, blocksFor(7, 2), 9, -3, 10));
  });

  it('float32 randn follows Box-Muller on lane pairs of the same stream', () => {
    kiln.manualSeed(99);
    const z = values(kiln.randn([8]));
    const ref: number[] = [];
    for (let i = 0; i < 8; i += 2) {
      const u1 = uniform24Open(word1(99, 0, i)), u2 = uniform24(word1(99, 0, i + 1));
      const rad = Math.sqrt(-2 * Math.log(u1));
      ref.push(rad * Math.cos(2 * Math.PI * u2), rad * Math.sin(2 * Math.PI * u2));
    }
    O.assertClose(z, ref, { rtol: 1e-5, atol: 1e-5 });
  });

  it('draws do not depend on the thread count', () => {
    const before = kiln.getNumThreads();
    try {
      kiln.setNumThreads(1);
      kiln.manualSeed(3);
      const one = values(kiln.randn([100_003]));
      kiln.setNumThreads(Math.max(2, before));
      kiln.manualSeed(3);
      expect(values(kiln.randn([100_003]))).toEqual(one);
    } finally {
      kiln.setNumThreads(before);
    }
  });
});

describe('distributions (n = 2^18)', () => {
  beforeEach(() => kiln.manualSeed(2024));

  for (const dtype of ['float32', 'float64'] as const) {
    it(`rand ${dtype}: in [0,1), moments, KS`, () => {
      const t = kiln.rand([N], { dtype });
      expect(t.dtype).toBe(dtype);
      expect(t.shape).toEqual([N]);
      const v = values(t);
      expect(v.reduce((m, x) => Math.min(m, x), Infinity)).toBeGreaterThanOrEqual(0);
      expect(v.reduce((m, x) => Math.max(m, x), -Infinity)).toBeLessThan(1);
      const m = moments(v);
      expect(Math.abs(m.mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / N));
      expect(Math.abs(m.variance - 1 / 12)).toBeLessThan(0.002);
      expect(ksStatistic(v, (x) => Math.min(Math.max(x, 0), 1))).toBeLessThan(KS_LIMIT(N));
    });

    it(`randn ${dtype}: moments and KS against the normal CDF`, () => {
      const v = values(kiln.randn([N], { dtype }));
      expect(v.every(Number.isFinite)).toBe(true);
      const m = moments(v);
      expect(Math.abs(m.mean)).toBeLessThan(5 / Math.sqrt(N));
      expect(Math.abs(m.variance - 1)).toBeLessThan(5 * Math.sqrt(2 / N));
      expect(Math.abs(m.skew)).toBeLessThan(5 * Math.sqrt(6 / N));
      expect(Math.abs(m.kurtosis - 3)).toBeLessThan(5 * Math.sqrt(24 / N));
      expect(ksStatistic(v, normalCdf)).toBeLessThan(KS_LIMIT(N));
    });
  }

  it('rand low/high and randn mean/std options', () => {
    const u = moments(values(kiln.rand([N], { low: -2, high: 3 })));
    expect(Math.abs(u.mean - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(u.variance - 25 / 12)).toBeLessThan(0.05);
    const z = moments(values(kiln.randn([N], { mean: 10, std: 0.5 })));
    expect(Math.abs(z.mean - 10)).toBeLessThan(0.01);
    expect(Math.abs(z.variance - 0.25)).toBeLessThan(0.01);
  });

  it('bernoulli: 0/1 values with mean p, in float32, int32 and bool', () => {
    for (const p of [0, 0.3, 0.9, 1]) {
      for (const dtype of ['float32', 'int32', 'bool'] as const) {
        const t = kiln.bernoulli(p, [N], { dtype });
        expect(t.dtype).toBe(dtype);
        const v = values(t);
        expect(v.every((x) => x === 0 || x === 1)).toBe(true);
        const mean = v.reduce((s, x) => s + x, 0) / N;
        expect(Math.abs(mean - p), `p=${p} ${dtype}`).toBeLessThanOrEqual(5 * Math.sqrt((p * (1 - p)) / N));
      }
    }
  });

  it('randint: int32 in [low, high), every value hit, chi-square uniform', () => {
    const t = kiln.randint(-3, 5, [N]);
    expect(t.dtype).toBe('int32');
    const v = values(t);
    const counts = new Array(8).fill(0);
    const outside = v.filter((x) => !(Number.isInteger(x) && x >= -3 && x < 5));
    expect(outside).toEqual([]);
    for (const x of v) counts[x + 3]++;
    const e = N / 8;
    const chi2 = counts.reduce((s, c) => s + ((c - e) * (c - e)) / e, 0);
    expect(chi2).toBeLessThan(40); // 7 dof: P(chi2 > 40) < 1e-6
    const wide = values(kiln.randint(0, 2 ** 31 - 1, [1000]));
    expect(wide.every((x) => x >= 0 && x < 2 ** 31 - 1)).toBe(true);
    expect(new Set(wide).size).toBeGreaterThan(990);
    const f = kiln.randint(0, 3, [10], { dtype: 'float32' });
    expect(f.dtype).toBe('float32');
  });

  it('randLike / randnLike keep shape and dtype', () => {
    const x = kiln.zeros([3, 4], { dtype: 'float64' });
    expect(kiln.randLike(x).shape).toEqual([3, 4]);
    expect(kiln.randLike(x).dtype).toBe('float64');
    expect(kiln.randnLike(x).dtype).toBe('float64');
    expect(kiln.rand([0]).shape).toEqual([0]);
    expect(kiln.rand([]).shape).toEqual([]);
  });
});

describe('random errors', () => {
  it('bad dtypes, probabilities and ranges throw', () => {
    expectError(() => kiln.rand([2], { dtype: 'int32' }), kiln.DTypeError);
    expectError(() => kiln.randn([2], { dtype: 'bool' }), kiln.DTypeError);
    expect(() => kiln.bernoulli(1.5, [2])).toThrow(kiln.KilnError);
    expect(() => kiln.bernoulli(NaN, [2])).toThrow(kiln.KilnError);
    expect(() => kiln.randint(5, 5, [2])).toThrow(kiln.KilnError);
    expect(() => kiln.randint(0, 1.5, [2])).toThrow(kiln.KilnError);
    expect(() => kiln.manualSeed(1.5)).toThrow(kiln.KilnError);
    expect(() => kiln.rand([-1])).toThrow(kiln.ShapeError);
  });
});
