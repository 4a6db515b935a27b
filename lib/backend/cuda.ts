// kiln.cuda and kiln.backends.cuda: what the CUDA plugin found, device memory, synchronization,
// and the TF32 switch. Asking anything here loads the plugin (once) if it exists; nothing CUDA is
// loaded before that.
import { DeviceError } from '../errors.js';
import { addon, call, synchronizeDevice, type NativeCudaMemory, type NativeCudaStatus } from './native.js';

let status: NativeCudaStatus | null = null;
function cudaStatus(): NativeCudaStatus {
  status ??= call(() => addon.cudaStatus());
  return status;
}

function checkIndex(index: number, op: string): number {
  if (!Number.isInteger(index) || index < 0) throw new DeviceError(`${op}: device index must be an integer >= 0, got ${index}`);
  const s = cudaStatus();
  if (!s.available) throw new DeviceError(`${op}: CUDA is not available: ${s.reason}`);
  if (index >= s.deviceCount) throw new DeviceError(`${op}: cuda:${index} does not exist (${s.deviceCount} CUDA device(s))`);
  return index;
}

export interface CudaDeviceProperties {
  name: string;
  totalMemory: number;
  major: number;
  minor: number;
  multiprocessors: number;
}

export const cuda = {
  /** True when the plugin, a driver, a device, cuBLAS and cuDNN were all found. */
  isAvailable: (): boolean => cudaStatus().available,
  deviceCount: (): number => cudaStatus().deviceCount,
  /**
   * Why CUDA cannot be used, or null: the plugin was not built, failed to load (with the loader's
   * message), no driver, driver too old, no device, or which library was not found.
   */
  unavailableReason: (): string | null => cudaStatus().reason,
  /** The loaded plugin's path and the CUDA runtime / driver / cuBLAS / cuDNN versions. */
  info: (): { plugin: string | null; versions: string | null } => {
    const s = cudaStatus();
    return { plugin: s.plugin, versions: s.versions };
  },
  deviceName: (index = 0): string => call(() => addon.cudaDeviceInfo(checkIndex(index, 'cuda.deviceName'))).name,
  getDeviceProperties: (index = 0): CudaDeviceProperties =>
    call(() => addon.cudaDeviceInfo(checkIndex(index, 'cuda.getDeviceProperties'))),
  /** Pool memory (reserved by kiln's allocator, used by live tensors, peaks) and device free/total, in bytes. */
  memoryStats: (index = 0): NativeCudaMemory => call(() => addon.cudaMemoryStats(checkIndex(index, 'cuda.memoryStats'))),
  /** Returns the allocator's cached, unused memory to the driver. */
  emptyCache: (index = 0): void => call(() => addon.cudaEmptyCache(checkIndex(index, 'cuda.emptyCache'))),
  /** Resolves when everything queued on the device has run (waits off the event loop). */
  synchronize: async (index = 0): Promise<void> => synchronizeDevice(`cuda:${checkIndex(index, 'cuda.synchronize')}`),
};

let tf32 = false;
let cudnnRnn = true;

/** Backend switches, PyTorch style: kiln.backends.cuda.allowTF32 = true. */
export const backends = {
  cuda: {
    /**
     * Let float32 matmuls use TF32 tensor cores (10-bit mantissa inputs, float32 accumulation):
     * several times faster on Ampere and newer, about 1e-3 relative error. Off by default.
     */
    get allowTF32(): boolean {
      return tf32;
    },
    set allowTF32(on: boolean) {
      tf32 = Boolean(on);
      if (cudaStatus().available) call(() => addon.cudaSetOption('allowTF32', tf32 ? 1 : 0));
    },
  },
  cudnn: {
    /**
     * Run each direction of each LSTM layer on CUDA as cuDNN's RNN (a few library calls per
     * layer instead of a few kernels per time step), for first-order training and inference
     * without a projection. On by default; off, the fused-cell path runs.
     */
    get rnn(): boolean {
      return cudnnRnn;
    },
    set rnn(on: boolean) {
      cudnnRnn = Boolean(on);
    },
  },
};
