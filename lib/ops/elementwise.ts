// Elementwise primitives (one native kernel each) and their public functions, which do the
// type promotion and the broadcasting (through expand views) before binding the primitive.
import { DeviceError, DTypeError } from '../errors.js';
import { isFloating, promoteTypes, promoteWithScalar, toFloating, type DType } from '../tensor/dtype.js';
import { broadcastShapes } from '../tensor/shape.js';
import { Tensor, type TensorOrScalar } from '../tensor/tensor.js';
import { tidy } from '../tensor/memory.js';
import { cast, scalarTensor } from './copy.js';
import { runKernel1 } from './kernel.js';
import { bind, definePrimitive, type Primitive } from './primitive.js';
import { expand } from './views.js';

// ------------------------------------------------------------------ primitive definitions

function unaryPrimitive(name: string, opts: { nondifferentiable?: boolean; linear?: boolean; outDType?: DType } = {}) {
  return definePrimitive<undefined>({
    name,
    linear: opts.linear,
    nondifferentiable: opts.nondifferentiable,
    impl: ([x]) => runKernel1(name, { shape: x.shape, dtype: opts.outDType ?? x.dtype, device: x.device }, [x]),
  });
}

function binaryPrimitive(name: string, opts: { nondifferentiable?: boolean; outDType?: DType } = {}) {
  return definePrimitive<undefined>({
    name,
    nondifferentiable: opts.nondifferentiable,
    impl: ([a, b]) => runKernel1(name, { shape: a.shape, dtype: opts.outDType ?? a.dtype, device: a.device }, [a, b]),
  });
}

export const negP = unaryPrimitive('neg', { linear: true });
export const expP = unaryPrimitive('exp');
export const logP = unaryPrimitive('log');
export const sqrtP = unaryPrimitive('sqrt');
export const rsqrtP = unaryPrimitive('rsqrt');
export const tanhP = unaryPrimitive('tanh');
export const sigmoidP = unaryPrimitive('sigmoid');
export const sinP = unaryPrimitive('sin');
export const cosP = unaryPrimitive('cos');
export const absP = unaryPrimitive('abs');
export const signP = unaryPrimitive('sign', { nondifferentiable: true });
export const erfP = unaryPrimitive('erf');
export const reciprocalP = unaryPrimitive('reciprocal');
export const floorP = unaryPrimitive('floor', { nondifferentiable: true });
export const ceilP = unaryPrimitive('ceil', { nondifferentiable: true });
export const roundP = unaryPrimitive('round', { nondifferentiable: true });
export const log1pP = unaryPrimitive('log1p');
export const expm1P = unaryPrimitive('expm1');
export const reluP = unaryPrimitive('relu');
export const squareP = unaryPrimitive('square');
export const logicalNotP = unaryPrimitive('logicalNot', { nondifferentiable: true, outDType: 'bool' });

export const addP = binaryPrimitive('add');
export const subP = binaryPrimitive('sub');
export const mulP = binaryPrimitive('mul');
export const divP = binaryPrimitive('div');
export const powP = binaryPrimitive('pow');
export const maximumP = binaryPrimitive('maximum');
export const minimumP = binaryPrimitive('minimum');
export const atan2P = binaryPrimitive('atan2');
export const fmodP = binaryPrimitive('fmod');
export const eqP = binaryPrimitive('eq', { nondifferentiable: true, outDType: 'bool' });
export const neP = binaryPrimitive('ne', { nondifferentiable: true, outDType: 'bool' });
export const ltP = binaryPrimitive('lt', { nondifferentiable: true, outDType: 'bool' });
export const leP = binaryPrimitive('le', { nondifferentiable: true, outDType: 'bool' });
export const gtP = binaryPrimitive('gt', { nondifferentiable: true, outDType: 'bool' });
export const geP = binaryPrimitive('ge', { nondifferentiable: true, outDType: 'bool' });
export const logicalAndP = binaryPrimitive('logicalAnd', { nondifferentiable: true, outDType: 'bool' });
export const logicalOrP = binaryPrimitive('logicalOr', { nondifferentiable: true, outDType: 'bool' });
export const logicalXorP = binaryPrimitive('logicalXor', { nondifferentiable: true, outDType: 'bool' });

/** cond ? a : b with equal shapes; cond is bool. */
export const whereP = definePrimitive<undefined>({
  name: 'where',
  impl: ([c, a, b]) => runKernel1('where', { shape: a.shape, dtype: a.dtype, device: a.device }, [c, a, b]),
});

// ------------------------------------------------------------------ argument preparation

type DTypeRule = 'same' | 'float' | 'bool' | 'numeric';

function checkRule(op: string, dtype: DType, rule: DTypeRule): DType {
  if (rule === 'float') return toFloating(dtype);
  if (rule === 'bool' && dtype !== 'bool') throw new DTypeError(`${op}: expects bool tensors, got ${dtype}`);
  if (rule === 'numeric' && dtype === 'bool') return 'int32';
  return dtype;
}

