// What a built binary (kiln.node, kiln_cuda.so) needs from the system it runs on, read from its
// dynamic symbol table: the newest glibc / libstdc++ symbol versions, the shared libraries it
// links, and the Node-API functions it imports (checked against the version kiln targets, and
// against the calls Electron forbids). Used by scripts/prebuild.mjs and scripts/tarball-test.mjs.
//   node scripts/binary-check.mjs path/to/kiln.node [...]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Node-API functions newer than version 6 (from the Node-API version matrix); node_api_* are all >= 9. */
const NAPI_AFTER_6 = {
  napi_detach_arraybuffer: 7,
  napi_is_detached_arraybuffer: 7,
  napi_add_async_cleanup_hook: 8,
  napi_remove_async_cleanup_hook: 8,
  napi_object_freeze: 8,
  napi_object_seal: 8,
  napi_type_tag_object: 8,
  napi_check_object_type_tag: 8,
};
/** Functions added in versions 2 to 6; every other napi_* function is version 1. */
const NAPI_2_TO_6 = {
  napi_get_uv_event_loop: 2,
  napi_add_env_cleanup_hook: 3,
  napi_remove_env_cleanup_hook: 3,
  napi_open_callback_scope: 3,
  napi_close_callback_scope: 3,
  napi_fatal_exception: 3,
  napi_create_threadsafe_function: 4,
  napi_get_threadsafe_function_context: 4,
  napi_call_threadsafe_function: 4,
  napi_acquire_threadsafe_function: 4,
  napi_release_threadsafe_function: 4,
  napi_unref_threadsafe_function: 4,
  napi_ref_threadsafe_function: 4,
  napi_create_date: 5,
  napi_is_date: 5,
  napi_get_date_value: 5,
  napi_add_finalizer: 5,
  napi_get_all_property_names: 6,
  napi_set_instance_data: 6,
  napi_get_instance_data: 6,
  napi_create_bigint_int64: 6,
  napi_create_bigint_uint64: 6,
  napi_create_bigint_words: 6,
  napi_get_value_bigint_int64: 6,
  napi_get_value_bigint_uint64: 6,
  napi_get_value_bigint_words: 6,
};
/** Memory outside the V8 heap handed to JS: Electron (V8 memory cage) refuses these. */
const EXTERNAL_BUFFERS = ['napi_create_external_arraybuffer', 'napi_create_external_buffer'];
/** Shared libraries a prebuilt Linux binary may link: glibc's own, and GCC's libgcc_s (always beside it). */
const GLIBC_LIBS = /^(libc|libm|libdl|libpthread|librt|libgcc_s|ld-linux[-\w.]*)\.so(\.\d+)*$/;

const versionKey = (v) => v.split('.').map(Number);
function newer(a, b) {
  const x = versionKey(a), y = versionKey(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  return false;
}
export const versionNewer = newer;

function tool(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) return null;
  return r.stdout;
}

/**
 * Inspects one binary. Returns { file, needs: { GLIBC, GLIBCXX, CXXABI, GCC }, needed, napi:
 * { imports, version, newest }, problems } where `needs` holds the newest symbol version of each
 * family (null: none), and `problems` lists what would break a prebuilt binary. On platforms
 * without objdump/nm it returns what it could read and says so in `skipped`.
 */
export function inspectBinary(file, { napiTarget = 6, staticRuntime = true } = {}) {
  const out = { file, needs: { GLIBC: null, GLIBCXX: null, CXXABI: null, GCC: null }, needed: [], napi: { imports: [], version: 1, newest: null }, problems: [], skipped: null };
  let undefinedSyms = [];
  if (process.platform === 'linux') {
    const dyn = tool('objdump', ['-T', file]);
    const priv = tool('objdump', ['-p', file]);
    if (dyn === null || priv === null) {
      out.skipped = 'objdump not found (binutils)';
      return out;
    }
    for (const line of dyn.split('\n')) {
      const m = /\s(\(?)(GLIBC|GLIBCXX|CXXABI|GCC)_([\d.]+)\)?\s/.exec(line);
      if (m && (!out.needs[m[2]] || newer(m[3], out.needs[m[2]]))) out.needs[m[2]] = m[3];
      const u = /\*UND\*\s+\S+\s+(?:\S+\s+)?(\w+)$/.exec(line.trim());
      if (u) undefinedSyms.push(u[1]);
    }
    out.needed = [...priv.matchAll(/NEEDED\s+(\S+)/g)].map((m) => m[1]);
    if (staticRuntime) {
      for (const lib of out.needed) if (!GLIBC_LIBS.test(lib)) out.problems.push(`links ${lib} (a prebuilt binary should link only glibc and libgcc_s: build with KILN_STATIC_RUNTIME=ON)`);
      if (out.needs.GLIBCXX) out.problems.push(`needs libstdc++ symbol version GLIBCXX_${out.needs.GLIBCXX}`);
    }
  } else if (process.platform === 'darwin') {
    const nm = tool('nm', ['-gu', file]);
    if (nm === null) {
      out.skipped = 'nm not found';
      return out;
    }
    undefinedSyms = nm.split('\n').map((s) => s.trim().replace(/^_/, '')).filter(Boolean);
    const libs = tool('otool', ['-L', file]);
    if (libs) out.needed = libs.split('\n').slice(1).map((l) => l.trim().split(' ')[0]).filter(Boolean);
    for (const lib of out.needed) if (!/^\/usr\/lib\/|^\/System\//.test(lib)) out.problems.push(`links ${lib}, which is not part of macOS`);
  } else {
    out.skipped = `no symbol inspection on ${process.platform}`;
    return out;
  }
  const napi = [...new Set(undefinedSyms.filter((s) => /^(napi|node_api)_/.test(s)))].sort();
  out.napi.imports = napi;
  for (const fn of napi) {
    const v = NAPI_AFTER_6[fn] ?? NAPI_2_TO_6[fn] ?? (fn.startsWith('node_api_') ? 9 : 1);
    if (v > out.napi.version) {
      out.napi.version = v;
      out.napi.newest = fn;
    }
    if (v > napiTarget) out.problems.push(`imports ${fn} (Node-API ${v}), newer than the targeted Node-API ${napiTarget}`);
    if (EXTERNAL_BUFFERS.includes(fn)) out.problems.push(`imports ${fn}: Electron forbids external buffers`);
  }
  return out;
}

export function describe(r) {
  const lines = [`${r.file}`];
  if (r.skipped) lines.push(`  (symbol checks skipped: ${r.skipped})`);
  const needs = Object.entries(r.needs).filter(([, v]) => v).map(([k, v]) => `${k}_${v}`);
  if (process.platform === 'linux' && !r.skipped) lines.push(`  newest symbol versions: ${needs.join(', ') || 'none'}`);
  if (r.needed.length) lines.push(`  links: ${r.needed.join(', ')}`);
  if (r.napi.imports.length) lines.push(`  Node-API: ${r.napi.imports.length} functions, needs version ${r.napi.version}${r.napi.newest ? ` (newest: ${r.napi.newest})` : ''}`);
  for (const p of r.problems) lines.push(`  PROBLEM: ${p}`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let bad = 0;
  for (const f of process.argv.slice(2)) {
    const r = inspectBinary(f, { staticRuntime: !process.env.KILN_CHECK_DYNAMIC });
    console.log(describe(r));
    bad += r.problems.length;
  }
  process.exit(bad ? 1 : 0);
}
