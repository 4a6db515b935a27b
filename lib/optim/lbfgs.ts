// L-BFGS with an optional strong-Wolfe line search, a port of torch.optim.LBFGS. The algorithm is
// a sequence of scalar decisions on dot products of the flattened parameters and gradients; each
// would be a device sync anyway, so the flat vectors live on the host as Float64Arrays and the
// parameters are written back once per evaluation.
import { enableGrad, noGrad } from '../autograd/backward.js';
import { assign } from '../nn/assign.js';
import { KilnError } from '../errors.js';
import { fromTypedArray } from '../tensor/creation.js';
import { tidy } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';
import { Optimizer, toNumber, type Closure, type ParamGroup, type ParamState } from './optimizer.js';

export interface LBFGSOptions {
  lr: number;
  maxIter: number;
  maxEval: number | null;
  toleranceGrad: number;
  toleranceChange: number;
  historySize: number;
  lineSearchFn: 'strong_wolfe' | null;
}

type Vec = Float64Array;
const dot = (a: Vec, b: Vec) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const absMax = (a: Vec) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const absSum = (a: Vec) => a.reduce((m, v) => m + Math.abs(v), 0);
const axpy = (y: Vec, alpha: number, x: Vec) => {
  for (let i = 0; i < y.length; i++) y[i] += alpha * x[i];
};
const scaled = (a: Vec, s: number) => a.map((v) => v * s);

function cubicInterpolate(x1: number, f1: number, g1: number, x2: number, f2: number, g2: number, bounds?: [number, number]): number {
  const [lo, hi] = bounds ?? (x1 <= x2 ? [x1, x2] : [x2, x1]);
  const d1 = g1 + g2 - (3 * (f1 - f2)) / (x1 - x2);
  const d2sq = d1 * d1 - g1 * g2;
  if (d2sq >= 0) {
    const d2 = Math.sqrt(d2sq);
    const minPos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2)) : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    return Math.min(Math.max(minPos, lo), hi);
  }
  return (lo + hi) / 2;
}

type ObjFn = (x: Vec, t: number, d: Vec) => [number, Vec];

function strongWolfe(obj: ObjFn, x: Vec, t: number, d: Vec, f: number, g: Vec, gtd: number,
  c1 = 1e-4, c2 = 0.9, toleranceChange = 1e-9, maxLs = 25): [number, Vec, number, number] {
  const dNorm = absMax(d);
  let [fNew, gNew] = obj(x, t, d);
  let evals = 1;
  let gtdNew = dot(gNew, d);
  let tPrev = 0, fPrev = f, gPrev = g, gtdPrev = gtd;
  let done = false;
  let lsIter = 0;
  let bracket: number[] = [], bf: number[] = [], bg: Vec[] = [], bgtd: number[] = [];
  while (lsIter < maxLs) {
    if (fNew > f + c1 * t * gtd || (lsIter > 1 && fNew >= fPrev)) {
      bracket = [tPrev, t]; bf = [fPrev, fNew]; bg = [gPrev, gNew]; bgtd = [gtdPrev, gtdNew];
      break;
    }
    if (Math.abs(gtdNew) <= -c2 * gtd) {
      bracket = [t]; bf = [fNew]; bg = [gNew]; done = true;
      break;
    }
    if (gtdNew >= 0) {
      bracket = [tPrev, t]; bf = [fPrev, fNew]; bg = [gPrev, gNew]; bgtd = [gtdPrev, gtdNew];
      break;
    }
    const minStep = t + 0.01 * (t - tPrev);
    const maxStep = t * 10;
    const tmp = t;
    t = cubicInterpolate(tPrev, fPrev, gtdPrev, t, fNew, gtdNew, [minStep, maxStep]);
    tPrev = tmp; fPrev = fNew; gPrev = gNew; gtdPrev = gtdNew;
    [fNew, gNew] = obj(x, t, d);
    evals++;
    gtdNew = dot(gNew, d);
    lsIter++;
  }
  if (lsIter === maxLs) {
    bracket = [0, t]; bf = [f, fNew]; bg = [g, gNew];
  }
  // Zoom: shrink the bracket until the strong Wolfe conditions hold.
  let insufProgress = false;
  let [low, high] = bf[0] <= bf[bf.length - 1] ? [0, 1] : [1, 0];
  while (!done && lsIter < maxLs) {
    if (Math.abs(bracket[1] - bracket[0]) * dNorm < toleranceChange) break;
    t = cubicInterpolate(bracket[0], bf[0], bgtd[0], bracket[1], bf[1], bgtd[1]);
    const bMax = Math.max(...bracket), bMin = Math.min(...bracket);
    const eps = 0.1 * (bMax - bMin);
    if (Math.min(bMax - t, t - bMin) < eps) {
      if (insufProgress || t >= bMax || t <= bMin) {
        t = Math.abs(t - bMax) < Math.abs(t - bMin) ? bMax - eps : bMin + eps;
        insufProgress = false;
      } else insufProgress = true;
    } else insufProgress = false;
    [fNew, gNew] = obj(x, t, d);
    evals++;
    gtdNew = dot(gNew, d);
    lsIter++;
    if (fNew > f + c1 * t * gtd || fNew >= bf[low]) {
      bracket[high] = t; bf[high] = fNew; bg[high] = gNew; bgtd[high] = gtdNew;
      [low, high] = bf[0] <= bf[1] ? [0, 1] : [1, 0];
    } else {
      if (Math.abs(gtdNew) <= -c2 * gtd) done = true;
      else if (gtdNew * (bracket[high] - bracket[low]) >= 0) {
        bracket[high] = bracket[low]; bf[high] = bf[low]; bg[high] = bg[low]; bgtd[high] = bgtd[low];
      }
      bracket[low] = t; bf[low] = fNew; bg[low] = gNew; bgtd[low] = gtdNew;
    }
  }
  return [bf[low], bg[low], bracket[low], evals];
}

