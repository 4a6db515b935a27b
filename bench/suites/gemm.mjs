// The GEMM comparison against oneDNN/OpenBLAS lives in bench/gemm (its own build and script);
// this suite only runs it when it exists.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir, rootDir } from '../harness/engines.mjs';

export const name = 'gemm';
export const order = 90;
export const description = 'native GEMM against oneDNN/OpenBLAS: runs `bash bench/gemm/run.sh` when present';

export async function run() {
  const script = join(benchDir, 'gemm', 'run.sh');
  console.log('\n### GEMM vs oneDNN / OpenBLAS (bench/gemm)\n');
  if (!existsSync(script)) {
    console.log('bench/gemm/run.sh is not here yet; once it lands run `npm run bench:gemm` (or `node bench/run.mjs gemm`).');
    return { skipped: true };
  }
  console.log('$ bash bench/gemm/run.sh');
  const r = spawnSync('bash', [script], { cwd: rootDir, stdio: 'inherit' });
  if (r.status !== 0) console.log(`bench/gemm/run.sh exited with ${r.status ?? r.signal}`);
  return { status: r.status };
}
