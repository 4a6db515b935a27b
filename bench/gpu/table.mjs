// Prints the short summary of a GPU check: parity results (vitest JSON report) and kiln beside
// PyTorch for each workload.   node bench/gpu/table.mjs <dir with parity.json kiln.json torch.json>
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '.';
const read = (f) => {
  const p = join(dir, f);
  if (!existsSync(p)) return null;
  try {
    return JSON.parse(readFileSync(p, 'utf8').trim().split('\n').pop());
  } catch {
    return null;
  }
};

const parity = read('parity.json');
if (parity) {
  console.log(`CUDA tests: ${parity.numPassedTests} passed, ${parity.numFailedTests} failed, ${parity.numPendingTests + (parity.numTodoTests ?? 0)} skipped (of ${parity.numTotalTests})`);
  for (const file of parity.testResults ?? []) {
    for (const t of file.assertionResults ?? []) {
      if (t.status === 'failed') console.log(`  FAILED ${t.fullName}: ${(t.failureMessages?.[0] ?? '').split('\n')[0].slice(0, 200)}`);
    }
  }
} else {
  console.log('CUDA tests: no report (see parity.log)');
}

const k = read('kiln.json');
const t = read('torch.json');
console.log(`\nkiln on ${k?.device ?? '?'} (${k?.versions ?? k?.error ?? '?'}); PyTorch ${t?.torch ?? '?'} on ${t?.device ?? '?'}`);
const byName = (o) => new Map((o?.rows ?? []).map((r) => [r.name, r]));
const kr = byName(k), tr = byName(t);
const fmt = (r) => (r && r.value != null ? (r.unit === 'ms' ? `${r.value.toFixed(3)} ms` : r.unit === 'us' ? `${r.value.toFixed(2)} us` : `${r.value.toFixed(1)} ${r.unit}`) : r?.error ? 'error' : '-');
const lines = [['workload', 'kiln', 'PyTorch', 'kiln vs PyTorch']];
// A kiln row with a note in parentheses compares with PyTorch's row of the same workload.
const torchRow = (name) => tr.get(name) ?? tr.get(name.replace(/ \([^)]*\)$/, ''));
for (const name of new Set([...kr.keys(), ...tr.keys()])) {
  const a = kr.get(name), b = torchRow(name);
  let ratio = '-';
  if (a?.value != null && b?.value != null) ratio = `${(a.unit === 'ms' || a.unit === 'us' ? b.value / a.value : a.value / b.value).toFixed(2)}x`;
  lines.push([name, fmt(a), fmt(b), ratio]);
}
const widths = lines[0].map((_, i) => Math.max(...lines.map((l) => l[i].length)));
for (const [i, l] of lines.entries()) {
  console.log(`| ${l.map((c, j) => c.padEnd(widths[j])).join(' | ')} |`);
  if (i === 0) console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
}
console.log('(throughput rows: kiln / PyTorch; time rows: PyTorch time / kiln time; above 1 means kiln is faster)');
