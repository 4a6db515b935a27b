// The npm start example, run as a user would (scripts/example.mjs), on a small slice of MNIST.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import { repoRoot } from '../helpers/node-script.js';

const out = mkdtempSync(join(tmpdir(), 'kiln-example-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('examples/mnist.ts', () => {
  it('trains the MLP on 3,000 MNIST images, reports test accuracy, writes the weights and the curves', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'example.mjs'), 'mnist', '--model', 'mlp', '--epochs', '1',
      '--train-limit', '3000', '--batch-size', '100', '--out', out, '--quiet'], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const acc = /test accuracy ([\d.]+)%/.exec(r.stdout);
    expect(acc, r.stdout).not.toBeNull();
    expect(Number(acc![1])).toBeGreaterThan(80);
    const weights = join(out, 'model.safetensors');
    expect(existsSync(weights)).toBe(true);
    const { tensors, metadata } = kiln.loadFile(weights);
    expect(metadata.model).toBe('mlp');
    expect(tensors['1.weight'].shape).toEqual([256, 784]);
    const png = PNG.sync.read(readFileSync(join(out, 'training-curves.png')));
    expect(png.width).toBeGreaterThan(100);
    expect(r.stdout).toContain(weights);
  });
});
