// Elementwise primitives (one native kernel each) and their public functions, which do the
// type promotion and the broadcasting (through expand views) before binding the primitive.
import { opIds } from '../backend/native.js';
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
//
// Derivative rules read like a table: for unary ops, d is f'(x) as a function of the input x and
// the output y; the VJP multiplies the cotangent by it and the JVP the tangent. Binary ops give
// both partial derivatives. Shapes are equal here: broadcasting was undone by expand's own rule.

type UnaryDerivative = (x: Tensor, y: Tensor) => Tensor;

function unaryPrimitive(name: string, opts: {
  d?: UnaryDerivative; saves?: 'inputs' | 'out' | 'both'; nondifferentiable?: boolean; linear?: boolean; outDType?: DType;
  vjp?: Primitive<undefined>['vjp'];
} = {}): Primitive<undefined> {
  const { d } = opts;
  return definePrimitive<undefined>({
    name,
    linear: opts.linear,
    nondifferentiable: opts.nondifferentiable,
    saves: opts.saves ?? (opts.linear ? 'none' : 'both'),
    impl: ([x]) => runKernel1(name, { shape: x.shape, dtype: opts.outDType ?? x.dtype, device: x.device }, [x]),
    vjp: opts.vjp ?? (d ? ({ inputs: [x], out }) => (g) => [mul(g, d(x, out))] : undefined),
    jvp: d ? ({ inputs: [x], out }, [t]) => mul(t!, d(x, out)) : undefined,
  });
}

type BinaryPartials = (a: Tensor, b: Tensor, y: Tensor) => [Tensor, Tensor];

function binaryPrimitive(name: string, opts: {
  partials?: BinaryPartials; nondifferentiable?: boolean; outDType?: DType; saves?: 'inputs' | 'out' | 'both' | 'none';
  vjp?: Primitive<undefined>['vjp']; jvp?: Primitive<undefined>['jvp'];
} = {}): Primitive<undefined> {
  const { partials } = opts;
  return definePrimitive<undefined>({
    name,
    nondifferentiable: opts.nondifferentiable,
    saves: opts.saves,
    impl: ([a, b]) => runKernel1(name, { shape: a.shape, dtype: opts.outDType ?? a.dtype, device: a.device }, [a, b]),
    vjp: opts.vjp ?? (partials ? ({ inputs: [a, b], out }) => (g) => partials(a, b, out).map((d) => mul(g, d)) : undefined),
    jvp: opts.jvp ?? (partials ? ({ inputs: [a, b], out }, [ta, tb]) => {
      const [da, db] = partials(a, b, out);
      if (ta && tb) return add(mul(ta, da), mul(tb, db));
      return ta ? mul(ta, da) : mul(tb!, db);
    } : undefined),
  });
}

/** 1 where the condition holds, else 0, in the dtype of `like`. */
const indicator = (cond: Tensor, like: Tensor) => cast(cond, like.dtype);

export const negP = unaryPrimitive('neg', { linear: true, vjp: () => (g) => [neg(g)] });
export const expP = unaryPrimitive('exp', { saves: 'out', d: (_x, y) => y });
export const logP = unaryPrimitive('log', { saves: 'inputs', d: (x) => reciprocal(x) });
export const sqrtP = unaryPrimitive('sqrt', { saves: 'out', d: (_x, y) => div(0.5, y) });
export const rsqrtP = unaryPrimitive('rsqrt', { saves: 'out', d: (_x, y) => mul(mul(y, square(y)), -0.5) });
export const tanhP = unaryPrimitive('tanh', { saves: 'out', d: (_x, y) => sub(1, square(y)) });
export const sigmoidP = unaryPrimitive('sigmoid', { saves: 'out', d: (_x, y) => mul(y, sub(1, y)) });
export const sinP = unaryPrimitive('sin', { saves: 'inputs', d: (x) => cos(x) });
export const cosP = unaryPrimitive('cos', { saves: 'inputs', d: (x) => neg(sin(x)) });
export const absP = unaryPrimitive('abs', { saves: 'inputs', d: (x) => sign(x) });
export const signP = unaryPrimitive('sign', { nondifferentiable: true });
export const erfP = unaryPrimitive('erf', { saves: 'inputs', d: (x) => mul(exp(neg(square(x))), 2 / Math.sqrt(Math.PI)) });
export const reciprocalP = unaryPrimitive('reciprocal', { saves: 'out', d: (_x, y) => neg(square(y)) });
export const floorP = unaryPrimitive('floor', { nondifferentiable: true });
export const ceilP = unaryPrimitive('ceil', { nondifferentiable: true });
export const roundP = unaryPrimitive('round', { nondifferentiable: true });
export const log1pP = unaryPrimitive('log1p', { saves: 'inputs', d: (x) => reciprocal(add(x, 1)) });
export const expm1P = unaryPrimitive('expm1', { saves: 'out', d: (_x, y) => add(y, 1) });
export const reluP = unaryPrimitive('relu', {
  saves: 'inputs',
  d: (x) => indicator(gt(x, 0), x),
  vjp: ({ inputs: [x] }) => (g) => [reluBackward(g, x)],
});
export const squareP = unaryPrimitive('square', { saves: 'inputs', d: (x) => mul(x, 2) });
export const logicalNotP = unaryPrimitive('logicalNot', { nondifferentiable: true, outDType: 'bool' });

