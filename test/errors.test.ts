// Every user mistake ends as a typed, descriptive error; none crashes the process or damages
// other tensors. Allocation requests that pass the size checks but no machine can back run in a
// child process, so an abort there fails a test instead of the runner.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import * as kiln from '../lib/index.js';
import { assertDistBuilt, describeResult, fixture, lastJson, runNodeScript } from './helpers/node-script.js';
import { expectError, values } from './helpers/tensors.js';

type ErrorClass = abstract new (...a: never[]) => Error;

// A tensor that must survive every error below unchanged.
let sentinel: kiln.Tensor;
beforeAll(() => {
  sentinel = kiln.arange(6).reshape([2, 3]);
});
afterAll(() => {
  expect(values(sentinel)).toEqual([0, 1, 2, 3, 4, 5]);
  sentinel.dispose();
});

const i32 = (data: number[] | number[][]) => kiln.tensor(data, { dtype: 'int32' });

const CASES: [string, () => unknown, ErrorClass, RegExp?][] = [
  // ---- shapes
  ['matmul inner mismatch names both shapes', () => kiln.zeros([3, 4]).matmul(kiln.zeros([5, 6])), kiln.ShapeError, /matmul.*\[3,\s*4\].*\[5,\s*6\]|matmul.*\[5,\s*6\].*\[3,\s*4\]/],
  ['add non-broadcastable names both shapes', () => kiln.zeros([2, 3]).add(kiln.zeros([4])), kiln.ShapeError, /add.*\[2,\s*3\].*\[4\]|add.*\[4\].*\[2,\s*3\]/],
  ['where non-broadcastable', () => kiln.where(kiln.tensor([true, false, true]), kiln.zeros([2]), 0), kiln.ShapeError, /where/],
  ['reshape to another numel', () => kiln.zeros([2, 3]).reshape([5]), kiln.ShapeError, /reshape/],
  ['view of a non-viewable layout', () => kiln.zeros([2, 3]).t().view([6]), kiln.ShapeError, /view/],
  ['expand of a non-1 dim', () => kiln.zeros([2, 3]).expand(4, 3), kiln.ShapeError, /expand/],
  ['ragged nested array', () => kiln.tensor([[1, 2], [3]]), kiln.ShapeError, /ragged/],
  ['item() on a non-scalar', () => kiln.zeros([2]).item(), kiln.ShapeError, /item/],
  ['item() on an empty tensor', () => kiln.zeros([0]).item(), kiln.ShapeError, /item/],
  ['cat of mismatched shapes', () => kiln.cat([kiln.zeros([2, 3]), kiln.zeros([3, 3])], 1), kiln.ShapeError, /cat/],
  ['stack of mismatched shapes', () => kiln.stack([kiln.zeros([2]), kiln.zeros([3])]), kiln.ShapeError, /stack/],
  ['negative shape', () => kiln.zeros([2, -1]), kiln.ShapeError],
  ['fractional shape', () => kiln.ones([2.5]), kiln.ShapeError],
  ['NaN shape', () => kiln.ones([NaN]), kiln.ShapeError],
  ['Infinity shape', () => kiln.ones([Infinity]), kiln.ShapeError],
  ['17 dims', () => kiln.zeros(new Array(17).fill(1)), kiln.ShapeError],
  ['numel beyond 2^53', () => kiln.zeros([2 ** 32, 2 ** 32]), kiln.ShapeError],
  ['typed array too short for shape', () => kiln.tensor(new Float32Array(5), { shape: [2, 3] }), kiln.ShapeError],
  ['bmm of 2-D operands', () => kiln.bmm(kiln.zeros([2, 3]), kiln.zeros([3, 2])), kiln.ShapeError, /bmm/],
  // ---- dtypes
  ['logicalAnd on float', () => kiln.zeros([2]).logicalAnd(kiln.zeros([2])), kiln.DTypeError, /logicalAnd/],
  ['logicalOr on int32', () => i32([1, 0]).logicalOr(i32([0, 0])), kiln.DTypeError, /logicalOr/],
  ['where with a float condition', () => kiln.where(kiln.ones([2]), kiln.ones([2]), kiln.zeros([2])), kiln.DTypeError, /where/],
  ['gather with a float index', () => kiln.zeros([2, 2]).gather(0, kiln.zeros([1, 2])), kiln.DTypeError, /gather/],
  ['indexSelect with a bool index', () => kiln.zeros([2, 2]).indexSelect(0, kiln.tensor([true])), kiln.DTypeError, /indexSelect/],
  ['unknown dtype', () => kiln.zeros([2], { dtype: 'float16' as never }), kiln.DTypeError, /float16/],
  ['strings in nested data', () => kiln.tensor(['a', 'b'] as never), kiln.DTypeError],
  ['rand with an int dtype', () => kiln.rand([2], { dtype: 'int32' }), kiln.DTypeError, /rand/],
  ['requiresGrad on an int tensor', () => kiln.tensor([1, 2], { dtype: 'int32', requiresGrad: true }), kiln.DTypeError],
  ['matmul of bool tensors', () => kiln.tensor([[true]]).matmul(kiln.tensor([[false]])), kiln.DTypeError, /matmul/],
  ['softmax of an int tensor', () => i32([1, 2]).softmax(0), kiln.DTypeError, /softmax/],
  ['unsupported typed array', () => kiln.tensor(new Int16Array(3) as never), kiln.DTypeError],
  // ---- indices
  ['gather index == size', () => kiln.zeros([2, 3]).gather(1, i32([[3]])), kiln.IndexError, /gather.*3/],
  ['gather negative index', () => kiln.zeros([2, 3]).gather(0, i32([[-1]])), kiln.IndexError, /gather/],
  ['scatterAdd index out of range', () => kiln.zeros([2, 3]).scatterAdd(0, i32([[2]]), kiln.ones([1, 1])), kiln.IndexError, /scatterAdd/],
  ['indexSelect index out of range', () => kiln.zeros([2, 3]).indexSelect(1, i32([0, 1, 2, 3])), kiln.IndexError, /indexSelect/],
  ['indexSelect huge index', () => kiln.zeros([2, 3]).indexSelect(0, i32([2 ** 31 - 1])), kiln.IndexError],
  ['select index out of range', () => kiln.zeros([2, 3]).select(1, 3), kiln.IndexError],
  ['dim out of range', () => kiln.zeros([2, 3]).sum(2), kiln.IndexError],
  ['transpose dim out of range', () => kiln.zeros([2, 3]).transpose(0, -3), kiln.IndexError],
  // ---- devices
  ['unknown device', () => kiln.zeros([2], { device: 'tpu' }), kiln.DeviceError, /tpu/],
  ['malformed cuda device', () => kiln.zeros([2], { device: 'cuda:x' }), kiln.DeviceError],
];

