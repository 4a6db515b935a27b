// Training curves as a PNG: loss (train and validation) on the left, the first metric on the
// right. Lines and a small bitmap font are rasterized into an RGBA buffer here; pngjs encodes it.
import { writeFileSync, renameSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

import { createRequire } from 'node:module';

import type { PNG as PNGType } from 'pngjs';

import { KilnError } from '../errors.js';
import type { History } from './fit.js';

type RGB = readonly [number, number, number];

// 5x7 glyphs, one number per row (bit 4 = leftmost pixel). Letters render upper-case.
const FONT: Record<string, number[]> = {
  '0': [14, 17, 19, 21, 25, 17, 14], '1': [4, 12, 4, 4, 4, 4, 14], '2': [14, 17, 1, 2, 4, 8, 31], '3': [31, 2, 4, 2, 1, 17, 14],
  '4': [2, 6, 10, 18, 31, 2, 2], '5': [31, 16, 30, 1, 1, 17, 14], '6': [6, 8, 16, 30, 17, 17, 14], '7': [31, 1, 2, 4, 8, 8, 8],
  '8': [14, 17, 17, 14, 17, 17, 14], '9': [14, 17, 17, 15, 1, 2, 12],
  A: [14, 17, 17, 31, 17, 17, 17], B: [30, 17, 17, 30, 17, 17, 30], C: [14, 17, 16, 16, 16, 17, 14], D: [28, 18, 17, 17, 17, 18, 28],
  E: [31, 16, 16, 30, 16, 16, 31], F: [31, 16, 16, 30, 16, 16, 16], G: [14, 17, 16, 23, 17, 17, 15], H: [17, 17, 17, 31, 17, 17, 17],
  I: [14, 4, 4, 4, 4, 4, 14], J: [7, 2, 2, 2, 2, 18, 12], K: [17, 18, 20, 24, 20, 18, 17], L: [16, 16, 16, 16, 16, 16, 31],
  M: [17, 27, 21, 21, 17, 17, 17], N: [17, 17, 25, 21, 19, 17, 17], O: [14, 17, 17, 17, 17, 17, 14], P: [30, 17, 17, 30, 16, 16, 16],
  Q: [14, 17, 17, 17, 21, 18, 13], R: [30, 17, 17, 30, 20, 18, 17], S: [15, 16, 16, 14, 1, 1, 30], T: [31, 4, 4, 4, 4, 4, 4],
  U: [17, 17, 17, 17, 17, 17, 14], V: [17, 17, 17, 17, 17, 10, 4], W: [17, 17, 17, 21, 21, 21, 10], X: [17, 17, 10, 4, 10, 17, 17],
  Y: [17, 17, 17, 10, 4, 4, 4], Z: [31, 1, 2, 4, 8, 16, 31],
  '.': [0, 0, 0, 0, 0, 12, 12], '-': [0, 0, 0, 31, 0, 0, 0], _: [0, 0, 0, 0, 0, 0, 31], ':': [0, 12, 12, 0, 12, 12, 0],
  '%': [24, 25, 2, 4, 8, 19, 3], '+': [0, 4, 4, 31, 4, 4, 0], '(': [2, 4, 8, 8, 8, 4, 2], ')': [8, 4, 2, 2, 2, 4, 8],
  '/': [1, 1, 2, 4, 8, 16, 16], ' ': [0, 0, 0, 0, 0, 0, 0],
};

class Canvas {
  readonly data: Buffer;
  constructor(readonly width: number, readonly height: number) {
    this.data = Buffer.alloc(width * height * 4, 255);
  }

  set(x: number, y: number, c: RGB): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 4;
    this.data[i] = c[0];
    this.data[i + 1] = c[1];
    this.data[i + 2] = c[2];
    this.data[i + 3] = 255;
  }

  rect(x0: number, y0: number, w: number, h: number, c: RGB): void {
    for (let y = Math.round(y0); y < Math.round(y0 + h); y++) for (let x = Math.round(x0); x < Math.round(x0 + w); x++) this.set(x, y, c);
  }

  /** A line of the given width: a square brush stamped along the DDA steps. */
  line(x0: number, y0: number, x1: number, y1: number, c: RGB, width = 1): void {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const r = (width - 1) / 2;
    for (let s = 0; s <= steps; s++) {
      const x = x0 + ((x1 - x0) * s) / steps;
      const y = y0 + ((y1 - y0) * s) / steps;
      if (width <= 1) this.set(x, y, c);
      else this.rect(x - r, y - r, width, width, c);
    }
  }

  /** Text in the bitmap font at scale `s`; returns its width in pixels. */
  text(str: string, x: number, y: number, c: RGB, s = 1): number {
    let cx = x;
    for (const ch of str.toUpperCase()) {
      const g = FONT[ch] ?? FONT[' '];
      for (let row = 0; row < 7; row++) {
        for (let col = 0; col < 5; col++) if (g[row] & (16 >> col)) this.rect(cx + col * s, y + row * s, s, s, c);
      }
      cx += 6 * s;
    }
    return cx - x;
  }
}

