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

/** Called by every Tensor constructor. */
export function track(t: Disposable, storage: Storage, token: object): void {
  liveTensors++;
  storage.retain();
  registry.register(t, storage, token);
  const scope = scopes[scopes.length - 1];
  if (scope) scope.add(t);
}

/** Called by Tensor.dispose() exactly once per tensor. */
export function untrack(storage: Storage, token: object): void {
  liveTensors--;
  registry.unregister(token);
  storage.release();
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
  for (let i = scopes.length - 1; i >= 0; i--) if (scopes[i].delete(t)) return;
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
    throw new TypeError('tidy: fn must be synchronous (it returned a Promise)');
  }
  const kept = new Set<Disposable>();
  forEachTensor(result, (t) => kept.add(t));
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (kept.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}