describe('typed errors', () => {
  for (const [name, fn, cls, msg] of CASES) {
    it(name, () => {
      expectError(fn, cls, msg);
    });
  }

  it('huge shapes within the 2^53 range: ShapeError or MemoryError, no allocation', () => {
    for (const shape of [[2 ** 40, 2 ** 20], [2 ** 49], [2 ** 24, 2 ** 24, 2]]) {
      let err: unknown;
      try {
        kiln.zeros(shape);
      } catch (e) {
        err = e;
      }
      expect(err instanceof kiln.ShapeError || err instanceof kiln.MemoryError, `zeros([${shape}]) threw ${String(err)}`).toBe(true);
    }
  });
});

describe('cuda device', () => {
  it('is usable when available, else every cuda request throws DeviceError with the reason', () => {
    if (kiln.cuda.isAvailable()) {
      const t = kiln.tensor([1, 2, 3], { device: 'cuda' });
      expect(t.device).toBe('cuda:0');
      expect(values(t.add(1).cpu())).toEqual([2, 3, 4]);
      return;
    }
    const reason = kiln.cuda.unavailableReason();
    expect(typeof reason).toBe('string');
    expect(reason!.length).toBeGreaterThan(0);
    expect(kiln.backendInfo().cuda.available).toBe(false);
    const cpu = kiln.ones([2]);
    for (const fn of [() => kiln.zeros([2], { device: 'cuda' }), () => kiln.tensor([1], { device: 'cuda:0' }), () => cpu.to('cuda'), () => cpu.cuda(), () => kiln.rand([3], { device: 'cuda' }), () => kiln.arange(3, undefined, 1, { device: 'cuda' })]) {
      expectError(fn, kiln.DeviceError, /cuda/);
    }
    expect(values(cpu)).toEqual([1, 1]);
  });
});

describe('handles', () => {
  it('garbage and disposed handles throw KilnError through the TS layer', () => {
    const t = kiln.ones([2]);
    const handle = t.storage.handle;
    t.dispose();
    // a stale handle: the storage is freed, the handle must not resolve to anything
    const stale = kiln.Tensor.fromHandle(handle, [2], 'float32', 'cpu');
    expectError(() => stale.dataSync(), kiln.KilnError, /handle/);
    expectError(() => stale.add(1), kiln.KilnError, /handle/);
    for (const h of [0, -1, 1.5, NaN, Infinity, 2 ** 53, 123456789]) {
      const g = kiln.Tensor.fromHandle(h, [1], 'float32', 'cpu');
      expectError(() => g.dataSync(), kiln.KilnError);
      expectError(() => g.mul(2), kiln.KilnError);
    }
  });

  it('raw native calls with bad handles throw errors with a kiln code', () => {
    const n = kiln.native;
    for (const h of [0, -5, 0.5, NaN, 2 ** 52, 1e300, 987654321]) {
      for (const fn of [() => n.read(h, 0, 1), () => n.share(h), () => n.storageInfo(h)]) {
        let err: (Error & { code?: string }) | undefined;
        try {
          fn();
        } catch (e) {
          err = e as Error & { code?: string };
        }
        expect(err).toBeInstanceOf(Error);
        expect(err!.code).toBe('KilnError');
        expect(err!.message).toMatch(/handle/);
      }
      expect(n.free(h)).toBe(false);
    }
  });
});

describe('allocations no machine can back', () => {
  it('end in MemoryError (run in a child process)', async () => {
    assertDistBuilt();
    const r = await runNodeScript(fixture('huge-alloc.mjs'), [], { timeoutMs: 60_000 });
    expect(r.code, describeResult(r)).toBe(0);
    const res = lastJson<{ name: string; error: string | null; code: string | null }[]>(r);
    for (const { name, error } of res) expect(error, `${name} should throw`).toMatch(/^(MemoryError|ShapeError)/);
  });
});
