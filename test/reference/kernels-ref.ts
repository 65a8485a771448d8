// Independent plain-TypeScript reference for the wasm kernels (assembly/). Written literally from
// the contract, deliberately NOT mirroring the kernels' tricks: DataView decoding, arithmetic
// rounding instead of bit tricks, Math.fround products, explicit round-half-to-even then clamp,
// explicit bit placement. Slow and obvious on purpose.

import { KernelDType, Rounding } from '../../src/kernels/codes.js';

export function elemBytes(dtype: number): number {
  return dtype === KernelDType.F32 ? 4 : 2;
}

const scratch = new DataView(new ArrayBuffer(4));

/** The IEEE single bits of a number that is exactly representable as f32 (or NaN / Inf). */
export function f32Bits(v: number): number {
  scratch.setFloat32(0, v, true);
  return scratch.getUint32(0, true);
}

/** The f32 value with these bits (NaN payloads are not representable in a JS number). */
export function f32FromBits(bits: number): number {
  scratch.setUint32(0, bits >>> 0, true);
  return scratch.getFloat32(0, true);
}

/** IEEE half (binary16) decoded literally: sign, 5-bit exponent, 10-bit fraction -> f32 bits. */
export function halfToF32BitsRef(h: number): number {
  const sign = h >> 15;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0x1f) {
    // Inf (frac 0) or NaN: the fraction goes to the top of the f32 fraction, so NaN stays NaN.
    return ((sign << 31) | 0x7f800000 | (frac << 13)) >>> 0;
  }
  const magnitude = exp === 0 ? frac * 2 ** -24 : (1 + frac / 1024) * 2 ** (exp - 15);
  return f32Bits(sign ? -magnitude : magnitude);
}

/** f32 bits of element i of `bytes` (little endian). */
export function elementBits(dtype: number, bytes: Uint8Array, i: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === KernelDType.BF16) return (view.getUint16(2 * i, true) * 65536) >>> 0;
  if (dtype === KernelDType.F16) return halfToF32BitsRef(view.getUint16(2 * i, true));
  return view.getUint32(4 * i, true);
}

export function elementValue(dtype: number, bytes: Uint8Array, i: number): number {
  return f32FromBits(elementBits(dtype, bytes, i));
}

/** widen: f32 bits of every element. */
export function refWiden(dtype: number, bytes: Uint8Array, n: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = elementBits(dtype, bytes, i);
  return out;
}

/**
 * absSum as specified: 8 f64 lanes (lane = i % 8), each adding |x_i| (the f32 value, as a number)
 * in index order; then the lanes are added sequentially, ((l0 + l1) + l2) + ... + l7.
 */
export function refAbsSum(dtype: number, bytes: Uint8Array, n: number): number {
  const lanes = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < n; i++) lanes[i % 8] += Math.abs(elementValue(dtype, bytes, i));
  let total = lanes[0];
  for (let lane = 1; lane < 8; lane++) total += lanes[lane];
  return total;
}

/**
 * The exact sum of |x| as a BigInt in units of 2^-149 (the f32 subnormal step, so every f32, bf16
 * and f16 value is a whole number of units), or NaN / Infinity if an element is NaN / infinite.
 */
export function absSumExactUnits(dtype: number, bytes: Uint8Array, n: number): bigint | number {
  let total = 0n;
  let special = 0;
  for (let i = 0; i < n; i++) {
    const v = Math.abs(elementValue(dtype, bytes, i));
    if (!Number.isFinite(v)) special += v; // NaN stays NaN, Inf + Inf = Inf
    else total += BigInt(v * 2 ** 149); // scaling by a power of two is exact; the product is an integer
  }
  return special !== 0 || Number.isNaN(special) ? special : total;
}

/** A number as a BigInt in units of 2^-149, or null if it is not a whole number of units. */
export function toUnits(v: number): bigint | null {
  const scaled = v * 2 ** 149; // exact: v is finite and far below 2^(1024 - 149)
  return Number.isInteger(scaled) ? BigInt(scaled) : null;
}

