// Learning-rate schedules, as torch.optim.lr_scheduler. Each sets the lr of every parameter
// group from the group's initial lr and the number of step() calls (the "epoch").
import { KilnError } from '../errors.js';
import type { Optimizer } from './optimizer.js';

type AnyOptimizer = Optimizer<any>;
type Group = Record<string, any>;

export abstract class LRScheduler {
  readonly baseLrs: number[];
  lastEpoch = -1;
  protected lastLrs: number[] = [];

  constructor(readonly optimizer: AnyOptimizer) {
    for (const g of optimizer.paramGroups as Group[]) g.initialLr ??= g.lr;
    this.baseLrs = (optimizer.paramGroups as Group[]).map((g) => g.initialLr as number);
  }

  /** Subclasses call this at the end of their constructor: sets the lrs of epoch 0. */
  protected start(): void {
    this.step();
  }

  /** The lr of each group at this.lastEpoch. */
  protected abstract lrAt(base: number, i: number): number;

  /** Advances one epoch (or optimizer step, for per-batch schedules) and sets the new lrs. */
  step(): void {
    this.lastEpoch++;
    this.lastLrs = this.baseLrs.map((b, i) => this.lrAt(b, i));
    (this.optimizer.paramGroups as Group[]).forEach((g, i) => (g.lr = this.lastLrs[i]));
  }

  getLastLr(): number[] {
    return [...this.lastLrs];
  }

  stateDict(): Record<string, unknown> {
    return { lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs], lastLrs: [...this.lastLrs] };
  }

  loadStateDict(sd: Record<string, unknown>): void {
    this.lastEpoch = sd.lastEpoch as number;
    this.lastLrs = [...(sd.lastLrs as number[])];
    (this.baseLrs as number[]).splice(0, this.baseLrs.length, ...(sd.baseLrs as number[]));
  }
}

/** lr = base * gamma^floor(epoch / stepSize). */
export class StepLR extends LRScheduler {
  constructor(optimizer: AnyOptimizer, readonly stepSize: number, readonly gamma = 0.1) {
    super(optimizer);
    this.start();
  }
  protected lrAt(base: number): number {
    return base * this.gamma ** Math.floor(this.lastEpoch / this.stepSize);
  }
}

/** lr = base * gamma^(number of milestones <= epoch). */
export class MultiStepLR extends LRScheduler {
  readonly milestones: number[];
  constructor(optimizer: AnyOptimizer, milestones: readonly number[], readonly gamma = 0.1) {
    super(optimizer);
    this.milestones = [...milestones].sort((a, b) => a - b);
    this.start();
  }
  protected lrAt(base: number): number {
    return base * this.gamma ** this.milestones.filter((m) => m <= this.lastEpoch).length;
  }
}

/** lr = base * gamma^epoch. */
export class ExponentialLR extends LRScheduler {
  constructor(optimizer: AnyOptimizer, readonly gamma: number) {
    super(optimizer);
    this.start();
  }
  protected lrAt(base: number): number {
    return base * this.gamma ** this.lastEpoch;
  }
}

/** lr = etaMin + (base - etaMin) (1 + cos(pi epoch / tMax)) / 2. */
export class CosineAnnealingLR extends LRScheduler {
  constructor(optimizer: AnyOptimizer, readonly tMax: number, readonly etaMin = 0) {
    super(optimizer);
    this.start();
  }
  protected lrAt(base: number): number {
    return this.etaMin + ((base - this.etaMin) * (1 + Math.cos((Math.PI * this.lastEpoch) / this.tMax))) / 2;
  }
}

/** lr = base * factor, factor going linearly from startFactor to endFactor over totalIters steps. */
export class LinearLR extends LRScheduler {
  constructor(optimizer: AnyOptimizer, readonly startFactor = 1 / 3, readonly endFactor = 1, readonly totalIters = 5) {
    super(optimizer);
    if (new.target === LinearLR) this.start();
  }
  protected lrAt(base: number): number {
    const t = Math.min(this.lastEpoch, this.totalIters) / this.totalIters;
    return base * (this.startFactor + (this.endFactor - this.startFactor) * t);
  }
}

/** A linear warmup from startFactor * base to base over warmupSteps steps, then constant. */
export class LinearWarmup extends LinearLR {
  constructor(optimizer: AnyOptimizer, warmupSteps: number, startFactor = 0) {
    super(optimizer, startFactor, 1, warmupSteps);
    this.start();
  }
}

export interface OneCycleOptions {
  maxLr: number | number[];
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  cycleMomentum?: boolean;
  baseMomentum?: number;
  maxMomentum?: number;
  divFactor?: number;
  finalDivFactor?: number;
  threePhase?: boolean;
}

/**
 * The 1cycle policy (Smith & Topin): lr rises from maxLr / divFactor to maxLr over pctStart of
 * the steps, then anneals to maxLr / (divFactor * finalDivFactor); momentum moves inversely.
 * Step it after every batch.
 */
export class OneCycleLR extends LRScheduler {
  private readonly cfg: Required<Omit<OneCycleOptions, 'epochs' | 'stepsPerEpoch' | 'maxLr'>> & { maxLrs: number[] };

