// packTq1_0: GGUF TQ1_0 (ggml type 34; docs/gguf.md section 4). Rows of cols % 256 == 0 values; each
// block of 256 values along a row is 54 bytes: qs[48], qh[4], then the fp16 scale d (its 16 bits
// are passed in and written in every block). Codes are trits t = q + 1, five to a byte, first trit
// most significant (v = 81 t0 + 27 t1 + 9 t2 + 3 t3 + t4, at most 242), stored as
// ceil(v * 256 / 243) = (v * 256 + 242) / 243 so that the decoder's ((u8)(b * 3^n) * 3) >> 8 finds
// trit n. The trits of each byte:
//   qs[m]      (m < 32): elements m + 32n,         n = 0..4
//   qs[32 + m] (m < 16): elements 160 + m + 16n,   n = 0..4
//   qh[j]      (j < 4):  elements 240 + j + 4n,    n = 0..3, and v multiplied by 3 (a fifth trit 0)
// Rows are (cols / 256) * 54 bytes with nothing between them, so a chunk of rows is contiguous.
//
// SIMD: trit sums are built in byte lanes (v * 3 + t never exceeds 242), and the division uses
// i16x8.q15mulr_sat_s, which gives (a * b + 2^14) >> 15:
//   (v * 256 + 242) / 243 == ((v * 126 + 58) * 274 + 2^14) >> 15   for every v in 0..242
// (checked for all 243 values; a test runs every trit pattern through both builds). a = v * 126 + 58
// <= 30550 and b = 274 are positive i16, so nothing saturates. The scalar build divides.
import { codeAt, codes16, invalidCount, resetInvalid } from './ternary';

/** Returns how many inputs were not in {-1, 0, 1} (packed as 0). */
export function packTq1_0(src: usize, rows: u32, cols: u32, d: u32, dst: usize): u32 {
  let blocks = (<usize>rows * <usize>cols) >> 8; // rows never split a block: cols % 256 == 0
  resetInvalid();
  for (let b: usize = 0; b < blocks; b++) {
    let p = src + (b << 8);
    let out = dst + b * 54;
    if (ASC_FEATURE_SIMD) {
      v128.store(out, tritBytes(trits5x16(p, 32)));
      v128.store(out + 16, tritBytes(trits5x16(p + 16, 32)));
      v128.store(out + 32, tritBytes(trits5x16(p + 160, 16)));
      // qh: the 16 values 240..255 hold trit n of qh[j] in byte 4n + j, i.e. i32 lane n
      let x = codes16(p + 240);
      let v = times3(x);
      v = times3(i8x16.add(v, v128.shuffle<i32>(x, x, 1, 1, 1, 1)));
      v = times3(i8x16.add(v, v128.shuffle<i32>(x, x, 2, 2, 2, 2)));
      v = times3(i8x16.add(v, v128.shuffle<i32>(x, x, 3, 3, 3, 3)));
      store<u32>(out + 48, i32x4.extract_lane(tritBytes(v), 0));
    } else {
      for (let m: usize = 0; m < 32; m++) store<u8>(out + m, tritByte(trits5(p + m, 32)));
      for (let m: usize = 0; m < 16; m++) store<u8>(out + 32 + m, tritByte(trits5(p + 160 + m, 16)));
      for (let j: usize = 0; j < 4; j++) {
        let v = ((codeAt(p + 240 + j) * 3 + codeAt(p + 244 + j)) * 3 + codeAt(p + 248 + j)) * 3 + codeAt(p + 252 + j);
        store<u8>(out + 48 + j, tritByte(v * 3));
      }
    }
    store<u16>(out + 52, <u16>d);
  }
  return invalidCount();
}

/** The five trits at p, p + stride, ..., first most significant. */
// @ts-ignore: decorator
@inline function trits5(p: usize, stride: usize): u32 {
  let v = codeAt(p);
  for (let n: usize = 1; n < 5; n++) v = v * 3 + codeAt(p + n * stride);
  return v;
}

/** ceil(v * 256 / 243) for v <= 242. */
// @ts-ignore: decorator
@inline function tritByte(v: u32): u8 {
  return <u8>((v * 256 + 242) / 243);
}

// @ts-ignore: decorator
@inline function times3(x: v128): v128 {
  return i8x16.add(x, i8x16.add(x, x));
}

/** trits5 for 16 consecutive bytes from p (SIMD builds only). */
// @ts-ignore: decorator
@inline function trits5x16(p: usize, stride: usize): v128 {
  let v = codes16(p);
  for (let n: usize = 1; n < 5; n++) v = i8x16.add(times3(v), codes16(p + n * stride));
  return v;
}

/** tritByte for 16 byte lanes (SIMD builds only); see the header for the proof. */
// @ts-ignore: decorator
@inline function tritBytes(v: v128): v128 {
  let k = i16x8.splat(126);
  let c = i16x8.splat(58);
  let b = i16x8.splat(274);
  let lo = i16x8.q15mulr_sat_s(i16x8.add(i16x8.mul(i16x8.extend_low_i8x16_u(v), k), c), b);
  let hi = i16x8.q15mulr_sat_s(i16x8.add(i16x8.mul(i16x8.extend_high_i8x16_u(v), k), c), b);
  return i8x16.narrow_i16x8_u(lo, hi);
}