/** Casts to `dtype` when needed; returns the tensor and whether it is a temporary to free. */
function asDType(x: Tensor, dtype: DType): [Tensor, boolean] {
  return x.dtype === dtype ? [x, false] : [cast(x, dtype), true];
}

function unary(prim: Primitive<undefined>, x: Tensor, rule: DTypeRule): Tensor {
  if (!(x instanceof Tensor)) throw new DTypeError(`${prim.name}: expected a Tensor, got ${typeof x}`);
  const [xc, tmp] = asDType(x, checkRule(prim.name, x.dtype, rule));
  try {
    return bind(prim, [xc], undefined);
  } finally {
    if (tmp) xc.dispose();
  }
}

/** The tensors (same dtype, same device) two operands are computed from, before broadcasting. */
function operands(op: string, a: TensorOrScalar, b: TensorOrScalar, rule: DTypeRule): [Tensor, Tensor, Tensor[]] {
  const temps: Tensor[] = [];
  let dtype: DType;
  let device;
  if (a instanceof Tensor && b instanceof Tensor) {
    if (a.device !== b.device) throw new DeviceError(`${op}: operands are on different devices (${a.device} and ${b.device})`);
    dtype = promoteTypes(a.dtype, b.dtype);
    device = a.device;
  } else if (a instanceof Tensor) {
    dtype = promoteWithScalar(a.dtype, checkScalar(op, b));
    device = a.device;
  } else if (b instanceof Tensor) {
    dtype = promoteWithScalar(b.dtype, checkScalar(op, a));
    device = b.device;
  } else {
    throw new DTypeError(`${op}: at least one operand must be a Tensor`);
  }
  dtype = checkRule(op, dtype, rule);
  const prep = (v: TensorOrScalar): Tensor => {
    if (!(v instanceof Tensor)) {
      const s = scalarTensor(v, dtype, device);
      temps.push(s);
      return s;
    }
    if (v.dtype === dtype) return v;
    const c = cast(v, dtype);
    temps.push(c);
    return c;
  };
  return [prep(a), prep(b), temps];
}

function checkScalar(op: string, v: unknown): number | boolean {
  if (typeof v === 'number' || typeof v === 'boolean') return v;
  throw new DTypeError(`${op}: operand must be a Tensor, number or boolean, got ${v === null ? 'null' : typeof v}`);
}

/** Expands each tensor to the common broadcast shape (no-op aliases are avoided). */
function broadcastAll(op: string, xs: Tensor[], temps: Tensor[]): Tensor[] {
  let shape: number[] = [...xs[0].shape];
  for (const x of xs.slice(1)) shape = broadcastShapes(shape, x.shape, op);
  return xs.map((x) => {
    if (x.ndim === shape.length && x.shape.every((s, i) => s === shape[i])) return x;
    const e = expand(x, shape);
    temps.push(e);
    return e;
  });
}

function binary(prim: Primitive<undefined>, a: TensorOrScalar, b: TensorOrScalar, rule: DTypeRule): Tensor {
  const [x, y, temps] = operands(prim.name, a, b, rule);
  try {
    const [xb, yb] = broadcastAll(prim.name, [x, y], temps);
    return bind(prim, [xb, yb], undefined);
  } finally {
    for (const t of temps) t.dispose();
  }
}

// ------------------------------------------------------------------ public functions

export const neg = (x: Tensor) => unary(negP, x, 'numeric');
export const exp = (x: Tensor) => unary(expP, x, 'float');
export const log = (x: Tensor) => unary(logP, x, 'float');
export const sqrt = (x: Tensor) => unary(sqrtP, x, 'float');
export const rsqrt = (x: Tensor) => unary(rsqrtP, x, 'float');
export const tanh = (x: Tensor) => unary(tanhP, x, 'float');
export const sigmoid = (x: Tensor) => unary(sigmoidP, x, 'float');
export const sin = (x: Tensor) => unary(sinP, x, 'float');
export const cos = (x: Tensor) => unary(cosP, x, 'float');
export const abs = (x: Tensor) => unary(absP, x, 'numeric');
export const sign = (x: Tensor) => unary(signP, x, 'numeric');
export const erf = (x: Tensor) => unary(erfP, x, 'float');
export const reciprocal = (x: Tensor) => unary(reciprocalP, x, 'float');
export const log1p = (x: Tensor) => unary(log1pP, x, 'float');
export const expm1 = (x: Tensor) => unary(expm1P, x, 'float');
export const relu = (x: Tensor) => unary(reluP, x, 'numeric');
export const square = (x: Tensor) => unary(squareP, x, 'numeric');
export const logicalNot = (x: Tensor) => unary(logicalNotP, x.dtype === 'bool' ? x : ne(x, 0), 'bool');

