// Compiles lib/ to dist/esm (ESM + .d.ts, with tsc) and dist/cjs (a CommonJS bundle, with
// esbuild, so `require('kiln')` works too).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// `prepare` runs on `npm install`/`npm ci` in a checkout (and for git dependencies), but also on
// `npm pack`/`npm publish`, right after `prepack` has built dist/: once is enough there.
if (process.argv.includes('--prepare') && ['pack', 'publish'].includes(process.env.npm_command ?? '')) process.exit(0);
const run = (cmd, args) => {
  const r = spawnSync(process.execPath, [join(root, 'node_modules', ...cmd), ...args], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

run(['typescript', 'bin', 'tsc'], ['-p', 'tsconfig.json']);
const { build } = await import('esbuild');
await build({
  entryPoints: [join(root, 'dist', 'esm', 'index.js')],
  outfile: join(root, 'dist', 'cjs', 'index.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node18',
  packages: 'external',
  // ESM code finds the package root through import.meta.url; give the bundle the same.
  define: { 'import.meta.url': '__kilnImportMetaUrl' },
  banner: { js: "const __kilnImportMetaUrl = require('url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
mkdirSync(join(root, 'dist', 'cjs'), { recursive: true });
writeFileSync(join(root, 'dist', 'cjs', 'package.json'), '{ "type": "commonjs" }\n');

// The ESM entry users import is one bundled file too: resolving ~80 separate modules costs more
// than the whole rest of a cold start (require + first op stays under 20 ms this way).
await build({
  entryPoints: [join(root, 'dist', 'esm', 'index.js')],
  outfile: join(root, 'dist', 'kiln.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node18',
  packages: 'external',
  logLevel: 'warning',
});
