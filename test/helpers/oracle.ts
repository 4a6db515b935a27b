// An independent reference for kiln's tensor semantics: plain JS float64 arrays with a shape,
// computed with loops and closed forms. Nothing here ever calls kiln, so a test that compares
// kiln against these values cannot agree with kiln by construction.

export type DType = 'float32' | 'float64' | 'int32' | 'bool';
export type Nested = number | boolean | Nested[];

/** A dense row-major n-d array of JS numbers (bools are 0/1). */
export class Arr {
  constructor(
    readonly shape: number[],
    readonly data: number[],
  ) {
    if (data.length !== numel(shape)) throw new Error(`Arr: ${data.length} values for shape [${shape}]`);
  }
  get ndim(): number {
    return this.shape.length;
  }
  get(idx: number[]): number {
    return this.data[ravel(idx, contiguousStrides(this.shape))];
  }
  map(f: (v: number, i: number) => number): Arr {
    return new Arr([...this.shape], this.data.map(f));
  }
  toNested(asBool = false): Nested {
    return toNested(this, asBool);
  }
}

// ------------------------------------------------------------------ shape math

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

export function ravel(idx: readonly number[], strides: readonly number[], offset = 0): number {
  let o = offset;
  for (let d = 0; d < idx.length; d++) o += idx[d] * strides[d];
  return o;
}

export function normDim(dim: number, ndim: number): number {
  const d = dim < 0 ? dim + ndim : dim;
  if (d < 0 || d >= Math.max(ndim, 1)) throw new Error(`oracle: dim ${dim} out of range for rank ${ndim}`);
  return d;
}

/** NumPy broadcasting of any number of shapes; throws when incompatible. */
export function broadcastShapes(...shapes: (readonly number[])[]): number[] {
  const n = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(n).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = n - s.length + i;
      if (s[i] === out[o] || s[i] === 1) continue;
      if (out[o] === 1) out[o] = s[i];
      else throw new Error(`oracle: shapes cannot broadcast: ${shapes.map((x) => `[${x}]`).join(' ')}`);
    }
  }
  return out;
}

// ------------------------------------------------------------------ construction

