// Timing (tinybench) and the data helpers every suite needs.
import { Bench } from 'tinybench';

/**
 * Times one function with tinybench and returns latency statistics in milliseconds.
 * Runs at least `iterations` times and at least `time` ms after a warmup of `warmup` ms (by
 * default a short one). `estimate` (ms for one call, e.g. from the correctness check) trims the
 * minimum for slow calls, so a 1024³ matmul in plain JS costs seconds, not a minute, and fast
 * calls still get many samples.
 * @param {string} name
 * @param {() => unknown} fn sync or async
 * @param {{ time?: number, iterations?: number, estimate?: number, warmup?: number }} [opts]
 */
export async function measure(name, fn, { time = 500, iterations = 5, estimate = 0, warmup = Math.min(200, time / 2) } = {}) {
  const slow = estimate > time / 2;
  const bench = new Bench({
    time,
    iterations: slow ? 3 : iterations,
    warmupTime: warmup,
    warmupIterations: slow ? 1 : 2,
    throws: true,
  });
  bench.add(name, fn);
  await bench.run();
  const r = bench.tasks[0].result;
  if (r.state !== 'completed') throw r.error ?? new Error(`${name}: benchmark ${r.state}`);
  const l = r.latency;
  return { mean: l.mean, p50: l.p50, min: l.min, rme: l.rme, samples: l.samplesCount };
}

/** Deterministic uniform floats in [-1, 1) (mulberry32), the same for every engine. */
export function uniform(n, seed = 1) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

export function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return NaN;
    if (d > m) m = d;
  }
  return m;
}

export const sizeOf = (shape) => shape.reduce((a, b) => a * b, 1);
