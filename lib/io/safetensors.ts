// The safetensors format: an 8-byte little-endian header length, a JSON header mapping names to
// {dtype, shape, data_offsets} (plus optional "__metadata__" strings), then the raw little-endian
// data. Files are written atomically (temp file, fsync, rename). Reading validates the whole
// header against the file size before any tensor is allocated, so a truncated file or a header
// that lies about sizes or offsets fails with a clear error and costs nothing.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

import { KilnError } from '../errors.js';
import { fromTypedArray } from '../tensor/creation.js';
import type { DeviceLike } from '../tensor/device.js';
import { dtypeSize, type AnyTypedArray, type DType } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';

const FILE_DTYPE: Record<DType, string> = { float32: 'F32', float64: 'F64', int32: 'I32', bool: 'BOOL' };
/** What each file dtype loads as, and its element size in the file. */
const READABLE: Record<string, { dtype: DType; size: number }> = {
  F32: { dtype: 'float32', size: 4 },
  F64: { dtype: 'float64', size: 8 },
  I32: { dtype: 'int32', size: 4 },
  BOOL: { dtype: 'bool', size: 1 },
  // PyTorch writes integer buffers (e.g. BatchNorm's num_batches_tracked) as int64: read as int32.
  I64: { dtype: 'int32', size: 8 },
};
const MAX_HEADER = 100 * 1024 * 1024; // the reference implementation's limit

export type Metadata = Record<string, string>;

export class SafetensorsError extends KilnError {}

/** Writes tensors (and optional string metadata) to `path` in the safetensors format, atomically. */
export function save(tensors: Record<string, Tensor> | Map<string, Tensor>, path: string, opts: { metadata?: Metadata } = {}): void {
  const entries = [...(tensors instanceof Map ? tensors.entries() : Object.entries(tensors))];
  for (const [name, t] of entries) {
    if (!(t instanceof Tensor)) throw new SafetensorsError(`save: '${name}' is not a Tensor`);
    if (name === '__metadata__') throw new SafetensorsError("save: '__metadata__' is reserved");
  }
  if (opts.metadata) {
    for (const [k, v] of Object.entries(opts.metadata)) if (typeof v !== 'string') throw new SafetensorsError(`save: metadata '${k}' must be a string`);
  }
  // Wider dtypes first keeps every tensor aligned to its element size (as the reference writer).
  entries.sort((a, b) => dtypeSize[b[1].dtype] - dtypeSize[a[1].dtype] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (opts.metadata && Object.keys(opts.metadata).length) header.__metadata__ = opts.metadata;
  const datas: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const data = t.device === 'cpu' ? t.dataSync() : t.cpu().dataSync();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    header[name] = { dtype: FILE_DTYPE[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    datas.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const jsonBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(jsonBytes.length));
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeAll(fd, prefix);
    writeAll(fd, jsonBytes);
    for (const d of datas) writeAll(fd, d);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: Entry[];
  metadata: Metadata;
  /** Where the data section starts in the file. */
  dataStart: number;
}

function fail(path: string, why: string): never {
  throw new SafetensorsError(`load: ${path} is not a valid safetensors file: ${why}`);
}

function readExactly(fd: number, length: number, position: number, path: string): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) fail(path, `unexpected end of file at byte ${position + got}`);
    got += n;
  }
  return buf;
}

