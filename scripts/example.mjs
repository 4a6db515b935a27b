// Runs an example from examples/<name>.ts: bundles it with esbuild (kiln's lib/ included, npm
// packages external) into node_modules/.cache/kiln-examples and runs it with the given arguments.
//   node scripts/example.mjs mnist --model mlp
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [name = 'mnist', ...args] = process.argv.slice(2);
const entry = join(root, 'examples', `${name}.ts`);
if (!existsSync(entry)) {
  console.error(`example: no examples/${name}.ts`);
  process.exit(2);
}
const outDir = join(root, 'node_modules', '.cache', 'kiln-examples');
mkdirSync(outDir, { recursive: true });
const outfile = join(outDir, `${name}.mjs`);
const { build } = await import('esbuild');
await build({ entryPoints: [entry], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node18', packages: 'external', logLevel: 'warning' });
const r = spawnSync(process.execPath, [outfile, ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
