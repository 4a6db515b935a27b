// Random tensors from Philox4x32-10 (native/core/philox.h). The generator state is a 64-bit seed
// and a 64-bit block offset; every draw advances the offset by the blocks it used, so a seed
// fixes the whole sequence of draws on every device.
import { randomBytes } from 'node:crypto';

import { DTypeError, KilnError } from '../errors.js';
import { getDefaultDevice, parseDevice, type DeviceLike } from '../tensor/device.js';
import { isFloating, type DType } from '../tensor/dtype.js';
import { checkShape, numel } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { runKernel1 } from './kernel.js';
import { bind, definePrimitive } from './primitive.js';

const TWO32 = 2 ** 32;
let seed = BigInt('0x' + randomBytes(8).toString('hex'));
let offset = 0n;

/** Seeds the generator (any integer, or a bigint up to 64 bits). */
export function manualSeed(value: number | bigint): void {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new KilnError(`manualSeed: seed must be an integer, got ${value}`);
  seed = BigInt.asUintN(64, BigInt(value));
  offset = 0n;
}

/** The generator state, e.g. to restore it later with setRngState. */
export function getRngState(): { seed: bigint; offset: bigint } {
  return { seed, offset };
}
export function setRngState(state: { seed: bigint; offset: bigint }): void {
  seed = BigInt.asUintN(64, state.seed);
  offset = BigInt.asUintN(64, state.offset);
}

function words(v: bigint): [number, number] {
  return [Number(v % BigInt(TWO32)), Number(v / BigInt(TWO32))];
}

interface RandomAttrs {
  kind: 'uniform' | 'normal' | 'bernoulli' | 'randint';
  shape: readonly number[];
  dtype: DType;
  device: ReturnType<typeof parseDevice>;
  a: number;
  b: number;
}

/** Draws a fresh tensor; nondifferentiable (reparameterize with uniform/normal draws instead). */
export const randomP = definePrimitive<RandomAttrs>({
  name: 'random',
  nondifferentiable: true,
  impl: (_inputs, { kind, shape, dtype, device, a, b }) => {
    const wordsPerElement = (kind === 'uniform' || kind === 'normal') && dtype === 'float64' ? 2 : 1;
    const blocks = BigInt(Math.ceil(numel(shape) / (4 / wordsPerElement)));
    const [s0, s1] = words(seed);
    const [o0, o1] = words(offset);
    const out = runKernel1(kind, { shape, dtype, device }, [], [s0, s1, o0, o1, a, b]);
    offset = BigInt.asUintN(64, offset + blocks);
    return out;
  },
});

/**
 * Reserves the stream positions of a one-word-per-element draw of n elements (a bernoulli draw)
 * and advances the generator past them, as that draw would: the [seedLo, seedHi, offsetLo,
 * offsetHi] attributes for a kernel that consumes them (dropout's mask).
 */
export function reserveWords(n: number): [number, number, number, number] {
  const out = [...words(seed), ...words(offset)] as [number, number, number, number];
  offset = BigInt.asUintN(64, offset + BigInt(Math.ceil(n / 4)));
  return out;
}

export interface RandomOptions {
  dtype?: DType;
  device?: DeviceLike;
  requiresGrad?: boolean;
}

function draw(kind: RandomAttrs['kind'], op: string, shape: readonly number[], opts: RandomOptions, dflt: DType, a: number, b: number): Tensor {
  const s = checkShape(typeof shape === 'number' ? [shape] : shape, op);
  const dtype = opts.dtype ?? dflt;
  if ((kind === 'uniform' || kind === 'normal') && !isFloating(dtype)) {
    throw new DTypeError(`${op}: dtype must be float32 or float64, got ${dtype}`);
  }
  const out = bind(randomP, [], { kind, shape: s, dtype, device: parseDevice(opts.device ?? getDefaultDevice(), op), a, b });
  return opts.requiresGrad ? out.requiresGrad_() : out;
}

/** Uniform on [low, high) (default [0, 1)). */
export function rand(shape: readonly number[], opts: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  return draw('uniform', 'rand', shape, opts, 'float32', opts.low ?? 0, opts.high ?? 1);
}

/** Normal with the given mean and std (default standard normal). */
export function randn(shape: readonly number[], opts: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  return draw('normal', 'randn', shape, opts, 'float32', opts.mean ?? 0, opts.std ?? 1);
}

/** Integers uniform on [low, high). */
export function randint(low: number, high: number, shape: readonly number[], opts: RandomOptions = {}): Tensor {
  return draw('randint', 'randint', shape, opts, 'int32', low, high);
}

/** 1 with probability p, else 0 (float32 by default; bool and int32 allowed). */
export function bernoulli(p: number, shape: readonly number[], opts: RandomOptions = {}): Tensor {
  return draw('bernoulli', 'bernoulli', shape, opts, 'float32', p, 0);
}

export function randLike(x: Tensor, opts: RandomOptions = {}): Tensor {
  return rand(x.shape, { dtype: opts.dtype ?? x.dtype, device: opts.device ?? x.device });
}

export function randnLike(x: Tensor, opts: RandomOptions = {}): Tensor {
  return randn(x.shape, { dtype: opts.dtype ?? x.dtype, device: opts.device ?? x.device });
}