/** Reads and validates the header against the file's size; allocates nothing large. */
export function readHeader(fd: number, path: string): SafetensorsHeader {
  const fileSize = fstatSync(fd).size;
  if (fileSize < 8) fail(path, `the file has ${fileSize} bytes, fewer than the 8-byte header length`);
  const n64 = readExactly(fd, 8, 0, path).readBigUInt64LE();
  if (n64 > BigInt(Math.min(MAX_HEADER, fileSize - 8))) {
    fail(path, `the header claims ${n64} bytes but the file has only ${fileSize - 8} after the length (limit ${MAX_HEADER})`);
  }
  const n = Number(n64);
  let raw: unknown;
  try {
    raw = JSON.parse(readExactly(fd, n, 8, path).toString('utf8'));
  } catch (e) {
    fail(path, `the header is not valid JSON (${(e as Error).message})`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail(path, 'the header is not a JSON object');
  const dataStart = 8 + n;
  const dataSize = fileSize - dataStart;
  const metadata: Metadata = {};
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (!info || typeof info !== 'object' || Array.isArray(info)) fail(path, '__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(path, `metadata '${k}' is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!e || typeof e !== 'object') fail(path, `entry '${name}' is not an object`);
    if (typeof e.dtype !== 'string' || !(e.dtype in READABLE)) {
      fail(path, `tensor '${name}' has dtype ${JSON.stringify(e.dtype)}; kiln reads ${Object.keys(READABLE).join(', ')}`);
    }
    if (!Array.isArray(e.shape) || e.shape.length > 16 || !e.shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
      fail(path, `tensor '${name}' has an invalid shape ${JSON.stringify(e.shape)}`);
    }
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((s) => Number.isSafeInteger(s) && s >= 0) || off[0] > off[1]) {
      fail(path, `tensor '${name}' has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const shape = e.shape as number[];
    const numel = shape.reduce((a, b) => a * b, 1);
    const bytes = numel * READABLE[e.dtype].size;
    if (!Number.isSafeInteger(bytes) || off[1] - off[0] !== bytes) {
      fail(path, `tensor '${name}' of shape [${shape}] and dtype ${e.dtype} needs ${bytes} bytes, its offsets span ${off[1] - off[0]}`);
    }
    if (off[1] > dataSize) fail(path, `tensor '${name}' ends at byte ${off[1]} of the data, which has only ${dataSize} bytes (truncated file?)`);
    entries.push({ name, dtype: e.dtype, shape, begin: off[0], end: off[1] });
  }
  // The data section must be covered exactly, without overlaps or holes.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin !== pos) fail(path, e.begin < pos ? `tensor '${e.name}' overlaps the previous tensor` : `a gap of ${e.begin - pos} bytes before tensor '${e.name}'`);
    pos = e.end;
  }
  if (pos !== dataSize) fail(path, `the tensors cover ${pos} bytes but the data section has ${dataSize}`);
  return { entries, metadata, dataStart };
}

/** Tensors and metadata of a safetensors file. */
export function loadFile(path: string, opts: { device?: DeviceLike } = {}): { tensors: Record<string, Tensor>; metadata: Metadata } {
  const fd = openSync(path, 'r');
  try {
    const { entries, metadata, dataStart } = readHeader(fd, path);
    const tensors: Record<string, Tensor> = {};
    try {
      for (const e of entries) {
        const bytes = readExactly(fd, e.end - e.begin, dataStart + e.begin, path);
        const target = READABLE[e.dtype];
        tensors[e.name] = fromTypedArray(decode(e, bytes, path), e.shape, target.dtype, opts.device ?? 'cpu');
      }
    } catch (err) {
      for (const t of Object.values(tensors)) t.dispose();
      throw err;
    }
    return { tensors, metadata };
  } finally {
    closeSync(fd);
  }
}

function decode(e: Entry, bytes: Buffer, path: string): AnyTypedArray {
  // Copy into a fresh, aligned buffer (the file's offsets need not be aligned).
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  switch (e.dtype) {
    case 'F32':
      return new Float32Array(copy.buffer);
    case 'F64':
      return new Float64Array(copy.buffer);
    case 'I32':
      return new Int32Array(copy.buffer);
    case 'BOOL':
      return copy.map((v) => (v ? 1 : 0));
    case 'I64': {
      const wide = new BigInt64Array(copy.buffer);
      const out = new Int32Array(wide.length);
      for (let i = 0; i < wide.length; i++) {
        const v = wide[i];
        if (v > 2147483647n || v < -2147483648n) fail(path, `int64 tensor '${e.name}' holds ${v}, outside the int32 range kiln uses`);
        out[i] = Number(v);
      }
      return out;
    }
    default:
      return fail(path, `unsupported dtype ${e.dtype}`);
  }
}

/** The tensors of a safetensors file, by name (what model.loadStateDict takes). */
export function load(path: string, opts: { device?: DeviceLike } = {}): Record<string, Tensor> {
  return loadFile(path, opts).tensors;
}

/** Only the metadata of a safetensors file (reads just the header). */
export function loadMetadata(path: string): Metadata {
  const fd = openSync(path, 'r');
  try {
    return readHeader(fd, path).metadata;
  } finally {
    closeSync(fd);
  }
}
