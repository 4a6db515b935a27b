// A native storage handle shared by every view of it. Views are TS objects over one Storage;
// the handle is freed when the last view is disposed or garbage collected.
import { addon, call } from '../backend/native.js';
import type { Device } from './device.js';
import type { DType } from './dtype.js';

export class Storage {
  refs = 0;
  /** How many autodiff nodes keep this storage for their backward pass (the in-place guard). */
  savedBy = 0;
  constructor(
    readonly handle: number,
    readonly dtype: DType,
    readonly device: Device,
    readonly numel: number,
  ) {}

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs === 0) call(() => addon.free(this.handle));
  }
}
