// Hyper-parameter search: every combination of a grid, or random draws from a space, each
// trained with fit() and scored on a validation set by a monitored value.
import { KilnError } from '../errors.js';
import { IndexRng } from '../data/random.js';
import type { Module } from '../nn/module.js';
import type { Optimizer } from '../optim/optimizer.js';
import { fit, type FitOptions, type History } from './fit.js';

export type Params = Record<string, unknown>;

export interface Trial<P extends Params> {
  /** Builds a fresh model and optimizer for these hyper-parameters. */
  build: (params: P) => { model: Module<any[], any>; optimizer: Optimizer<any> } & Partial<Pick<FitOptions, 'scheduler' | 'callbacks'>>;
}

export interface SearchOptions<P extends Params> extends Trial<P>, Omit<FitOptions, 'optimizer' | 'val' | 'scheduler'> {
  /** Validation data the trials are scored on. */
  val: NonNullable<FitOptions['val']>;
  /** The logged value to compare (default val_loss). */
  monitor?: string;
  mode?: 'min' | 'max';
  /** Called after each trial (e.g. to print). */
  onTrial?: (result: SearchResult<P>) => void;
}

export interface SearchResult<P extends Params> {
  params: P;
  score: number;
  history: History;
}

export interface SearchReport<P extends Params> {
  best: SearchResult<P>;
  /** Every trial, best first. */
  results: SearchResult<P>[];
}

function runTrials<P extends Params>(candidates: P[], opts: SearchOptions<P>): SearchReport<P> {
  if (candidates.length === 0) throw new KilnError('search: no candidates');
  const monitor = opts.monitor ?? 'val_loss';
  const mode = opts.mode ?? (/acc/i.test(monitor) ? 'max' : 'min');
  const results: SearchResult<P>[] = [];
  for (const params of candidates) {
    const built = opts.build(params);
    const history = fit(built.model, { ...opts, optimizer: built.optimizer, scheduler: built.scheduler, callbacks: built.callbacks ?? opts.callbacks, progress: opts.progress ?? 'silent' });
    const values = history.values[monitor];
    if (!values) throw new KilnError(`search: '${monitor}' is not logged (logged: ${Object.keys(history.values).join(', ')})`);
    const score = mode === 'min' ? Math.min(...values) : Math.max(...values);
    const r = { params, score, history };
    results.push(r);
    opts.onTrial?.(r);
    built.model.dispose();
    built.optimizer.dispose();
  }
  results.sort((a, b) => (mode === 'min' ? a.score - b.score : b.score - a.score));
  return { best: results[0], results };
}

/** Every combination of the listed values. */
export function gridSearch<P extends Params>(grid: { [K in keyof P]: readonly P[K][] }, opts: SearchOptions<P>): SearchReport<P> {
  let combos: Params[] = [{}];
  for (const [k, values] of Object.entries(grid) as [string, readonly unknown[]][]) {
    if (!Array.isArray(values) || values.length === 0) throw new KilnError(`gridSearch: '${k}' needs a non-empty list of values`);
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [k]: v })));
  }
  return runTrials(combos as P[], opts);
}

/** A value to draw: a list (uniform choice), a range (uniform or log-uniform), or a function. */
export type Distribution<T> = readonly T[] | { min: number; max: number; log?: boolean; integer?: boolean } | ((rng: () => number) => T);

/** `trials` random draws from the space (seeded). */
export function randomSearch<P extends Params>(space: { [K in keyof P]: Distribution<P[K]> }, opts: SearchOptions<P> & { trials: number; seed?: number }): SearchReport<P> {
  const rng = new IndexRng(opts.seed ?? 0);
  const uniform = () => rng.nextU32() / 2 ** 32;
  const draw = (d: Distribution<unknown>): unknown => {
    if (typeof d === 'function') return d(uniform);
    if (Array.isArray(d)) return d[rng.below(d.length)];
    const r = d as { min: number; max: number; log?: boolean; integer?: boolean };
    const u = uniform();
    let v = r.log ? Math.exp(Math.log(r.min) + u * (Math.log(r.max) - Math.log(r.min))) : r.min + u * (r.max - r.min);
    if (r.integer) v = Math.min(r.max, Math.floor(v));
    return v;
  };
  const candidates = Array.from({ length: opts.trials }, () =>
    Object.fromEntries(Object.entries(space).map(([k, d]) => [k, draw(d as Distribution<unknown>)])) as P);
  return runTrials(candidates, opts);
}