export const addP = binaryPrimitive('add', {
  saves: 'none',
  vjp: () => (g) => [g, g],
  jvp: (_ctx, [ta, tb]) => (ta && tb ? add(ta, tb) : (ta ?? tb)!),
});
export const subP = binaryPrimitive('sub', {
  saves: 'none',
  vjp: ({ needsGrad: [, nb] }) => (g) => [g, nb ? neg(g) : null],
  jvp: (_ctx, [ta, tb]) => (ta && tb ? sub(ta, tb) : ta ?? neg(tb!)),
});
// mul and div skip the partial of an operand no gradient flows to (a constant scale or divisor).
export const mulP = binaryPrimitive('mul', {
  saves: 'inputs',
  partials: (a, b) => [b, a],
  vjp: ({ inputs: [a, b], needsGrad: [na, nb] }) => (g) => [na ? mul(g, b) : null, nb ? mul(g, a) : null],
});
export const divP = binaryPrimitive('div', {
  partials: (_a, b, y) => [reciprocal(b), neg(div(y, b))],
  vjp: ({ inputs: [, b], out: y, needsGrad: [na, nb] }) => (g) => [
    na ? mul(g, reciprocal(b)) : null,
    nb ? mul(g, neg(div(y, b))) : null,
  ],
});
export const powP = binaryPrimitive('pow', {
  // d/da a^b = b a^(b-1); d/db a^b = a^b log a (taken as 0 where a <= 0, like PyTorch at a = 0).
  partials: (a, b, y) => {
    const positive = gt(a, 0);
    return [mul(b, pow(a, sub(b, 1))), where(positive, mul(y, log(where(positive, a, 1))), 0)];
  },
});
export const maximumP = binaryPrimitive('maximum', {
  saves: 'inputs',
  // Ties split the gradient evenly, like PyTorch.
  partials: (a, b) => {
    const da = add(indicator(gt(a, b), a), mul(indicator(eq(a, b), a), 0.5));
    return [da, sub(1, da)];
  },
});
export const minimumP = binaryPrimitive('minimum', {
  saves: 'inputs',
  partials: (a, b) => {
    const da = add(indicator(lt(a, b), a), mul(indicator(eq(a, b), a), 0.5));
    return [da, sub(1, da)];
  },
});
export const atan2P = binaryPrimitive('atan2', {
  saves: 'inputs',
  partials: (a, b) => {
    const r2 = add(square(a), square(b));
    return [div(b, r2), neg(div(a, r2))];
  },
});
export const fmodP = binaryPrimitive('fmod', {
  saves: 'inputs',
  // fmod(a, b) = a - trunc(a / b) b
  partials: (a, b) => {
    const q = div(a, b);
    return [onesLikeOf(a), neg(where(lt(q, 0), ceil(q), floor(q)))];
  },
});
export const eqP = binaryPrimitive('eq', { nondifferentiable: true, outDType: 'bool' });
export const neP = binaryPrimitive('ne', { nondifferentiable: true, outDType: 'bool' });
export const ltP = binaryPrimitive('lt', { nondifferentiable: true, outDType: 'bool' });
export const leP = binaryPrimitive('le', { nondifferentiable: true, outDType: 'bool' });
export const gtP = binaryPrimitive('gt', { nondifferentiable: true, outDType: 'bool' });
export const geP = binaryPrimitive('ge', { nondifferentiable: true, outDType: 'bool' });
export const logicalAndP = binaryPrimitive('logicalAnd', { nondifferentiable: true, outDType: 'bool' });
export const logicalOrP = binaryPrimitive('logicalOr', { nondifferentiable: true, outDType: 'bool' });
export const logicalXorP = binaryPrimitive('logicalXor', { nondifferentiable: true, outDType: 'bool' });

function onesLikeOf(x: Tensor): Tensor {
  return runKernel1('fill', { shape: x.shape, dtype: x.dtype, device: x.device }, [], [1]);
}

/**
 * ReLU's reverse rule, g where x > 0 and 0 elsewhere: one kernel (CPU and CUDA) instead of
 * compare, cast and multiply. Linear in g, and its own transpose.
 */
export const reluBackwardP: Primitive<undefined> = definePrimitive<undefined>({
  name: 'reluBackward',
  saves: 'inputs',
  impl: ([g, x]) => runKernel1('reluBackward', { shape: g.shape, dtype: g.dtype, device: g.device }, [g, x]),
  vjp: ({ inputs: [, x] }) => (gg) => [reluBackward(gg, x), null],
  jvp: ({ inputs: [, x] }, [tg]) => (tg ? reluBackward(tg, x) : null),
});

function reluBackward(g: Tensor, x: Tensor): Tensor {
  if (isFloating(g.dtype) && g.dtype === x.dtype && opIds.reluBackward !== undefined) {
    return bind(reluBackwardP, [g, x], undefined);
  }
  return mul(g, indicator(gt(x, 0), x));
}

