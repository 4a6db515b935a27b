// Typed errors. Every message names the op and the shapes or values at fault, e.g.
// `matmul: shapes [3,4] and [5,6] cannot be multiplied (4 != 5)`.

export class KilnError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
export class ShapeError extends KilnError {}
export class DTypeError extends KilnError {}
export class DeviceError extends KilnError {}
export class IndexError extends KilnError {}
export class MemoryError extends KilnError {}

const byCode: Record<string, new (message: string) => KilnError> = {
  KilnError,
  ShapeError,
  DTypeError,
  DeviceError,
  IndexError,
  MemoryError,
};

/** Turns an exception thrown by the native addon (which carries `code`) into a typed error. */
export function fromNative(e: unknown): unknown {
  if (e instanceof KilnError) return e;
  if (e instanceof Error) {
    const Ctor = byCode[(e as Error & { code?: string }).code ?? ''];
    if (Ctor) return new Ctor(e.message);
  }
  return e;
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
