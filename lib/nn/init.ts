// Weight initialization, as torch.nn.init: each function overwrites a tensor in place (under
// noGrad) with draws from kiln's generator and returns it.
import { noGrad } from '../autograd/backward.js';
import { assign } from './assign.js';
import { KilnError, ShapeError, shapeStr } from '../errors.js';
import { rand, randn } from '../ops/random.js';
import { fromTypedArray } from '../tensor/creation.js';
import { tidy } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';

export type Nonlinearity =
  | 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'conv_transpose1d' | 'conv_transpose2d' | 'conv_transpose3d'
  | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

/** The recommended gain for a nonlinearity (torch.nn.init.calculate_gain). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear': case 'conv1d': case 'conv2d': case 'conv3d':
    case 'conv_transpose1d': case 'conv_transpose2d': case 'conv_transpose3d': case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new KilnError(`calculateGain: unsupported nonlinearity '${String(nonlinearity)}'`);
  }
}

/** [fanIn, fanOut] of a weight: dims 1 and 0 times the receptive field (the remaining dims). */
export function calculateFanInAndFanOut(t: Tensor): [number, number] {
  if (t.ndim < 2) throw new ShapeError(`init: fan in and fan out need at least 2 dims, got ${shapeStr(t.shape)}`);
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return [t.shape[1] * receptive, t.shape[0] * receptive];
}

function fill(t: Tensor, make: () => Tensor): Tensor {
  noGrad(() => tidy(() => {
    assign(t, make());
  }));
  return t;
}

export function uniform(t: Tensor, a = 0, b = 1): Tensor {
  return fill(t, () => rand(t.shape, { dtype: t.dtype, device: t.device, low: a, high: b }));
}

export function normal(t: Tensor, mean = 0, std = 1): Tensor {
  return fill(t, () => randn(t.shape, { dtype: t.dtype, device: t.device, mean, std }));
}

export function constant(t: Tensor, value: number): Tensor {
  noGrad(() => t.fill_(value));
  return t;
}

export const zeros = (t: Tensor): Tensor => constant(t, 0);
export const ones = (t: Tensor): Tensor => constant(t, 1);

export function xavierUniform(t: Tensor, gain = 1): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  const a = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(t, -a, a);
}

export function xavierNormal(t: Tensor, gain = 1): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  return normal(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)));
}

export interface KaimingOptions {
  /** The negative slope of the rectifier after this layer (leaky_relu only). */
  a?: number;
  mode?: 'fanIn' | 'fanOut';
  nonlinearity?: Nonlinearity;
}

function kaimingStd(t: Tensor, opts: KaimingOptions): number {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  const fan = (opts.mode ?? 'fanIn') === 'fanIn' ? fanIn : fanOut;
  const gain = calculateGain(opts.nonlinearity ?? 'leaky_relu', opts.a ?? 0);
  return gain / Math.sqrt(fan);
}

export function kaimingUniform(t: Tensor, opts: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, opts);
  return uniform(t, -bound, bound);
}

export function kaimingNormal(t: Tensor, opts: KaimingOptions = {}): Tensor {
  return normal(t, 0, kaimingStd(t, opts));
}

/**
 * A (semi-)orthogonal matrix from the QR decomposition of a normal draw (Saxe et al. 2013), as
 * torch.nn.init.orthogonal_: dims after the first are flattened into columns.
 */
export function orthogonal(t: Tensor, gain = 1): Tensor {
  if (t.ndim < 2) throw new ShapeError(`orthogonal: needs at least 2 dims, got ${shapeStr(t.shape)}`);
  const rows = t.shape[0];
  const cols = t.numel() / rows;
  const tall = rows >= cols;
  const m = tall ? rows : cols; // the matrix factored is m x n with m >= n
  const n = tall ? cols : rows;
  const draw = randn([m, n], { dtype: 'float64' });
  const a = Float64Array.from(draw.dataSync() as Float64Array);
  draw.dispose();
  // Householder QR: Q (m x n, orthonormal columns) with the signs of R's diagonal folded in.
  const q = householderQ(a, m, n);
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out[i * cols + j] = gain * (tall ? q[i * n + j] : q[j * n + i]);
  }
  return fill(t, () => fromTypedArray(out, t.shape, 'float64', t.device));
}

// Q of A = QR (A is m x n row-major, m >= n), scaled so that R has a positive diagonal.
function householderQ(a: Float64Array, m: number, n: number): Float64Array {
  const r = Float64Array.from(a);
  const vs: Float64Array[] = [];
  const diagSign = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let norm = 0;
    for (let i = k; i < m; i++) norm += r[i * n + k] ** 2;
    norm = Math.sqrt(norm);
    const alpha = r[k * n + k] > 0 ? -norm : norm;
    const v = new Float64Array(m);
    for (let i = k; i < m; i++) v[i] = r[i * n + k];
    v[k] -= alpha;
    let vnorm = 0;
    for (let i = k; i < m; i++) vnorm += v[i] ** 2;
    vnorm = Math.sqrt(vnorm);
    if (vnorm > 0) for (let i = k; i < m; i++) v[i] /= vnorm;
    vs.push(v);
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let i = k; i < m; i++) dot += v[i] * r[i * n + j];
      for (let i = k; i < m; i++) r[i * n + j] -= 2 * v[i] * dot;
    }
    diagSign[k] = r[k * n + k] < 0 ? -1 : 1;
  }
  // Q = H_0 H_1 ... H_{n-1} applied to the first n columns of the identity.
  const q = new Float64Array(m * n);
  for (let j = 0; j < n; j++) q[j * n + j] = 1;
  for (let k = n - 1; k >= 0; k--) {
    const v = vs[k];
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let i = k; i < m; i++) dot += v[i] * q[i * n + j];
      for (let i = k; i < m; i++) q[i * n + j] -= 2 * v[i] * dot;
    }
  }
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) q[i * n + j] *= diagSign[j];
  return q;
}

/** Fills a 2-D tensor with the identity (torch.nn.init.eye_). */
export function eye(t: Tensor): Tensor {
  if (t.ndim !== 2) throw new ShapeError(`eye: needs a 2-D tensor, got ${shapeStr(t.shape)}`);
  const [r, c] = t.shape;
  const out = new Float64Array(r * c);
  for (let i = 0; i < Math.min(r, c); i++) out[i * c + i] = 1;
  return fill(t, () => fromTypedArray(out, t.shape, 'float64', t.device));
}