export function fromNested(x: Nested): Arr {
  const shape: number[] = [];
  let cur: Nested = x;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  const data: number[] = [];
  const walk = (v: Nested, depth: number) => {
    if (depth === shape.length) {
      if (Array.isArray(v)) throw new Error('oracle: ragged');
      data.push(typeof v === 'boolean' ? (v ? 1 : 0) : v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) throw new Error('oracle: ragged');
    for (const e of v) walk(e, depth + 1);
  };
  walk(x, 0);
  return new Arr(shape, data);
}

export function toNested(a: Arr, asBool = false): Nested {
  const conv = (v: number): number | boolean => (asBool ? v !== 0 : v);
  if (a.shape.length === 0) return conv(a.data[0]);
  const rec = (depth: number, offset: number): Nested[] => {
    const stride = numel(a.shape.slice(depth + 1));
    const out: Nested[] = [];
    for (let i = 0; i < a.shape[depth]; i++) {
      const o = offset + i * stride;
      out.push(depth === a.shape.length - 1 ? conv(a.data[o]) : rec(depth + 1, o));
    }
    return out;
  };
  return rec(0, 0);
}

export function full(shape: number[], v: number): Arr {
  return new Arr([...shape], new Array(numel(shape)).fill(v));
}

export function fromFn(shape: number[], f: (idx: number[]) => number): Arr {
  const n = numel(shape);
  const data = new Array<number>(n);
  for (let i = 0; i < n; i++) data[i] = f(unravel(i, shape));
  return new Arr([...shape], data);
}

// ------------------------------------------------------------------ strided reference

/** What a (shape, strides, offset) view over `storage` addresses, in logical order. */
export function stridedView(storage: readonly number[], shape: number[], strides: number[], offset: number): Arr {
  return fromFn(shape, (idx) => {
    const o = ravel(idx, strides, offset);
    if (o < 0 || o >= storage.length) throw new Error(`oracle: strided access ${o} outside storage`);
    return storage[o];
  });
}

// ------------------------------------------------------------------ views as copies

export function reshape(a: Arr, shape: number[]): Arr {
  const neg = shape.indexOf(-1);
  const s = [...shape];
  if (neg >= 0) s[neg] = numel(a.shape) / numel(shape.filter((_, i) => i !== neg));
  return new Arr(s, [...a.data]);
}

export function permute(a: Arr, perm: number[]): Arr {
  const p = perm.map((d) => normDim(d, a.ndim));
  const shape = p.map((d) => a.shape[d]);
  return fromFn(shape, (idx) => {
    const src = new Array<number>(a.ndim);
    p.forEach((d, i) => (src[d] = idx[i]));
    return a.get(src);
  });
}

export function transpose(a: Arr, d0: number, d1: number): Arr {
  const perm = a.shape.map((_, i) => i);
  const x = normDim(d0, a.ndim), y = normDim(d1, a.ndim);
  [perm[x], perm[y]] = [perm[y], perm[x]];
  return permute(a, perm);
}

/** Python slice semantics along one dim (positive step). */
export function sliceIndices(size: number, start?: number, end?: number, step = 1): number[] {
  let s = start ?? 0, e = end ?? size;
  if (s < 0) s += size;
  if (e < 0) e += size;
  s = Math.min(Math.max(s, 0), size);
  e = Math.min(Math.max(e, 0), size);
  const out: number[] = [];
  for (let i = s; i < e; i += step) out.push(i);
  return out;
}

export function slice(a: Arr, dim: number, start?: number, end?: number, step = 1): Arr {
  const d = normDim(dim, a.ndim);
  const picks = sliceIndices(a.shape[d], start, end, step);
  return take(a, d, picks);
}

/** Picks indices `picks` along dim d (the reference for indexSelect, narrow, slice). */
export function take(a: Arr, d: number, picks: number[]): Arr {
  const shape = [...a.shape];
  shape[d] = picks.length;
  return fromFn(shape, (idx) => {
    const src = [...idx];
    src[d] = picks[idx[d]];
    return a.get(src);
  });
}

export function select(a: Arr, dim: number, index: number): Arr {
  const d = normDim(dim, a.ndim);
  const i = index < 0 ? index + a.shape[d] : index;
  const t = take(a, d, [i]);
  return new Arr(a.shape.filter((_, k) => k !== d), t.data);
}

export function flip(a: Arr, dims: number[]): Arr {
  const ds = dims.map((d) => normDim(d, a.ndim));
  return fromFn(a.shape, (idx) => {
    const src = idx.map((v, k) => (ds.includes(k) ? a.shape[k] - 1 - v : v));
    return a.get(src);
  });
}

export function broadcastTo(a: Arr, shape: number[]): Arr {
  const lead = shape.length - a.ndim;
  if (lead < 0) throw new Error('oracle: cannot broadcast to fewer dims');
  return fromFn(shape, (idx) => {
    const src = a.shape.map((s, k) => (s === 1 ? 0 : idx[k + lead]));
    return a.get(src);
  });
}

export function cat(arrs: Arr[], dim: number): Arr {
  const d = normDim(dim, arrs[0].ndim);
  const shape = [...arrs[0].shape];
  shape[d] = arrs.reduce((s, a) => s + a.shape[d], 0);
  return fromFn(shape, (idx) => {
    let i = idx[d];
    for (const a of arrs) {
      if (i < a.shape[d]) {
        const src = [...idx];
        src[d] = i;
        return a.get(src);
      }
      i -= a.shape[d];
    }
    throw new Error('unreachable');
  });
}

export function stack(arrs: Arr[], dim: number): Arr {
  const d = dim < 0 ? dim + arrs[0].ndim + 1 : dim;
  const ex = arrs.map((a) => new Arr([...a.shape.slice(0, d), 1, ...a.shape.slice(d)], a.data));
  return cat(ex, d);
}

// ------------------------------------------------------------------ elementwise

export function map(a: Arr, f: (v: number) => number): Arr {
  return a.map((v) => f(v));
}

export function zip(a: Arr, b: Arr, f: (x: number, y: number) => number): Arr {
  const shape = broadcastShapes(a.shape, b.shape);
  const A = broadcastTo(a, shape), B = broadcastTo(b, shape);
  return new Arr(shape, A.data.map((x, i) => f(x, B.data[i])));
}

export function zip3(a: Arr, b: Arr, c: Arr, f: (x: number, y: number, z: number) => number): Arr {
  const shape = broadcastShapes(a.shape, b.shape, c.shape);
  const A = broadcastTo(a, shape), B = broadcastTo(b, shape), C = broadcastTo(c, shape);
  return new Arr(shape, A.data.map((x, i) => f(x, B.data[i], C.data[i])));
}

/** Rounds a value to what the dtype can hold (float32 rounding, int32 truncation, bool). */
export function castValue(v: number, dtype: DType): number {
  switch (dtype) {
    case 'float32':
      return Math.fround(v);
    case 'float64':
      return v;
    case 'int32':
      return Math.trunc(v) | 0;
    case 'bool':
      return v !== 0 ? 1 : 0; // NaN !== 0, so NaN -> true like PyTorch
  }
}

/** PyTorch type promotion between two tensors: bool < int32 < float32 < float64. */
export function promote(a: DType, b: DType): DType {
  const order: DType[] = ['bool', 'int32', 'float32', 'float64'];
  return order[Math.max(order.indexOf(a), order.indexOf(b))];
}

export const isFloat = (t: DType) => t === 'float32' || t === 'float64';

/** Round half to even (torch.round). */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.floor(x);
  const diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** erf to ~1e-15 relative: Taylor series near 0, continued fraction for erfc in the tails. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return 1;
  if (x === -Infinity) return -1;
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax, sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * sum * (2 / Math.sqrt(Math.PI));
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + 2/(x + ...))))) (Lentz)
  const tiny = 1e-300;
  let f = ax, C = ax, D = 0;
  for (let n = 1; n < 500; n++) {
    const an = n / 2;
    D = ax + an * D;
    D = D === 0 ? tiny : D;
    C = ax + an / C;
    C = C === 0 ? tiny : C;
    D = 1 / D;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

// ------------------------------------------------------------------ reductions

/**
 * Reduces over `dims` (all when undefined). `f` receives the values of one output position in
 * logical (row-major) order over the reduced dims.
 */
export function reduce(a: Arr, dims: number[] | undefined, keepdim: boolean, f: (vals: number[]) => number): Arr {
  const ds = dims === undefined ? a.shape.map((_, i) => i) : dims.map((d) => normDim(d, a.ndim));
  const outShapeKeep = a.shape.map((s, i) => (ds.includes(i) ? 1 : s));
  const redShape = a.shape.map((s, i) => (ds.includes(i) ? s : 1));
  const nRed = numel(redShape);
  const out = fromFn(outShapeKeep, (idx) => {
    const vals: number[] = [];
    for (let r = 0; r < nRed; r++) {
      const ridx = unravel(r, redShape);
      vals.push(a.get(idx.map((v, k) => (ds.includes(k) ? ridx[k] : v))));
    }
    return f(vals);
  });
  if (keepdim) return out;
  return new Arr(
    a.shape.filter((_, i) => !ds.includes(i)),
    out.data,
  );
}

export const sumOf = (v: number[]) => v.reduce((s, x) => s + x, 0);
export const prodOf = (v: number[]) => v.reduce((s, x) => s * x, 1);
export const meanOf = (v: number[]) => sumOf(v) / v.length;
export const maxOf = (v: number[]) => v.reduce((m, x) => (Number.isNaN(m) || Number.isNaN(x) ? NaN : Math.max(m, x)), -Infinity);
export const minOf = (v: number[]) => v.reduce((m, x) => (Number.isNaN(m) || Number.isNaN(x) ? NaN : Math.min(m, x)), Infinity);
/** First index of the maximum (PyTorch: ties resolve to the first occurrence). */
export const argmaxOf = (v: number[]) => v.reduce((bi, x, i) => (x > v[bi] ? i : bi), 0);
export const argminOf = (v: number[]) => v.reduce((bi, x, i) => (x < v[bi] ? i : bi), 0);
export function varOf(v: number[], correction = 1): number {
  const m = meanOf(v);
  return sumOf(v.map((x) => (x - m) * (x - m))) / (v.length - correction);
}
export function logsumexpOf(v: number[]): number {
  const m = Math.max(...v);
  if (!Number.isFinite(m)) return m;
  return m + Math.log(sumOf(v.map((x) => Math.exp(x - m))));
}

/** Applies `f` to every 1-D lane along `dim` (f maps a lane to a lane of the same length). */
export function alongDim(a: Arr, dim: number, f: (lane: number[]) => number[]): Arr {
  const d = normDim(dim, a.ndim);
  const out = new Array<number>(a.data.length);
  const strides = contiguousStrides(a.shape);
  const outer = a.shape.map((s, i) => (i === d ? 1 : s));
  for (let o = 0; o < numel(outer); o++) {
    const idx = unravel(o, outer);
    const base = ravel(idx, strides);
    const lane: number[] = [];
    for (let i = 0; i < a.shape[d]; i++) lane.push(a.data[base + i * strides[d]]);
    const res = f(lane);
    for (let i = 0; i < a.shape[d]; i++) out[base + i * strides[d]] = res[i];
  }
  return new Arr([...a.shape], out);
}

export const softmaxLane = (l: number[]) => {
  const m = Math.max(...l);
  const e = l.map((x) => Math.exp(x - m));
  const s = sumOf(e);
  return e.map((x) => x / s);
};
export const logSoftmaxLane = (l: number[]) => {
  const lse = logsumexpOf(l);
  return l.map((x) => x - lse);
};
export const cumsumLane = (l: number[]) => {
  let s = 0;
  return l.map((x) => (s += x));
};

// ------------------------------------------------------------------ matmul

/** Naive triple loop over 2-D operands. */
export function matmul2d(a: Arr, b: Arr): Arr {
  const [M, K] = a.shape, [K2, N] = b.shape;
  if (K !== K2) throw new Error('oracle: matmul inner dims differ');
  const out = new Array<number>(M * N).fill(0);
  for (let i = 0; i < M; i++)
    for (let k = 0; k < K; k++) {
      const av = a.data[i * K + k];
      for (let j = 0; j < N; j++) out[i * N + j] += av * b.data[k * N + j];
    }
  return new Arr([M, N], out);
}

/** torch.matmul semantics: 1-D promotion, batch broadcasting. */
export function matmul(a: Arr, b: Arr): Arr {
  const aVec = a.ndim === 1, bVec = b.ndim === 1;
  const A = aVec ? new Arr([1, a.shape[0]], a.data) : a;
  const B = bVec ? new Arr([b.shape[0], 1], b.data) : b;
  const batch = broadcastShapes(A.shape.slice(0, -2), B.shape.slice(0, -2));
  const [M, K] = A.shape.slice(-2), [, N] = B.shape.slice(-2);
  const Ab = broadcastTo(A, [...batch, M, K]), Bb = broadcastTo(B, [...batch, K, N]);
  const nb = numel(batch);
  const out: number[] = [];
  for (let i = 0; i < nb; i++) {
    const a2 = new Arr([M, K], Ab.data.slice(i * M * K, (i + 1) * M * K));
    const b2 = new Arr([K, N], Bb.data.slice(i * K * N, (i + 1) * K * N));
    out.push(...matmul2d(a2, b2).data);
  }
  let shape = [...batch, M, N];
  if (aVec) shape = shape.filter((_, i) => i !== shape.length - 2);
  if (bVec) shape = shape.slice(0, -1);
  return new Arr(shape, out);
}

/** (|A| @ |B|): the scale of the rounding error bound of a dot product. */
export function absMatmul(a: Arr, b: Arr): Arr {
  return matmul(a.map(Math.abs), b.map(Math.abs));
}

// ------------------------------------------------------------------ indexing

export function gather(src: Arr, dim: number, index: Arr): Arr {
  const d = normDim(dim, src.ndim);
  return fromFn(index.shape, (idx) => {
    const s = [...idx];
    s[d] = index.get(idx);
    return src.get(s);
  });
}

export function scatterAdd(base: Arr, dim: number, index: Arr, src: Arr): Arr {
  const d = normDim(dim, base.ndim);
  const out = [...base.data];
  const strides = contiguousStrides(base.shape);
  for (let i = 0; i < numel(index.shape); i++) {
    const idx = unravel(i, index.shape);
    const t = [...idx];
    t[d] = index.get(idx);
    out[ravel(t, strides)] += src.get(idx);
  }
  return new Arr([...base.shape], out);
}

/** torch.nn.functional.pad, constant mode, non-negative pads (last dim first). */
export function pad(a: Arr, pads: number[], value: number): Arr {
  const before = new Array<number>(a.ndim).fill(0), after = new Array<number>(a.ndim).fill(0);
  for (let i = 0; i < pads.length / 2; i++) {
    before[a.ndim - 1 - i] = pads[2 * i];
    after[a.ndim - 1 - i] = pads[2 * i + 1];
  }
  const shape = a.shape.map((s, i) => s + before[i] + after[i]);
  return fromFn(shape, (idx) => {
    const src = idx.map((v, i) => v - before[i]);
    if (src.some((v, i) => v < 0 || v >= a.shape[i])) return value;
    return a.get(src);
  });
}

// ------------------------------------------------------------------ comparison

export interface CloseOpts {
  rtol?: number;
  atol?: number;
  /** NaN == NaN (default true) */
  equalNaN?: boolean;
  /** per-element absolute tolerance added to atol (e.g. matmul error bounds) */
  atolPer?: ArrayLike<number>;
}

/**
 * Throws an Error describing the first mismatches when |actual - expected| > atol + rtol*|expected|.
 * Infinities must match exactly; NaN matches NaN unless equalNaN is false.
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, opts: CloseOpts = {}, label = ''): void {
  const { rtol = 1e-6, atol = 1e-8, equalNaN = true, atolPer } = opts;
  if (actual.length !== expected.length)
    throw new Error(`${label} length ${actual.length} != expected ${expected.length}`);
  const bad: string[] = [];
  let nBad = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = Number(actual[i]), e = Number(expected[i]);
    let ok: boolean;
    if (Number.isNaN(e) || Number.isNaN(a)) ok = equalNaN && Number.isNaN(e) && Number.isNaN(a);
    else if (!Number.isFinite(e) || !Number.isFinite(a)) ok = a === e;
    else ok = Math.abs(a - e) <= atol + (atolPer ? atolPer[i] : 0) + rtol * Math.abs(e);
    if (!ok) {
      nBad++;
      if (bad.length < 8) bad.push(`[${i}] got ${a}, expected ${e} (diff ${Math.abs(a - e)})`);
    }
  }
  if (nBad) throw new Error(`${label} ${nBad}/${expected.length} elements differ (rtol=${rtol}, atol=${atol}):\n  ${bad.join('\n  ')}`);
}

// ------------------------------------------------------------------ deterministic test data

/** mulberry32: a tiny seeded PRNG for test data, independent of kiln's Philox. */
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

/** Random values already representable in `dtype` (so kiln stores exactly what the oracle uses). */
export function randomArr(shape: number[], dtype: DType, r: () => number, lo = -3, hi = 3): Arr {
  const n = numel(shape);
  const data = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const u = lo + (hi - lo) * r();
    data[i] = dtype === 'int32' ? Math.floor(u) : dtype === 'bool' ? (r() < 0.5 ? 1 : 0) : castValue(u, dtype);
  }
  return new Arr([...shape], data);
}