/** cond ? a : b with equal shapes; cond is bool. */
export const whereP = definePrimitive<undefined>({
  name: 'where',
  saves: 'inputs',
  impl: ([c, a, b]) => runKernel1('where', { shape: a.shape, dtype: a.dtype, device: a.device }, [c, a, b]),
  vjp: ({ inputs: [c] }) => (g) => [null, where(c, g, 0), where(c, 0, g)],
  jvp: ({ inputs: [c] }, [, ta, tb]) => where(c, ta ?? 0, tb ?? 0),
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

export const neg = (x: Tensor): Tensor => unary(negP, x, 'numeric');
export const exp = (x: Tensor): Tensor => unary(expP, x, 'float');
export const log = (x: Tensor): Tensor => unary(logP, x, 'float');
export const sqrt = (x: Tensor): Tensor => unary(sqrtP, x, 'float');
export const rsqrt = (x: Tensor): Tensor => unary(rsqrtP, x, 'float');
export const tanh = (x: Tensor): Tensor => unary(tanhP, x, 'float');
export const sigmoid = (x: Tensor): Tensor => unary(sigmoidP, x, 'float');
export const sin = (x: Tensor): Tensor => unary(sinP, x, 'float');
export const cos = (x: Tensor): Tensor => unary(cosP, x, 'float');
export const abs = (x: Tensor): Tensor => unary(absP, x, 'numeric');
export const sign = (x: Tensor): Tensor => unary(signP, x, 'numeric');
export const erf = (x: Tensor): Tensor => unary(erfP, x, 'float');
export const reciprocal = (x: Tensor): Tensor => unary(reciprocalP, x, 'float');
export const log1p = (x: Tensor): Tensor => unary(log1pP, x, 'float');
export const expm1 = (x: Tensor): Tensor => unary(expm1P, x, 'float');
export const relu = (x: Tensor): Tensor => unary(reluP, x, 'numeric');
export const square = (x: Tensor): Tensor => unary(squareP, x, 'numeric');
export const logicalNot = (x: Tensor): Tensor => unary(logicalNotP, x.dtype === 'bool' ? x : ne(x, 0), 'bool');

/** floor/ceil/round leave integer tensors as they are, like PyTorch. */
const rounding = (prim: Primitive<undefined>) => (x: Tensor) =>
  isFloating(x.dtype) ? unary(prim, x, 'same') : x.dtype === 'bool' ? cast(x, 'int32') : cast(x, x.dtype);
export const floor = rounding(floorP);
export const ceil = rounding(ceilP);
export const round = rounding(roundP);

export const add = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binary(addP, a, b, 'numeric');
export const sub = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binary(subP, a, b, 'numeric');
export const mul = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binary(mulP, a, b, 'numeric');
/** True division: integer operands give float32, like PyTorch. */
export const div = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binary(divP, a, b, 'float');
/** Integer tensors to integer powers stay integers (negative exponents throw), like PyTorch. */
export const pow = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binary(powP, a, b, 'numeric');
export const maximum = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binary(maximumP, a, b, 'numeric');
export const minimum = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binary(minimumP, a, b, 'numeric');
export const atan2 = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binary(atan2P, a, b, 'float');
/** C fmod: the result has the sign of the dividend. */
export const fmod = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binary(fmodP, a, b, 'numeric');
/** Python-style remainder: the result has the sign of the divisor. */
export function remainder(a: TensorOrScalar, b: TensorOrScalar): Tensor {
  return tidy(() => {
    const r = fmod(a, b);
    const divisorNegative = b instanceof Tensor ? lt(b, 0) : Number(b) < 0;
    const fix = logicalAnd(ne(r, 0), ne(lt(r, 0), divisorNegative));
    return where(fix, add(r, b), r);
  });
}

export const eq = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binary(eqP, a, b, 'same');
export const ne = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binary(neP, a, b, 'same');
export const lt = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binary(ltP, a, b, 'same');
export const le = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binary(leP, a, b, 'same');
export const gt = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binary(gtP, a, b, 'same');
export const ge = (a: TensorOrScalar, b: TensorOrScalar): Tensor => binary(geP, a, b, 'same');
export const logicalAnd = (a: TensorOrScalar, b: TensorOrScalar): Tensor =>
  binary(logicalAndP, toBool('logicalAnd', a), toBool('logicalAnd', b), 'bool');
export const logicalOr = (a: TensorOrScalar, b: TensorOrScalar): Tensor =>
  binary(logicalOrP, toBool('logicalOr', a), toBool('logicalOr', b), 'bool');
export const logicalXor = (a: TensorOrScalar, b: TensorOrScalar): Tensor =>
  binary(logicalXorP, toBool('logicalXor', a), toBool('logicalXor', b), 'bool');

function toBool(op: string, v: TensorOrScalar): TensorOrScalar {
  if (v instanceof Tensor) {
    if (v.dtype === 'bool') return v;
    throw new DTypeError(`${op}: expects bool tensors, got ${v.dtype} (compare with ne(0) first)`);
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
