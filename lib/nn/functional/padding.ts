// nn.functional.pad: constant, reflect, replicate and circular padding (PyTorch's F.pad).
// The non-constant modes are a gather along each padded dim with computed int32 indices, so
// their derivative is indexSelect's: the gradient of every copy of a border element flows back
// into that element.
import { KilnError, ShapeError, shapeStr } from '../../errors.js';
import { indexSelect, pad as constantPad } from '../../ops/indexing.js';
import { contiguous } from '../../ops/copy.js';
import { fromTypedArray } from '../../tensor/creation.js';
import { tidy } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';

export type PadMode = 'constant' | 'reflect' | 'replicate' | 'circular';

const MODES: readonly PadMode[] = ['constant', 'reflect', 'replicate', 'circular'];

/**
 * The source position that output position k copies along a dim of size n padded by (b, a).
 * Negative amounts crop first; circular padding then wraps around the cropped part (as PyTorch),
 * while reflect and replicate mirror or repeat at the input's own edges.
 */
function source(mode: Exclude<PadMode, 'constant'>, k: number, n: number, b: number, a: number): number {
  const j = k - b;
  if (mode === 'replicate') return Math.min(Math.max(j, 0), n - 1);
  if (mode === 'circular') {
    const start = Math.max(0, -b);
    const len = n - start - Math.max(0, -a);
    return start + ((((k - Math.max(0, b)) % len) + len) % len);
  }
  // reflect, without repeating the edge: ... 2 1 | 0 1 2 ... n-1 | n-2 n-3 ...
  return j < 0 ? -j : j >= n ? 2 * (n - 1) - j : j;
}

/**
 * Pads x by `pad` = [before, after] pairs starting from the last dim ([left, right, top, bottom,
 * front, back] for the last three), as torch.nn.functional.pad. 'constant' fills with value and
 * takes negative amounts as cropping; 'reflect' mirrors without repeating the edge (each amount
 * < the dim's size), 'replicate' repeats the edge, 'circular' wraps around (each amount <= the
 * dim's size).
 */
export function pad(x: Tensor, pad: readonly number[], mode: PadMode = 'constant', value?: number): Tensor {
  if (!MODES.includes(mode)) throw new KilnError(`pad: mode must be one of ${MODES.join(', ')}, got '${String(mode)}'`);
  if (mode === 'constant') return constantPad(x, pad, value ?? 0);
  if (value !== undefined && value !== 0) throw new KilnError(`pad: mode '${mode}' takes no fill value (got ${value})`);
  if (!Array.isArray(pad) || pad.length % 2 !== 0 || pad.length / 2 > x.ndim || !pad.every(Number.isSafeInteger)) {
    throw new ShapeError(`pad: pad ${JSON.stringify(pad)} must be integer [before, after] pairs for at most ${x.ndim} dims of ${shapeStr(x.shape)}`);
  }
  for (let i = 0; i < pad.length / 2; i++) {
    const d = x.ndim - 1 - i;
    const n = x.shape[d];
    const [b, a] = [pad[2 * i], pad[2 * i + 1]];
    if (b === 0 && a === 0) continue;
    if (n === 0) throw new ShapeError(`pad: mode '${mode}' cannot pad the empty dim ${d} of ${shapeStr(x.shape)}`);
    if (n + b + a < 0) throw new ShapeError(`pad: pad ${JSON.stringify(pad)} makes dim ${d} of ${shapeStr(x.shape)} negative`);
    if (mode === 'reflect' && (b >= n || a >= n)) {
      throw new ShapeError(`pad: reflect padding (${b}, ${a}) of dim ${d} must be smaller than its size ${n} (input ${shapeStr(x.shape)})`);
    }
    const kept = n - Math.max(0, -b) - Math.max(0, -a);
    if (mode === 'circular' && (b > kept || a > kept)) {
      throw new ShapeError(`pad: circular padding (${b}, ${a}) of dim ${d} must not exceed its size ${kept} (input ${shapeStr(x.shape)})`);
    }
  }
  return tidy(() => {
    let y = x;
    for (let i = 0; i < pad.length / 2; i++) {
      const d = x.ndim - 1 - i;
      const n = x.shape[d];
      const [b, a] = [pad[2 * i], pad[2 * i + 1]];
      if (b === 0 && a === 0) continue;
      const index = Int32Array.from({ length: n + b + a }, (_, k) => source(mode, k, n, b, a));
      y = indexSelect(y, d, fromTypedArray(index, [index.length], 'int32', x.device));
    }
    return y === x ? contiguous(x) : y;
  });
}
