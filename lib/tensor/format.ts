// PyTorch-style printing: tensor([[1., 2.], [3., 4.]]) with aligned columns, a dtype suffix when
// not float32, and '...' summaries (plus the shape) for tensors over 1000 elements.
import type { Tensor } from './tensor.js';

const THRESHOLD = 1000;
const EDGE = 3;

/**
 * PyTorch's _Formatter: decides integer / fixed / scientific mode from the nonzero finite values,
 * and the column width from those same values (nan and inf are not measured).
 */
function formatter(values: number[], dtype: string): { fmt: (v: number) => string; width: number } {
  if (dtype === 'bool') {
    const fmt = (v: number) => (v ? 'True' : 'False');
    return { fmt, width: values.reduce((w, v) => Math.max(w, fmt(v).length), 0) };
  }
  if (dtype === 'int32') return { fmt: String, width: values.reduce((w, v) => Math.max(w, String(v).length), 0) };
  const special = (v: number) => (Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf');
  const nonzero = values.filter((v) => Number.isFinite(v) && v !== 0).map(Math.abs);
  const intMode = values.filter(Number.isFinite).every((v) => Number.isInteger(v));
  const max = nonzero.length ? Math.max(...nonzero) : 0;
  const min = nonzero.length ? Math.min(...nonzero) : 0;
  const sci = nonzero.length > 0 && (max / min > 1000 || max > 1e8 || (!intMode && min < 1e-4));
  let fmt: (v: number) => string;
  if (sci) {
    fmt = (v) => {
      if (!Number.isFinite(v)) return special(v);
      const [m, e] = v.toExponential(4).split('e');
      const exp = Number(e);
      return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
    };
  } else if (intMode) {
    fmt = (v) => (Number.isFinite(v) ? `${v.toFixed(0)}.` : special(v));
  } else {
    fmt = (v) => (Number.isFinite(v) ? v.toFixed(4) : special(v));
  }
  const measured = values.filter((v) => Number.isFinite(v) && v !== 0);
  const width = measured.reduce((w, v) => Math.max(w, fmt(v).length), 0);
  return { fmt, width };
}

export function formatTensor(t: Tensor): string {
  const flat = Array.from(t.dataSync() as ArrayLike<number>);
  const shape = t.shape;
  const summarize = flat.length > THRESHOLD;
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));

  // Which indices along each dim are shown (all, or the first and last EDGE).
  const shown = (n: number) =>
    summarize && n > 2 * EDGE ? [...Array(EDGE).keys(), -1, ...Array.from({ length: EDGE }, (_, i) => n - EDGE + i)] : [...Array(n).keys()];

  const visible: number[] = [];
  const collect = (dim: number, base: number) => {
    if (dim === shape.length) {
      visible.push(flat[base]);
      return;
    }
    for (const i of shown(shape[dim])) if (i >= 0) collect(dim + 1, base + i * strides[dim]);
  };
  collect(0, 0);
  const { fmt, width } = formatter(visible, t.dtype);

  const prefix = 'tensor(';
  const render = (dim: number, base: number, indent: number): string => {
    if (dim === shape.length) return fmt(flat[base]).padStart(width);
    const parts: string[] = [];
    for (const i of shown(shape[dim])) parts.push(i < 0 ? '...' : render(dim + 1, base + i * strides[dim], indent + 1));
    if (dim === shape.length - 1) return `[${parts.join(', ')}]`;
    const sep = ',' + '\n'.repeat(shape.length - dim - 1) + ' '.repeat(indent + 1);
    return `[${parts.join(sep)}]`;
  };
  const body = render(0, 0, prefix.length);
  const extras: string[] = [];
  if (summarize || flat.length === 0) extras.push(`size=[${shape.join(', ')}]`);
  if (t.dtype !== 'float32') extras.push(`dtype=${t.dtype}`);
  if (t.device !== 'cpu') extras.push(`device='${t.device}'`);
  if (t.requiresGrad) extras.push('requiresGrad=true');
  return `${prefix}${body}${extras.length ? ', ' + extras.join(', ') : ''})`;
}
