// Module: a tree of layers owning parameters (trainable leaves) and buffers (state such as
// BatchNorm's running statistics). Names follow PyTorch: a module's own parameters and buffers
// are its fields holding Parameter / registered buffer tensors, children are its fields holding
// Modules, and the dotted paths ("features.0.weight") are the state-dict keys, so checkpoints
// move between kiln and PyTorch unchanged.
import { noGrad } from '../autograd/backward.js';
import { assign } from './assign.js';
import { KilnError, ShapeError, shapeStr } from '../errors.js';
import { parseDevice, type DeviceLike } from '../tensor/device.js';
import { isFloating, type DType } from '../tensor/dtype.js';
import { tidy, unscope } from '../tensor/memory.js';
import { Tensor } from '../tensor/tensor.js';

/**
 * A trainable tensor: a leaf with requiresGrad that a Module registers as a parameter. It shares
 * the storage of the tensor it was made from, and lives outside every tidy scope (its module owns it).
 */
export class Parameter extends Tensor {
  constructor(data: Tensor, requiresGrad = true) {
    if (!(data instanceof Tensor)) throw new KilnError('Parameter: expects a Tensor');
    if (requiresGrad && !isFloating(data.dtype)) throw new KilnError(`Parameter: only float tensors can be trained, got ${data.dtype}`);
    // Optimizers update parameters in place with dense kernels: keep them contiguous.
    const src = data.isContiguous() && data.offset === 0 && data.storage.numel === data.numel() ? data : data.clone();
    super(src.storage, src.shape, src.strides, src.offset, src.dtype);
    if (src !== data) src.dispose();
    unscope(this);
    this.requiresGrad = requiresGrad;
  }
}

export interface StateDictLoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

export type StateDict = Record<string, Tensor>;

type AnyModule = Module<any[], any>;

// Each module's own buffer names, with whether each goes into the state dict. Kept outside the
// instances (not a #private field) so that clone() can give a copy its own table.
const bufferTable = new WeakMap<object, Map<string, boolean>>();
function buffersOf(m: object): Map<string, boolean> {
  let t = bufferTable.get(m);
  if (!t) bufferTable.set(m, (t = new Map()));
  return t;
}

/** Base class of every layer. Subclasses declare fields and implement forward(). */
export abstract class Module<In extends unknown[] = [Tensor], Out = Tensor> {
  /** Training mode (dropout active, batch statistics) or evaluation mode. */
  training = true;

  abstract forward(...args: In): Out;

  /** Runs forward(); the JS spelling of PyTorch's model(x). */
  call(...args: In): Out {
    return this.forward(...args);
  }

  // ------------------------------------------------------------------ registration

  /** Adds (or replaces) a parameter under `name`; null registers an absent one (e.g. no bias). */
  registerParameter(name: string, value: Tensor | null): void {
    checkName(name, this);
    (this as any)[name] = value === null || value instanceof Parameter ? value : new Parameter(value);
  }

  /** Adds a buffer: state saved in the state dict (unless persistent is false) but not trained. */
  registerBuffer(name: string, value: Tensor | null, persistent = true): void {
    checkName(name, this);
    if (value) unscope(value);
    buffersOf(this).set(name, persistent);
    (this as any)[name] = value;
  }

  registerModule(name: string, module: AnyModule | null): void {
    checkName(name, this);
    (this as any)[name] = module;
  }

  /** This module's own (name, child) pairs in definition order. */
  *namedChildren(): Generator<[string, AnyModule]> {
    for (const [k, v] of Object.entries(this)) if (v instanceof Module) yield [k, v];
  }

  *children(): Generator<AnyModule> {
    for (const [, m] of this.namedChildren()) yield m;
  }

  /** This module and every descendant, depth first, with dotted names ('' for this one). */
  *namedModules(prefix = ''): Generator<[string, AnyModule]> {
    const seen = new Set<AnyModule>();
    function* walk(m: AnyModule, p: string): Generator<[string, AnyModule]> {
      if (seen.has(m)) return;
      seen.add(m);
      yield [p, m];
      for (const [k, c] of m.namedChildren()) yield* walk(c, p ? `${p}.${k}` : k);
    }
    yield* walk(this, prefix);
  }

  *modules(): Generator<AnyModule> {
    for (const [, m] of this.namedModules()) yield m;
  }

