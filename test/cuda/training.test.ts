// End to end on CUDA: a model moved with module.to(), trained from a DataLoader over CUDA tensors
// with each optimizer, follows the same loss trajectory as the same run on the CPU; the state
// dict saves from CUDA and loads back. The per-kernel parity lives in the other files here.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import { available, dev, rng, title } from './helpers.js';

const { nn, optim } = kiln;
type Model = kiln.nn.Module<any, any>;

/** Same seed, same weights: builds the model on the CPU, and a copy moved to `device`. */
function twinModels(make: () => Model): [Model, Model] {
  kiln.manualSeed(7);
  const cpu = make();
  const gpu = make();
  gpu.loadStateDict(cpu.stateDict());
  gpu.to(dev);
  return [cpu, gpu];
}

function data(n: number, features: number[], classes: number, seed: number): [number[], number[]] {
  const r = rng(seed);
  const size = features.reduce((a, b) => a * b, 1);
  return [Array.from({ length: n * size }, () => 2 * r() - 1), Array.from({ length: n }, () => Math.floor(r() * classes))];
}

/** Trains both twins for `steps` minibatches; returns the two loss curves. */
function trainTwins(
  make: () => Model,
  makeOpt: (params: kiln.Tensor[]) => kiln.optim.Optimizer<any>,
  features: number[],
  steps = 6,
): [number[], number[]] {
  const [cpu, gpu] = twinModels(make);
  const [xs, ys] = data(32, features, 10, 99);
  const curves: number[][] = [];
  for (const [model, device] of [[cpu, 'cpu'], [gpu, dev]] as const) {
    const x = kiln.tensor(xs, { shape: [32, ...features], device });
    const y = kiln.tensor(ys, { dtype: 'int32', device });
    const loader = new kiln.data.DataLoader(new kiln.data.TensorDataset(x, y), { batchSize: 8, shuffle: true, seed: 3 });
    const opt = makeOpt(model.parameters());
    const losses: number[] = [];
    for (let epoch = 0; losses.length < steps; epoch++) {
      for (const [bx, by] of loader) {
        if (losses.length >= steps) break;
        expect(bx.device).toBe(device === 'cpu' ? 'cpu' : x.device);
        losses.push(
          kiln.tidy(() => {
            opt.zeroGrad();
            const loss = nn.functional.crossEntropy(model.forward(bx), by);
            loss.backward();
            opt.step();
            return loss.item();
          }),
        );
      }
    }
    for (const p of model.parameters()) expect(p.device).toBe(device === 'cpu' ? 'cpu' : x.device);
    curves.push(losses);
    opt.dispose();
    x.dispose();
    y.dispose();
  }
  cpu.dispose();
  gpu.dispose();
  return [curves[0], curves[1]];
}

function expectSameCurve(cpu: number[], gpu: number[], tol = 2e-4): void {
  expect(gpu.length).toBe(cpu.length);
  for (let i = 0; i < cpu.length; i++) expect(Math.abs(gpu[i] - cpu[i]), `step ${i}: cpu ${cpu[i]} cuda ${gpu[i]}`).toBeLessThan(tol * Math.max(1, Math.abs(cpu[i])));
  expect(cpu[cpu.length - 1]).toBeLessThan(cpu[0]); // it learned something
}

const mlp = () => new nn.Sequential(new nn.Linear(20, 32), new nn.ReLU(), new nn.Linear(32, 10));
const cnn = () =>
  new nn.Sequential(
    new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(4, 8, 3), new nn.ReLU(), new nn.AdaptiveAvgPool2d(1), new nn.Flatten(), new nn.Linear(8, 10));

