// Fuzzes the raw native boundary in child processes (test/fixtures/fuzz-native.mjs): thousands
// of random malformed calls, plus crafted dangerous ones each in its own process. A crash, an
// error without a kiln code, a leaked handle or broken normal ops afterwards fails the test.
import { beforeAll, describe, expect, it } from 'vitest';

import { assertDistBuilt, describeResult, fixture, lastJson, runNodeScript } from '../helpers/node-script.js';

interface FuzzStats {
  calls: number;
  threw: number;
  returned: number;
  codes: Record<string, number>;
  uncoded: string[];
  leakedHandles: number;
  normalOk: boolean;
  wrongValues?: number[];
}

const FUZZER = fixture('fuzz-native.mjs');

function expectHealthy(r: Awaited<ReturnType<typeof runNodeScript>>): FuzzStats {
  expect(r.timedOut, `fuzzer hung\n${describeResult(r)}`).toBe(false);
  expect(r.signal, `fuzzer crashed\n${describeResult(r)}`).toBeNull();
  expect(r.code, `fuzzer failed\n${describeResult(r)}`).toBe(0);
  const s = lastJson<FuzzStats>(r);
  expect(s.uncoded, 'errors without a kiln error code').toEqual([]);
  expect(s.normalOk, 'normal ops after fuzzing').toBe(true);
  expect(s.leakedHandles, 'handles leaked by failed or fuzzed calls').toBe(0);
  expect(s.wrongValues).toBeUndefined();
  return s;
}

beforeAll(() => assertDistBuilt());

describe('random malformed calls', () => {
  it('3 x 15000 calls (seeds 1, 2, 3): no crash, every error coded, no leaks', async () => {
    const runs = await Promise.all([1, 2, 3].map((seed) => runNodeScript(FUZZER, ['random', String(seed), '15000'], { timeoutMs: 90_000 })));
    let total = 0, threw = 0;
    for (const r of runs) {
      const s = expectHealthy(r);
      total += s.calls;
      threw += s.threw;
      expect(s.returned, 'some fuzzed calls are valid and must succeed').toBeGreaterThan(0);
    }
    expect(total).toBeGreaterThanOrEqual(45_000);
    expect(threw).toBeGreaterThan(total / 2);
  }, 120_000);
});

// Crafted calls. Those in MUST_THROW describe impossible requests (element counts that overflow,
// out-of-bounds views, lying dtypes): they must end in an error, never in a returned handle.
const MUST_THROW = new Set([
  'fill fresh float32 [2^31, 2^31]',
  'fill fresh float64 [2^30, 2^31]',
  'fill fresh float32 [2^32, 2^32]',
  'fill fresh bool [2^16 x4]',
  'uniform fresh float32 [2^31, 2^31]',
  'arange fresh [2^48]',
  'neg of a 1-element storage expanded to [2^31, 2^31]',
  'cast of a 1-element storage expanded to [2^32, 2^32]',
  'matmul of expanded operands with a wrapping output',
  'gather with an index expanded to 2^40 elements',
  'read through an offset past the end',
  'negative stride walking below 0',
  'huge stride',
  'stride * shape overflowing int64',
  'dtype lie: float64 view of a float32 storage',
  'pad with a huge before',
  'reduce with a mask of every bit',
  'read with offset + count overflow',
]);

describe('crafted dangerous calls, one process each', async () => {
  const list = await runNodeScript(FUZZER, ['list'], { timeoutMs: 30_000 });
  const names: string[] = list.code === 0 ? lastJson<string[]>(list) : [];

  it('the fuzzer lists its cases', () => {
    expect(list.code, describeResult(list)).toBe(0);
    expect(names.length).toBeGreaterThanOrEqual(MUST_THROW.size);
    for (const n of MUST_THROW) expect(names).toContain(n);
  });

  for (const name of names) {
    it(name, async () => {
      const r = await runNodeScript(FUZZER, ['case', name], { timeoutMs: 15_000 });
      const s = expectHealthy(r);
      if (MUST_THROW.has(name)) expect(s.threw, `${name} must throw`).toBe(s.calls);
    }, 30_000);
  }
});
