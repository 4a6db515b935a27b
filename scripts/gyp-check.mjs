// `npm run test:gyp`: checks the node-gyp path (binding.gyp, used by node-gyp and
// @electron/rebuild) in a temporary copy of the checkout, so that its build/ never meets the
// cmake-js build of this one: `node-gyp rebuild` there, then the test suite against that build.
//   node scripts/gyp-check.mjs [--keep] [vitest arguments...]   e.g. test/ops test/worker.test.ts
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, inspectBinary } from './binary-check.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const keep = argv.includes('--keep');
const vitestArgs = argv.filter((a) => a !== '--keep');
const work = mkdtempSync(join(tmpdir(), 'kiln-gyp-'));
const step = (m) => console.log(`gyp-check: ${m}`);

function run(cmd, args, opts = {}) {
  step(`${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: work, stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`gyp-check: failed (${r.status ?? r.signal}); the copy is kept at ${work}`);
    process.exit(1);
  }
}

/** node-gyp: the one npm hands its scripts, one on PATH, or the copy bundled with npm. */
function nodeGyp() {
  if (process.env.npm_config_node_gyp) return [process.execPath, process.env.npm_config_node_gyp];
  if (spawnSync('node-gyp', ['--version'], { stdio: 'ignore' }).status === 0) return ['node-gyp'];
  const npmCli = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' }).stdout?.trim();
  const bundled = npmCli && join(npmCli, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (bundled && existsSync(bundled)) return [process.execPath, bundled];
  console.error('gyp-check: node-gyp not found');
  process.exit(1);
}

for (const p of ['package.json', 'binding.gyp', 'tsconfig.json', 'vitest.config.ts', 'scripts', 'native', 'lib', 'test', 'examples']) cpSync(join(root, p), join(work, p), { recursive: true });
symlinkSync(join(root, 'node_modules'), join(work, 'node_modules'), 'junction');
step(`copied the checkout to ${work}`);

const [cmd, ...pre] = nodeGyp();
const nodedir = process.env.npm_config_nodedir ? [`--nodedir=${process.env.npm_config_nodedir}`] : [];
const t0 = performance.now();
run(cmd, [...pre, 'rebuild', `-j`, 'max', ...nodedir]);
step(`node-gyp rebuild took ${((performance.now() - t0) / 1000).toFixed(0)} s`);
const addon = join(work, 'build', 'Release', 'kiln.node');
if (!existsSync(addon)) {
  console.error(`gyp-check: no ${addon}`);
  process.exit(1);
}
console.log(describe(inspectBinary(addon, { staticRuntime: false })));

// binding.gyp builds the CPU core only: to the tests this build is one made with KILN_CUDA=off.
run(process.execPath, [join('node_modules', 'vitest', 'vitest.mjs'), 'run', ...vitestArgs], { env: { ...process.env, KILN_TEST_REBUILD: '1', KILN_CUDA: 'off' } });
step('the test suite passed against the node-gyp build');
if (keep) step(`kept ${work}`);
else rmSync(work, { recursive: true, force: true });