  constructor(optimizer: AnyOptimizer, opts: OneCycleOptions) {
    const totalSteps = opts.totalSteps ?? (opts.epochs && opts.stepsPerEpoch ? opts.epochs * opts.stepsPerEpoch : NaN);
    if (!(totalSteps > 0)) throw new KilnError('OneCycleLR: give totalSteps, or epochs and stepsPerEpoch');
    const groups = optimizer.paramGroups as Group[];
    const maxLrs = Array.isArray(opts.maxLr) ? opts.maxLr : groups.map(() => opts.maxLr as number);
    const divFactor = opts.divFactor ?? 25;
    groups.forEach((g, i) => {
      g.initialLr = maxLrs[i] / divFactor;
      g.lr = g.initialLr;
    });
    const cfg = {
      totalSteps, pctStart: opts.pctStart ?? 0.3, annealStrategy: opts.annealStrategy ?? 'cos', cycleMomentum: opts.cycleMomentum ?? true,
      baseMomentum: opts.baseMomentum ?? 0.85, maxMomentum: opts.maxMomentum ?? 0.95, divFactor, finalDivFactor: opts.finalDivFactor ?? 1e4,
      threePhase: opts.threePhase ?? false, maxLrs,
    } as OneCycleLR['cfg'];
    super(optimizer);
    this.cfg = cfg;
    this.start();
  }

  private anneal(start: number, end: number, pct: number): number {
    const strategy = this.cfg.annealStrategy;
    return strategy === 'cos' ? end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1) : (end - start) * pct + start;
  }

  protected lrAt(base: number, i: number): number {
    const c = this.cfg;
    const step = this.lastEpoch;
    if (step > c.totalSteps) throw new KilnError(`OneCycleLR: stepped ${step} times, more than totalSteps = ${c.totalSteps}`);
    const initial = base;
    const maxLr = c.maxLrs[i];
    const minLr = initial / c.finalDivFactor;
    const phases = c.threePhase
      ? [
          { end: c.pctStart * c.totalSteps - 1, lr: [initial, maxLr], mom: [c.maxMomentum, c.baseMomentum] },
          { end: 2 * c.pctStart * c.totalSteps - 2, lr: [maxLr, initial], mom: [c.baseMomentum, c.maxMomentum] },
          { end: c.totalSteps - 1, lr: [initial, minLr], mom: [c.maxMomentum, c.maxMomentum] },
        ]
      : [
          { end: c.pctStart * c.totalSteps - 1, lr: [initial, maxLr], mom: [c.maxMomentum, c.baseMomentum] },
          { end: c.totalSteps - 1, lr: [maxLr, minLr], mom: [c.baseMomentum, c.maxMomentum] },
        ];
    let start = 0;
    for (let k = 0; k < phases.length; k++) {
      const ph = phases[k];
      if (step <= ph.end || k === phases.length - 1) {
        const pct = (step - start) / (ph.end - start);
        if (c.cycleMomentum) setMomentum((this.optimizer.paramGroups as Group[])[i], this.anneal(ph.mom[0], ph.mom[1], pct));
        return this.anneal(ph.lr[0], ph.lr[1], pct);
      }
      start = ph.end;
    }
    return base;
  }
}

function setMomentum(g: Group, m: number): void {
  if (Array.isArray(g.betas)) g.betas = [m, g.betas[1]];
  else if ('momentum' in g) g.momentum = m;
}

export interface ReduceLROnPlateauOptions {
  mode?: 'min' | 'max';
  factor?: number;
  patience?: number;
  threshold?: number;
  thresholdMode?: 'rel' | 'abs';
  cooldown?: number;
  minLr?: number | number[];
  eps?: number;
}

/** Multiplies the lr by factor when the metric passed to step(metric) stops improving. */
export class ReduceLROnPlateau {
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  private readonly o: Required<ReduceLROnPlateauOptions>;

  constructor(readonly optimizer: AnyOptimizer, opts: ReduceLROnPlateauOptions = {}) {
    this.o = { mode: 'min', factor: 0.1, patience: 10, threshold: 1e-4, thresholdMode: 'rel', cooldown: 0, minLr: 0, eps: 1e-8, ...opts };
    if (this.o.factor >= 1) throw new KilnError('ReduceLROnPlateau: factor must be < 1');
    this.best = this.o.mode === 'min' ? Infinity : -Infinity;
  }

  private isBetter(a: number): boolean {
    const { mode, thresholdMode: tm, threshold: th } = this.o;
    if (mode === 'min') return tm === 'rel' ? a < this.best * (1 - th) : a < this.best - th;
    return tm === 'rel' ? a > this.best * (th + 1) : a > this.best + th;
  }

  step(metric: number): void {
    this.lastEpoch++;
    if (this.isBetter(metric)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else this.numBadEpochs++;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.o.patience) {
      (this.optimizer.paramGroups as Group[]).forEach((g, i) => {
        const minLr = Array.isArray(this.o.minLr) ? this.o.minLr[i] : this.o.minLr;
        const next = Math.max(g.lr * this.o.factor, minLr);
        if (g.lr - next > this.o.eps) g.lr = next;
      });
      this.cooldownCounter = this.o.cooldown;
      this.numBadEpochs = 0;
    }
  }

  getLastLr(): number[] {
    return (this.optimizer.paramGroups as Group[]).map((g) => g.lr);
  }
}