export function textWidth(str: string, s = 1): number {
  return str.length * 6 * s;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
}

const COLORS: RGB[] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40]];
const AXIS: RGB = [60, 60, 60];
const GRID: RGB = [225, 225, 225];
const LIGHT: RGB = [150, 190, 225];

interface Series {
  name: string;
  /** x positions in epochs (epoch e ends at x = e). */
  xs: number[];
  values: number[];
  color: RGB;
  /** A thin line without markers (the per-batch curve). */
  thin?: boolean;
}

function panel(cv: Canvas, x0: number, y0: number, w: number, h: number, title: string, series: Series[], epochs: number): void {
  const left = 58, right = 12, top = 30, bottom = 36;
  const px = x0 + left, py = y0 + top, pw = w - left - right, ph = h - top - bottom;
  cv.text(title, x0 + left, y0 + 8, AXIS, 2);
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  let lo = all.length ? Math.min(...all) : 0;
  let hi = all.length ? Math.max(...all) : 1;
  if (hi - lo < 1e-12) {
    lo -= 0.5 * (Math.abs(lo) || 1);
    hi += 0.5 * (Math.abs(hi) || 1);
  }
  const pad = 0.05 * (hi - lo);
  lo -= pad;
  hi += pad;
  // The x axis spans the epochs; with per-batch data it starts at 0 (the first batch).
  const xmin = series.some((s) => s.thin) ? 0 : 1;
  const xmax = Math.max(epochs, xmin + 1e-9);
  const X = (e: number) => px + (xmax === xmin ? pw / 2 : ((e - xmin) * pw) / (xmax - xmin));
  const Y = (v: number) => py + ph - ((v - lo) / (hi - lo)) * ph;
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    const y = Y(v);
    cv.line(px, y, px + pw, y, GRID);
    const label = fmt(v);
    cv.text(label, px - 6 - textWidth(label), y - 3, AXIS);
  }
  const every = Math.max(1, Math.ceil(epochs / 10));
  for (let e = xmin === 0 ? every : 1; e <= epochs; e += every) {
    const label = String(e);
    cv.line(X(e), py + ph, X(e), py + ph + 4, AXIS);
    cv.text(label, X(e) - textWidth(label) / 2, py + ph + 8, AXIS);
  }
  cv.text('epoch', px + pw / 2 - textWidth('epoch') / 2, py + ph + 22, AXIS);
  cv.line(px, py, px, py + ph, AXIS);
  cv.line(px, py + ph, px + pw, py + ph, AXIS);
  for (const s of series) {
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i];
      if (!Number.isFinite(v)) continue;
      if (i > 0 && Number.isFinite(s.values[i - 1])) cv.line(X(s.xs[i - 1]), Y(s.values[i - 1]), X(s.xs[i]), Y(v), s.color, s.thin ? 1 : 2);
      if (!s.thin) cv.rect(X(s.xs[i]) - 3, Y(v) - 3, 7, 7, s.color);
    }
  }
  // Legend in a framed box, top right.
  const lw = 20 + Math.max(...series.map((s) => textWidth(s.name))) + 8;
  // Top right, unless the curves end up there (accuracy): then bottom right.
  const ends = series.map((s) => s.values[s.values.length - 1]).filter(Number.isFinite);
  const endsHigh = ends.some((e) => Y(e) < py + ph / 2);
  const lx = px + pw - lw - 6, ly = endsHigh ? py + ph - 14 * series.length - 6 : py + 6;
  cv.rect(lx - 4, ly - 4, lw, 14 * series.length + 6, [255, 255, 255]);
  cv.line(lx - 4, ly - 4, lx - 4 + lw, ly - 4, GRID);
  cv.line(lx - 4, ly + 14 * series.length + 2, lx - 4 + lw, ly + 14 * series.length + 2, GRID);
  series.forEach((s, k) => {
    cv.rect(lx, ly + 14 * k + (s.thin ? 3 : 0), 14, s.thin ? 1 : 7, s.color);
    cv.text(s.name, lx + 20, ly + 14 * k, AXIS);
  });
}

