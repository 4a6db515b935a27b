// kiln: deep learning for Node.js. The public API.
import './autograd/interpreter.js'; // installs the autodiff interpreter for every primitive
import { addon, addonPath, call } from './backend/native.js';
import { autogradGrad, backward } from './autograd/backward.js';
import { liveTensorCount } from './tensor/memory.js';
import { KilnError } from './errors.js';

export { Tensor } from './tensor/tensor.js';
export type { Scalar, TensorOrScalar, Dims, NestedArray } from './tensor/tensor.js';
export type { DType } from './tensor/dtype.js';
export type { Device, DeviceLike } from './tensor/device.js';
export { KilnError, ShapeError, DTypeError, DeviceError, IndexError, MemoryError } from './errors.js';
export { tensor, zeros, ones, full, zerosLike, onesLike, fullLike, arange, linspace, eye } from './tensor/creation.js';
export type { TensorOptions } from './tensor/creation.js';
export { rand, randn, randint, bernoulli, randLike, randnLike, manualSeed, getRngState, setRngState } from './ops/random.js';
export { tidy, keep } from './tensor/memory.js';
export { grad, valueAndGrad, vjp, jvp, hvp, jacrev, jacfwd, hessian } from './autograd/functional.js';
export { customVjp, customJvp, stopGradient, checkpoint, fixedPoint } from './autograd/custom.js';
export type { FixedPointOptions } from './autograd/custom.js';
export { checkGrads } from './autograd/check.js';
export type { CheckGradsOptions, CheckGradsReport } from './autograd/check.js';
export { noGrad, enableGrad } from './autograd/backward.js';
export type { BackwardOptions } from './autograd/backward.js';
export { isGradEnabled } from './autograd/interpreter.js';

/** PyTorch's torch.autograd: grad(outputs, inputs, opts) and backward(tensor, grad, opts). */
export const autograd = { grad: autogradGrad, backward };
export {
  add, sub, mul, div, pow, maximum, minimum, atan2, fmod, remainder, eq, ne, lt, le, gt, ge,
  logicalAnd, logicalOr, logicalXor, logicalNot, neg, exp, log, sqrt, rsqrt, tanh, sigmoid, sin, cos,
  abs, sign, erf, reciprocal, floor, ceil, round, log1p, expm1, relu, square, where, clamp,
} from './ops/elementwise.js';
export { sum, mean, prod, max, min, argmax, argmin, variance as var, std, logsumexp, softmax, logSoftmax, cumsum } from './ops/reduce.js';
export { matmul, mm, bmm } from './ops/linalg.js';
export { gather, scatterAdd, indexSelect, pad, cat, stack } from './ops/indexing.js';
export { reshape, permute, transpose, expand, slice, narrow, select, squeeze, unsqueeze, flatten, flip } from './ops/views.js';

// Neural networks, optimizers, data, serialization and training (issue 4).
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as data from './data/index.js';
export * as train from './train/index.js';
export * as io from './io/index.js';
export { save, load, loadFile, loadMetadata } from './io/index.js';
export { fit, evaluate } from './train/index.js';

export interface MemoryInfo {
  /** Tensor objects alive (not disposed, not garbage collected). */
  tensors: number;
  cpu: { bytes: number; storages: number };
  cuda: { bytes: number; storages: number }[];
}

/** Live tensors and the bytes held per device. */
export function memory(): MemoryInfo {
  const m = call(() => addon.memory());
  return { tensors: liveTensorCount(), cpu: m.cpu, cuda: m.cuda };
}

export function setNumThreads(n: number): void {
  call(() => addon.setNumThreads(n));
}

export function getNumThreads(): number {
  return addon.numThreads();
}

/**
 * Whether CPU kernels flush denormal floats to zero (on by default, as TensorFlow and XLA do:
 * an operation on a denormal costs ~100 normal ones on x86, and denormals carry nothing a
 * network needs). Off gives IEEE behaviour, as torch.set_flush_denormal(false). Process-wide;
 * JavaScript's own arithmetic is never affected.
 */
export function setFlushDenormal(on: boolean): void {
  if (typeof on !== 'boolean') throw new KilnError(`setFlushDenormal: expected a boolean, got ${typeof on}`);
  call(() => addon.setFlushDenormal(on));
}

export function getFlushDenormal(): boolean {
  return addon.getFlushDenormal();
}

/** What the native side found: CPU features, the GEMM kernel, CUDA status, and the binary. */
export function backendInfo() {
  const cuda = addon.cudaStatus();
  return {
    addon: addonPath,
    cpu: addon.cpuInfo(),
    cuda: { available: cuda.available, reason: cuda.reason, deviceCount: cuda.deviceCount, plugin: cuda.plugin, versions: cuda.versions },
  };
}

export { cuda, backends } from './backend/cuda.js';
export type { CudaDeviceProperties } from './backend/cuda.js';
export { setDefaultDevice, getDefaultDevice } from './tensor/device.js';
export { profile } from './profiler.js';
export type { OpProfile, ProfileReport } from './profiler.js';

/** The raw addon, for tests and tools that exercise the native boundary directly. */
export { addon as native, args as nativeArgs, opIds as nativeOpIds } from './backend/native.js';
