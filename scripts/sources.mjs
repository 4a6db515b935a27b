// The CPU core's C++ sources, for binding.gyp (node-gyp cannot glob): the same folders that
// CMakeLists.txt globs, split by instruction set, since only *_avx2.cpp / *_avx512.cpp files are
// compiled with the wider ISA flags (binding.gyp builds them as separate static libraries).
//   node scripts/sources.mjs core|avx2|avx512|all     paths relative to the package root, one per line
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// CMakeLists.txt: native/core/*.cpp native/cpu/*.cpp native/cpu/*/*.cpp native/napi/*.cpp
const folders = ['native/core', 'native/cpu', 'native/napi'];
const files = [];
for (const folder of folders) {
  for (const e of readdirSync(join(root, folder), { withFileTypes: true })) {
    if (e.isFile() && e.name.endsWith('.cpp')) files.push(join(folder, e.name));
    if (e.isDirectory() && folder === 'native/cpu') {
      for (const f of readdirSync(join(root, folder, e.name))) if (f.endsWith('.cpp')) files.push(join(folder, e.name, f));
    }
  }
}
const isa = (f) => (/_avx512\.cpp$/.test(f) ? 'avx512' : /_avx2\.cpp$/.test(f) ? 'avx2' : 'core');
const which = process.argv[2] ?? 'all';
const picked = files.filter((f) => which === 'all' || isa(f) === which).sort();
// forward slashes on every platform: gyp treats these as its own paths
console.log(picked.map((f) => relative(root, join(root, f)).split('\\').join('/')).join('\n'));