/** Sequential f64 sum of |x| (another order: used to show the test data tells orders apart). */
export function absSumF64(dtype: number, bytes: Uint8Array, n: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) total += Math.abs(elementValue(dtype, bytes, i));
  return total;
}

/**
 * Other orders and precisions, only to show that tests tell them from the specified one:
 * `lanes` f64 lanes (lane = i % lanes) added sequentially, or (f32 = true) f32 lanes.
 */
export function absSumLanes(dtype: number, bytes: Uint8Array, n: number, lanes: number, f32 = false): number {
  const acc = new Array<number>(lanes).fill(0);
  for (let i = 0; i < n; i++) {
    const sum = acc[i % lanes] + Math.abs(elementValue(dtype, bytes, i));
    acc[i % lanes] = f32 ? Math.fround(sum) : sum;
  }
  let total = acc[0];
  for (let lane = 1; lane < lanes; lane++) total += acc[lane];
  return total;
}

/** Lanes combined pairwise, ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)) (another order). */
export function absSumLanesTree(dtype: number, bytes: Uint8Array, n: number): number {
  const l = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < n; i++) l[i % 8] += Math.abs(elementValue(dtype, bytes, i));
  return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

/** Round half to even, by floor and comparison. */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Rounds an f32 value to `fracBits` fraction bits (7 = bfloat16, 10 = half's significand), round
 * to nearest even, by arithmetic: the spacing of the kept significand at y's f32 exponent, and the
 * half-even rule on y / spacing. The exponent range stays f32's (results may overflow to Inf).
 */
export function roundSignificand(y: number, fracBits: number): number {
  if (!Number.isFinite(y) || y === 0) return y;
  const biased = (f32Bits(y) >>> 23) & 0xff; // 0 for f32 subnormals (their spacing is 2^-149)
  const spacing = 2 ** (Math.max(biased, 1) - 127 - fracBits);
  const r = roundHalfEven(Math.abs(y) / spacing) * spacing;
  return Math.fround(y < 0 ? -r : r);
}

/** Ternary value of one element: clamp(round_half_even(rounded f32(x * s)), -1, 1), NaN -> 0. */
export function refTernary(x: number, s: number, rounding: number): number {
  let y = Math.fround(x * Math.fround(s));
  if (rounding === Rounding.BF16) y = roundSignificand(y, 7);
  else if (rounding === Rounding.F16) y = roundSignificand(y, 10);
  if (Number.isNaN(y)) return 0;
  if (y === Infinity) return 1;
  if (y === -Infinity) return -1;
  const q = Math.min(1, Math.max(-1, roundHalfEven(y)));
  return q === 0 ? 0 : q; // no -0
}

export function refQuantize(dtype: number, rounding: number, bytes: Uint8Array, n: number, s: number): Int8Array {
  const out = new Int8Array(n);
  for (let i = 0; i < n; i++) out[i] = refTernary(elementValue(dtype, bytes, i), s, rounding);
  return out;
}

/** bincode 2 standard varints of u32 values. */
export function refVarintU32(values: ArrayLike<number>): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < 251) out.push(v);
    else if (v < 65536) out.push(0xfb, v % 256, Math.floor(v / 256));
    else out.push(0xfc, v % 256, Math.floor(v / 256) % 256, Math.floor(v / 65536) % 256, Math.floor(v / 16777216));
  }
  return Uint8Array.from(out);
}

/**
 * absSumExactUnits for 16-bit dtypes via a histogram of the 32768 magnitude patterns (fast enough
 * for millions of elements; an independent way to the same exact sum). Finite data only.
 */
