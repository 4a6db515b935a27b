// Float64 loop oracles for the convolution tests: the definitions, written out, nothing shared
// with kiln.
import * as O from '../../helpers/oracle.js';
import { Arr } from '../../helpers/oracle.js';

export interface Geo {
  stride: number[];
  before: number[];
  dilation: number[];
  groups: number;
}

/** All multi-indices of a shape, row-major. */
export function* indices(shape: readonly number[]): Generator<number[]> {
  const n = O.numel(shape);
  for (let i = 0; i < n; i++) yield O.unravel(i, shape);
}

/** y[n, co, o] = b[co] + Σ x[n, g·cin + ci, o·s − p + k·d] w[co, ci, k]; out gives the spatial output size. */
export function convRef(x: Arr, w: Arr, b: Arr | null, g: Geo, out: number[]): Arr {
  const N = x.shape[0];
  const [Cout, cin] = w.shape;
  const K = w.shape.slice(2);
  const I = x.shape.slice(2);
  const cout = Cout / g.groups;
  const y = new Arr([N, Cout, ...out], new Array(N * Cout * O.numel(out)).fill(0));
  let at = 0;
  for (let n = 0; n < N; n++)
    for (let co = 0; co < Cout; co++)
      for (const o of indices(out)) {
        let acc = b ? b.data[co] : 0;
        const grp = Math.floor(co / cout);
        for (let ci = 0; ci < cin; ci++)
          for (const k of indices(K)) {
            const pos = o.map((od, d) => od * g.stride[d] - g.before[d] + k[d] * g.dilation[d]);
            if (pos.some((p, d) => p < 0 || p >= I[d])) continue;
            acc += x.get([n, grp * cin + ci, ...pos]) * w.get([co, ci, ...k]);
          }
        y.data[at++] = acc;
      }
  return y;
}

/** PyTorch conv_transpose: out[n, g·cout + co, h·s − p + k·d] += x[n, ci, h] w[ci, co, k]. */
export function convTransposeRef(x: Arr, w: Arr, b: Arr | null, g: Geo & { outputPadding: number[] }): Arr {
  const [N, Cin] = x.shape;
  const cout = w.shape[1];
  const Cout = cout * g.groups;
  const cin = Cin / g.groups;
  const K = w.shape.slice(2);
  const H = x.shape.slice(2);
  const out = H.map((h, d) => (h - 1) * g.stride[d] - 2 * g.before[d] + g.dilation[d] * (K[d] - 1) + g.outputPadding[d] + 1);
  const strides = O.contiguousStrides([N, Cout, ...out]);
  const y = new Arr([N, Cout, ...out], new Array(N * Cout * O.numel(out)).fill(0));
  for (let n = 0; n < N; n++)
    for (let c = 0; c < Cout; c++) for (const o of indices(out)) y.data[O.ravel([n, c, ...o], strides)] = b ? b.data[c] : 0;
  for (let n = 0; n < N; n++)
    for (let ci = 0; ci < Cin; ci++) {
      const grp = Math.floor(ci / cin);
      for (const h of indices(H))
        for (let co = 0; co < cout; co++)
          for (const k of indices(K)) {
            const pos = h.map((hd, d) => hd * g.stride[d] - g.before[d] + k[d] * g.dilation[d]);
            if (pos.some((p, d) => p < 0 || p >= out[d])) continue;
            y.data[O.ravel([n, grp * cout + co, ...pos], strides)] += x.get([n, ci, ...h]) * w.get([ci, co, ...k]);
          }
    }
  return y;
}

/** dW[co, ci, k] = Σ_n,o gy[n, co, o] x[n, g·cin + ci, o·s − p + k·d]. */
export function weightGradRef(x: Arr, gy: Arr, wShape: number[], g: Geo): Arr {
  const [N] = x.shape;
  const [Cout, cin] = wShape;
  const cout = Cout / g.groups;
  const K = wShape.slice(2);
  const I = x.shape.slice(2);
  const out = gy.shape.slice(2);
  const dw = new Arr([...wShape], new Array(O.numel(wShape)).fill(0));
  let at = 0;
  for (let co = 0; co < Cout; co++)
    for (let ci = 0; ci < cin; ci++)
      for (const k of indices(K)) {
        let acc = 0;
        const grp = Math.floor(co / cout);
        for (let n = 0; n < N; n++)
          for (const o of indices(out)) {
            const pos = o.map((od, d) => od * g.stride[d] - g.before[d] + k[d] * g.dilation[d]);
            if (pos.some((p, d) => p < 0 || p >= I[d])) continue;
            acc += gy.get([n, co, ...o]) * x.get([n, grp * cin + ci, ...pos]);
          }
        dw.data[at++] = acc;
      }
  return dw;
}

export function outSize(I: number[], K: number[], g: Geo, after: number[]): number[] {
  return I.map((s, d) => Math.floor((s + g.before[d] + after[d] - g.dilation[d] * (K[d] - 1) - 1) / g.stride[d]) + 1);
}

