// kiln.profile: counts and times the native ops a function runs.
import { describe, expect, it } from 'vitest';

import * as kiln from '../lib/index.js';

describe('profile', () => {
  it('counts each native op a function runs and returns its result', () => {
    const a = kiln.ones([4, 4]);
    const b = kiln.ones([4, 4]);
    const report = kiln.profile(() => kiln.tidy(() => a.matmul(b).add(b).add(a).sum().item()));
    expect(report.result).toBe(16 * 6);
    const calls = Object.fromEntries(report.ops.map((o) => [o.op, o.calls]));
    expect(calls.matmul).toBe(1);
    expect(calls.add).toBe(2);
    expect(calls.sum).toBe(1);
    for (const o of report.ops) expect(o.totalMs).toBeGreaterThanOrEqual(0);
    expect(report.wallMs).toBeGreaterThanOrEqual(report.ops.reduce((s, o) => s + o.totalMs, 0) - 1e-9);
    const table = report.table();
    expect(table.split('\n')[0]).toMatch(/^op\s+calls\s+total ms\s+mean us\s+share$/);
    expect(table).toMatch(/\nmatmul\s+1\s/);
    a.dispose();
    b.dispose();
  });

  it('byShape keys the rows by input shapes', () => {
    const x = kiln.ones([2, 3]);
    const report = kiln.profile(() => kiln.tidy(() => void x.matmul(kiln.ones([3, 5])).matmul(kiln.ones([5, 1]))), { byShape: true });
    const keys = report.ops.map((o) => o.op);
    expect(keys).toContain('matmul [2,3] [3,5]');
    expect(keys).toContain('matmul [2,5] [5,1]');
    x.dispose();
  });

  it('records nothing outside a profile, refuses to nest, and recovers after a throw', () => {
    expect(() => kiln.profile(() => kiln.profile(() => 1))).toThrow(/already running/);
    expect(() => kiln.profile(() => {
      throw new Error('boom');
    })).toThrow('boom');
    const report = kiln.profile(() => kiln.tidy(() => void kiln.ones([3]).neg()));
    expect(report.ops.map((o) => o.op)).toContain('neg');
  });
});
