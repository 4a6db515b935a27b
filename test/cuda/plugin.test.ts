// The CUDA plugin on every machine, GPU or not: it was built when nvcc is present, the core loads
// without it, every way of not having CUDA gives a specific reason (plugin missing, plugin not
// loadable, no driver, driver too old, no device), and CPU work is unaffected. The driver cases
// use stand-in libcuda.so.1 files compiled here, put first on LD_LIBRARY_PATH of a child process.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import * as kiln from '../../lib/index.js';
import { addonPath } from '../../lib/backend/native.js';
import { assertDistBuilt, fixture, runNodeScript } from '../helpers/node-script.js';

const pluginFile = join(dirname(addonPath), process.platform === 'darwin' ? 'kiln_cuda.dylib' : 'kiln_cuda.so');
const hasNvcc = spawnSync('nvcc', ['--version'], { stdio: 'ignore' }).status === 0;
const cudaDisabled = (process.env.KILN_CUDA ?? '').toLowerCase() === 'off';
const hasCc = process.platform === 'linux' && spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;

// Every reason the loader and the plugin can give; unavailableReason() must be one of these.
const REASONS = [
  /^kiln was built without the CUDA plugin \(no kiln_cuda\.\S+ at /,
  /^the CUDA plugin failed to load: /,
  /^the CUDA plugin .* is not a kiln plugin/,
  /^the CUDA plugin .* was built for plugin ABI/,
  /^no NVIDIA driver: libcuda\.so\.1 not found/,
  /^the NVIDIA driver is too old/,
  /^the NVIDIA driver \(libcuda\.so\.1\) could not report its version/,
  /^no CUDA device found/,
  /^CUDA initialization failed: /,
  /^library lib\S+\.so\.\d+ not found/,
  /^lib\S+ lacks /,
  /^CUDA plugin loading is not implemented/,
];

interface Status {
  available: boolean;
  reason: string | null;
  info: { plugin: string | null; versions: string | null };
  create: string;
  cpu: number;
}

async function statusWith(env: Record<string, string>): Promise<Status> {
  const r = await runNodeScript(fixture('cuda-status.mjs'), [], { env, timeoutMs: 60_000 });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Status;
}

describe('CUDA plugin and the no-GPU path (runs everywhere)', () => {
  beforeAll(() => assertDistBuilt());

  it.runIf(hasNvcc && !cudaDisabled)('the plugin was built next to kiln.node (nvcc is present)', () => {
    expect(existsSync(pluginFile), `${pluginFile} should exist`).toBe(true);
  });

  it('availability is consistent, and an unavailable CUDA says exactly why', () => {
    const available = kiln.cuda.isAvailable();
    const reason = kiln.cuda.unavailableReason();
    if (available) {
      expect(reason).toBeNull();
      expect(kiln.cuda.deviceCount()).toBeGreaterThan(0);
      return;
    }
    expect(kiln.cuda.deviceCount()).toBe(0);
    expect(REASONS.some((re) => re.test(reason ?? '')), `unexpected reason: ${reason}`).toBe(true);
    if (existsSync(pluginFile)) {
      // The plugin exists, so the reason is about the machine, not the build.
      expect(reason).not.toMatch(/built without/);
      expect(kiln.cuda.info().plugin).toBe(pluginFile);
    }
  });

  it('without CUDA: CUDA tensors are a DeviceError carrying the reason, CPU work is unaffected', () => {
    if (kiln.cuda.isAvailable()) return;
    const reason = kiln.cuda.unavailableReason()!;
    expect(() => kiln.zeros([2], { device: 'cuda' })).toThrow(kiln.DeviceError);
    expect(() => kiln.ones([2]).to('cuda')).toThrow(reason);
    expect(() => kiln.rand([2], { device: 'cuda:1' })).toThrow(kiln.DeviceError);
    expect(() => kiln.cuda.memoryStats()).toThrow(/not available/);
    expect(() => kiln.cuda.deviceName(0)).toThrow(kiln.DeviceError);
    kiln.setDefaultDevice('cuda');
    try {
      expect(() => kiln.zeros([2])).toThrow(kiln.DeviceError);
    } finally {
      kiln.setDefaultDevice('cpu');
    }
    kiln.backends.cuda.allowTF32 = true; // a switch, harmless without a GPU
    expect(kiln.backends.cuda.allowTF32).toBe(true);
    kiln.backends.cuda.allowTF32 = false;
    expect(kiln.ones([2, 2]).mul(3).sum().item()).toBe(12);
  });

  it('a missing plugin file: "built without the CUDA plugin"', async () => {
    assertDistBuilt();
    const s = await statusWith({ KILN_CUDA_PLUGIN: join(tmpdir(), 'no-such-dir', 'kiln_cuda.so') });
    expect(s.available).toBe(false);
    expect(s.reason).toMatch(/^kiln was built without the CUDA plugin/);
    expect(s.create).toMatch(/^DeviceError: .*built without the CUDA plugin/);
    expect(s.cpu).toBe(6);
  });

  it('a file that is not a loadable library: "failed to load" with the loader\'s message', async () => {
    const dir = join(tmpdir(), `kiln-cuda-test-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const bogus = join(dir, 'kiln_cuda.so');
    writeFileSync(bogus, 'not an ELF file\n');
    try {
      const s = await statusWith({ KILN_CUDA_PLUGIN: bogus });
      expect(s.reason).toMatch(/^the CUDA plugin failed to load: .*(invalid ELF header|file too short|not a valid)/);
      expect(s.cpu).toBe(6);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe.runIf(hasCc && existsSync(pluginFile))('driver problems, with stand-in libcuda.so.1 files', () => {
    const root = join(tmpdir(), `kiln-fake-cuda-${process.pid}`);
    afterAll(() => rmSync(root, { recursive: true, force: true }));
    const build = (name: string, src: string): string => {
      const dir = join(root, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'fake.c'), src);
      const r = spawnSync('cc', ['-shared', '-fPIC', '-o', join(dir, 'libcuda.so.1'), join(dir, 'fake.c')], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return dir;
    };

    it('a driver older than the plugin\'s CUDA: "driver is too old"', async () => {
      const dir = build('old', 'int cuDriverGetVersion(int* v) { *v = 12020; return 0; }\n');
      const s = await statusWith({ LD_LIBRARY_PATH: dir, KILN_CUDA_PLUGIN: pluginFile });
      expect(s.reason).toMatch(/^the NVIDIA driver is too old: it supports CUDA 12\.2/);
      expect(s.create).toMatch(/^DeviceError: .*too old/);
      expect(s.cpu).toBe(6);
    });

    it('a driver that sees no GPU: "no CUDA device found"', async () => {
      // cuInit returning CUDA_ERROR_NO_DEVICE (100), as on a machine whose GPU is gone.
      const dir = build('nodev', 'int cuDriverGetVersion(int* v) { *v = 13000; return 0; }\nint cuInit(unsigned f) { return 100; }\n');
      const s = await statusWith({ LD_LIBRARY_PATH: dir, KILN_CUDA_PLUGIN: pluginFile });
      expect(s.available).toBe(false);
      expect(s.reason).toMatch(/^(no CUDA device found|CUDA initialization failed)/);
      expect(s.cpu).toBe(6);
    });
  });
});