/** floor/ceil/round leave integer tensors as they are, like PyTorch. */
const rounding = (prim: Primitive<undefined>) => (x: Tensor) =>
  isFloating(x.dtype) ? unary(prim, x, 'same') : x.dtype === 'bool' ? cast(x, 'int32') : cast(x, x.dtype);
export const floor = rounding(floorP);
export const ceil = rounding(ceilP);
export const round = rounding(roundP);

export const add = (a: TensorOrScalar, b: TensorOrScalar) => binary(addP, a, b, 'numeric');
export const sub = (a: TensorOrScalar, b: TensorOrScalar) => binary(subP, a, b, 'numeric');
export const mul = (a: TensorOrScalar, b: TensorOrScalar) => binary(mulP, a, b, 'numeric');
/** True division: integer operands give float32, like PyTorch. */
export const div = (a: TensorOrScalar, b: TensorOrScalar) => binary(divP, a, b, 'float');
export const pow = (a: TensorOrScalar, b: TensorOrScalar) => binary(powP, a, b, 'float');
export const maximum = (a: TensorOrScalar, b: TensorOrScalar) => binary(maximumP, a, b, 'numeric');
export const minimum = (a: TensorOrScalar, b: TensorOrScalar) => binary(minimumP, a, b, 'numeric');
export const atan2 = (a: TensorOrScalar, b: TensorOrScalar) => binary(atan2P, a, b, 'float');
/** C fmod: the result has the sign of the dividend. */
export const fmod = (a: TensorOrScalar, b: TensorOrScalar) => binary(fmodP, a, b, 'float');
/** Python-style remainder: the result has the sign of the divisor. */
export function remainder(a: TensorOrScalar, b: TensorOrScalar): Tensor {
  return tidy(() => {
    const r = fmod(a, b);
    const divisorNegative = b instanceof Tensor ? lt(b, 0) : Number(b) < 0;
    const fix = logicalAnd(ne(r, 0), ne(lt(r, 0), divisorNegative));
    return where(fix, add(r, b), r);
  });
}

export const eq = (a: TensorOrScalar, b: TensorOrScalar) => binary(eqP, a, b, 'same');
export const ne = (a: TensorOrScalar, b: TensorOrScalar) => binary(neP, a, b, 'same');
export const lt = (a: TensorOrScalar, b: TensorOrScalar) => binary(ltP, a, b, 'same');
export const le = (a: TensorOrScalar, b: TensorOrScalar) => binary(leP, a, b, 'same');
export const gt = (a: TensorOrScalar, b: TensorOrScalar) => binary(gtP, a, b, 'same');
export const ge = (a: TensorOrScalar, b: TensorOrScalar) => binary(geP, a, b, 'same');
export const logicalAnd = (a: TensorOrScalar, b: TensorOrScalar) => binary(logicalAndP, toBool(a), toBool(b), 'bool');
export const logicalOr = (a: TensorOrScalar, b: TensorOrScalar) => binary(logicalOrP, toBool(a), toBool(b), 'bool');
export const logicalXor = (a: TensorOrScalar, b: TensorOrScalar) => binary(logicalXorP, toBool(a), toBool(b), 'bool');

function toBool(v: TensorOrScalar): TensorOrScalar {
  if (v instanceof Tensor) {
    if (v.dtype === 'bool') return v;
    throw new DTypeError(`logical ops: expects bool tensors, got ${v.dtype} (compare with ne(0) first)`);
  }
  return typeof v === 'number' ? v !== 0 : v;
}

/** condition ? a : b, broadcasting all three. */
export function where(condition: Tensor, a: TensorOrScalar, b: TensorOrScalar): Tensor {
  if (!(condition instanceof Tensor) || condition.dtype !== 'bool') {
    throw new DTypeError(`where: condition must be a bool tensor, got ${condition instanceof Tensor ? condition.dtype : typeof condition}`);
  }
  const [x, y, temps] = operands('where', a, b, 'same');
  try {
    if (condition.device !== x.device) throw new DeviceError(`where: condition is on ${condition.device}, values on ${x.device}`);
    const [cb, xb, yb] = broadcastAll('where', [condition, x, y], temps);
    return bind(whereP, [cb, xb, yb], undefined);
  } finally {
    for (const t of temps) t.dispose();
  }
}

/** Limits values to [min, max]; either bound may be omitted. */
export function clamp(x: Tensor, min?: number | null, max?: number | null): Tensor {
  let out = x;
  if (min !== undefined && min !== null) out = maximum(out, min);
  if (max !== undefined && max !== null) {
    const next = minimum(out, max);
    if (out !== x) out.dispose();
    out = next;
  }
  return out === x ? mul(x, 1) : out;
}
