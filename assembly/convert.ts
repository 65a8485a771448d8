// convertFloats: n elements of one float dtype (codes.ts) to another, e.g. embeddings to F16 for
// GGUF. Every conversion goes through the exact f32 value of the element (common.ts loadBits):
//   - same dtype: a plain copy (bit exact);
//   - to F32 (widening): exact, NaN payloads kept bit for bit (this is widen());
//   - to BF16 / F16: round to nearest, ties to even, with the target's whole range: F16 overflows
//     to +-Inf from 65520 on (the tie above 65504 goes to the even Inf) and has subnormals; f32
//     subnormals become +-0. NaN stays NaN, made quiet: sign and the top payload bits kept, the
//     quiet bit set. (F16 -> BF16 and BF16 -> F16 widen exactly first, so they round once.)
//
// f32 bits u -> bf16: (u + 0x7FFF + ((u >> 16) & 1)) >> 16 adds just under half an ulp, plus one
// when the kept part is odd, so ties go to even; a carry moves into the exponent (up to Inf) as it
// should. NaN: (u >> 16) | 0x40.
// f32 magnitude a -> f16 (the method of F. Giesen's float_to_half_fast3_rtne, written anew):
//   a >= 2^16 (0x47800000): Inf, or NaN (0x7E00 | payload bits 22..13);
//   a < 2^-14 (0x38800000): f16 subnormal: the f32 sum a + 0.5 rounds a to a multiple of 2^-24
//     (the ulp of 0.5 is the f16 subnormal step) with the hardware's ties-to-even, and its low bits
//     are the f16 bits (2^-14 itself comes out as 0x400, the smallest normal);
//   else: exponent rebiased by -112 (add 0xC8000000), then the bf16 trick on 13 bits:
//     (a + 0xC8000000 + 0xFFF + ((a >> 13) & 1)) >> 13; from 65520 on the carry makes 0x7C00 (Inf).
// The SIMD path computes all three candidates for 4 lanes and selects, so it equals the scalar one.
// SIMD fast paths (same results, tested against the reference like the rest): 8 elements whose
// magnitudes are all in the f16 normal range skip the selects (F32 -> F16), and the 16-bit to 16-bit
// conversions work in 16-bit lanes for 8 elements in the common range (see the end of this file).
import { BF16, F16 } from './codes';
import { loadBits, loadF32x4 } from './common';
import { widen } from './widen';

export function convertFloats(srcDtype: u32, src: usize, n: u32, dstDtype: u32, dst: usize): void {
  if (srcDtype == dstDtype) memory.copy(dst, src, <usize>n << (srcDtype == BF16 || srcDtype == F16 ? 1 : 2));
  else if (dstDtype == BF16) narrowFrom<u16>(srcDtype, src, n, dst);
  else if (dstDtype == F16) narrowFrom<i16>(srcDtype, src, n, dst);
  else widen(srcDtype, src, n, dst);
}

/** D: the 16-bit target (u16 = BF16, i16 = F16, as in common.ts). */
function narrowFrom<D>(srcDtype: u32, src: usize, n: u32, dst: usize): void {
  if (srcDtype == BF16) narrowOf<u16, D>(src, n, dst);
  else if (srcDtype == F16) narrowOf<i16, D>(src, n, dst);
  else narrowOf<f32, D>(src, n, dst);
}

function narrowOf<S, D>(src: usize, n: u32, dst: usize): void {
  let i: usize = 0;
  let end = <usize>n;
  if (ASC_FEATURE_SIMD) {
    for (; i + 8 <= end; i += 8) v128.store(dst + (i << 1), narrow8<S, D>(src, i));
  }
  for (; i < end; i++) {
    let u = loadBits<S>(src, i);
    store<u16>(dst + (i << 1), <u16>(isSigned<D>() ? f16Of(u) : bf16Of(u)));
  }
}

