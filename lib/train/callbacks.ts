// Callbacks for fit(): early stopping with best-weights restore, and checkpointing.
import { KilnError } from '../errors.js';
import { save } from '../io/safetensors.js';
import type { Module } from '../nn/module.js';
import { unscope } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Callback, FitContext } from './fit.js';

/** A deep copy of a module's state dict, owned by the caller. */
export function snapshot(model: Module<any[], any>): Record<string, Tensor> {
  const sd = model.stateDict();
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(sd)) {
    out[k] = v.clone();
    unscope(out[k]);
    v.dispose();
  }
  return out;
}

function disposeAll(sd: Record<string, Tensor> | null): void {
  if (sd) for (const t of Object.values(sd)) t.dispose();
}

type Mode = 'min' | 'max' | 'auto';

function improves(mode: 'min' | 'max', value: number, best: number, minDelta: number): boolean {
  return mode === 'min' ? value < best - minDelta : value > best + minDelta;
}

function resolveMode(mode: Mode, monitor: string): 'min' | 'max' {
  if (mode !== 'auto') return mode;
  return /acc|auc|precision|recall|f1/i.test(monitor) ? 'max' : 'min';
}

export interface EarlyStoppingOptions {
  /** A logged value: loss, val_loss, accuracy, val_accuracy, ... (default val_loss). */
  monitor?: string;
  mode?: Mode;
  /** Epochs without improvement before stopping. */
  patience?: number;
  minDelta?: number;
  /** Put the best epoch's weights back when training ends (default true). */
  restoreBestWeights?: boolean;
}

export class EarlyStopping implements Callback {
  readonly monitor: string;
  readonly mode: 'min' | 'max';
  best = NaN;
  bestEpoch = 0;
  wait = 0;
  private bestWeights: Record<string, Tensor> | null = null;

  constructor(private readonly opts: EarlyStoppingOptions = {}) {
    this.monitor = opts.monitor ?? 'val_loss';
    this.mode = resolveMode(opts.mode ?? 'auto', this.monitor);
  }

  onTrainBegin(): void {
    this.best = this.mode === 'min' ? Infinity : -Infinity;
    this.wait = 0;
    disposeAll(this.bestWeights);
    this.bestWeights = null;
  }

  onEpochEnd(ctx: FitContext): void {
    const value = ctx.logs[this.monitor];
    if (value === undefined) throw new KilnError(`EarlyStopping: '${this.monitor}' is not logged (logged: ${Object.keys(ctx.logs).join(', ')})`);
    if (improves(this.mode, value, this.best, this.opts.minDelta ?? 0)) {
      this.best = value;
      this.bestEpoch = ctx.epoch;
      this.wait = 0;
      if (this.opts.restoreBestWeights ?? true) {
        disposeAll(this.bestWeights);
        this.bestWeights = snapshot(ctx.model);
      }
    } else if (++this.wait >= (this.opts.patience ?? 5)) {
      ctx.stop = true;
    }
  }

  onTrainEnd(ctx: FitContext): void {
    if (this.bestWeights) {
      ctx.model.loadStateDict(this.bestWeights);
      ctx.history.bestEpoch = this.bestEpoch;
      disposeAll(this.bestWeights);
      this.bestWeights = null;
    }
  }
}

export interface CheckpointOptions {
  /** File to write; '{epoch}' is replaced by the epoch number. */
  path: string;
  monitor?: string;
  mode?: Mode;
  /** Only write when the monitored value improves (default true). */
  saveBestOnly?: boolean;
}

/** Saves the model's state dict (safetensors) after epochs, or only after improving ones. */
export class ModelCheckpoint implements Callback {
  private best = NaN;
  private readonly mode: 'min' | 'max';
  readonly saved: string[] = [];

  constructor(private readonly opts: CheckpointOptions) {
    this.mode = resolveMode(opts.mode ?? 'auto', opts.monitor ?? 'val_loss');
  }

  onTrainBegin(): void {
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  onEpochEnd(ctx: FitContext): void {
    const monitor = this.opts.monitor ?? ('val_loss' in ctx.logs ? 'val_loss' : 'loss');
    const value = ctx.logs[monitor];
    if (this.opts.saveBestOnly ?? true) {
      if (value === undefined) throw new KilnError(`ModelCheckpoint: '${monitor}' is not logged`);
      if (!improves(this.mode, value, this.best, 0)) return;
      this.best = value;
    }
    const path = this.opts.path.replace('{epoch}', String(ctx.epoch));
    const sd = ctx.model.stateDict();
    try {
      save(sd, path, { metadata: { epoch: String(ctx.epoch), [monitor]: String(value) } });
    } finally {
      for (const t of Object.values(sd)) t.dispose();
    }
    this.saved.push(path);
  }
}
