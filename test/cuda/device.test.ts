// CUDA as a device: gradients computed there against the CPU's, moving tensors (and gradients)
// between devices, errors for mixed devices, out-of-memory survival, ordering of queued work,
// the default device, memory statistics. Skipped, visibly and with the reason, without CUDA.
import { describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import { available, dev, expectParity, fake, title, twins } from './helpers.js';

type T = kiln.Tensor;

// A two-layer MLP with softmax cross-entropy, written with raw ops (no nn layers).
function mlpLoss(x: T, y: T, w1: T, b1: T, w2: T, b2: T): T {
  const h = x.matmul(w1).add(b1).relu();
  const logits = h.matmul(w2).add(b2);
  const logp = logits.logSoftmax(1);
  return logp.gather(1, y.unsqueeze(1)).neg().mean();
}

describe.skipIf(!available)(title('CUDA device behaviour'), () => {
  it('gradients of an MLP loss on CUDA equal the CPU gradients', () => {
    const [x, gx] = twins([32, 20], 'float32', 'contiguous', { seed: 1 });
    const [y, gy] = twins([32], 'int32', 'contiguous', { lo: 0, hi: 10, seed: 2 });
    const [w1, gw1] = twins([20, 16], 'float32', 'permuted', { lo: -0.5, hi: 0.5, seed: 3 });
    const [b1, gb1] = twins([16], 'float32', 'contiguous', { lo: -0.1, hi: 0.1, seed: 4 });
    const [w2, gw2] = twins([16, 10], 'float32', 'contiguous', { lo: -0.5, hi: 0.5, seed: 5 });
    const [b2, gb2] = twins([10], 'float32', 'strided', { lo: -0.1, hi: 0.1, seed: 6 });
    const f = (...p: T[]) => mlpLoss(p[0], p[1], p[2], p[3], p[4], p[5]);
    const cpuGrads = kiln.grad((p1: T, p2: T, p3: T, p4: T) => mlpLoss(x, y, p1, p2, p3, p4), [0, 1, 2, 3])(w1, b1, w2, b2) as T[];
    const gpuGrads = kiln.grad((p1: T, p2: T, p3: T, p4: T) => mlpLoss(gx, gy, p1, p2, p3, p4), [0, 1, 2, 3])(gw1, gb1, gw2, gb2) as T[];
    const names = ['w1', 'b1', 'w2', 'b2'];
    for (let i = 0; i < 4; i++) expectParity(cpuGrads[i], gpuGrads[i], `d loss / d ${names[i]}`, { rtol: 1e-4, atol: 1e-6 });
    expectParity(f(x, y, w1, b1, w2, b2), f(gx, gy, gw1, gb1, gw2, gb2), 'loss', { rtol: 1e-5 });
  });

  it('loss.backward() on CUDA fills p.grad on CUDA; second derivatives agree', () => {
    const [p, gp] = twins([7, 5], 'float64', 'contiguous', { seed: 7 });
    const cpu = p.clone().requiresGrad_();
    const gpu = gp.clone().requiresGrad_();
    cpu.sin().mul(cpu).sum().backward();
    gpu.sin().mul(gpu).sum().backward();
    if (!fake) expect(gpu.grad!.device).toBe('cuda:0');
    expectParity(cpu.grad!, gpu.grad!, 'backward');
    const h = (t: T) => kiln.grad((z: T) => kiln.grad((w: T) => w.tanh().pow(3).sum())(z).sum())(t) as T;
    expectParity(h(p), h(gp), 'grad of grad', { rtol: 1e-10, atol: 1e-12 });
  });

  it('to(): values round-trip, and gradients flow back across devices', () => {
    const [x] = twins([4, 3], 'float32', 'strided', { seed: 8 });
    const g = x.to(dev);
    expect(Array.from(g.cpu().dataSync())).toEqual(Array.from(x.dataSync()));
    if (!fake) expect(Array.from(x.cuda().cpu().dataSync())).toEqual(Array.from(x.dataSync()));
    // A CPU parameter used on CUDA: its gradient comes back to the CPU.
    const w = kiln.tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const loss = w.to(dev).square().sum();
    loss.backward();
    expect(w.grad!.device).toBe('cpu');
    expect(w.grad!.arraySync()).toEqual([[2, 4], [6, 8]]);
  });

  it('mixing devices in one op is a DeviceError naming both', () => {
    if (fake) return;
    const a = kiln.ones([3]);
    const b = kiln.ones([3], { device: 'cuda' });
    expect(() => a.add(b)).toThrow(kiln.DeviceError);
    expect(() => a.add(b)).toThrow(/cpu.*cuda:0|cuda:0.*cpu/);
    expect(() => a.matmul(b.reshape([3, 1]))).toThrow(/cpu.*cuda:0|cuda:0.*cpu/);
    expect(() => kiln.where(b.gt(0), a, a)).toThrow(kiln.DeviceError);
  });

  it('out of memory is a MemoryError, and later allocations work', () => {
    if (fake) return;
    const free = kiln.cuda.memoryStats().deviceTotal;
    // More elements than the device has bytes: passes the shape checks, fails in the allocator.
    expect(() => kiln.zeros([Math.ceil(free / 4) * 2], { device: 'cuda' })).toThrow(kiln.MemoryError);
    expect(() => kiln.ones([2 ** 40], { device: 'cuda' })).toThrow(/out of memory/);
    const x = kiln.ones([1000], { device: 'cuda' });
    expect(x.sum().item()).toBe(1000);
    // A real large allocation after the failure succeeds and frees (an eighth of the device:
    // other test files may be using the same GPU from other processes).
    const big = kiln.zeros([Math.floor(free / 4 / 8)], { device: 'cuda' });
    expect(big.numel()).toBeGreaterThan(0);
    big.dispose();
    kiln.cuda.emptyCache();
    expect(kiln.ones([5], { device: 'cuda' }).sum().item()).toBe(5);
  });

  it('a read after many queued ops sees all of them, in order', () => {
    const x = kiln.zeros([1 << 16], { device: dev });
    kiln.noGrad(() => {
      for (let i = 0; i < 500; i++) x.copy_(x.add(1));
      for (let i = 0; i < 100; i++) x.copy_(x.mul(2).sub(x));
    });
    const v = x.dataSync();
    expect(v[0]).toBe(500);
    expect(v[(1 << 16) - 1]).toBe(500);
    // Uploads queue behind earlier work too.
    const y = kiln.tensor(new Float32Array(1 << 16).fill(3), { device: dev });
    expect(x.add(y).sum().item()).toBe(503 * (1 << 16));
  });

  it('await data() and kiln.cuda.synchronize() wait off the event loop', async () => {
    const x = kiln.rand([1 << 20], { device: dev });
    const s = x.mul(2).sum();
    if (!fake) await kiln.cuda.synchronize();
    const v = await s.data();
    expect(v[0]).toBeGreaterThan(0);
  });

  it('setDefaultDevice makes creation functions use the device', () => {
    kiln.setDefaultDevice(dev);
    try {
      expect(kiln.getDefaultDevice()).toBe(fake ? 'cpu' : 'cuda:0');
      for (const t of [kiln.zeros([2]), kiln.tensor([1, 2]), kiln.rand([3]), kiln.arange(4), kiln.eye(2), kiln.randint(0, 3, [2])]) {
        expect(t.device).toBe(fake ? 'cpu' : 'cuda:0');
      }
    } finally {
      kiln.setDefaultDevice('cpu');
    }
    expect(kiln.zeros([2]).device).toBe('cpu');
  });

  it('device information and memory statistics', () => {
    if (fake) return;
    expect(kiln.cuda.deviceCount()).toBeGreaterThan(0);
    expect(kiln.cuda.deviceName(0)).toMatch(/\S/);
    const before = kiln.cuda.memoryStats();
    const t = kiln.zeros([1 << 24], { device: 'cuda' });
    const during = kiln.cuda.memoryStats();
    expect(during.used).toBeGreaterThanOrEqual(before.used + (1 << 26));
    expect(kiln.memory().cuda[0].bytes).toBeGreaterThanOrEqual(1 << 26);
    t.dispose();
    kiln.cuda.emptyCache();
    expect(kiln.cuda.memoryStats().reserved).toBeLessThanOrEqual(during.reserved);
    expect(kiln.cuda.info().versions).toMatch(/cuBLAS \d+\.\d+/);
    expect(() => kiln.zeros([1], { device: 'cuda:99' })).toThrow(/cuda:99 does not exist/);
  });
});
