// Devices: 'cpu' or 'cuda[:N]'. Native code sees (type << 8) | index.
import { DeviceError } from '../errors.js';

export type Device = 'cpu' | `cuda:${number}`;
export type DeviceLike = Device | 'cuda' | string;

export function parseDevice(d: DeviceLike, op = 'device'): Device {
  if (d === 'cpu') return 'cpu';
  if (d === 'cuda') return 'cuda:0';
  const m = /^cuda:(\d+)$/.exec(String(d));
  if (m) return `cuda:${Number(m[1])}`;
  throw new DeviceError(`${op}: unknown device '${String(d)}' (expected 'cpu', 'cuda' or 'cuda:N')`);
}

export function deviceCode(d: Device): number {
  if (d === 'cpu') return 0;
  return 256 + Number(d.slice(5));
}

let defaultDevice: Device = 'cpu';

/** Where creation functions (tensor, zeros, rand ...) put tensors when no device is given. */
export function setDefaultDevice(d: DeviceLike): void {
  defaultDevice = parseDevice(d, 'setDefaultDevice');
}

export function getDefaultDevice(): Device {
  return defaultDevice;
}
