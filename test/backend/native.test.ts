// The native addon's management calls and the exec protocol, used directly (kiln.native):
// fromBuffer/read round trips per dtype, share/free reference counting, storageInfo, memory
// accounting, thread settings, backendInfo. Written against native/napi/addon.cpp's protocol.
import { afterAll, describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';

type Native = typeof kiln.native & { args?: Float64Array; opIds?: Record<string, number> };
const native = kiln.native as Native;
// The API contract names these kiln.native.args / kiln.native.opIds; lib exports them as
// kiln.nativeArgs / kiln.nativeOpIds. Accept either.
const args: Float64Array = native.args ?? kiln.nativeArgs;
const opIds: Record<string, number> = native.opIds ?? kiln.nativeOpIds;

const DTYPE = { float32: 0, float64: 1, int32: 2, bool: 3 } as const;

describe('fromBuffer / read / share / free / storageInfo', () => {
  const owned: number[] = [];
  afterAll(() => owned.forEach((h) => native.free(h)));

  it.each([
    ['float32', new Float32Array([1.5, -2, 3e38])],
    ['float64', new Float64Array([1e-300, Math.PI])],
    ['int32', new Int32Array([-(2 ** 31), 0, 2 ** 31 - 1])],
    ['bool', new Uint8Array([1, 0, 1, 1])],
  ] as const)('%s round trip and storageInfo', (dtype, data) => {
    const h = native.fromBuffer(data, DTYPE[dtype], 0);
    owned.push(h);
    expect(Number.isSafeInteger(h) && h > 0).toBe(true);
    expect(native.storageInfo(h)).toEqual([data.length, DTYPE[dtype], 0]);
    const Ctor = data.constructor as new (b: ArrayBuffer) => ArrayLike<number>;
    expect(Array.from(new Ctor(native.read(h, 0, data.length)))).toEqual(Array.from(data));
    expect(Array.from(new Ctor(native.read(h, 1, 1)))).toEqual([data[1]]);
    expect(native.read(h, data.length, 0).byteLength).toBe(0);
    expect(() => native.read(h, 0, data.length + 1)).toThrow();
    expect(() => native.read(h, -1, 1)).toThrow();
  });

  it('copies the bytes of an offset typed-array view', () => {
    const base = new Float32Array([0, 1, 2, 3, 4]);
    const h = native.fromBuffer(base.subarray(2, 4), 0, 0);
    owned.push(h);
    base[2] = 99;
    expect(Array.from(new Float32Array(native.read(h, 0, 2)))).toEqual([2, 3]);
  });

  it('share adds a reference: the storage lives until the last handle is freed', () => {
    const before = native.memory();
    const h = native.fromBuffer(new Float64Array([7, 8]), 1, 0);
    const s = native.share(h);
    expect(s).not.toBe(h);
    expect(native.memory().handles).toBe(before.handles + 2);
    expect(native.memory().cpu.storages).toBe(before.cpu.storages + 1);
    expect(native.free(h)).toBe(true);
    expect(native.free(h)).toBe(false); // double free is a no-op
    expect(Array.from(new Float64Array(native.read(s, 0, 2)))).toEqual([7, 8]);
    expect(() => native.read(h, 0, 1)).toThrow(/handle/);
    expect(native.free(s)).toBe(true);
    expect(native.memory().handles).toBe(before.handles);
    expect(native.memory().cpu.storages).toBe(before.cpu.storages);
    expect(native.memory().cpu.bytes).toBe(before.cpu.bytes);
  });

  it('a freed handle is never reused for a new storage (generation check)', () => {
    const h = native.fromBuffer(new Float32Array([1]), 0, 0);
    native.free(h);
    const seen = new Set<number>();
    for (let i = 0; i < 100; i++) {
      const n = native.fromBuffer(new Float32Array([i]), 0, 0);
      seen.add(n);
      native.free(n);
    }
    expect(seen.has(h)).toBe(false);
    expect(() => native.read(h, 0, 1)).toThrow(/handle/);
  });

  it('rejects byte lengths that are not whole elements and unknown dtypes/devices', () => {
    expect(() => native.fromBuffer(new Uint8Array(6), DTYPE.float32, 0)).toThrow();
    expect(() => native.fromBuffer(new Float32Array(1), 7, 0)).toThrow();
    expect(() => native.fromBuffer(new Float32Array(1), 0, 2)).toThrow(); // cpu:2
    expect(() => native.fromBuffer([1, 2] as unknown as Float32Array, 0, 0)).toThrow();
  });
});

describe('exec protocol', () => {
  /** Writes one operand; returns the next position. */
  function operand(p: number, handle: number, dtype: number, shape: number[], strides: number[], offset = 0): number {
    args[p++] = handle;
    args[p++] = dtype;
    args[p++] = 0;
    args[p++] = shape.length;
    args[p++] = offset;
    for (const s of shape) args[p++] = s;
    for (const s of strides) args[p++] = s;
    return p;
  }

  it('op ids cover the documented native ops', () => {
    for (const name of ['neg', 'exp', 'add', 'mul', 'eq', 'logicalAnd', 'where', 'sum', 'argmax', 'cumsum', 'matmul', 'gather', 'scatterAdd', 'indexSelect', 'pad', 'cast', 'copy', 'fill', 'arange', 'uniform', 'normal', 'bernoulli', 'randint']) {
      expect(Number.isInteger(opIds[name]), name).toBe(true);
    }
    expect(new Set(Object.values(opIds)).size).toBe(Object.keys(opIds).length);
  });

  it('add of a flipped view and an expanded view writes the new handle back', () => {
    const a = native.fromBuffer(new Float32Array([1, 2, 3, 4, 5, 6]), 0, 0);
    const b = native.fromBuffer(new Float32Array([10, 20, 30]), 0, 0);
    let p = 0;
    args[p++] = 1;
    args[p++] = 2;
    const outPos = p;
    p = operand(p, 0, 0, [2, 3], [3, 1]);
    p = operand(p, a, 0, [2, 3], [-3, -1], 5); // a reversed: [[6,5,4],[3,2,1]]
    p = operand(p, b, 0, [2, 3], [0, 1]); // b expanded over rows
    args[p++] = 0;
    native.exec(opIds.add);
    const out = args[outPos];
    expect(out).not.toBe(0);
    expect(Array.from(new Float32Array(native.read(out, 0, 6)))).toEqual([16, 25, 34, 13, 22, 31]);
    for (const h of [a, b, out]) native.free(h);
  });

  it('a failing exec allocates nothing', () => {
    const before = native.memory();
    const a = native.fromBuffer(new Float32Array(6), 0, 0);
    let p = 0;
    args[p++] = 1;
    args[p++] = 2;
    p = operand(p, 0, 0, [2, 3], [3, 1]);
    p = operand(p, a, 0, [2, 3], [3, 1]);
    p = operand(p, a, 0, [3, 2], [2, 1]); // shapes differ
    args[p++] = 0;
    let err: (Error & { code?: string }) | undefined;
    try {
      native.exec(opIds.add);
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.code).toBe('ShapeError');
    expect(err?.message).toMatch(/add/);
    native.free(a);
    expect(native.memory()).toEqual(before);
  });
});

describe('threads and backend info', () => {
  const initial = kiln.getNumThreads();
  afterAll(() => kiln.setNumThreads(initial));

  it('setNumThreads validates and getNumThreads reports', () => {
    expect(initial).toBeGreaterThanOrEqual(1);
    kiln.setNumThreads(1);
    expect(kiln.getNumThreads()).toBe(1);
    kiln.setNumThreads(3);
    expect(kiln.getNumThreads()).toBe(3);
    for (const bad of [0, -1, 1.5, NaN, 100_000]) expect(() => kiln.setNumThreads(bad), String(bad)).toThrow(kiln.KilnError);
    expect(kiln.getNumThreads()).toBe(3);
  });

  it('backendInfo describes the cpu backend and cuda status', () => {
    const info = kiln.backendInfo();
    expect(typeof info.cpu.features).toBe('string');
    expect(typeof info.cpu.gemmKernel).toBe('string');
    expect(info.cpu.gemmKernel.length).toBeGreaterThan(0);
    expect(info.cpu.threads).toBe(kiln.getNumThreads());
    expect(typeof info.cuda.available).toBe('boolean');
    expect(info.cuda.available).toBe(kiln.cuda.isAvailable());
    if (!info.cuda.available) expect(typeof info.cuda.reason).toBe('string');
  });

  it('kiln.memory() agrees with the native accounting', () => {
    const t = kiln.zeros([5], { dtype: 'float64' });
    const m = kiln.memory();
    expect(m.cpu).toEqual(native.memory().cpu);
    expect(m.tensors).toBeGreaterThanOrEqual(1);
    t.dispose();
    expect(kiln.memory().cpu.bytes).toBe(m.cpu.bytes - 40);
  });
});
