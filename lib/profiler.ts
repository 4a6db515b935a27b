// An op-level profiler: kiln.profile(fn) runs fn and reports, per native op, how many times it
// ran and how long it took. With { synchronize: true } (the default on CUDA) each op waits for
// its device, so the times are the ops' own device times plus launch, not just the host's
// enqueueing: slower than a normal run, but it says where the time goes.
import { addon } from './backend/native.js';
import { KilnError } from './errors.js';
import { deviceCode, type Device } from './tensor/device.js';

export interface OpProfile {
  /** The native op, e.g. 'matmul', 'conv', 'adamStep'. */
  op: string;
  calls: number;
  /** Milliseconds in total. */
  totalMs: number;
}

export interface ProfileReport<T> {
  result: T;
  /** Wall time of the whole call, milliseconds. */
  wallMs: number;
  /** Per op, most time first. */
  ops: OpProfile[];
  /** The ops as a text table (op, calls, total ms, mean µs, share). */
  table(limit?: number): string;
}

interface Recorder {
  synchronize: boolean;
  byShape: boolean;
  byOp: Map<string, OpProfile>;
}
let recorder: Recorder | null = null;

/** Whether exec calls should be timed (read by lib/ops/kernel.ts on every call). */
export function profiling(): boolean {
  return recorder !== null;
}

/** Whether the profile keys ops by their input shapes too. */
export function profilingByShape(): boolean {
  return recorder?.byShape ?? false;
}

/** Times one native call (`op`: its name, or name and shapes) whose operands live on `device`. */
export function timeOp<T>(op: string, device: Device, run: () => T): T {
  const r = recorder!;
  const t0 = performance.now();
  const out = run();
  if (r.synchronize && device !== 'cpu') addon.synchronize(deviceCode(device));
  const dt = performance.now() - t0;
  let rec = r.byOp.get(op);
  if (!rec) r.byOp.set(op, (rec = { op, calls: 0, totalMs: 0 }));
  rec.calls++;
  rec.totalMs += dt;
  return out;
}

/**
 * Runs fn (synchronously) and reports the time of each native op it ran. Profiles do not nest.
 *   const { table } = kiln.profile(() => step());  console.log(table());
 * byShape: one row per op and input shapes (e.g. 'matmul [128,784] [784,256]').
 */
export function profile<T>(fn: () => T, opts: { synchronize?: boolean; byShape?: boolean } = {}): ProfileReport<T> {
  if (recorder) throw new KilnError('kiln.profile: a profile is already running');
  recorder = { synchronize: opts.synchronize ?? true, byShape: opts.byShape ?? false, byOp: new Map() };
  const r = recorder;
  const t0 = performance.now();
  let result: T;
  try {
    result = fn();
  } finally {
    recorder = null;
  }
  const wallMs = performance.now() - t0;
  const ops = [...r.byOp.values()].sort((a, b) => b.totalMs - a.totalMs);
  const table = (limit = 25) => {
    const sum = ops.reduce((s, o) => s + o.totalMs, 0);
    const rows = [['op', 'calls', 'total ms', 'mean us', 'share'], ...ops.slice(0, limit).map((o) => [
      o.op, String(o.calls), o.totalMs.toFixed(3), ((o.totalMs / o.calls) * 1e3).toFixed(1), `${((100 * o.totalMs) / (sum || 1)).toFixed(1)}%`,
    ])];
    const w = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
    const lines = rows.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  '));
    return [...lines, `ops ${sum.toFixed(3)} ms of ${wallMs.toFixed(3)} ms wall`].join('\n');
  };
  return { result: result!, wallMs, ops, table };
}
