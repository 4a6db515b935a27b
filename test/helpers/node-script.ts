// Runs plain Node scripts (worker hosts, fuzzers, GC probes) in a child process against the
// compiled package in dist/ (built by test/global-setup.ts), so a native crash in them shows up
// as a failed assertion on the exit status instead of killing the test runner.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const distEntry = join(repoRoot, 'dist', 'esm', 'index.js');
export const fixture = (name: string) => join(repoRoot, 'test', 'fixtures', name);

export function assertDistBuilt(): void {
  if (!existsSync(distEntry)) throw new Error(`${distEntry} is missing: test/global-setup.ts should have built it (npm run build:ts)`);
}

export interface ScriptResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs `node [nodeArgs] script [args]`; resolves (never rejects) with how it ended. */
export function runNodeScript(script: string, args: string[] = [], opts: { nodeArgs?: string[]; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<ScriptResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), script, ...args], {
      cwd: repoRoot,
      env: { ...process.env, KILN_DIST: distEntry, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '', stderr = '', timedOut = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** The last line of stdout parsed as JSON (fixtures report their findings that way). */
export function lastJson<T = unknown>(r: ScriptResult): T {
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}

export function describeResult(r: ScriptResult): string {
  return `exit code ${r.code}, signal ${r.signal}${r.timedOut ? ' (timed out)' : ''}\n--- stdout (tail)\n${r.stdout.slice(-3000)}\n--- stderr (tail)\n${r.stderr.slice(-3000)}`;
}
