// Runs once before the suite: makes sure dist/ (the compiled package that worker-thread and
// child-process tests import) is at least as new as lib/. In-process tests import lib/ directly
// and do not need it, so a failed build is reported but does not stop them.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function newestMtime(dir: string): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

export default function setup(): void {
  const entry = join(root, 'dist', 'esm', 'index.js');
  const fresh = existsSync(entry) && statSync(entry).mtimeMs >= newestMtime(join(root, 'lib'));
  if (fresh && !process.env.KILN_TEST_REBUILD) return;
  // A lock per checkout, so two test runs never interleave writes to the same dist/ (not the
  // native build's lock: a long native build must not stall the test suite).
  const build = [process.execPath, join(root, 'scripts', 'build-ts.mjs')];
  const lock = join(tmpdir(), `kiln-dist-${createHash('sha1').update(root).digest('hex').slice(0, 12)}.lock`);
  const useFlock = process.platform === 'linux' && spawnSync('flock', ['--version'], { stdio: 'ignore' }).status === 0;
  const r = useFlock
    ? spawnSync('flock', [lock, ...build], { cwd: root, encoding: 'utf8' })
    : spawnSync(build[0], build.slice(1), { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) {
    // tsc still emits on type errors; the tests that load dist/ will say so if it is unusable.
    console.warn(`[global-setup] building dist/ failed (status ${r.status}):\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  }
}
