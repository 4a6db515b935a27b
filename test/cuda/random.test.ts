// The same seed and offset give bit-identical random tensors on CPU and CUDA (philox.h transforms
// in exact double arithmetic on both sides).
import { describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import { LAYOUTS, OTHER, SHAPE, available, dev, expectParity, fake, title, twins, type Layout } from './helpers.js';

type T = kiln.Tensor;
type DType = kiln.DType;
const K = kiln as unknown as Record<string, (...args: unknown[]) => T>;

describe.skipIf(!available)(title('CUDA random streams'), () => {
  describe('random: the same seed gives bit-identical draws on both devices', () => {
    const draws: [string, (device: 'cpu' | 'cuda') => T][] = [
      ['rand float32', (device) => kiln.rand([1001], { device })],
      ['rand float64 [-3, 5)', (device) => kiln.rand([999], { dtype: 'float64', device, low: -3, high: 5 })],
      ['randn float32', (device) => kiln.randn([4099], { device })],
      ['randn float64 mean 2 std 3', (device) => kiln.randn([1003], { dtype: 'float64', device, mean: 2, std: 3 })],
      ['bernoulli bool', (device) => kiln.bernoulli(0.3, [5000], { dtype: 'bool', device })],
      ['bernoulli float32', (device) => kiln.bernoulli(0.7, [77], { device })],
      ['randint int32', (device) => kiln.randint(-5, 1000, [3001], { device })],
      ['randint float64 wide', (device) => kiln.randint(-(2 ** 31), 2 ** 31, [100], { dtype: 'float64', device })],
    ];
    for (const [name, draw] of draws) {
      it(name, () => {
        kiln.manualSeed(20240607);
        const c = [draw('cpu'), draw('cpu')];
        kiln.manualSeed(20240607);
        const g = [draw(dev), draw(dev)];
        for (let i = 0; i < 2; i++) {
          const a = new Uint8Array((c[i].dataSync() as Float32Array).buffer.slice(0));
          const b = new Uint8Array((g[i].dataSync() as Float32Array).buffer.slice(0));
          expect(Buffer.compare(Buffer.from(a), Buffer.from(b)), `${name} draw ${i}`).toBe(0);
        }
      });
    }
    it('a large normal draw (many blocks and threads) matches too', () => {
      kiln.manualSeed(7);
      const c = kiln.randn([1 << 20]);
      kiln.manualSeed(7);
      const g = kiln.randn([1 << 20], { device: dev });
      expect(Buffer.compare(Buffer.from((c.dataSync() as Float32Array).buffer), Buffer.from((g.dataSync() as Float32Array).buffer))).toBe(0);
    });
  });
});
