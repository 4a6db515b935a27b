// Test runner configuration for kiln's suite (test/**, mirroring lib/).
// - pool 'forks': every test file runs in a child process, so a native crash fails one file
//   instead of taking the runner down, and each file gets its own addon environment.
// - two workers: CI machines have 2 cores, and the CPU kernels are multithreaded themselves.
// - test/global-setup.ts builds dist/ (tsc + esbuild) once when lib/ is newer: worker-thread and
//   child-process tests load the compiled package, as users do.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    reporters: ['default'],
  },
});
