// Tensor lifetimes: dispose(), tidy() scopes, and a FinalizationRegistry as the safety net for
// tensors the user forgot. A tensor counts as live from creation until disposed or collected.
import type { Storage } from './storage.js';

export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
}

let liveTensors = 0;
const scopes: Set<Disposable>[] = [];

// Held value: the storage, never the tensor, so registration does not keep the tensor alive.
const registry = new FinalizationRegistry<Storage>((storage) => {
  liveTensors--;
  storage.release();
});

/** What the finalizer needs of a tracked tensor: its storage and its unregister token. */
export interface Tracked extends Disposable {
  readonly storage: Storage;
  /** The FinalizationRegistry token, or null while no finalizer is registered. */
  finalizerToken: object | null;
}

/**
 * Called by every Tensor constructor. A tensor inside a tidy scope is strongly held by the scope
 * (which disposes it), so it gets its finalizer only when it leaves every scope: most tensors
 * live and die inside a step's scope and never pay for a registration.
 */
export function track(t: Tracked, storage: Storage): void {
  liveTensors++;
  storage.retain();
  const scope = scopes[scopes.length - 1];
  if (scope) scope.add(t);
  else orphan(t);
}

/** Registers the finalizer of a tensor no scope holds (once). */
function orphan(t: Disposable): void {
  const tr = t as Tracked;
  if (tr.finalizerToken !== undefined && tr.finalizerToken === null && !t.isDisposed) {
    tr.finalizerToken = {};
    registry.register(tr, tr.storage, tr.finalizerToken);
  }
}

/** Called by Tensor.dispose() exactly once per tensor. */
export function untrack(t: Tracked): void {
  liveTensors--;
  if (t.finalizerToken) registry.unregister(t.finalizerToken);
  t.finalizerToken = null;
  t.storage.release();
}

export function liveTensorCount(): number {
  return liveTensors;
}

/** Exempts tensors from every enclosing tidy scope: the caller now owns them. */
export function keep<T>(value: T): T {
  forEachTensor(value, unscope);
  return value;
}

/** Puts a tensor into the innermost tidy scope (for a value handed back to the caller). */
export function adopt<T extends Disposable>(t: T): T {
  scopes[scopes.length - 1]?.add(t);
  return t;
}

/** Takes one tensor out of every tidy scope (its owner disposes it instead). */
export function unscope(t: Disposable): void {
  for (let i = scopes.length - 1; i >= 0; i--) {
    if (scopes[i].delete(t)) {
      if (!scopes.some((sc) => sc.has(t))) orphan(t);
      return;
    }
  }
}

function forEachTensor(value: unknown, fn: (t: Disposable) => void, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (isDisposable(value)) {
    fn(value);
    return;
  }
  if (Array.isArray(value)) for (const v of value) forEachTensor(v, fn, seen);
  else if (value instanceof Map) for (const v of value.values()) forEachTensor(v, fn, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) forEachTensor(v, fn, seen);
}

function isDisposable(v: object): v is Disposable {
  return typeof (v as Disposable).dispose === 'function' && 'isDisposed' in v;
}

/**
 * Runs fn and disposes every tensor created inside it, except those in its result (a tensor,
 * or arrays / plain objects / Maps of tensors), which move to the enclosing scope.
 * An async fn is not supported: tensors created after its first await would escape the scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) {
    // The async work may still use these tensors: leave them to their finalizers.
    for (const t of scope) orphan(t);
    throw new TypeError('tidy: fn must be synchronous (it returned a Promise)');
  }
  const kept = new Set<Disposable>();
  forEachTensor(result, (t) => kept.add(t));
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (!kept.has(t)) t.dispose();
    else if (parent) parent.add(t);
    else orphan(t);
  }
  return result;
}
