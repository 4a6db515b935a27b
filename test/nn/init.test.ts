// nn.init: bounds and moments of the draws, gains, fans, orthogonality, and the default inits.
import { describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import { vals } from '../helpers/nn.js';

const { init } = kiln.nn;

const stats = (v: number[]) => {
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length);
  return { m, sd, lo: Math.min(...v), hi: Math.max(...v) };
};

describe('nn.init', () => {
  it('gains and fans as torch.nn.init', () => {
    expect(init.calculateGain('relu')).toBeCloseTo(Math.SQRT2, 15);
    expect(init.calculateGain('tanh')).toBeCloseTo(5 / 3, 15);
    expect(init.calculateGain('leaky_relu', Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 15);
    expect(init.calculateGain('selu')).toBe(0.75);
    expect(init.calculateFanInAndFanOut(kiln.zeros([8, 3, 5, 5]))).toEqual([75, 200]);
    expect(() => init.calculateFanInAndFanOut(kiln.zeros([4]))).toThrow(/at least 2 dims/);
  });
  it('uniform, normal, constant, zeros, ones', () => {
    kiln.manualSeed(1);
    const u = stats(vals(init.uniform(kiln.zeros([20000]), -2, 3)));
    expect(u.lo).toBeGreaterThanOrEqual(-2);
    expect(u.hi).toBeLessThan(3);
    expect(Math.abs(u.m - 0.5)).toBeLessThan(0.05);
    const n = stats(vals(init.normal(kiln.zeros([20000], { dtype: 'float64' }), 1, 0.5)));
    expect(Math.abs(n.m - 1)).toBeLessThan(0.02);
    expect(Math.abs(n.sd - 0.5)).toBeLessThan(0.02);
    expect(vals(init.constant(kiln.zeros([3]), 2.5))).toEqual([2.5, 2.5, 2.5]);
    expect(vals(init.ones(kiln.zeros([2])))).toEqual([1, 1]);
    expect(vals(init.zeros(kiln.ones([2])))).toEqual([0, 0]);
  });
  it('xavier and kaiming draws have the documented bounds and standard deviations', () => {
    kiln.manualSeed(2);
    const w = kiln.zeros([200, 300]);
    const xu = stats(vals(init.xavierUniform(w, 2)));
    const a = 2 * Math.sqrt(6 / 500);
    expect(xu.hi).toBeLessThanOrEqual(a);
    expect(Math.abs(xu.sd - a / Math.sqrt(3))).toBeLessThan(0.01 * a);
    expect(Math.abs(stats(vals(init.xavierNormal(w))).sd - Math.sqrt(2 / 500))).toBeLessThan(0.01 * Math.sqrt(2 / 500) * 3);
    const ku = stats(vals(init.kaimingUniform(w, { nonlinearity: 'relu' })));
    const bound = Math.SQRT2 * Math.sqrt(3 / 300);
    expect(ku.hi).toBeLessThanOrEqual(bound);
    expect(ku.lo).toBeGreaterThanOrEqual(-bound);
    const kn = stats(vals(init.kaimingNormal(w, { mode: 'fanOut', nonlinearity: 'relu' })));
    expect(Math.abs(kn.sd - Math.SQRT2 / Math.sqrt(200))).toBeLessThan(0.03 * Math.SQRT2 / Math.sqrt(200));
  });
  it('orthogonal gives orthonormal rows or columns, scaled by the gain', () => {
    kiln.manualSeed(3);
    for (const shape of [[6, 4], [4, 6], [3, 2, 2]]) {
      const w = init.orthogonal(kiln.zeros(shape, { dtype: 'float64' }), 1.5);
      const m = w.reshape([shape[0], -1]);
      const gram = m.shape[0] >= m.shape[1] ? m.t().matmul(m) : m.matmul(m.t());
      const k = gram.shape[0];
      const g = vals(gram);
      for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) expect(Math.abs(g[i * k + j] - (i === j ? 2.25 : 0))).toBeLessThan(1e-12);
    }
  });
  it('eye', () => {
    expect(vals(init.eye(kiln.zeros([2, 3])))).toEqual([1, 0, 0, 0, 1, 0]);
  });
  it('init writes in place and never records gradients', () => {
    const p = new kiln.nn.Linear(3, 3).weight;
    init.normal(p);
    expect(p.gradFn).toBeNull();
    expect(p.requiresGrad).toBe(true);
  });
});
