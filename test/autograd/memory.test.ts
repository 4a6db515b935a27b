// The engine frees what it records: saved tensors are released by backward, and repeated
// training-like iterations do not grow memory.
import { describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';

describe('autodiff memory', () => {
  it('a backward pass leaves no live tensors beyond the gradients', () => {
    const w = kiln.randn([8, 4], { requiresGrad: true });
    const before = kiln.memory();
    kiln.tidy(() => {
      const x = kiln.randn([16, 8]);
      const loss = x.matmul(w).tanh().softmax(-1).log().mean();
      loss.backward();
    });
    const after = kiln.memory();
    expect(after.tensors).toBe(before.tensors + 1); // w.grad
    expect(after.cpu.storages).toBe(before.cpu.storages + 1);
    w.grad!.dispose();
  });
  it('functional grad leaves only its result', () => {
    const x = kiln.randn([5]);
    const before = kiln.memory();
    const g = kiln.grad((t: Tensor) => t.exp().mul(t.sin()).sum())(x) as Tensor;
    expect(kiln.memory().tensors).toBe(before.tensors + 1);
    g.dispose();
    expect(kiln.memory().tensors).toBe(before.tensors);
    expect(kiln.memory().cpu.bytes).toBe(before.cpu.bytes);
  });
  it('1,000 forward/backward iterations do not grow kiln.memory()', () => {
    const w = kiln.randn([16, 16], { requiresGrad: true });
    const x = kiln.randn([4, 16]);
    const step = () =>
      kiln.tidy(() => {
        const loss = x.matmul(w).relu().sum();
        loss.backward();
        kiln.noGrad(() => w.copy_(w.sub(w.grad!.mul(1e-3))));
        w.grad!.dispose();
        w.grad = null;
      });
    for (let i = 0; i < 10; i++) step();
    const before = kiln.memory();
    for (let i = 0; i < 1000; i++) step();
    const after = kiln.memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.cpu.bytes).toBe(before.cpu.bytes);
  });
});