/** Elements i..i+7 converted (SIMD builds only): a fast path for the common range, else all cases. */
// @ts-ignore: decorator
@inline function narrow8<S, D>(src: usize, i: usize): v128 {
  if (sizeof<S>() == 2) {
    let v = v128.load(src + (i << 1));
    if (isSigned<S>()) { // F16 -> BF16
      if (f16AllNormal(v)) return f16NormalToBf16(v);
    } else if (bf16AllF16Normal(v)) return bf16ToF16Normal(v); // BF16 -> F16
  }
  let lo = loadF32x4<S>(src, i);
  let hi = loadF32x4<S>(src, i + 4);
  // each lane is at most 0xFFFF, so the saturating narrow only drops the zero high halves
  if (!isSigned<D>()) return i16x8.narrow_i32x4_u(bf16x4(lo), bf16x4(hi));
  if (sizeof<S>() == 4 && f16Normal8(lo, hi)) return i16x8.narrow_i32x4_u(f16NormalX4(lo), f16NormalX4(hi));
  return i16x8.narrow_i32x4_u(f16x4(lo), f16x4(hi));
}

const NAN_ABOVE: u32 = 0x7F800000; // a magnitude above this is a NaN
const F16_INF_FROM: u32 = 0x47800000; // 2^16
const F16_NORMAL_FROM: u32 = 0x38800000; // 2^-14
const HALF: u32 = 0x3F000000; // 0.5
const REBIAS_ROUND: u32 = 0xC8000FFF; // (-112 << 23) + 0xFFF

// @ts-ignore: decorator
@inline function bf16Of(u: u32): u32 {
  if ((u & 0x7FFFFFFF) > NAN_ABOVE) return (u >> 16) | 0x40;
  return (u + 0x7FFF + ((u >> 16) & 1)) >> 16;
}

// @ts-ignore: decorator
@inline export function f16Of(u: u32): u32 {
  let sign = (u >> 16) & 0x8000;
  let a = u & 0x7FFFFFFF;
  if (a >= F16_INF_FROM) return sign | (a > NAN_ABOVE ? 0x7E00 | ((a >> 13) & 0x3FF) : 0x7C00);
  if (a < F16_NORMAL_FROM) return sign | (reinterpret<u32>(reinterpret<f32>(a) + reinterpret<f32>(HALF)) - HALF);
  return sign | ((a + REBIAS_ROUND + ((a >> 13) & 1)) >> 13);
}

// @ts-ignore: decorator
@inline function bf16x4(u: v128): v128 {
  let rounded = i32x4.shr_u(i32x4.add(u, i32x4.add(i32x4.splat(0x7FFF), v128.and(i32x4.shr_u(u, 16), i32x4.splat(1)))), 16);
  let quiet = v128.or(i32x4.shr_u(u, 16), i32x4.splat(0x40));
  let nan = i32x4.gt_s(v128.and(u, i32x4.splat(0x7FFFFFFF)), i32x4.splat(NAN_ABOVE));
  return v128.bitselect(quiet, rounded, nan);
}

/** Whether all 8 lanes are in the normal f16 range before rounding, 2^-14 <= |x| < 2^16. */
// @ts-ignore: decorator
@inline function f16Normal8(lo: v128, hi: v128): bool {
  let base = i32x4.splat(F16_NORMAL_FROM);
  let span = i32x4.splat(F16_INF_FROM - F16_NORMAL_FROM);
  // |x| - 2^-14 below the span, unsigned: one compare for both bounds
  let inLo = i32x4.lt_u(i32x4.sub(v128.and(lo, i32x4.splat(0x7FFFFFFF)), base), span);
  let inHi = i32x4.lt_u(i32x4.sub(v128.and(hi, i32x4.splat(0x7FFFFFFF)), base), span);
  return i32x4.all_true(v128.and(inLo, inHi));
}

/** The f16 sign bit of 4 f32 lanes. */
// @ts-ignore: decorator
@inline function f16SignX4(u: v128): v128 {
  return v128.and(i32x4.shr_u(u, 16), i32x4.splat(0x8000));
}

