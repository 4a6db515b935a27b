// Cold start: fresh `node` processes that load a library and run one op, against `node -e ""`.
// Reports the median wall time beyond Node's own start, and the in-process time from the first
// line of the script to the op's result (load + first op). Runs are interleaved round-robin so
// disk-cache and CPU-frequency drift hit every library alike.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { kilnCjsEntry, kilnEntry, requireFromBench, shortError } from '../harness/engines.mjs';
import { singleOpModel } from '../harness/onnx.mjs';
import { median, ms, printTable } from '../harness/table.mjs';

export const name = 'coldstart';
export const order = 20;
export const description = 'require/import + first op in a fresh node process: kiln vs tfjs (cpu, wasm), onnxruntime-node';

const GOAL_MS = 20;

// Each script prints {"ms": <load + first op>} as its last line.
const clock = 'const t0 = performance.now();';
const report = 'console.log(JSON.stringify({ ms: performance.now() - t0 }));';
const check = (expr) => `if (${expr}) throw new Error('wrong result');`;

function scripts(tmp) {
  const resolve = (p) => JSON.stringify(requireFromBench.resolve(p));
  const model = join(tmp, 'add.onnx');
  writeFileSync(model, singleOpModel('Add', [{ name: 'A', shape: [4] }, { name: 'B', shape: [4] }], [4]));
  const wasmDir = JSON.stringify(join(dirname(requireFromBench.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');
  return [
    { id: 'node', label: 'node -e "" (baseline)', args: ['-e', `${clock} ${report}`] },
    {
      id: 'kiln-cjs',
      label: 'kiln: require + add + dataSync',
      args: ['-e', `${clock} const k = require(${JSON.stringify(kilnCjsEntry)}); const a = k.tensor([1, 2, 3, 4]); const y = a.add(a).dataSync(); ${check('y[3] !== 8')} ${report}`],
    },
    {
      id: 'kiln-esm',
      label: 'kiln: import + add + dataSync',
      args: ['--input-type=module', '-e', `${clock} const k = await import(${JSON.stringify(pathToFileURL(kilnEntry).href)}); const a = k.tensor([1, 2, 3, 4]); const y = a.add(a).dataSync(); ${check('y[3] !== 8')} ${report}`],
    },
    {
      id: 'tfjs-cpu',
      label: 'tfjs (cpu): require + add + dataSync',
      args: ['-e', `${clock} const tf = require(${resolve('@tensorflow/tfjs')}); const a = tf.tensor([1, 2, 3, 4]); const y = tf.add(a, a).dataSync(); ${check('y[3] !== 8')} ${report}`],
    },
    {
      id: 'tfjs-wasm',
      label: 'tfjs-wasm: require + setBackend + add + dataSync',
      args: ['-e', `(async () => { ${clock} const tf = require(${resolve('@tensorflow/tfjs')}); const w = require(${resolve('@tensorflow/tfjs-backend-wasm')}); w.setWasmPaths(${wasmDir}); await tf.setBackend('wasm'); const a = tf.tensor([1, 2, 3, 4]); const y = tf.add(a, a).dataSync(); ${check('y[3] !== 8')} ${report} })()`],
    },
    {
      id: 'ort',
      label: 'onnxruntime-node: require + session + run',
      args: ['-e', `(async () => { ${clock} const ort = require(${resolve('onnxruntime-node')}); const s = await ort.InferenceSession.create(${JSON.stringify(model)}); const x = new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4), [4]); const y = (await s.run({ A: x, B: x })).Y.data; ${check('y[3] !== 8')} ${report} })()`],
    },
  ];
}

function once(s) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, s.args, { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  const wall = performance.now() - t0;
  if (r.status !== 0) {
    const lines = `${r.stderr}\n${r.stdout}`.split('\n');
    return { error: shortError(lines.find((l) => /error/i.test(l)) ?? `exit ${r.status ?? r.signal}`) };
  }
  const last = r.stdout.trim().split('\n').pop();
  return { wall, inproc: JSON.parse(last).ms };
}

export async function run(ctx) {
  const reps = ctx.options.reps ?? 11;
  const tmp = mkdtempSync(join(os.tmpdir(), 'kiln-bench-'));
  try {
    const list = scripts(tmp);
    const samples = Object.fromEntries(list.map((s) => [s.id, { wall: [], inproc: [], error: null }]));
    for (const s of list) once(s); // warm the disk cache; not counted
    for (let i = 0; i < reps; i++) {
      for (const s of list) {
        const acc = samples[s.id];
        if (acc.error) continue;
        const r = once(s);
        if (r.error) acc.error = r.error;
        else {
          acc.wall.push(r.wall);
          acc.inproc.push(r.inproc);
        }
      }
    }
    const base = median(samples.node.wall);
    const rows = list.map((s) => {
      const a = samples[s.id];
      if (a.error) return [s.label, 'error: ' + a.error, '', '', ''];
      const w = median(a.wall);
      return [s.label, ms(w), s.id === 'node' ? '0' : ms(w - base), ms(median(a.inproc)), `${ms(Math.min(...a.wall))}–${ms(Math.max(...a.wall))}`];
    });
    const verdicts = ['kiln-cjs', 'kiln-esm']
      .filter((id) => samples[id].wall.length)
      .map((id) => {
        const beyond = median(samples[id].wall) - base;
        return `${id === 'kiln-cjs' ? 'require' : 'import'} ${ms(beyond)} ms (${beyond <= GOAL_MS ? 'met' : 'NOT met'})`;
      });
    printTable(
      `Cold start (median of ${reps} fresh processes)`,
      ['runtime', '>wall ms', '>beyond node ms', '>load + first op ms (in-process)', '>wall min–max'],
      rows,
      [
        `Goal: kiln under ${GOAL_MS} ms beyond Node's own start` + (verdicts.length ? ` — kiln: ${verdicts.join(', ')}.` : '.'),
        '"beyond node" = median wall time − median wall time of `node -e ""`; in-process = first line of the script to the op\'s result.',
      ],
    );
    return samples;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
