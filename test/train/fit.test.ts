// fit() on small real data (Iris): convergence, validation, early stopping with best-weights
// restore, checkpoints, schedules, hyper-parameter search, and the PNG of the curves.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import { fixture } from '../helpers/node-script.js';
import { vals } from '../helpers/nn.js';

const { nn, optim, data, train } = kiln;
const dir = mkdtempSync(join(tmpdir(), 'kiln-fit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function iris() {
  const rows = readFileSync(fixture('iris/iris.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
  const x = kiln.tensor(rows.map((r) => r.slice(0, 4)));
  const y = kiln.tensor(Int32Array.from(rows.map((r) => r[4])));
  const std = data.fitStandardizer(x);
  const ds = new data.TensorDataset(std.apply(x), y);
  return data.randomSplit(ds, [120, 30], 7);
}

const mlp = () => new nn.Sequential(new nn.Linear(4, 16), new nn.Tanh(), new nn.Linear(16, 3));

describe('fit on Iris', () => {
  it('converges: validation accuracy above 90% within 60 epochs; history and progress lines', () => {
    kiln.manualSeed(0);
    const [tr, va] = iris();
    const model = mlp();
    const before = kiln.memory().tensors;
    const history = train.fit(model, {
      train: new data.DataLoader(tr, { batchSize: 16, shuffle: true, seed: 1 }),
      val: new data.DataLoader(va, { batchSize: 30 }),
      loss: 'crossEntropy',
      optimizer: new optim.Adam(model.parameters(), { lr: 0.01 }),
      epochs: 60,
      metrics: ['accuracy'],
      progress: 'silent',
    });
    expect(history.epochs.length).toBe(60);
    expect(history.values.val_accuracy[59]).toBeGreaterThan(0.9);
    expect(history.values.loss[59]).toBeLessThan(history.values.loss[0] / 3);
    expect(Object.keys(history.epochs[0])).toEqual(['epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy', 'lr', 'seconds']);
    // No tensors leak across 60 epochs (optimizer state was created in the first step).
    expect(kiln.memory().tensors - before).toBeLessThanOrEqual(2 * model.parameters().length + 1);
    const ev = train.evaluate(model, new data.DataLoader(va, { batchSize: 7 }), 'crossEntropy', ['accuracy']);
    expect(ev.accuracy).toBeCloseTo(history.values.val_accuracy[59], 6);
  });

  it('early stopping restores the best weights; checkpoints are written on improvement', () => {
    kiln.manualSeed(1);
    const [tr, va] = iris();
    const model = mlp();
    const stopper = new train.EarlyStopping({ monitor: 'val_loss', patience: 3 });
    const ckpt = new train.ModelCheckpoint({ path: join(dir, 'best.safetensors'), monitor: 'val_loss' });
    let snapshotAtBest: Record<string, number[]> = {};
    const history = train.fit(model, {
      train: new data.DataLoader(tr, { batchSize: 8, shuffle: true, seed: 2 }),
      val: new data.DataLoader(va, { batchSize: 30 }),
      loss: 'crossEntropy',
      // A learning rate high enough to overfit and wander, so that validation loss stops improving.
      optimizer: new optim.SGD(model.parameters(), { lr: 0.5, momentum: 0.9 }),
      epochs: 200,
      callbacks: [stopper, ckpt, {
        onEpochEnd: (ctx) => {
          if (ctx.epoch === stopper.bestEpoch) snapshotAtBest = Object.fromEntries(Object.entries(ctx.model.stateDict()).map(([k, v]) => [k, vals(v)]));
        },
      }],
      progress: 'silent',
    });
    expect(history.stoppedEarly).toBe(true);
    expect(history.epochs.length).toBeLessThan(200);
    expect(history.bestEpoch).toBe(stopper.bestEpoch);
    const best = Math.min(...history.values.val_loss);
    expect(history.values.val_loss[stopper.bestEpoch - 1]).toBe(best);
    for (const [k, v] of Object.entries(model.stateDict())) expect(vals(v)).toEqual(snapshotAtBest[k]);
    const saved = kiln.loadFile(join(dir, 'best.safetensors'));
    expect(Number(saved.metadata.epoch)).toBe(stopper.bestEpoch);
    for (const [k, v] of Object.entries(saved.tensors)) expect(vals(v)).toEqual(snapshotAtBest[k]);
  });

  it('steps an epoch schedule and ReduceLROnPlateau', () => {
    const [tr, va] = iris();
    const model = mlp();
    const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
    const h = train.fit(model, {
      train: new data.DataLoader(tr, { batchSize: 32 }), loss: 'crossEntropy', optimizer: opt, epochs: 4,
      scheduler: new optim.StepLR(opt, 2, 0.5), progress: 'silent',
    });
    expect(h.values.lr).toEqual([0.1, 0.1, 0.05, 0.05]);
    const opt2 = new optim.SGD(model.parameters(), { lr: 1e-6 });
    const h2 = train.fit(model, {
      train: new data.DataLoader(tr, { batchSize: 32 }), val: new data.DataLoader(va, { batchSize: 30 }), loss: 'crossEntropy',
      optimizer: opt2, epochs: 4, scheduler: new optim.ReduceLROnPlateau(opt2, { patience: 0, factor: 0.5 }), progress: 'silent',
    });
    expect(h2.values.lr[3]).toBeLessThan(1e-6);
  });

  it('gridSearch and randomSearch pick the best configuration on the validation split', () => {
    const [tr, va] = iris();
    const common = {
      train: new data.DataLoader(tr, { batchSize: 16, shuffle: true, seed: 3 }),
      val: new data.DataLoader(va, { batchSize: 30 }),
      loss: 'crossEntropy' as const,
      epochs: 8,
      metrics: ['accuracy'],
      monitor: 'val_accuracy',
    };
    const build = (p: { lr: number; hidden: number }) => {
      kiln.manualSeed(5);
      const m = new nn.Sequential(new nn.Linear(4, p.hidden), new nn.ReLU(), new nn.Linear(p.hidden, 3));
      return { model: m, optimizer: new optim.Adam(m.parameters(), { lr: p.lr }) };
    };
    const grid = train.gridSearch({ lr: [1e-5, 0.03], hidden: [4, 16] }, { ...common, build });
    expect(grid.results.length).toBe(4);
    expect(grid.best.params.lr).toBe(0.03);
    expect(grid.best.score).toBeGreaterThan(0.8);
    const rnd = train.randomSearch({ lr: { min: 1e-3, max: 0.1, log: true }, hidden: [8, 16] }, { ...common, build, trials: 3, seed: 9 });
    expect(rnd.results.length).toBe(3);
    expect(rnd.results[0].score).toBeGreaterThanOrEqual(rnd.results[2].score);
    for (const r of rnd.results) expect(r.params.lr).toBeGreaterThanOrEqual(1e-3);
  });

  it('plots the history as a PNG with both curves', () => {
    const history: kiln.train.History = {
      epochs: [], stoppedEarly: false, bestEpoch: null,
      values: { loss: [1, 0.6, 0.4, 0.35], val_loss: [1.1, 0.7, 0.5, 0.52], accuracy: [0.5, 0.7, 0.8, 0.85], val_accuracy: [0.45, 0.66, 0.78, 0.8] },
    };
    const path = join(dir, 'curves.png');
    train.plotHistory(history, path, { title: 'iris' });
    const png = PNG.sync.read(readFileSync(path));
    expect([png.width, png.height]).toEqual([960, 420]);
    // The train (blue) and validation (orange) colours both appear.
    let blue = 0, orange = 0;
    for (let i = 0; i < png.data.length; i += 4) {
      if (png.data[i] === 31 && png.data[i + 1] === 119 && png.data[i + 2] === 180) blue++;
      if (png.data[i] === 255 && png.data[i + 1] === 127 && png.data[i + 2] === 14) orange++;
    }
    expect(blue).toBeGreaterThan(200);
    expect(orange).toBeGreaterThan(200);
  });
});