interface LbfgsState {
  funcEvals: number;
  nIter: number;
  d: Vec | null;
  t: number;
  oldDirs: Vec[];
  oldStps: Vec[];
  ro: number[];
  hDiag: number;
  prevFlatGrad: Vec | null;
  prevLoss: number | null;
}

export class LBFGS extends Optimizer<LBFGSOptions> {
  private lb: LbfgsState = { funcEvals: 0, nIter: 0, d: null, t: 0, oldDirs: [], oldStps: [], ro: [], hDiag: 1, prevFlatGrad: null, prevLoss: null };

  constructor(params: Iterable<Tensor>, opts: Partial<LBFGSOptions> = {}) {
    const maxIter = opts.maxIter ?? 20;
    super(params, {
      lr: 1, maxIter, maxEval: Math.floor((maxIter * 5) / 4), toleranceGrad: 1e-7, toleranceChange: 1e-9, historySize: 100,
      lineSearchFn: null, ...opts,
    });
    if (this.paramGroups.length !== 1) throw new KilnError('LBFGS: does not support per-parameter options (one group only)');
  }

  protected update(_p: Tensor, _g: Tensor, _group: ParamGroup<LBFGSOptions>, _s: ParamState): void {
    throw new KilnError('LBFGS: step() needs a closure that recomputes the loss');
  }

  private get params(): Tensor[] {
    return this.paramGroups[0].params;
  }

  private flatGrad(): Vec {
    const n = this.params.reduce((s, p) => s + p.numel(), 0);
    const out = new Float64Array(n);
    let off = 0;
    for (const p of this.params) {
      if (p.grad) out.set(p.grad.dataSync() as ArrayLike<number>, off);
      off += p.numel();
    }
    return out;
  }

  private flatParams(): Vec {
    const out = new Float64Array(this.params.reduce((s, p) => s + p.numel(), 0));
    let off = 0;
    for (const p of this.params) {
      out.set(p.dataSync() as ArrayLike<number>, off);
      off += p.numel();
    }
    return out;
  }