describe.skipIf(!available)(title('training on CUDA'), () => {
  const optimizers: [string, (p: kiln.Tensor[]) => kiln.optim.Optimizer<any>][] = [
    ['SGD momentum nesterov', (p) => new optim.SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4 })],
    ['Adam', (p) => new optim.Adam(p, { lr: 1e-2 })],
    ['AdamW amsgrad', (p) => new optim.AdamW(p, { lr: 1e-2, amsgrad: true })],
    ['Adagrad', (p) => new optim.Adagrad(p, { lr: 0.1 })],
    ['RMSprop centered', (p) => new optim.RMSprop(p, { lr: 1e-2, centered: true, momentum: 0.5 })],
  ];
  for (const [name, makeOpt] of optimizers) {
    it(`an MLP trained with ${name} on CUDA follows the CPU's loss curve`, () => {
      const [cpu, gpu] = trainTwins(mlp, makeOpt, [20]);
      expectSameCurve(cpu, gpu);
    });
  }

  it('a CNN (conv, batch norm, max and adaptive pooling) trains on CUDA as on the CPU', () => {
    const [cpu, gpu] = trainTwins(cnn, (p) => new optim.Adam(p, { lr: 1e-2 }), [1, 12, 12]);
    expectSameCurve(cpu, gpu, 1e-3);
  });

  it('an LSTM and a GRU classifier train on CUDA as on the CPU', () => {
    for (const Cell of [nn.LSTM, nn.GRU]) {
      class Net extends nn.Module<[kiln.Tensor], kiln.Tensor> {
        rnn = new Cell(6, 12, { batchFirst: true, numLayers: 2, bidirectional: true });
        head = new nn.Linear(24, 10);
        forward(x: kiln.Tensor): kiln.Tensor {
          const [out] = this.rnn.forward(x) as [kiln.Tensor, unknown];
          return this.head.forward(out.select(1, -1));
        }
      }
      const [cpu, gpu] = trainTwins(() => new Net(), (p) => new optim.Adam(p, { lr: 1e-2 }), [5, 6]);
      expectSameCurve(cpu, gpu, 1e-3);
    }
  });

  it('eval mode (dropout off, batch norm running stats) gives the CPU result on CUDA', () => {
    const make = () => new nn.Sequential(new nn.Linear(20, 16), new nn.BatchNorm1d(16), new nn.Dropout(0.5), new nn.Linear(16, 10));
    const [cpu, gpu] = twinModels(make);
    const [xs] = data(16, [20], 10, 5);
    kiln.tidy(() => {
      // a few training-mode passes move the running statistics on both devices
      for (let i = 0; i < 3; i++) {
        kiln.noGrad(() => cpu.forward(kiln.tensor(xs, { shape: [16, 20] })));
        kiln.noGrad(() => gpu.forward(kiln.tensor(xs, { shape: [16, 20], device: dev })));
      }
      cpu.eval();
      gpu.eval();
      const a = kiln.noGrad(() => cpu.forward(kiln.tensor(xs, { shape: [16, 20] }))).dataSync() as Float32Array;
      const b = kiln.noGrad(() => gpu.forward(kiln.tensor(xs, { shape: [16, 20], device: dev }))).dataSync() as Float32Array;
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(a[i])));
      const rmCpu = cpu.stateDict()['1.running_var'].dataSync() as Float32Array;
      const rmGpu = gpu.stateDict()['1.running_var'].dataSync() as Float32Array;
      for (let i = 0; i < rmCpu.length; i++) expect(Math.abs(rmCpu[i] - rmGpu[i])).toBeLessThan(1e-5);
    });
    cpu.dispose();
    gpu.dispose();
  });

  // Made when the suite runs (a skipped suite must not leave an empty folder behind).
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-cuda-io-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a CUDA model saves to safetensors and loads back onto CUDA with the same outputs', () => {
    const [, gpu] = twinModels(mlp);
    const path = join(dir, 'mlp.safetensors');
    kiln.save(gpu.stateDict(), path);
    const loaded = kiln.load(path, { device: dev });
    for (const t of Object.values(loaded)) expect(t.device).toBe(gpu.parameters()[0].device);
    const copy = mlp().to(dev);
    copy.loadStateDict(loaded);
    const [xs] = data(4, [20], 10, 8);
    kiln.tidy(() => {
      const x = kiln.tensor(xs, { shape: [4, 20], device: dev });
      const a = kiln.noGrad(() => gpu.forward(x)).dataSync();
      const b = kiln.noGrad(() => copy.forward(x)).dataSync();
      expect(Array.from(b as Float32Array)).toEqual(Array.from(a as Float32Array));
    });
    for (const t of Object.values(loaded)) t.dispose();
    gpu.dispose();
    copy.dispose();
  });
});
