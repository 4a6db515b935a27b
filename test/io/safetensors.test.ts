// safetensors: round trips, a PyTorch-style file built byte by byte from the format spec, and
// corrupted, truncated or lying files (which must fail before allocating anything large).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import { expectClose, vals } from '../helpers/nn.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A safetensors file assembled by hand: header JSON + little-endian data, as the spec says. */
function handMade(entries: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[], metadata?: Record<string, string>, opts: { headerOverride?: (h: any) => void; pad?: boolean } = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + e.bytes.length] };
    off += e.bytes.length;
  }
  opts.headerOverride?.(header);
  let json = JSON.stringify(header);
  if (opts.pad ?? true) while ((8 + json.length) % 8) json += ' ';
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, Buffer.from(json), ...entries.map((e) => Buffer.from(e.bytes))]);
}

const f32 = (v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
const i64 = (v: number[]) => new Uint8Array(BigInt64Array.from(v.map(BigInt)).buffer);

describe('safetensors', () => {
  it('round trips float32, float64, int32 and bool tensors with metadata', () => {
    const path = join(dir, 'rt.safetensors');
    const tensors = {
      a: kiln.tensor([[1.5, -2], [3, 4]]),
      b: kiln.tensor([1e-300, 2.5], { dtype: 'float64' }),
      c: kiln.tensor([7, -8, 9], { dtype: 'int32' }),
      d: kiln.tensor([true, false, true]),
      e: kiln.zeros([0, 3]),
      s: kiln.tensor(3.25),
    };
    kiln.save(tensors, path, { metadata: { format: 'pt', note: 'hello' } });
    const { tensors: back, metadata } = kiln.loadFile(path);
    expect(metadata).toEqual({ format: 'pt', note: 'hello' });
    for (const [k, t] of Object.entries(tensors)) {
      expect(back[k].dtype).toBe(t.dtype);
      expect(back[k].shape).toEqual(t.shape);
      expect(vals(back[k])).toEqual(vals(t));
    }
    expect(kiln.loadMetadata(path)).toEqual({ format: 'pt', note: 'hello' });
    // The header is padded so that the data starts 8-byte aligned, and no temp file is left.
    const raw = readFileSync(path);
    expect((8 + Number(raw.readBigUInt64LE(0))) % 8).toBe(0);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('a model state dict round trips into a fresh model', () => {
    const path = join(dir, 'model.safetensors');
    const make = () => new kiln.nn.Sequential(new kiln.nn.Linear(3, 4), new kiln.nn.BatchNorm1d(4), new kiln.nn.Linear(4, 2));
    const a = make();
    a.forward(kiln.randn([5, 3]));
    kiln.save(a.stateDict(), path);
    const b = make();
    b.loadStateDict(kiln.load(path));
    for (const [k, v] of Object.entries(a.stateDict())) expect(vals(b.stateDict()[k])).toEqual(vals(v));
  });

  it('loads a file laid out as PyTorch writes it (int64 num_batches_tracked, unpadded header)', () => {
    const w = [0.1, -0.2, 0.3, 0.4, 0.5, -0.6];
    const buf = handMade([
      { name: '0.weight', dtype: 'F32', shape: [2, 3], bytes: f32(w) },
      { name: '0.bias', dtype: 'F32', shape: [2], bytes: f32([1, 2]) },
      { name: '1.weight', dtype: 'F32', shape: [2], bytes: f32([1, 1]) },
      { name: '1.bias', dtype: 'F32', shape: [2], bytes: f32([0, 0]) },
      { name: '1.running_mean', dtype: 'F32', shape: [2], bytes: f32([0.5, -0.5]) },
      { name: '1.running_var', dtype: 'F32', shape: [2], bytes: f32([2, 3]) },
      { name: '1.num_batches_tracked', dtype: 'I64', shape: [], bytes: i64([17]) },
    ], { format: 'pt' }, { pad: false });
    const path = join(dir, 'torch.safetensors');
    writeFileSync(path, buf);
    const model = new kiln.nn.Sequential(new kiln.nn.Linear(3, 2), new kiln.nn.BatchNorm1d(2));
    model.loadStateDict(kiln.load(path));
    expectClose(vals((model.at(0) as kiln.nn.Linear).weight), w, 1e-7);
    const bn = model.at(1) as kiln.nn.BatchNorm1d;
    expect(bn.num_batches_tracked!.item()).toBe(17);
    expectClose(vals(bn.running_var!), [2, 3]);
  });

  const bad: [string, () => Buffer, RegExp][] = [
    ['an empty file', () => Buffer.alloc(0), /fewer than the 8-byte header length/],
    ['a header length beyond the file', () => {
      const b = Buffer.alloc(16);
      b.writeBigUInt64LE(1n << 40n);
      return b;
    }, /claims 1099511627776 bytes/],
    ['a header that is not JSON', () => {
      const b = Buffer.alloc(8 + 4);
      b.writeBigUInt64LE(4n);
      b.write('{{{{', 8);
      return b;
    }, /not valid JSON/],
    ['a truncated data section', () => handMade([{ name: 'x', dtype: 'F32', shape: [4], bytes: f32([1, 2, 3, 4]) }]).subarray(0, -4), /truncated|ends at byte/],
    ['a shape that lies about the size', () => handMade([{ name: 'x', dtype: 'F32', shape: [4], bytes: f32([1, 2, 3, 4]) }], undefined, {
      headerOverride: (h) => (h.x.shape = [1000000, 1000000]),
    }), /needs 4000000000000 bytes/],
    ['overlapping offsets', () => handMade([
      { name: 'x', dtype: 'F32', shape: [2], bytes: f32([1, 2]) },
      { name: 'y', dtype: 'F32', shape: [2], bytes: f32([3, 4]) },
    ], undefined, { headerOverride: (h) => (h.y.data_offsets = [4, 12]) }), /overlaps|gap|cover/],
    ['a hole between tensors', () => handMade([
      { name: 'x', dtype: 'F32', shape: [1], bytes: f32([1]) },
      { name: 'y', dtype: 'F32', shape: [1], bytes: f32([2]) },
    ], undefined, { headerOverride: (h) => (h.y.data_offsets = [8, 12]) }), /offsets|ends at|gap/],
    ['an unknown dtype', () => handMade([{ name: 'x', dtype: 'F8_E4M3', shape: [4], bytes: new Uint8Array(4) }]), /dtype "F8_E4M3"/],
    ['negative shape', () => handMade([{ name: 'x', dtype: 'F32', shape: [1], bytes: f32([1]) }], undefined, { headerOverride: (h) => (h.x.shape = [-1]) }), /invalid shape/],
    ['non-string metadata', () => handMade([], { n: 1 as unknown as string }), /metadata 'n' is not a string/],
  ];
  for (const [name, make, msg] of bad) {
    it(`rejects ${name} with a clear error and no tensors created`, () => {
      const path = join(dir, `bad-${name.replace(/\W+/g, '-')}.safetensors`);
      writeFileSync(path, make());
      const before = kiln.memory();
      expect(() => kiln.load(path)).toThrow(msg);
      expect(() => kiln.load(path)).toThrow(kiln.io.SafetensorsError);
      const after = kiln.memory();
      expect(after.tensors).toBe(before.tensors);
      expect(after.cpu.bytes).toBe(before.cpu.bytes);
    });
  }

  it('int64 values outside int32 are refused', () => {
    const path = join(dir, 'big.safetensors');
    writeFileSync(path, handMade([{ name: 'n', dtype: 'I64', shape: [1], bytes: i64([2 ** 40]) }]));
    expect(() => kiln.load(path)).toThrow(/outside the int32 range/);
  });

  it('save refuses non-tensors and the reserved name, leaving no file behind', () => {
    const path = join(dir, 'refused.safetensors');
    expect(() => kiln.save({ a: 1 as unknown as kiln.Tensor }, path)).toThrow(/not a Tensor/);
    expect(() => kiln.save({ __metadata__: kiln.zeros([1]) }, path)).toThrow(/reserved/);
    expect(existsSync(path)).toBe(false);
  });

  it('optimizer state round trips through a file and resumes the same trajectory', () => {
    const path = join(dir, 'adam.safetensors');
    const run = (steps: number, p: kiln.Tensor, opt: kiln.optim.Optimizer<any>) => {
      for (let i = 0; i < steps; i++) {
        opt.zeroGrad();
        kiln.tidy(() => p.sub(kiln.tensor([1, -2, 3], { dtype: 'float64' })).square().sum().backward());
        opt.step();
      }
    };
    const a = kiln.tensor([0, 0, 0], { dtype: 'float64' }).requiresGrad_();
    const optA = new kiln.optim.Adam([a], { lr: 0.1, amsgrad: true });
    run(6, a, optA);
    const b = kiln.tensor([0, 0, 0], { dtype: 'float64' }).requiresGrad_();
    const optB = new kiln.optim.Adam([b], { lr: 0.1, amsgrad: true });
    run(3, b, optB);
    kiln.io.saveOptimizer(optB, path);
    const optC = new kiln.optim.Adam([b], { lr: 0.5 });
    kiln.io.loadOptimizer(optC, path);
    expect(optC.paramGroups[0].lr).toBe(0.1);
    run(3, b, optC);
    expect(vals(b)).toEqual(vals(a));
    expect(() => kiln.io.loadOptimizer(new kiln.optim.SGD([b]), path)).toThrow(/holds Adam state/);
  });
});
