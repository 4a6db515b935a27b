// Helpers shared by the layer classes.
import { zeros } from '../../tensor/creation.js';
import type { DType } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Parameter } from '../module.js';

/** A zero parameter that resetParameters() fills next. */
export function empty(shape: readonly number[], dtype: DType = 'float32'): Parameter {
  return owned(zeros(shape, { dtype }));
}

/** A parameter made from a temporary tensor, which is disposed (the parameter keeps its data). */
export function owned(t: Tensor, requiresGrad = true): Parameter {
  const p = new Parameter(t, requiresGrad);
  t.dispose();
  return p;
}

/** A buffer tensor: filled with value, outside tidy scopes (registerBuffer unscopes it). */
export function filled(shape: readonly number[], value: number, dtype: DType = 'float32'): Tensor {
  return zeros(shape, { dtype }).fill_(value);
}
