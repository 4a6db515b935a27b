// Optimizer checkpoints in safetensors: the state tensors as "state.<param index>.<name>", the
// parameter groups and the numeric state (step counts) as JSON in the metadata.
import { KilnError } from '../errors.js';
import type { Optimizer, OptimizerStateDict, ParamState } from '../optim/optimizer.js';
import { Tensor } from '../tensor/tensor.js';
import { loadFile, save, type Metadata } from './safetensors.js';

/** Writes opt.stateDict() to a safetensors file (atomically). */
export function saveOptimizer(opt: Optimizer<any>, path: string, metadata: Metadata = {}): void {
  const sd = opt.stateDict();
  const tensors: Record<string, Tensor> = {};
  const scalars: Record<string, Record<string, number>> = {};
  for (const [i, s] of Object.entries(sd.state)) {
    for (const [k, v] of Object.entries(s)) {
      if (v instanceof Tensor) tensors[`state.${i}.${k}`] = v;
      else (scalars[i] ??= {})[k] = v;
    }
  }
  try {
    save(tensors, path, {
      metadata: { ...metadata, kind: 'kiln.optimizer', optimizer: opt.constructor.name, param_groups: JSON.stringify(sd.paramGroups), state_scalars: JSON.stringify(scalars) },
    });
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}

/** Restores an optimizer (over the same parameters) from saveOptimizer's file. */
export function loadOptimizer(opt: Optimizer<any>, path: string): void {
  const { tensors, metadata } = loadFile(path);
  try {
    if (metadata.kind !== 'kiln.optimizer' || !metadata.param_groups) throw new KilnError(`loadOptimizer: ${path} is not an optimizer checkpoint`);
    if (metadata.optimizer && metadata.optimizer !== opt.constructor.name) {
      throw new KilnError(`loadOptimizer: ${path} holds ${metadata.optimizer} state, not ${opt.constructor.name}`);
    }
    const state: Record<number, ParamState> = {};
    for (const [i, s] of Object.entries(JSON.parse(metadata.state_scalars ?? '{}') as Record<string, Record<string, number>>)) state[Number(i)] = { ...s };
    for (const [name, t] of Object.entries(tensors)) {
      const m = /^state\.(\d+)\.(.+)$/.exec(name);
      if (!m) throw new KilnError(`loadOptimizer: unexpected tensor '${name}'`);
      (state[Number(m[1])] ??= {})[m[2]] = t;
    }
    const sd: OptimizerStateDict = { state, paramGroups: JSON.parse(metadata.param_groups) };
    opt.loadStateDict(sd);
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}
