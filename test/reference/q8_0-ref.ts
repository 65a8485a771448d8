// A literal statement of GGUF Q8_0 (ggml type 8, docs/gguf.md 7), written from ggml's
// quantize_row_q8_0_ref as documented there, sharing no code with src/ or assembly/. Slow and
// obvious on purpose: every f32 operation is a double operation followed by Math.fround (exact for
// +, *, / of f32 operands), the fp16 rounding is done on the value by finding its exponent with a
// loop, and roundf is floor(|v| + 0.5) with the sign put back.
//
// Per block of 32 values x:  amax = max |x|;  d = f32(amax / 127);  id = d ? f32(1 / d) : 0;
// bytes 0-1 = fp16(d) (round to nearest even), bytes 2..33 = int8(roundf(f32(x * id))).
// roundf(+-Inf) has no int8 (C leaves it undefined): it only arises when 1 / d overflows, and the
// converter writes +-127 there; 0 * Inf (NaN) is written as 0. The block's d is fp16 zero then.

import { elementValue, roundHalfEven } from './kernels-ref.js';

/** The fp16 bits of a non-negative number: round to nearest even, Inf from 65520 on. */
export function f16BitsRef(v: number): number {
  if (v >= 65520) return 0x7c00;
  if (v < 2 ** -14) return roundHalfEven(v / 2 ** -24); // subnormal steps; 2^-14 itself comes out as 0x400
  let e = -14;
  while (v >= 2 ** (e + 1)) e++;
  let m = roundHalfEven((v / 2 ** e - 1) * 1024);
  if (m === 1024) {
    e++;
    m = 0;
  }
  return e + 15 >= 31 ? 0x7c00 : ((e + 15) << 10) | m;
}

/** C's roundf: half away from zero. */
export function roundfRef(v: number): number {
  if (!Number.isFinite(v)) return v;
  const r = Math.floor(Math.abs(v) + 0.5); // exact: |v| <= 2^24 here has room for the half
  return v < 0 ? -r : r;
}

/** The int8 written for roundf(v): v itself where C defines it, the converter's choice for +-Inf and NaN. */
function int8Of(v: number): number {
  const r = roundfRef(v);
  if (Number.isNaN(r)) return 0;
  if (r === Infinity) return 127;
  if (r === -Infinity) return -127;
  if (r < -128 || r > 127) throw new Error(`q8_0 reference: ${v} rounds outside int8`);
  return r;
}

/** One block of 32 f32 values -> its 34 bytes. */
export function q8_0BlockRef(x: readonly number[]): Uint8Array {
  if (x.length !== 32) throw new Error('a Q8_0 block holds 32 values');
  let amax = 0;
  for (const v of x) amax = Math.max(amax, Math.abs(v));
  const d = Math.fround(amax / 127);
  const id = d !== 0 ? Math.fround(1 / d) : 0;
  const out = new Uint8Array(34);
  const h = f16BitsRef(d);
  out[0] = h & 0xff;
  out[1] = h >> 8;
  for (let j = 0; j < 32; j++) out[2 + j] = int8Of(Math.fround(x[j] * id)) & 0xff;
  return out;
}

/** n elements (n a multiple of 32) of a kernel dtype (codes.ts) -> n / 32 blocks. */
export function refQ8_0(dtype: number, bytes: Uint8Array, n: number): Uint8Array {
  if (n % 32 !== 0) throw new Error(`Q8_0 needs a multiple of 32 values, got ${n}`);
  const out = new Uint8Array((n / 32) * 34);
  for (let b = 0; b < n / 32; b++) {
    const x: number[] = [];
    for (let j = 0; j < 32; j++) x.push(elementValue(dtype, bytes, 32 * b + j));
    out.set(q8_0BlockRef(x), 34 * b);
  }
  return out;
}
