// Gradient checking: compare kiln's derivatives with central finite differences in float64
// ("debug your fprop/bprop with a finite-difference approximation").
import { KilnError } from '../errors.js';
import { cast } from '../ops/copy.js';
import { randn } from '../ops/random.js';
import * as ew from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import { tidy } from '../tensor/memory.js';
import { Tensor } from '../tensor/tensor.js';
import { fromTypedArray } from '../tensor/creation.js';
import { jvp, vjp } from './functional.js';

export interface CheckGradsOptions {
  modes?: ('fwd' | 'rev')[];
  /** 1 checks first derivatives; 2 also checks the derivatives of the derivatives. */
  order?: 1 | 2;
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Throw a KilnError naming the worst element when the check fails (default true). */
  raise?: boolean;
}

export interface CheckGradsReport {
  ok: boolean;
  /** The worst element found: which check, which input, which flat index, and both values. */
  worst: { check: string; input: number; index: number; analytic: number; numeric: number; error: number } | null;
}

type Fn = (...xs: Tensor[]) => Tensor;

/** The numeric Jacobian column for one input element: (f(x + eps e) - f(x - eps e)) / 2 eps. */
function numericColumn(f: Fn, xs: Tensor[], i: number, j: number, eps: number): Float64Array {
  const at = (delta: number) =>
    tidy(() => {
      const data = Float64Array.from(xs[i].dataSync() as Float64Array);
      data[j] += delta;
      const shifted = xs.map((x, k) => (k === i ? fromTypedArray(data, x.shape, 'float64', x.device) : x));
      return Float64Array.from(f(...shifted).dataSync() as ArrayLike<number>);
    });
  const plus = at(eps);
  const minus = at(-eps);
  return plus.map((p, k) => (p - minus[k]) / (2 * eps));
}

/** The report being built, plus how far the worst element exceeded its tolerance. */
interface Tally {
  report: CheckGradsReport;
  worstExcess: number;
  atol: number;
  rtol: number;
}

function compare(tally: Tally, check: string, input: number, analytic: ArrayLike<number>, numeric: ArrayLike<number>, indexOf: (k: number) => number) {
  for (let k = 0; k < numeric.length; k++) {
    const a = analytic[k];
    const n = numeric[k];
    const error = Math.abs(a - n);
    const excess = Number.isNaN(error) ? Infinity : error - (tally.atol + tally.rtol * Math.abs(n));
    if (excess > 0) tally.report.ok = false;
    if (!tally.report.worst || excess > tally.worstExcess) {
      tally.report.worst = { check, input, index: indexOf(k), analytic: a, numeric: n, error };
      tally.worstExcess = excess;
    }
  }
}

function firstOrder(f: Fn, xs: Tensor[], modes: ('fwd' | 'rev')[], eps: number, label: string, tally: Tally) {
  const out = tidy(() => f(...xs));
  const nOut = out.numel();
  out.dispose();
  xs.forEach((x, i) => {
    const nIn = x.numel();
    // Numeric Jacobian of output (flat) w.r.t. input i, column by column.
    const columns = Array.from({ length: nIn }, (_, j) => numericColumn(f, xs, i, j, eps));
    if (modes.includes('fwd')) {
      for (let j = 0; j < nIn; j++) {
        const col = tidy(() => {
          const tangents = xs.map((y, k) => {
            const t = new Float64Array(y.numel());
            if (k === i) t[j] = 1;
            return fromTypedArray(t, y.shape, 'float64', y.device);
          });
          const [, tOut] = jvp(f, xs, tangents) as [Tensor, Tensor];
          return Float64Array.from(tOut.dataSync() as ArrayLike<number>);
        });
        compare(tally, `${label}fwd`, i, col, columns[j], () => j);
      }
    }
    if (modes.includes('rev')) {
      for (let o = 0; o < nOut; o++) {
        const row = tidy(() => {
          const [y, pullback] = vjp((...ys: Tensor[]) => f(...ys), ...xs) as [Tensor, (ct: Tensor) => Tensor | Tensor[]];
          const ct = new Float64Array(y.numel());
          ct[o] = 1;
          const grads = pullback(fromTypedArray(ct, y.shape, 'float64', y.device));
          const gi = xs.length === 1 ? (grads as Tensor) : (grads as Tensor[])[i];
          return Float64Array.from(gi.dataSync() as ArrayLike<number>);
        });
        compare(tally, `${label}rev`, i, row, columns.map((c) => c[o]), (j) => j);
      }
    }
  });
}

/**
 * Checks f's derivatives at `inputs` (converted to float64) against finite differences, in
 * forward and/or reverse mode, and with order 2 also the derivatives of f's VJP and JVP.
 */
export function checkGrads(f: Fn, inputs: readonly Tensor[], opts: CheckGradsOptions = {}): CheckGradsReport {
  const modes = opts.modes ?? ['fwd', 'rev'];
  const order = opts.order ?? 1;
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-3;
  const report: CheckGradsReport = { ok: true, worst: null };
  const tally: Tally = { report, worstExcess: -Infinity, atol, rtol };
  tidy(() => {
    const xs = inputs.map((x) => {
      if (!(x instanceof Tensor)) throw new KilnError('checkGrads: inputs must be tensors');
      return cast(x, 'float64');
    });
    firstOrder(f, xs, modes, eps, '', tally);
    if (order >= 2) {
      // Derivatives of the derivatives: differentiate x -> <u, vjp(f)(x)> ... through a random
      // cotangent u, and x -> jvp(f)(x, v) through a random tangent v.
      const y = tidy(() => f(...xs));
      const u = randn(y.shape, { dtype: 'float64', device: y.device });
      y.dispose();
      const vs = xs.map((x) => randn(x.shape, { dtype: 'float64', device: x.device }));
      if (modes.includes('rev')) {
        const revOfF = (...ys: Tensor[]) => {
          const g = vjp((...zs: Tensor[]) => f(...zs), ...ys)[1](u);
          const gs = ys.length === 1 ? [g as Tensor] : (g as Tensor[]);
          return gs.map((t, k) => sum(ew.mul(t, vs[k]))).reduce((a, b) => ew.add(a, b));
        };
        firstOrder(revOfF, xs, modes, eps, 'vjp-', tally);
      }
      if (modes.includes('fwd')) {
        const fwdOfF = (...ys: Tensor[]) => jvp(f, ys, vs)[1] as Tensor;
        firstOrder(fwdOfF, xs, modes, eps, 'jvp-', tally);
      }
    }
  });
  if (!report.ok && (opts.raise ?? true)) {
    const w = report.worst!;
    throw new KilnError(`checkGrads: ${w.check} derivative of input ${w.input} at flat index ${w.index} is ${w.analytic}, ` +
      `finite differences give ${w.numeric} (error ${w.error.toExponential(2)}, atol ${atol}, rtol ${rtol})`);
  }
  return report;
}