  /** This module's own parameters (not its children's). */
  *ownParameters(): Generator<[string, Parameter]> {
    for (const [k, v] of Object.entries(this)) if (v instanceof Parameter) yield [k, v];
  }

  *ownBuffers(): Generator<[string, Tensor, boolean]> {
    for (const [k, persistent] of buffersOf(this)) {
      const v = (this as any)[k];
      if (v instanceof Tensor) yield [k, v, persistent];
    }
  }

  /** Every parameter with its dotted name; shared parameters are listed once. */
  namedParameters(opts: { prefix?: string; recurse?: boolean } = {}): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    const seen = new Set<Tensor>();
    const mods: [string, AnyModule][] = opts.recurse === false ? [[opts.prefix ?? '', this]] : [...this.namedModules(opts.prefix ?? '')];
    for (const [p, m] of mods) {
      for (const [k, v] of m.ownParameters()) {
        if (seen.has(v)) continue;
        seen.add(v);
        out.push([p ? `${p}.${k}` : k, v]);
      }
    }
    return out;
  }

  parameters(recurse = true): Parameter[] {
    return this.namedParameters({ recurse }).map(([, p]) => p);
  }

  namedBuffers(opts: { prefix?: string; recurse?: boolean } = {}): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const mods: [string, AnyModule][] = opts.recurse === false ? [[opts.prefix ?? '', this]] : [...this.namedModules(opts.prefix ?? '')];
    for (const [p, m] of mods) for (const [k, v] of m.ownBuffers()) out.push([p ? `${p}.${k}` : k, v]);
    return out;
  }

  buffers(recurse = true): Tensor[] {
    return this.namedBuffers({ recurse }).map(([, b]) => b);
  }

  /** The number of trainable elements (shared parameters counted once). */
  numParameters(onlyTrainable = false): number {
    return this.parameters().reduce((n, p) => n + (!onlyTrainable || p.requiresGrad ? p.numel() : 0), 0);
  }

  // ------------------------------------------------------------------ state

  /**
   * Parameters and persistent buffers by dotted name, in definition order. The tensors are
   * detached aliases sharing the module's storage (clone them to snapshot the weights).
   */
  stateDict(opts: { keepVars?: boolean } = {}): StateDict {
    const sd: StateDict = {};
    for (const [p, m] of this.namedModules()) {
      const pre = p ? `${p}.` : '';
      for (const [k, v] of m.ownParameters()) sd[pre + k] = opts.keepVars ? v : v.detach();
      for (const [k, v, persistent] of m.ownBuffers()) if (persistent) sd[pre + k] = opts.keepVars ? v : v.detach();
    }
    return sd;
  }

  /**
   * Copies tensors into the parameters and buffers with the same names (casting dtypes, in place,
   * so optimizers keep their references). With strict (the default), missing or unexpected keys
   * throw; shapes must always match.
   */
  loadStateDict(sd: StateDict | Map<string, Tensor>, opts: { strict?: boolean } = {}): StateDictLoadResult {
    const strict = opts.strict ?? true;
    const entries = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const own = this.stateDict({ keepVars: true });
    const missingKeys = Object.keys(own).filter((k) => !entries.has(k));
    const unexpectedKeys = [...entries.keys()].filter((k) => !(k in own));
    if (strict && (missingKeys.length || unexpectedKeys.length)) {
      const parts: string[] = [];
      if (missingKeys.length) parts.push(`missing keys: ${missingKeys.join(', ')}`);
      if (unexpectedKeys.length) parts.push(`unexpected keys: ${unexpectedKeys.join(', ')}`);
      throw new KilnError(`loadStateDict: ${parts.join('; ')}`);
    }
    const errors: string[] = [];
    for (const [k, target] of Object.entries(own)) {
      const src = entries.get(k);
      if (!src) continue;
      if (!(src instanceof Tensor)) {
        errors.push(`${k}: expected a Tensor`);
        continue;
      }
      if (src.shape.length !== target.shape.length || src.shape.some((s, i) => s !== target.shape[i])) {
        errors.push(`${k}: checkpoint shape ${shapeStr(src.shape)} != model shape ${shapeStr(target.shape)}`);
      }
    }
    if (errors.length) throw new ShapeError(`loadStateDict: size mismatch: ${errors.join('; ')}`);
    noGrad(() => {
      for (const [k, target] of Object.entries(own)) {
        const src = entries.get(k);
        if (!src) continue;
        const moved = src.device === target.device ? src : src.to({ device: target.device });
        assign(target, moved);
        if (moved !== src) moved.dispose();
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  // ------------------------------------------------------------------ modes, devices, traversal

  /** Sets training mode on this module and every descendant. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Calls fn on every descendant and then on this module (PyTorch's order). */
  apply(fn: (m: AnyModule) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }

  /**
   * Moves (or casts) parameters and buffers. Parameters are replaced by new Parameter objects:
   * create optimizers after calling to().
   */
  to(target: DeviceLike | DType | { device?: DeviceLike; dtype?: DType }): this {
    const spec = typeof target === 'string'
      ? (['float32', 'float64', 'int32', 'bool'].includes(target) ? { dtype: target as DType } : { device: target })
      : target;
    if (spec.device !== undefined) parseDevice(spec.device, 'Module.to');
    for (const m of this.modules()) {
      for (const [k, p] of [...m.ownParameters()]) {
        const dtype = spec.dtype && isFloating(p.dtype) ? spec.dtype : undefined;
        const moved = p.to({ device: spec.device, dtype });
        if (moved === p) continue;
        const np = noGrad(() => new Parameter(moved, p.requiresGrad));
        moved.dispose();
        (m as any)[k] = np;
        p.dispose();
      }
      for (const [k, b] of [...m.ownBuffers()]) {
        const dtype = spec.dtype && isFloating(b.dtype) ? spec.dtype : undefined;
        const moved = b.to({ device: spec.device, dtype });
        if (moved === b) continue;
        unscope(moved);
        (m as any)[k] = moved;
        b.dispose();
      }
    }
    return this;
  }

  /**
   * A deep copy (PyTorch's copy.deepcopy of a module): the same class and settings with copies of
   * every parameter and buffer, so the copy trains independently. Parameters and modules shared
   * inside the tree stay shared in the copy. Arrays and plain objects are copied; other values
   * (functions, class instances that are not modules or tensors) are shared. The copy is made
   * without running constructors, so a layer class that keeps state in #private fields cannot be
   * cloned (use ordinary fields).
   */
  clone(): this {
    return noGrad(() => cloneValue(this, new Map())) as this;
  }

  /** Sets requiresGrad on every parameter (freezing or unfreezing the module). */
  requiresGrad_(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad_(flag);
    return this;
  }

  /** Clears the gradients of every parameter (disposing them). */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Frees every parameter and buffer of this module tree. */
  dispose(): void {
    for (const m of this.modules()) {
      for (const [, p] of m.ownParameters()) {
        p.grad?.dispose();
        p.dispose();
      }
      for (const [, b] of m.ownBuffers()) b.dispose();
    }
  }

  // ------------------------------------------------------------------ printing

  /** One line of configuration shown after the class name, e.g. "in=784, out=256". */
  extraRepr(): string {
    return '';
  }

  /** A tree of the layers with their settings, and the parameter count. */
  toString(): string {
    const body = this.describe('');
    const total = this.numParameters();
    const trainable = this.numParameters(true);
    const counts = trainable === total ? `${fmtCount(total)} parameters` : `${fmtCount(total)} parameters (${fmtCount(trainable)} trainable)`;
    return `${body}\n${counts}`;
  }

  private describe(indent: string): string {
    const name = this.constructor.name;
    const extra = this.extraRepr();
    const kids = [...this.namedChildren()];
    if (kids.length === 0) return `${name}(${extra})`;
    const inner = indent + '  ';
    const lines = kids.map(([k, m]) => {
      const n = m.numParameters();
      const count = n > 0 ? `  # ${fmtCount(n)}` : '';
      return `${inner}(${k}): ${m.describe(inner)}${count}`;
    });
    return `${name}(${extra ? extra + '\n' : '\n'}${lines.join('\n')}\n${indent})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

function cloneValue(v: unknown, memo: Map<unknown, unknown>): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (memo.has(v)) return memo.get(v);
  let out: unknown;
  if (v instanceof Parameter) {
    const data = v.clone();
    out = new Parameter(data, v.requiresGrad);
    data.dispose();
  } else if (v instanceof Tensor) {
    const copy = v.clone();
    unscope(copy);
    out = copy;
  } else if (v instanceof Module) {
    const m = Object.create(Object.getPrototypeOf(v)) as AnyModule;
    memo.set(v, m);
    bufferTable.set(m, new Map(buffersOf(v)));
    for (const k of Reflect.ownKeys(v)) {
      const d = Object.getOwnPropertyDescriptor(v, k)!;
      if ('value' in d) d.value = cloneValue(d.value, memo);
      Object.defineProperty(m, k, d);
    }
    return m;
  } else if (Array.isArray(v)) {
    const copy: unknown[] = [];
    memo.set(v, copy);
    for (const x of v) copy.push(cloneValue(x, memo));
    return copy;
  } else if (Object.getPrototypeOf(v) === Object.prototype) {
    // Plain records (options, tables of weights) are copied so that tensors inside them are too.
    const copy: Record<string, unknown> = {};
    memo.set(v, copy);
    for (const [k, x] of Object.entries(v)) copy[k] = cloneValue(x, memo);
    return copy;
  } else {
    out = v;
  }
  memo.set(v, out);
  return out;
}

function checkName(name: string, m: object): void {
  if (typeof name !== 'string' || name === '' || name.includes('.')) {
    throw new KilnError(`register: invalid name '${String(name)}' (non-empty, without dots)`);
  }
  if (name in m && !Object.prototype.hasOwnProperty.call(m, name)) {
    throw new KilnError(`register: '${name}' is already a method or property of ${m.constructor.name}`);
  }
}

function fmtCount(n: number): string {
  return n.toLocaleString('en-US');
}

// ------------------------------------------------------------------ containers

/** Runs its children in order, each on the previous one's output. Children are named 0, 1, ... */
export class Sequential extends Module<[Tensor], Tensor> {
  constructor(...layers: AnyModule[]) {
    super();
    layers.forEach((m, i) => this.registerModule(String(i), m));
  }

  get length(): number {
    return [...this.namedChildren()].length;
  }

  at(i: number): AnyModule {
    const kids = [...this.children()];
    const m = kids[i < 0 ? i + kids.length : i];
    if (!m) throw new KilnError(`Sequential: index ${i} out of range for ${kids.length} layers`);
    return m;
  }

  append(m: AnyModule): this {
    this.registerModule(String(this.length), m);
    return this;
  }

  /** Each layer's output is freed once the next layer has used it (only the last one is returned). */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      let out = x;
      for (const m of this.children()) out = m.forward(out);
      return out;
    });
  }

  [Symbol.iterator](): Iterator<AnyModule> {
    return this.children();
  }
}

/** A list of modules registered as children 0, 1, ...; it has no forward of its own. */
export class ModuleList<M extends AnyModule = AnyModule> extends Module<[], never> {
  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  get length(): number {
    return [...this.namedChildren()].length;
  }

  at(i: number): M {
    const kids = [...this.children()] as M[];
    const m = kids[i < 0 ? i + kids.length : i];
    if (!m) throw new KilnError(`ModuleList: index ${i} out of range for ${kids.length} modules`);
    return m;
  }

  append(m: M): this {
    this.registerModule(String(this.length), m);
    return this;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.children() as Iterator<M>;
  }

  forward(): never {
    throw new KilnError('ModuleList has no forward(); iterate over it instead');
  }
}

/** Modules by name, registered as children under those names. */
export class ModuleDict<M extends AnyModule = AnyModule> extends Module<[], never> {
  constructor(modules: Record<string, M> | Iterable<[string, M]> = {}) {
    super();
    const entries = Symbol.iterator in modules ? [...(modules as Iterable<[string, M]>)] : Object.entries(modules);
    for (const [k, m] of entries) this.set(k, m);
  }

  get(key: string): M | undefined {
    const v = (this as any)[key];
    return v instanceof Module ? (v as M) : undefined;
  }

  set(key: string, m: M): this {
    this.registerModule(key, m);
    return this;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  keys(): string[] {
    return [...this.namedChildren()].map(([k]) => k);
  }

  entries(): [string, M][] {
    return [...this.namedChildren()] as [string, M][];
  }

  forward(): never {
    throw new KilnError('ModuleDict has no forward(); index it instead');
  }
}
