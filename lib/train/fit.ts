// fit(): the training loop. One tidy scope per step (nothing leaks), validation after every
// epoch, callbacks (early stopping, checkpoints, schedules), a progress bar, and a history.
import { noGrad } from '../autograd/backward.js';
import { KilnError } from '../errors.js';
import { DataLoader } from '../data/loader.js';
import type { Module } from '../nn/module.js';
import { crossEntropy, mseLoss } from '../nn/functional/loss.js';
import type { Optimizer } from '../optim/optimizer.js';
import { LRScheduler, ReduceLROnPlateau } from '../optim/scheduler.js';
import { tidy } from '../tensor/memory.js';
import { Tensor } from '../tensor/tensor.js';
import { resolveMetric, type Metric } from './metrics.js';
import { createProgress, formatValues } from './progress.js';

export type LossFn = (output: Tensor, target: Tensor) => Tensor;
/** A batch as the loader yields it: [input, target] (or an object; see FitOptions.unpack). */
export type Batch = any;

export interface EpochLog {
  epoch: number;
  /** Mean training loss and metrics over the epoch, validation ones as val_<name>, the lr, seconds. */
  [key: string]: number;
}

export interface History {
  epochs: EpochLog[];
  /** The same values by name: history.values.loss[i] is the loss of epoch i + 1. */
  values: Record<string, number[]>;
  stoppedEarly: boolean;
  /** The epoch whose weights the model holds after early stopping restored them. */
  bestEpoch: number | null;
  /** Every training batch's loss, at its position in epochs (epoch e's batch b of n at e - 1 + b / n). */
  steps?: { epoch: number[]; loss: number[] };
}

export interface FitContext {
  model: Module<any[], any>;
  optimizer: Optimizer<any>;
  epoch: number;
  epochs: number;
  /** Set by a callback to end training after this epoch. */
  stop: boolean;
  history: History;
  /** The latest epoch's log (during onEpochEnd). */
  logs: EpochLog;
  /** The batch index and loss (during onBatchEnd). */
  batch: number;
  batchLoss: number;
}

export interface Callback {
  onTrainBegin?(ctx: FitContext): void;
  onEpochBegin?(ctx: FitContext): void;
  onBatchEnd?(ctx: FitContext): void;
  onEpochEnd?(ctx: FitContext): void;
  onTrainEnd?(ctx: FitContext): void;
}

export interface FitOptions {
  train: DataLoader<any, Batch> | Iterable<Batch>;
  val?: DataLoader<any, Batch> | Iterable<Batch> | null;
  loss: LossFn | 'crossEntropy' | 'mse';
  optimizer: Optimizer<any>;
  epochs?: number;
  metrics?: (string | Metric)[];
  callbacks?: Callback[];
  /** A schedule stepped once per epoch (or per batch with scheduleEvery: 'batch'); ReduceLROnPlateau gets the monitored value. */
  scheduler?: LRScheduler | ReduceLROnPlateau | null;
  scheduleEvery?: 'epoch' | 'batch';
  /** What ReduceLROnPlateau watches (default val_loss, else loss). */
  monitor?: string;
  /** 'bar' (a progress bar on a terminal, a line per epoch otherwise), 'lines' or 'silent'. */
  progress?: 'bar' | 'lines' | 'silent';
  /** Maps a batch to [input, target] (default: the batch is already [input, target]). */
  unpack?: (batch: Batch) => [Tensor | Tensor[], Tensor];
}

function lossFn(l: FitOptions['loss']): LossFn {
  if (l === 'crossEntropy') return (o, t) => crossEntropy(o, t);
  if (l === 'mse') return (o, t) => mseLoss(o, t);
  if (typeof l !== 'function') throw new KilnError(`fit: loss must be a function, 'crossEntropy' or 'mse'`);
  return l;
}

function disposeBatch(b: unknown): void {
  if (b instanceof Tensor) b.dispose();
  else if (Array.isArray(b)) b.forEach(disposeBatch);
  else if (b && typeof b === 'object') Object.values(b).forEach(disposeBatch);
}

const defaultUnpack = (b: Batch): [Tensor, Tensor] => {
  if (!Array.isArray(b) || b.length < 2) throw new KilnError('fit: a batch must be [input, target] (or pass unpack)');
  return [b[0], b[1]];
};

function forward(model: Module<any[], any>, input: Tensor | Tensor[]): Tensor {
  return Array.isArray(input) ? model.forward(...input) : model.forward(input);
}

/** Mean loss and metrics of the model over a loader, in evaluation mode without gradients. */
export function evaluate(model: Module<any[], any>, data: Iterable<Batch>, loss: FitOptions['loss'], metrics: (string | Metric)[] = [],
  unpack: FitOptions['unpack'] = defaultUnpack): Record<string, number> {
  const lf = lossFn(loss);
  const ms = metrics.map(resolveMetric);
  const wasTraining = model.training;
  model.eval();
  const sums: Record<string, number> = { loss: 0 };
  for (const m of ms) sums[m.name] = 0;
  let count = 0;
  try {
    for (const batch of data) {
      try {
        noGrad(() => tidy(() => {
          const [x, y] = unpack!(batch);
          const out = forward(model, x);
          const n = y.ndim > 0 ? y.shape[0] : 1;
          sums.loss += (lf(out, y).item() as number) * n;
          for (const m of ms) sums[m.name] += m.fn(out, y) * n;
          count += n;
        }));
      } finally {
        disposeBatch(batch);
      }
    }
  } finally {
    model.train(wasTraining);
  }
  if (count === 0) throw new KilnError('evaluate: the data yielded no batches');
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / count]));
}