/** The normal-range candidate of f16Of for 4 magnitudes a. */
// @ts-ignore: decorator
@inline function f16NormalBitsX4(a: v128): v128 {
  return i32x4.shr_u(i32x4.add(i32x4.add(a, i32x4.splat(REBIAS_ROUND)), v128.and(i32x4.shr_u(a, 13), i32x4.splat(1))), 13);
}

/** f16x4 for lanes known to be in the normal range (f16Normal8). */
// @ts-ignore: decorator
@inline function f16NormalX4(u: v128): v128 {
  return v128.or(f16NormalBitsX4(v128.and(u, i32x4.splat(0x7FFFFFFF))), f16SignX4(u));
}

// @ts-ignore: decorator
@inline function f16x4(u: v128): v128 {
  let a = v128.and(u, i32x4.splat(0x7FFFFFFF)); // non-negative as i32: signed compares are fine
  let payload = v128.and(i32x4.shr_u(a, 13), i32x4.splat(0x3FF));
  let nan = i32x4.gt_s(a, i32x4.splat(NAN_ABOVE));
  let special = v128.or(i32x4.splat(0x7C00), v128.and(nan, v128.or(i32x4.splat(0x200), payload)));
  let sub = i32x4.sub(f32x4.add(a, i32x4.splat(HALF)), i32x4.splat(HALF));
  let r = v128.bitselect(sub, f16NormalBitsX4(a), i32x4.lt_s(a, i32x4.splat(F16_NORMAL_FROM)));
  r = v128.bitselect(special, r, i32x4.ge_s(a, i32x4.splat(F16_INF_FROM)));
  return v128.or(r, f16SignX4(u));
}

// 16-bit to 16-bit in 16-bit lanes, for 8 elements whose magnitudes m = bits & 0x7FFF are all in
// the range where the conversion is a shift and a rebias (the common case: weights and embeddings).
//   BF16 -> F16 for 2^-14 <= |x| < 2^16 (0x3880 <= m < 0x4780): exact (8 significant bits fit in
//     11): f16 = (m - (112 << 7)) << 3.
//   F16 -> BF16 for normal f16 (0x0400 <= m < 0x7C00): the 3 low fraction bits rounded to nearest
//     even as bf16Of does with 16, then the exponent rebiased: ((m + 3 + ((m >> 3) & 1)) >> 3) + (112 << 7)
//     (65504 rounds up to 0x4780 = 65536, finite in bf16).
// Each range test is one unsigned compare, m - low < high - low.

// @ts-ignore: decorator
@inline function bf16AllF16Normal(v: v128): bool {
  let m = v128.and(v, i16x8.splat(0x7FFF));
  return i16x8.all_true(i16x8.lt_u(i16x8.sub(m, i16x8.splat(0x3880)), i16x8.splat(0x4780 - 0x3880)));
}

// @ts-ignore: decorator
@inline function bf16ToF16Normal(v: v128): v128 {
  let m = v128.and(v, i16x8.splat(0x7FFF));
  return v128.or(i16x8.shl(i16x8.sub(m, i16x8.splat(0x3800)), 3), v128.and(v, i16x8.splat(<i16>0x8000)));
}

// @ts-ignore: decorator
@inline function f16AllNormal(v: v128): bool {
  let m = v128.and(v, i16x8.splat(0x7FFF));
  return i16x8.all_true(i16x8.lt_u(i16x8.sub(m, i16x8.splat(0x0400)), i16x8.splat(0x7C00 - 0x0400)));
}

// @ts-ignore: decorator
@inline function f16NormalToBf16(v: v128): v128 {
  let m = v128.and(v, i16x8.splat(0x7FFF));
  let odd = v128.and(i16x8.shr_u(m, 3), i16x8.splat(1));
  let r = i16x8.add(i16x8.shr_u(i16x8.add(i16x8.add(m, i16x8.splat(3)), odd), 3), i16x8.splat(0x3800));
  return v128.or(r, v128.and(v, i16x8.splat(<i16>0x8000)));
}
