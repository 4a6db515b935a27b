// Loads the native addon and wraps its calls. This is the only module that talks to native code.
//
// exec protocol (see native/napi/addon.cpp): one Float64Array, registered once, carries
//   [nOut, nIn, operand..., nAttrs, attr...]
// with each operand [handle, dtype, device, ndim, offset, shape..., strides...]; a zero output
// handle asks the addon to allocate the output, and the new handle is written back in place.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { fromNative } from '../errors.js';

export interface NativeMemory {
  handles: number;
  cpu: { bytes: number; storages: number };
  cuda: { bytes: number; storages: number }[];
}

export interface NativeAddon {
  init(args: Float64Array): { ops: string[]; maxDims: number };
  exec(opId: number): void;
  fromBuffer(data: ArrayBufferView, dtype: number, device: number): number;
  read(handle: number, offset: number, count: number): ArrayBuffer;
  share(handle: number): number;
  free(handle: number): boolean;
  storageInfo(handle: number): [number, number, number];
  memory(): NativeMemory;
  synchronize(device: number): void;
  numThreads(): number;
  setNumThreads(n: number): void;
  setFlushDenormal(on: boolean): void;
  getFlushDenormal(): boolean;
  cpuInfo(): { features: string; gemmKernel: string; threads: number };
  cudaStatus(): NativeCudaStatus;
  cudaDeviceInfo(index: number): { name: string; totalMemory: number; major: number; minor: number; multiprocessors: number };
  cudaMemoryStats(index: number): NativeCudaMemory;
  cudaEmptyCache(index: number): void;
  cudaSetOption(name: string, value: number): void;
  /** Bytes the lstmSequence op's reserve output needs (device code, dtype code, sizes, flags). */
  lstmReserveBytes(device: number, dtype: number, T: number, B: number, I: number, H: number, flags: number): number;
  synchronizeAsync(device: number): Promise<void>;
}

export interface NativeCudaStatus {
  available: boolean;
  /** Why CUDA cannot be used (null when it can). */
  reason: string | null;
  deviceCount: number;
  /** The kiln_cuda plugin that was loaded, if one was found. */
  plugin: string | null;
  /** CUDA runtime, driver, cuBLAS and cuDNN versions (null when unavailable). */
  versions: string | null;
}

/** Bytes. The pool is the cudaMallocAsync pool kiln allocates from. */
export interface NativeCudaMemory {
  reserved: number;
  used: number;
  peakReserved: number;
  peakUsed: number;
  deviceFree: number;
  deviceTotal: number;
}

/** The package root: the nearest folder above this file whose package.json is kiln's. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'kiln') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('kiln: cannot find the package root (package.json named "kiln")');
    dir = parent;
  }
}

function loadAddon(): { addon: NativeAddon; path: string } {
  const root = packageRoot();
  const require = createRequire(join(root, 'package.json'));
  const nodeGypBuild = require('node-gyp-build') as ((dir: string) => NativeAddon) & { path(dir: string): string };
  try {
    const path = nodeGypBuild.path(root);
    return { addon: require(path) as NativeAddon, path };
  } catch (e) {
    // node-gyp-build looks in build/Release (a source build) first, then prebuilds/<platform>-<arch>.
    throw new Error(
      `kiln: the native addon could not be loaded (${(e as Error).message.trim()}).\n` +
        `kiln ships prebuilt binaries for linux-x64, linux-arm64, darwin-arm64, darwin-x64 and win32-x64 (glibc Linux); ` +
        `elsewhere the install script builds one, unless install scripts were skipped (--ignore-scripts).\n` +
        `Build it from source with \`npx kiln build\` (or \`node ${join(root, 'scripts', 'install.mjs')}\`); ` +
        `it needs a C++17 compiler and CMake 3.18+. \`npx kiln doctor\` reports what was found.`,
    );
  }
}

const loaded = loadAddon();
export const addon: NativeAddon = loaded.addon;
export const addonPath: string = loaded.path;

// One registration per thread: the ESM build and the CommonJS bundle are separate module
// instances, but `require` hands both the same addon object, and init() keeps only the last
// buffer it was given. So the first instance registers its buffer on the addon and any later one
// (an app that imports kiln while a dependency requires it) reuses it instead of taking it over.
type Registered = NativeAddon & { kilnRegistration?: { args: Float64Array; info: { ops: string[]; maxDims: number } } };
const registered = addon as Registered;
if (!registered.kilnRegistration) {
  const buffer = new Float64Array(8192);
  registered.kilnRegistration = { args: buffer, info: addon.init(buffer) };
}
/** The argument buffer exec() reads; sized for 16 operands of 16 dims plus attributes. */
export const args: Float64Array = registered.kilnRegistration.args;
const info = registered.kilnRegistration.info;
export const opIds: Record<string, number> = Object.fromEntries(info.ops.map((name, i) => [name, i]));

export function opId(name: string): number {
  const id = opIds[name];
  if (id === undefined) throw new Error(`kiln: the native addon has no op '${name}'`);
  return id;
}

/** Waits (off the event loop) until a CUDA device has run everything queued on it. */
export async function synchronizeDevice(device: string): Promise<void> {
  const m = /^cuda:(\d+)$/.exec(device);
  if (!m) return;
  try {
    await call(() => addon.synchronizeAsync(256 + Number(m[1])));
  } catch (e) {
    throw fromNative(e);
  }
}

/** Calls a native function, converting its errors to kiln's typed errors. */
export function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw fromNative(e);
  }
}
