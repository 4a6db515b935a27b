// nn.LSTM on CUDA through cuDNN's RNN (lib/nn/functional/lstm-cudnn.ts): outputs, final states
// and every gradient equal those of the fused-cell path (kiln.backends.cudnn.rnn = false) on the
// same device and those of the CPU, for one and two layers, bidirectional, batch-first, float32
// and float64; the cuDNN ops really ran; second derivatives still work (they fall back to the
// recorded-ops formulation).
import { afterEach, describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import { lstmCudnnCalls } from '../../lib/nn/functional/lstm-cudnn.js';
import { expectRnnStepsLeakNothing } from '../helpers/nn.js';
import { available, dev, fake, rng, title } from './helpers.js';

const { nn } = kiln;
type Tensor = kiln.Tensor;
type DType = 'float32' | 'float64';

interface Config {
  layers: number;
  bidirectional: boolean;
  batchFirst: boolean;
}

const T = 5, B = 3, I = 4, H = 6;

function values(n: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => 2 * r() - 1);
}

const arr = (v: Tensor): number[] => Array.from(v.dataSync() as ArrayLike<number>);

/** Outputs and gradients of one forward + backward() on `device`, with the cuDNN path on or off. */
function runOnce(cfg: Config, dtype: DType, device: 'cpu' | 'cuda', cudnn: boolean): Map<string, number[]> {
  const saved = kiln.backends.cudnn.rnn;
  kiln.backends.cudnn.rnn = cudnn;
  try {
    kiln.manualSeed(11);
    const m = new nn.LSTM(I, H, { numLayers: cfg.layers, bidirectional: cfg.bidirectional, batchFirst: cfg.batchFirst, dtype });
    m.to(device);
    const dirs = cfg.bidirectional ? 2 : 1;
    const xShape = cfg.batchFirst ? [B, T, I] : [T, B, I];
    const sShape = [cfg.layers * dirs, B, H];
    const make = (shape: number[], seed: number, grad: boolean) =>
      kiln.tensor(values(shape.reduce((a, b) => a * b, 1), seed), { shape, dtype, device, requiresGrad: grad });
    const x = make(xShape, 1, true), h0 = make(sShape, 2, true), c0 = make(sShape, 3, true);
    const outShape = cfg.batchFirst ? [B, T, dirs * H] : [T, B, dirs * H];
    const r1 = make(outShape, 4, false), r2 = make(sShape, 5, false), r3 = make(sShape, 6, false);
    const [out, [hN, cN]] = m.forward(x, [h0, c0]);
    out.mul(r1).sum().add(hN.mul(r2).sum()).add(cN.mul(r3).sum()).backward();
    const result = new Map<string, number[]>([
      ['output', arr(out)],
      ['hN', arr(hN)],
      ['cN', arr(cN)],
      ['x.grad', arr(x.grad!)],
      ['h0.grad', arr(h0.grad!)],
      ['c0.grad', arr(c0.grad!)],
    ]);
    for (const [name, p] of m.namedParameters()) result.set(`${name}.grad`, arr(p.grad!));
    return result;
  } finally {
    kiln.backends.cudnn.rnn = saved;
  }
}

function expectSame(want: Map<string, number[]>, got: Map<string, number[]>, rtol: number, atol: number, label: string): void {
  expect([...got.keys()], label).toEqual([...want.keys()]);
  for (const [name, w] of want) {
    const g = got.get(name)!;
    expect(g.length, `${label} ${name}`).toBe(w.length);
    for (let i = 0; i < w.length; i++) {
      if (!(Math.abs(g[i] - w[i]) <= atol + rtol * Math.abs(w[i])))
        expect.fail(`${label} ${name}[${i}]: ${g[i]} vs ${w[i]} (rtol ${rtol}, atol ${atol})`);
    }
  }
}

const CONFIGS: [string, Config][] = [
  ['1 layer', { layers: 1, bidirectional: false, batchFirst: false }],
  ['2 layers', { layers: 2, bidirectional: false, batchFirst: false }],
  ['2 layers, bidirectional', { layers: 2, bidirectional: true, batchFirst: false }],
  ['bidirectional, batchFirst', { layers: 1, bidirectional: true, batchFirst: true }],
];

