// Tensor lifetimes: tidy scopes (10,000 ops leave nothing behind), keep, nested scopes,
// dispose (idempotent; use afterwards throws), views sharing a storage, byte accounting, and the
// FinalizationRegistry safety net (in a child process with --expose-gc).
import { describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import { assertDistBuilt, describeResult, fixture, lastJson, runNodeScript } from '../helpers/node-script.js';
import { values } from '../helpers/tensors.js';

const snap = () => {
  const m = kiln.memory();
  return { tensors: m.tensors, storages: m.cpu.storages, bytes: m.cpu.bytes };
};

describe('tidy', () => {
  it('10,000 ops inside tidy: tensors, storages and bytes return to the start value', () => {
    const before = snap();
    // x_{k+1} = (x_k * 0.5 + 1) folded through views, reductions and matmuls; JS mirrors it
    const result = kiln.tidy(() => {
      let x = kiln.ones([4, 4], { dtype: 'float64' });
      const eye = kiln.eye(4, 4, { dtype: 'float64' });
      let ops = 0;
      while (ops < 10_000) {
        x = x.mul(0.5).add(1); // 2 ops
        x = x.t().reshape([16]).reshape([4, 4]).t(); // views
        x = x.matmul(eye); // identity
        const s = x.sum(1, true); // reduction, discarded
        x = x.sub(s.mul(0)); // 2 ops
        ops += 8;
      }
      return x;
    });
    // every element converges to the fixed point of v -> v/2 + 1, i.e. 2
    expect(values(result).every((v) => Math.abs(v - 2) < 1e-12)).toBe(true);
    const mid = snap();
    expect(mid.tensors).toBe(before.tensors + 1);
    expect(mid.storages).toBe(before.storages + 1);
    expect(mid.bytes).toBe(before.bytes + 16 * 8);
    result.dispose();
    expect(snap()).toEqual(before);
  });

  it('frees everything when fn throws', () => {
    const before = snap();
    expect(() =>
      kiln.tidy(() => {
        const a = kiln.ones([10]);
        a.add(1).mul(2);
        kiln.zeros([3]).matmul(kiln.zeros([4])); // throws ShapeError
      }),
    ).toThrow(kiln.ShapeError);
    expect(snap()).toEqual(before);
  });

  it('returns arrays and objects of tensors; nested tidy; keep', () => {
    const before = snap();
    let kept!: kiln.Tensor;
    const out = kiln.tidy(() => {
      const a = kiln.ones([2]);
      const inner = kiln.tidy(() => {
        const tmp = a.add(1);
        kept = kiln.keep(tmp.mul(10));
        return { x: tmp.add(1), list: [tmp.sub(1), a.neg()] };
      });
      // inner results survive the inner scope but belong to the outer one
      expect(values(inner.x)).toEqual([3, 3]);
      return [inner.list[0], { deep: inner.list[1] }] as const;
    });
    expect(values(out[0])).toEqual([1, 1]);
    expect(values(out[1].deep)).toEqual([-1, -1]);
    expect(values(kept)).toEqual([20, 20]);
    expect(snap().tensors).toBe(before.tensors + 3);
    out[0].dispose();
    out[1].deep.dispose();
    kept.dispose();
    expect(snap()).toEqual(before);
  });

  it('tensors created outside a tidy are not touched by it', () => {
    const outside = kiln.ones([3]);
    kiln.tidy(() => {
      outside.add(1);
      return undefined;
    });
    expect(outside.isDisposed).toBe(false);
    expect(values(outside)).toEqual([1, 1, 1]);
    outside.dispose();
  });
});

describe('dispose', () => {
  it('is idempotent and counted once', () => {
    const before = snap();
    const t = kiln.zeros([100], { dtype: 'float64' });
    expect(snap().bytes).toBe(before.bytes + 800);
    expect(snap().storages).toBe(before.storages + 1);
    t.dispose();
    t.dispose();
    t[Symbol.dispose]();
    expect(t.isDisposed).toBe(true);
    expect(snap()).toEqual(before);
  });

  it('use after dispose throws KilnError mentioning "disposed", for every kind of use', () => {
    const t = kiln.ones([2, 2]);
    const other = kiln.ones([2, 2]);
    t.dispose();
    const uses: [string, () => unknown][] = [
      ['dataSync', () => t.dataSync()],
      ['item', () => t.sum().item()],
      ['arraySync', () => t.arraySync()],
      ['toString', () => t.toString()],
      ['add', () => t.add(1)],
      ['add as 2nd operand', () => other.add(t)],
      ['matmul', () => other.matmul(t)],
      ['reshape', () => t.reshape([4])],
      ['permute', () => t.permute(1, 0)],
      ['slice', () => t.slice(0, 0, 1)],
      ['sum', () => t.sum()],
      ['cat', () => kiln.cat([other, t])],
      ['where', () => kiln.where(kiln.tensor([true, false]), t, other)],
      ['to', () => t.to('float64')],
      ['fill_', () => t.fill_(3)],
      ['copy_ src', () => other.copy_(t)],
      ['gather', () => t.gather(0, kiln.zeros([1, 2], { dtype: 'int32' }))],
    ];
    for (const [name, use] of uses) {
      let err: unknown;
      try {
        use();
      } catch (e) {
        err = e;
      }
      expect(err, name).toBeInstanceOf(kiln.KilnError);
      expect((err as Error).message, name).toMatch(/disposed/);
    }
    // the other tensor is unharmed
    expect(values(other)).toEqual([1, 1, 1, 1]);
    other.dispose();
  });

  it('async reads of a disposed tensor reject', async () => {
    const t = kiln.ones([2]);
    t.dispose();
    await expect(t.data()).rejects.toThrow(/disposed/);
    await expect(t.array()).rejects.toThrow(/disposed/);
  });

  it('views share one storage: disposing the base keeps views readable, the storage goes with the last view', () => {
    const before = snap();
    const raw = kiln.arange(12);
    const base = raw.reshape([3, 4]);
    raw.dispose();
    const v1 = base.t();
    const v2 = base.slice(1, 1, 3);
    expect(snap().storages).toBe(before.storages + 1);
    base.dispose();
    expect(values(v1)).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    v1.dispose();
    expect(values(v2)).toEqual([1, 2, 5, 6, 9, 10]);
    expect(snap().storages).toBe(before.storages + 1);
    v2.dispose();
    expect(snap()).toEqual(before);
  });

  it('bytes per dtype', () => {
    const before = snap();
    const ts = [kiln.zeros([10]), kiln.zeros([10], { dtype: 'float64' }), kiln.zeros([10], { dtype: 'int32' }), kiln.zeros([10], { dtype: 'bool' })];
    expect(snap().bytes - before.bytes).toBe(40 + 80 + 40 + 10);
    ts.forEach((t) => t.dispose());
    expect(snap()).toEqual(before);
  });

  it('errors inside ops do not leak the tensors the op allocated', () => {
    const before = snap();
    const a = kiln.zeros([3, 4]);
    const bad = kiln.full([3, 1], 9, { dtype: 'int32' });
    const badFlat = bad.flatten();
    const wrong = kiln.zeros([5]);
    for (let i = 0; i < 100; i++) {
      expect(() => a.gather(1, bad)).toThrow(kiln.IndexError);
      expect(() => a.indexSelect(0, badFlat)).toThrow(kiln.IndexError);
      expect(() => a.add(wrong)).toThrow(kiln.ShapeError);
      expect(() => a.matmul(wrong)).toThrow(kiln.ShapeError);
    }
    a.dispose();
    bad.dispose();
    badFlat.dispose();
    wrong.dispose();
    expect(snap()).toEqual(before);
  });
});

describe('FinalizationRegistry safety net', () => {
  it('frees the storage of garbage-collected tensors', async () => {
    assertDistBuilt();
    const r = await runNodeScript(fixture('finalize.mjs'), [], { nodeArgs: ['--expose-gc'], timeoutMs: 60_000 });
    expect(r.code, describeResult(r)).toBe(0);
    const res = lastJson<{ start: number; peak: number; end: number; tensorsEnd: number; tensorsStart: number }>(r);
    expect(res.peak).toBeGreaterThanOrEqual(res.start + 1000);
    expect(res.end).toBeLessThanOrEqual(res.start + 10);
    expect(res.tensorsEnd).toBeLessThanOrEqual(res.tensorsStart + 10);
  });
});
