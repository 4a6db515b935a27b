// kiln in worker_threads: two workers load the addon and compute at the same time with correct
// results; handles never cross threads (a foreign handle is an error, not a crash); workers can
// come and go repeatedly. Workers import the compiled package (dist/, built by global-setup).
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';

import * as kiln from '../lib/index.js';
import { assertDistBuilt, distEntry, fixture } from './helpers/node-script.js';

interface Result {
  M: number;
  K: number;
  N: number;
  maxErr: number;
  maxErr32: number;
  sumErr: number;
  rowErr: number;
}
type Msg = { type: string; [k: string]: unknown };

class Client {
  readonly worker: Worker;
  private queue: Msg[] = [];
  private waiters: ((m: Msg) => void)[] = [];
  error: Error | null = null;
  exitCode: number | null = null;
  constructor(seed: number, iterations: number) {
    this.worker = new Worker(fixture('compute-worker.mjs'), { workerData: { dist: distEntry, seed, iterations } });
    this.worker.on('message', (m: Msg) => {
      const w = this.waiters.shift();
      if (w) w(m);
      else this.queue.push(m);
    });
    this.worker.on('error', (e) => (this.error = e));
    this.worker.on('exit', (c) => (this.exitCode = c));
  }
  next(timeoutMs = 60_000): Promise<Msg> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`worker timed out (error: ${this.error}, exit: ${this.exitCode})`)), timeoutMs);
      this.waiters.push((msg) => {
        clearTimeout(t);
        resolve(msg);
      });
      this.worker.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
  }
  send(m: Msg) {
    this.worker.postMessage(m);
  }
  async close(): Promise<void> {
    this.send({ type: 'exit' });
    await new Promise<void>((r) => (this.exitCode !== null ? r() : this.worker.once('exit', () => r())));
  }
}

function checkResults(results: Result[]) {
  expect(results.length).toBeGreaterThan(0);
  for (const r of results) {
    expect(r.maxErr, `float64 ${r.M}x${r.K}x${r.N}`).toBeLessThan(1e-12);
    expect(r.maxErr32, `float32 ${r.M}x${r.K}x${r.N}`).toBeLessThan(1e-3);
    expect(r.sumErr).toBeLessThan(1e-9);
    expect(r.rowErr).toBeLessThan(1e-12);
  }
}

beforeAll(() => assertDistBuilt());

describe('worker threads', () => {
  it('two workers compute matmuls and reductions at the same time, correctly', async () => {
    const a = new Client(1, 12), b = new Client(2, 12);
    const [ra, rb] = await Promise.all([a.next(), b.next()]);
    expect(ra.type).toBe('ready');
    expect(rb.type).toBe('ready');
    a.send({ type: 'go' });
    b.send({ type: 'go' });
    // the main thread computes too while the workers run
    const main = kiln.tidy(() => kiln.ones([64, 64], { dtype: 'float64' }).matmul(kiln.ones([64, 64], { dtype: 'float64' })).sum().item());
    expect(main).toBe(64 * 64 * 64);
    const [da, db] = await Promise.all([a.next(), b.next()]);
    expect(da.type).toBe('done');
    expect(db.type).toBe('done');
    checkResults(da.results as Result[]);
    checkResults(db.results as Result[]);
    await Promise.all([a.close(), b.close()]);
    expect(a.error).toBeNull();
    expect(b.error).toBeNull();
  }, 120_000);

  it('a handle from another thread is rejected with an error, in both directions', async () => {
    const a = new Client(3, 1), b = new Client(4, 1);
    const [ra, rb] = await Promise.all([a.next(), b.next()]);
    const handleA = ra.handle as number, handleB = rb.handle as number;

    // main thread -> worker
    const t = kiln.tensor([1, 2, 3]);
    a.send({ type: 'foreign', handle: t.storage.handle });
    const fa = await a.next();
    expect(fa.read).toMatch(/^KilnError: .*(another thread|environment)/);
    expect(fa.exec).toMatch(/^KilnError: .*(another thread|environment)/);
    expect(fa.tensor).toMatch(/^KilnError: /);
    expect(fa.mineIntact).toBe(true);

    // worker A -> worker B
    b.send({ type: 'foreign', handle: handleA });
    const fb = await b.next();
    expect(fb.read).toMatch(/^KilnError: .*(another thread|environment)/);
    expect(fb.exec).toMatch(/^KilnError: .*(another thread|environment)/);
    expect(fb.mineIntact).toBe(true);

    // worker -> main thread
    for (const h of [handleA, handleB]) {
      let err: (Error & { code?: string }) | undefined;
      try {
        kiln.native.read(h, 0, 1);
      } catch (e) {
        err = e as Error & { code?: string };
      }
      expect(err?.code).toBe('KilnError');
      expect(err?.message).toMatch(/another thread|environment/);
      expect(kiln.native.free(h)).toBe(false);
      const foreign = kiln.Tensor.fromHandle(h, [3], 'float32', 'cpu');
      expect(() => foreign.dataSync()).toThrow(kiln.KilnError);
      foreign.dispose();
    }
    // the owners still read their own data
    expect(Array.from(t.dataSync())).toEqual([1, 2, 3]);
    a.send({ type: 'foreign', handle: handleA + 0 }); // its own handle works in its own thread
    const own = await a.next();
    expect(own.read).toBe('returned');
    t.dispose();
    await Promise.all([a.close(), b.close()]);
  }, 60_000);

  it('workers can be created and torn down repeatedly (environment cleanup)', async () => {
    for (let gen = 0; gen < 3; gen++) {
      const ws = [new Client(10 + gen, 2), new Client(20 + gen, 2)];
      await Promise.all(ws.map((w) => w.next()));
      ws.forEach((w) => w.send({ type: 'go' }));
      const done = await Promise.all(ws.map((w) => w.next()));
      for (const d of done) checkResults(d.results as Result[]);
      // terminate without a clean exit message: the addon must free the environment's storages
      await Promise.all(ws.map((w) => w.worker.terminate()));
    }
    // the main thread is unaffected
    expect(kiln.tidy(() => kiln.arange(10).sum().item())).toBe(45);
  }, 120_000);
});
