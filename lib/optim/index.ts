// kiln.optim: optimizers, learning-rate schedules, gradient clipping, differentiable optimizers.
export { Optimizer } from './optimizer.js';
export type { ParamGroup, ParamGroupSpec, ParamState, OptimizerStateDict, Closure } from './optimizer.js';
export { SGD } from './sgd.js';
export type { SGDOptions } from './sgd.js';
export { Adam, AdamW } from './adam.js';
export type { AdamOptions } from './adam.js';
export { Adagrad, RMSprop } from './adagrad.js';
export type { AdagradOptions, RMSpropOptions } from './adagrad.js';
export { LBFGS } from './lbfgs.js';
export type { LBFGSOptions } from './lbfgs.js';
export {
  LRScheduler, StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, LinearWarmup, OneCycleLR, ReduceLROnPlateau,
} from './scheduler.js';
export type { OneCycleOptions, ReduceLROnPlateauOptions } from './scheduler.js';
export { clipGradNorm, clipGradValue } from './clip.js';
export * as functional from './functional.js';