/** An exponential moving average, to show a noisy per-batch curve. */
function smooth(v: number[], alpha: number): number[] {
  let m = NaN;
  return v.map((x) => (m = Number.isNaN(m) ? x : alpha * x + (1 - alpha) * m));
}

export interface PlotOptions {
  width?: number;
  height?: number;
  title?: string;
  /** The metric for the right panel (default: the first non-loss value logged, e.g. accuracy). */
  metric?: string;
}

/** Renders the history's curves to an RGBA canvas and returns the PNG bytes. */
export function renderHistory(history: History, opts: PlotOptions = {}): Buffer {
  const width = opts.width ?? 960;
  const height = opts.height ?? 420;
  if (!history?.values?.loss) throw new KilnError('plotHistory: the history has no loss values');
  const v = history.values;
  const skip = new Set(['epoch', 'loss', 'val_loss', 'lr', 'seconds']);
  const metric = opts.metric ?? Object.keys(v).find((k) => !skip.has(k) && !k.startsWith('val_')) ?? 'lr';
  const cv = new Canvas(width, height);
  const headerH = opts.title ? 28 : 0;
  if (opts.title) cv.text(opts.title, 12, 8, AXIS, 2);
  const epochsX = v.loss.map((_, i) => i + 1);
  const n = v.loss.length;
  const lossSeries: Series[] = [];
  const steps = history.steps;
  if (steps && steps.loss.length > 1) {
    lossSeries.push({ name: 'train (batches)', xs: steps.epoch, values: smooth(steps.loss, Math.min(1, 20 / steps.loss.length)), color: LIGHT, thin: true });
  }
  lossSeries.push({ name: 'train', xs: epochsX, values: v.loss, color: COLORS[0] });
  if (v.val_loss) lossSeries.push({ name: 'validation', xs: epochsX, values: v.val_loss, color: COLORS[1] });
  panel(cv, 0, headerH, width / 2, height - headerH, 'loss', lossSeries, n);
  const mSeries: Series[] = [{ name: metric === 'lr' ? 'lr' : 'train', xs: epochsX, values: v[metric] ?? [], color: COLORS[0] }];
  if (v[`val_${metric}`]) mSeries.push({ name: 'validation', xs: epochsX, values: v[`val_${metric}`], color: COLORS[1] });
  panel(cv, width / 2, headerH, width / 2, height - headerH, metric, mSeries, n);
  // Loaded on first use: requiring pngjs at import time would add to every program's start-up.
  const { PNG } = createRequire(import.meta.url)('pngjs') as { PNG: typeof PNGType };
  const png = new PNG({ width, height });
  cv.data.copy(png.data);
  return PNG.sync.write(png);
}

/** Writes the history's loss and metric curves to a PNG file (atomically). */
export function plotHistory(history: History, path: string, opts: PlotOptions = {}): void {
  const bytes = renderHistory(history, opts);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}