describe.skipIf(!available)(title('LSTM through cuDNN'), () => {
  afterEach(() => {
    kiln.backends.cudnn.rnn = true;
  });

  it('the switch is on by default', () => {
    expect(kiln.backends.cudnn.rnn).toBe(true);
  });

  for (const dtype of ['float32', 'float64'] as DType[]) {
    const rtol = dtype === 'float32' ? 1e-4 : 1e-9;
    const atol = dtype === 'float32' ? 1e-5 : 1e-11;
    for (const [name, cfg] of CONFIGS) {
      it(`${name}, ${dtype}: outputs and gradients equal the fused-cell path and the CPU`, () => {
        const before = { ...lstmCudnnCalls };
        const viaCudnn = runOnce(cfg, dtype, dev, true);
        const layers = cfg.layers * (cfg.bidirectional ? 2 : 1);
        // On the CPU (KILN_CUDA_FAKE) the cuDNN path never applies.
        expect(lstmCudnnCalls.forward - before.forward).toBe(fake ? 0 : layers);
        expect(lstmCudnnCalls.backward - before.backward).toBe(fake ? 0 : layers);
        const mid = { ...lstmCudnnCalls };
        const fused = runOnce(cfg, dtype, dev, false);
        expect(lstmCudnnCalls).toEqual(mid);
        const cpu = runOnce(cfg, dtype, 'cpu', true);
        expectSame(fused, viaCudnn, rtol, atol, 'cuDNN vs fused cell');
        expectSame(cpu, viaCudnn, rtol, atol, 'cuDNN vs CPU');
      });
    }
  }

  it('inference (no gradient) runs cuDNN too and matches the CPU', () => {
    const before = lstmCudnnCalls.forward;
    const outs = (device: 'cpu' | 'cuda') =>
      kiln.noGrad(() => {
        kiln.manualSeed(12);
        const m = new nn.LSTM(I, H, { numLayers: 2 });
        m.to(device);
        const x = kiln.tensor(values(T * B * I, 7), { shape: [T, B, I], device });
        const [out, [hN, cN]] = m.forward(x);
        return [arr(out), arr(hN), arr(cN)];
      });
    const gpu = outs(dev);
    expect(lstmCudnnCalls.forward - before).toBe(fake ? 0 : 2);
    const cpu = outs('cpu');
    for (let k = 0; k < 3; k++) for (let i = 0; i < cpu[k].length; i++) expect(Math.abs(gpu[k][i] - cpu[k][i])).toBeLessThan(1e-4 + 1e-4 * Math.abs(cpu[k][i]));
  });

  it('a second backward pass (retainGraph) and second derivatives fall back and agree with the CPU', () => {
    const secondOrder = (device: 'cpu' | 'cuda') => {
      kiln.manualSeed(13);
      const m = new nn.LSTM(I, H, { dtype: 'float64' });
      m.to(device);
      const ws = m.parameters().map((p) => p.detach());
      const f = (x: Tensor) => {
        const [o, h, c] = nn.functional.rnnForward(x, [{ wIh: ws[0], wHh: ws[1], bIh: ws[2], bHh: ws[3] }], {
          mode: 'LSTM', hiddenSize: H, numLayers: 1, bidirectional: false, dropout: 0, training: false,
        });
        return o.square().sum().add(h.sum()).add(c!.square().sum());
      };
      const x = kiln.tensor(values(T * B * I, 8), { shape: [T, B, I], dtype: 'float64', device });
      // d/dx of |df/dx|^2: the inner gradient is recorded, so its VJP is differentiated again.
      const g2 = kiln.grad((xx: Tensor) => (kiln.grad(f)(xx) as Tensor).square().sum())(x) as Tensor;
      return arr(g2);
    };
    const want = secondOrder('cpu');
    const got = secondOrder(dev);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-8 + 1e-8 * Math.abs(want[i]));

    // retainGraph: the first backward uses the cuDNN reserve, the second the recorded ops.
    const twice = (device: 'cpu' | 'cuda') => {
      kiln.manualSeed(14);
      const m = new nn.LSTM(I, H, { dtype: 'float64' });
      m.to(device);
      const x = kiln.tensor(values(T * B * I, 9), { shape: [T, B, I], dtype: 'float64', device, requiresGrad: true });
      const loss = m.forward(x)[0].square().sum();
      loss.backward(undefined, { retainGraph: true });
      const first = arr(x.grad!);
      loss.backward();
      return [first, arr(x.grad!)];
    };
    const [cpu1, cpu2] = twice('cpu');
    const [gpu1, gpu2] = twice(dev);
    for (let i = 0; i < cpu1.length; i++) {
      expect(Math.abs(gpu1[i] - cpu1[i])).toBeLessThan(1e-9 + 1e-9 * Math.abs(cpu1[i]));
      expect(Math.abs(gpu2[i] - cpu2[i])).toBeLessThan(1e-9 + 1e-9 * Math.abs(cpu2[i]));
    }
  });

  it('training steps leak no tensors (the reserve is freed by the backward pass)', () => {
    const m = new nn.LSTM(4, 4, { numLayers: 2, bidirectional: true });
    m.to(dev);
    expectRnnStepsLeakNothing(m, kiln.randn([5, 3, 4]).to(dev));
  });

  it('the native ops refuse bad operands with shape and dtype errors', () => {
    if (fake) return;  // the ops exist on CUDA only
    const t32 = (shape: number[]) => kiln.zeros(shape, { device: dev });
    const x = t32([T, B, I]), h = t32([B, H]);
    const lstmSeq = (ins: Tensor[]) =>
      kiln.tidy(() => nn.functional.rnnForward(ins[0], [{ wIh: ins[1], wHh: ins[2], bIh: null, bHh: null }], {
        mode: 'LSTM', hiddenSize: H, numLayers: 1, bidirectional: false, dropout: 0, training: false,
      }, ins[3], ins[4]));
    // A weight of the wrong shape is reported by the op's check, not by cuDNN.
    expect(() => lstmSeq([x, t32([4 * H, I + 1]), t32([4 * H, H]), h.unsqueeze(0), h.unsqueeze(0)])).toThrow(kiln.ShapeError);
    expect(() =>
      lstmSeq([x, kiln.zeros([4 * H, I], { device: dev, dtype: 'float64' }), t32([4 * H, H]), h.unsqueeze(0), h.unsqueeze(0)]),
    ).toThrow();
  });
});
