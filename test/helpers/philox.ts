// An independent Philox4x32-10 (Salmon et al., SC'11) in plain JS, checked against the Random123
// known-answer vectors, plus the stream layout kiln documents in native/core/philox.h:
//   key = (seed lo, seed hi); block b = counter (b lo, b hi, 0, 0) -> words w0..w3.
//   1 word per element (float32 uniform/normal, bernoulli, randint): element i -> block
//   offset + i/4, lane i%4. float64 uniform/normal: 2 words, block offset + i/2, lanes 2(i%2), +1.

const M0 = 0xd2511f53, M1 = 0xcd9e8d57, W0 = 0x9e3779b9, W1 = 0xbb67ae85;

/** 32x32 -> 64-bit product as [hi, lo] (exact, via 16-bit halves). */
function mulhilo(a: number, b: number): [number, number] {
  const lo = Math.imul(a, b) >>> 0;
  const aH = a >>> 16, aL = a & 0xffff, bH = b >>> 16, bL = b & 0xffff;
  const mid1 = aH * bL, mid2 = aL * bH;
  const low = aL * bL;
  // hi = aH*bH + (mid1 + mid2 + (low >>> 16)) >>> 16, with carries
  const carry = (mid1 & 0xffff) + (mid2 & 0xffff) + (low >>> 16);
  const hi = (aH * bH + (mid1 >>> 16) + (mid2 >>> 16) + Math.floor(carry / 65536)) >>> 0;
  return [hi, lo];
}

export function philoxBlock(ctr: [number, number, number, number], key: [number, number]): [number, number, number, number] {
  let [c0, c1, c2, c3] = ctr.map((v) => v >>> 0);
  let [k0, k1] = key.map((v) => v >>> 0);
  for (let r = 0; r < 10; r++) {
    const [hi0, lo0] = mulhilo(M0, c0);
    const [hi1, lo1] = mulhilo(M1, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

const TWO32 = 2 ** 32;
const split = (v: number): [number, number] => [v % TWO32, Math.floor(v / TWO32)];

/** The 4 words of block `b` (a safe integer) for a 64-bit seed given as a safe integer. */
export function kilnBlock(seed: number, b: number): [number, number, number, number] {
  const [s0, s1] = split(seed);
  const [b0, b1] = split(b);
  return philoxBlock([b0, b1, 0, 0], [s0, s1]);
}

/** Element i's word in the one-word-per-element layout. */
export function word1(seed: number, offset: number, i: number): number {
  return kilnBlock(seed, offset + Math.floor(i / 4))[i % 4];
}

export const uniform24 = (w: number) => (w >>> 8) * 2 ** -24;
export const uniform24Open = (w: number) => ((w >>> 8) + 1) * 2 ** -24;
export const uniform53 = (hi: number, lo: number) => (hi * 2 ** 21 + (lo >>> 11)) * 2 ** -53;

export function blocksFor(n: number, wordsPerElement: 1 | 2): number {
  const per = 4 / wordsPerElement;
  return Math.ceil(n / per);
}

/** float32 uniform draws of n elements at block `offset`, exactly as kiln's stream defines them. */
export function uniformF32(seed: number, offset: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => uniform24(word1(seed, offset, i)));
}

/** float64 uniform draws (two words per element: hi = lane 2(i%2), lo = the next lane). */
export function uniformF64(seed: number, offset: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    const w = kilnBlock(seed, offset + Math.floor(i / 2));
    const l = 2 * (i % 2);
    return uniform53(w[l], w[l + 1]);
  });
}

/** randint draws on [low, high): low + floor(w * range / 2^32). */
export function randintStream(seed: number, offset: number, n: number, low: number, high: number): number[] {
  const range = high - low;
  return Array.from({ length: n }, (_, i) => low + Number((BigInt(word1(seed, offset, i)) * BigInt(range)) >> 32n));
}
