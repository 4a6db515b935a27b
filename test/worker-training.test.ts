// Training in worker_threads, the way applications (and Electron apps) keep their main thread
// free: two workers each load kiln and train a model (nn.Sequential of nn.Linear, optim.Adam) at
// the same time and get exactly the losses of the same run on the main thread; a worker
// terminated mid-training leaves nothing behind and a new one trains normally. And reads copy
// into JS memory (Electron refuses external buffers), checked in behaviour and in the binary's
// imports. Workers import the compiled package (dist/, built by global-setup).
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';

import * as kiln from '../lib/index.js';
import { addonPath } from '../lib/backend/native.js';
// @ts-expect-error plain ES module without types
import { inspectBinary } from '../scripts/binary-check.mjs';
// @ts-expect-error plain ES module without types
import { train } from './fixtures/train-lib.mjs';
import { assertDistBuilt, distEntry, fixture } from './helpers/node-script.js';

interface Msg {
  type: string;
  step?: number;
  loss?: number;
  losses?: number[];
  params?: number[][];
  memory?: { tensors: number; cpu: { bytes: number; storages: number } };
  at: number;
}

class Trainer {
  readonly worker: Worker;
  readonly messages: Msg[] = [];
  private listeners: (() => void)[] = [];
  error: Error | null = null;
  exitCode: number | null = null;
  constructor(seed: number, steps: number, every: number) {
    this.worker = new Worker(fixture('train-worker.mjs'), { workerData: { dist: distEntry, seed, steps, every } });
    const poke = () => this.listeners.forEach((l) => l());
    this.worker.on('message', (m: Msg) => {
      this.messages.push({ ...m, at: performance.now() });
      poke();
    });
    this.worker.on('error', (e) => {
      this.error = e;
      poke();
    });
    this.worker.on('exit', (c) => {
      this.exitCode = c;
      poke();
    });
  }
  /** The first message matching `pred`; rejects if the worker fails or exits first. */
  until(pred: (m: Msg) => boolean, timeoutMs = 90_000): Promise<Msg> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`worker: timed out (${this.messages.length} messages)`)), timeoutMs);
      const check = () => {
        const m = this.messages.find(pred);
        if (m) done(null, m);
        else if (this.error) done(this.error);
        else if (this.exitCode !== null) done(new Error(`worker exited (${this.exitCode}) before the expected message`));
      };
      const done = (e: Error | null, m?: Msg) => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
        if (e) reject(e);
        else resolve(m!);
      };
      this.listeners.push(check);
      check();
    });
  }
  go() {
    this.worker.postMessage({ type: 'go' });
  }
  exited(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.exitCode === null) return;
        this.listeners = this.listeners.filter((l) => l !== check);
        resolve();
      };
      this.listeners.push(check);
      check();
    });
  }
}

beforeAll(() => assertDistBuilt());

describe('training in worker threads', () => {
  it('two workers train at the same time, each exactly like the same run on the main thread', async () => {
    const steps = 150;
    const a = new Trainer(1, steps, 10), b = new Trainer(2, steps, 10);
    await Promise.all([a.until((m) => m.type === 'ready'), b.until((m) => m.type === 'ready')]);
    a.go();
    b.go();
    const [da, db] = await Promise.all([a.until((m) => m.type === 'done'), b.until((m) => m.type === 'done')]);
    // they overlapped: each reported progress before the other finished
    expect(a.messages.find((m) => m.type === 'progress')!.at).toBeLessThan(db.at);
    expect(b.messages.find((m) => m.type === 'progress')!.at).toBeLessThan(da.at);

    const refA = train(kiln, { seed: 1, steps }), refB = train(kiln, { seed: 2, steps });
    expect(da.losses).toEqual(refA.losses);
    expect(db.losses).toEqual(refB.losses);
    expect(da.params).toEqual(refA.params);
    expect(db.params).toEqual(refB.params);
    for (const d of [da, db]) {
      expect(d.losses!.at(-1)!).toBeLessThan(d.losses![0] / 20); // it learned
      expect(d.memory!.cpu.bytes).toBe(0); // and freed everything
    }
    await Promise.all([a.exited(), b.exited()]);
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    expect(a.error ?? b.error).toBeNull();
  }, 180_000);

  it('a worker terminated mid-training leaves nothing behind; a new worker then trains normally', async () => {
    const before = kiln.memory().cpu;
    for (let gen = 0; gen < 2; gen++) {
      const doomed = new Trainer(3 + gen, 1_000_000, 5);
      await doomed.until((m) => m.type === 'ready');
      doomed.go();
      await doomed.until((m) => m.type === 'progress' && m.step! >= 20);
      expect(await doomed.worker.terminate()).toBe(1);
      expect(doomed.error).toBeNull();
    }
    const next = new Trainer(5, 100, 50);
    await next.until((m) => m.type === 'ready');
    next.go();
    const done = await next.until((m) => m.type === 'done');
    expect(done.losses).toEqual(train(kiln, { seed: 5, steps: 100 }).losses);
    expect(done.memory!.cpu.bytes).toBe(0);
    expect(kiln.memory().cpu).toEqual(before);
  }, 180_000);
});

describe('reads copy into JS memory (Electron forbids external buffers)', () => {
  it('read() returns a fresh, transferable ArrayBuffer holding a copy', () => {
    const t = kiln.tensor(new Float32Array([1, 2, 3]));
    const buf = kiln.native.read(t.storage.handle, 0, 3);
    expect(buf).toBeInstanceOf(ArrayBuffer);
    expect(buf.byteLength).toBe(12);
    new Float32Array(buf)[0] = 99; // writing the copy leaves the tensor alone
    expect(Array.from(t.dataSync())).toEqual([1, 2, 3]);
    const again = kiln.native.read(t.storage.handle, 0, 3);
    expect(again).not.toBe(buf);
    // transferable (detaches), like any JS-owned buffer
    const moved = structuredClone(again, { transfer: [again] });
    expect(again.byteLength).toBe(0);
    expect(Array.from(new Float32Array(moved))).toEqual([1, 2, 3]);
    t.dispose();
  });

  it.runIf(process.platform === 'linux' || process.platform === 'darwin')('the addon imports no external-buffer Node-API calls and nothing newer than Node-API 6', () => {
    const r = inspectBinary(addonPath, { napiTarget: 6, staticRuntime: false });
    if (r.skipped) return; // no objdump/nm on this machine
    expect(r.napi.imports.length).toBeGreaterThan(10);
    expect(r.napi.imports).not.toContain('napi_create_external_arraybuffer');
    expect(r.napi.imports).not.toContain('napi_create_external_buffer');
    expect(r.napi.version).toBeLessThanOrEqual(6);
    expect(r.problems).toEqual([]);
  });
});