  private setParams(x: Vec): void {
    let off = 0;
    noGrad(() => tidy(() => {
      for (const p of this.params) {
        assign(p, fromTypedArray(x.subarray(off, off + p.numel()), p.shape, 'float64', p.device));
        off += p.numel();
      }
    }));
  }

  /** Runs up to maxIter L-BFGS iterations; closure must zero the grads, compute the loss, backward, and return it. */
  override step(closure?: Closure): number {
    if (!closure) throw new KilnError('LBFGS: step() needs a closure that recomputes the loss');
    const g = this.paramGroups[0];
    const maxEval = g.maxEval ?? Math.floor((g.maxIter * 5) / 4);
    const s = this.lb;
    const evaluate = () => toNumber(enableGrad(closure));
    const origLoss = evaluate();
    let loss = origLoss;
    let currentEvals = 1;
    s.funcEvals++;
    let flatGrad = this.flatGrad();
    if (absMax(flatGrad) <= g.toleranceGrad) return origLoss;
    const x = this.flatParams();
    let nIter = 0;
    while (nIter < g.maxIter) {
      nIter++;
      s.nIter++;
      if (s.nIter === 1) {
        s.d = scaled(flatGrad, -1);
        s.oldDirs = []; s.oldStps = []; s.ro = []; s.hDiag = 1;
      } else {
        const y = flatGrad.map((v, i) => v - s.prevFlatGrad![i]);
        const st = scaled(s.d!, s.t);
        const ys = dot(y, st);
        if (ys > 1e-10) {
          if (s.oldDirs.length === g.historySize) {
            s.oldDirs.shift(); s.oldStps.shift(); s.ro.shift();
          }
          s.oldDirs.push(y); s.oldStps.push(st); s.ro.push(1 / ys);
          s.hDiag = ys / dot(y, y);
        }
        // Two-loop recursion: d = -H grad.
        const k = s.oldDirs.length;
        const al = new Array<number>(k);
        const q = scaled(flatGrad, -1);
        for (let i = k - 1; i >= 0; i--) {
          al[i] = dot(s.oldStps[i], q) * s.ro[i];
          axpy(q, -al[i], s.oldDirs[i]);
        }
        const r = scaled(q, s.hDiag);
        for (let i = 0; i < k; i++) {
          const be = dot(s.oldDirs[i], r) * s.ro[i];
          axpy(r, al[i] - be, s.oldStps[i]);
        }
        s.d = r;
      }
      s.prevFlatGrad = Float64Array.from(flatGrad);
      s.prevLoss = loss;
      s.t = s.nIter === 1 ? Math.min(1, 1 / absSum(flatGrad)) * g.lr : g.lr;
      const d = s.d!;
      const gtd = dot(flatGrad, d);
      if (gtd > -g.toleranceChange) break;
      let lsEvals = 0;
      let optCond = false;
      if (g.lineSearchFn === 'strong_wolfe') {
        const obj: ObjFn = (x0, t, dir) => {
          const moved = Float64Array.from(x0);
          axpy(moved, t, dir);
          this.setParams(moved);
          const f = evaluate();
          const fg = this.flatGrad();
          this.setParams(x0);
          return [f, fg];
        };
        [loss, flatGrad, s.t, lsEvals] = strongWolfe(obj, x, s.t, d, loss, flatGrad, gtd);
        axpy(x, s.t, d);
        this.setParams(x);
        optCond = absMax(flatGrad) <= g.toleranceGrad;
      } else {
        axpy(x, s.t, d);
        this.setParams(x);
        if (nIter !== g.maxIter) {
          loss = evaluate();
          flatGrad = this.flatGrad();
          optCond = absMax(flatGrad) <= g.toleranceGrad;
          lsEvals = 1;
        }
      }
      currentEvals += lsEvals;
      s.funcEvals += lsEvals;
      if (nIter === g.maxIter || currentEvals >= maxEval || optCond) break;
      if (absMax(d) * Math.abs(s.t) <= g.toleranceChange) break;
      if (Math.abs(loss - s.prevLoss) < g.toleranceChange) break;
    }
    return origLoss;
  }
}