function batchesOf(data: Iterable<Batch>): number {
  if (data instanceof DataLoader) return data.length;
  const n = (data as { length?: unknown }).length;
  return typeof n === 'number' ? n : 0;
}

/** Trains `model` and returns the history of losses and metrics per epoch. */
export function fit(model: Module<any[], any>, opts: FitOptions): History {
  const epochs = opts.epochs ?? 1;
  const lf = lossFn(opts.loss);
  const ms = (opts.metrics ?? []).map(resolveMetric);
  const unpack = opts.unpack ?? defaultUnpack;
  const callbacks = opts.callbacks ?? [];
  const progress = createProgress(opts.progress ?? 'bar');
  const history: History = { epochs: [], values: {}, stoppedEarly: false, bestEpoch: null, steps: { epoch: [], loss: [] } };
  const ctx: FitContext = { model, optimizer: opts.optimizer, epoch: 0, epochs, stop: false, history, logs: { epoch: 0 }, batch: 0, batchLoss: NaN };
  for (const cb of callbacks) cb.onTrainBegin?.(ctx);
  try {
    for (let epoch = 1; epoch <= epochs && !ctx.stop; epoch++) {
      ctx.epoch = epoch;
      for (const cb of callbacks) cb.onEpochBegin?.(ctx);
      model.train();
      const t0 = performance.now();
      const nBatches = batchesOf(opts.train);
      progress.startEpoch(epoch, epochs, nBatches);
      const sums: Record<string, number> = { loss: 0 };
      for (const m of ms) sums[m.name] = 0;
      let count = 0;
      let b = 0;
      for (const batch of opts.train) {
        let lossValue = NaN;
        try {
          tidy(() => {
            const [x, y] = unpack(batch);
            opts.optimizer.zeroGrad();
            const out = forward(model, x);
            const loss = lf(out, y);
            loss.backward();
            opts.optimizer.step();
            const n = y.ndim > 0 ? y.shape[0] : 1;
            lossValue = loss.item() as number;
            sums.loss += lossValue * n;
            for (const m of ms) sums[m.name] += m.fn(out.detach(), y) * n;
            count += n;
          });
        } finally {
          disposeBatch(batch);
        }
        if (!Number.isFinite(lossValue)) throw new KilnError(`fit: the loss became ${lossValue} at epoch ${epoch}, batch ${b + 1}`);
        b++;
        history.steps!.epoch.push(epoch - 1 + (nBatches > 0 ? b / nBatches : 1));
        history.steps!.loss.push(lossValue);
        if (opts.scheduler instanceof LRScheduler && opts.scheduleEvery === 'batch') opts.scheduler.step();
        ctx.batch = b;
        ctx.batchLoss = lossValue;
        for (const cb of callbacks) cb.onBatchEnd?.(ctx);
        progress.update(b, Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / count])));
      }
      opts.optimizer.zeroGrad();
      const logs: EpochLog = { epoch };
      for (const [k, v] of Object.entries(sums)) logs[k] = count ? v / count : NaN;
      if (opts.val) {
        const v = evaluate(model, opts.val, opts.loss, ms, unpack);
        for (const [k, val] of Object.entries(v)) logs[`val_${k}`] = val;
      }
      logs.lr = (opts.optimizer.paramGroups[0] as { lr: number }).lr;
      logs.seconds = (performance.now() - t0) / 1000;
      history.epochs.push(logs);
      for (const [k, v] of Object.entries(logs)) (history.values[k] ??= []).push(v);
      ctx.logs = logs;
      const { epoch: _e, lr, seconds, ...shown } = logs;
      progress.endEpoch(`Epoch ${epoch}/${epochs} - ${seconds.toFixed(1)}s - ${formatValues(shown)} - lr ${lr.toPrecision(3)}`);
      if (opts.scheduler instanceof ReduceLROnPlateau) {
        const key = opts.monitor ?? (opts.val ? 'val_loss' : 'loss');
        if (!(key in logs)) throw new KilnError(`fit: ReduceLROnPlateau monitors '${key}', which is not logged (${Object.keys(logs).join(', ')})`);
        opts.scheduler.step(logs[key]);
      } else if (opts.scheduler && (opts.scheduleEvery ?? 'epoch') === 'epoch') opts.scheduler.step();
      for (const cb of callbacks) cb.onEpochEnd?.(ctx);
    }
    history.stoppedEarly = ctx.stop;
    for (const cb of callbacks) cb.onTrainEnd?.(ctx);
  } finally {
    progress.stop();
  }
  return history;
}