export function absSumExactUnits16(dtype: number, bits: Uint16Array): bigint {
  const counts = new Float64Array(32768);
  for (let i = 0; i < bits.length; i++) counts[bits[i] & 0x7fff]++;
  const one = new Uint8Array(2);
  let total = 0n;
  for (let p = 0; p < 32768; p++) {
    if (counts[p] === 0) continue;
    one[0] = p & 0xff;
    one[1] = p >> 8;
    const v = elementValue(dtype, one, 0);
    if (!Number.isFinite(v)) throw new RangeError(`absSumExactUnits16: non-finite pattern ${p.toString(16)}`);
    total += BigInt(counts[p]) * BigInt(v * 2 ** 149);
  }
  return total;
}

// ---- convertFloats: the nearest value of the target format, found by search over its values

/** One 16-bit float format: its positive finite values in ascending order with their bits, then Inf. */
interface Grid {
  values: number[];
  bits: number[];
  fractionBits: number;
}

/**
 * Every positive finite value of a 16-bit format (bit patterns 0 .. maxFinite are ascending in value),
 * followed by +Inf placed at the next power of two, 2^(emax + 1), with its own bits. Rounding to
 * nearest then overflows exactly as IEEE says: a value at or beyond the midpoint between the largest
 * finite value and 2^(emax + 1) goes to Inf (Inf's bits are even, the largest finite's are odd).
 */
function grid(maxFinite: number, infBits: number, infAt: number, fractionBits: number, decode: (bits: number) => number): Grid {
  const values: number[] = [];
  const bits: number[] = [];
  for (let b = 0; b <= maxFinite; b++) {
    values.push(decode(b));
    bits.push(b);
  }
  values.push(infAt);
  bits.push(infBits);
  return { values, bits, fractionBits };
}

const BF16_GRID = grid(0x7f7f, 0x7f80, 2 ** 128, 7, (b) => f32FromBits(b * 65536));
const F16_GRID = grid(0x7bff, 0x7c00, 2 ** 16, 10, (b) => f32FromBits(halfToF32BitsRef(b)));

/**
 * f32 bits -> 16-bit bits: the nearest grid value to |x| (ties to the even bit pattern, beyond the
 * last grid value: Inf), with x's sign. NaN: sign, all-ones exponent, the top fraction bits of the
 * f32 NaN with the quiet (top) fraction bit set.
 */
function nearestBits(g: Grid, u: number): number {
  const sign = u >>> 31 ? 0x8000 : 0;
  const x = Math.abs(f32FromBits(u));
  const infBits = g.bits[g.bits.length - 1];
  if (Number.isNaN(x)) {
    const top = Math.floor((u & 0x7fffff) / 2 ** (23 - g.fractionBits));
    return sign | infBits | (2 ** (g.fractionBits - 1)) | top;
  }
  if (x >= g.values[g.values.length - 1]) return sign | infBits;
  let lo = 0; // largest index with values[lo] <= x
  let hi = g.values.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (g.values[mid] <= x) lo = mid;
    else hi = mid;
  }
  const below = x - g.values[lo];
  const above = g.values[lo + 1] - x;
  const pick = below < above ? lo : above < below ? lo + 1 : g.bits[lo] % 2 === 0 ? lo : lo + 1;
  return sign | g.bits[pick];
}

/**
 * convertFloats as specified: the same dtype is copied; to F32 the element's exact f32 bits (as
 * widen); to BF16 / F16 the nearest value of the target (nearestBits). Returns the output bit patterns.
 */
export function refConvertFloats(srcDtype: number, bytes: Uint8Array, n: number, dstDtype: number): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (srcDtype === dstDtype) out.push(srcDtype === KernelDType.F32 ? view.getUint32(4 * i, true) : view.getUint16(2 * i, true));
    else if (dstDtype === KernelDType.F32) out.push(elementBits(srcDtype, bytes, i));
    else out.push(nearestBits(dstDtype === KernelDType.BF16 ? BF16_GRID : F16_GRID, elementBits(srcDtype, bytes, i)));
  }
  return out;
}
