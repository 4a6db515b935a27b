// kiln.train: fit() with progress, validation, callbacks and history; evaluation; search; plots.
export { fit, evaluate } from './fit.js';
export type { FitOptions, FitContext, Callback, History, EpochLog, LossFn } from './fit.js';
export { EarlyStopping, ModelCheckpoint, snapshot } from './callbacks.js';
export type { EarlyStoppingOptions, CheckpointOptions } from './callbacks.js';
export { accuracy, binaryAccuracy, meanAbsoluteError } from './metrics.js';
export type { Metric } from './metrics.js';
export { gridSearch, randomSearch } from './search.js';
export { plotHistory, renderHistory } from './plot.js';
export type { PlotOptions } from './plot.js';
export type { SearchOptions, SearchResult, SearchReport, Distribution } from './search.js';
