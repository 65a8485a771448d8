// quantize: one i8 in {-1, 0, +1} per element.
//
// Rule for one element (microsoft/BitNet quant_weight_int8): y = f32(x * s), y rounded to the
// input's precision (rounding code), q = clamp(round_half_even(y), -1, 1).
// Rounding codes: 0 = none, 1 = BF16 significand, 2 = F16 significand, all round-to-nearest-even:
//   BF16: (u + 0x7FFF + ((u >>> 16) & 1)) & 0xFFFF0000
//   F16:  (u + 0x0FFF + ((u >>> 13) & 1)) & 0xFFFFE000
// The F16 form ignores f16's subnormal range (|y| < 2^-14) and overflow (|y| > 65504); neither
// can change a comparison with +-0.5. Rounding f32(x * s) again is not a double rounding error:
// the product of two 8-bit (bf16) or 11-bit (f16) significands is exact in f32 (the host passes
// s already rounded to the input dtype).
//
// clamp(round_half_even(y), -1, 1) == (y > 0.5 ? 1 : y < -0.5 ? -1 : 0): round_half_even(y) >= 1
// exactly when y > 0.5 (0.5 itself is a tie and goes to the even 0), symmetrically for -1, and
// everything between rounds to (+-)0. NaN fails both comparisons -> 0; +-Inf -> +-1.
//
// Rounding is monotonic, so "round(y) > 0.5" equals "y > T" where T is the largest f32 that still
// rounds to 0.5: the tie just above 0.5, which goes down to the even 0.5. That turns the rounding
// into one comparison per element (tests check it against a literal rounding reference):
//   none: T = 0.5;  BF16: T = 0x3F008000 (0.501953125);  F16: T = 0x3F001000 (0.500244140625).
// The negative side is the mirror image (-T), as the rounding acts on the magnitude.
import { BF16, F16, ROUND_BF16, ROUND_F16 } from './codes';
import { loadF32, loadF32x4 } from './common';

/** T such that round(y) > 0.5 <=> y > T (see above); unknown codes act as "none". */
// @ts-ignore: decorator
@inline export function quantThreshold(rounding: u32): f32 {
  if (rounding == ROUND_BF16) return reinterpret<f32>(0x3F008000);
  if (rounding == ROUND_F16) return reinterpret<f32>(0x3F001000);
  return 0.5;
}

/** Ternary value of one product y, given the threshold t. */
// @ts-ignore: decorator
@inline export function ternaryOf(y: f32, t: f32): i32 {
  return <i32>(y > t) - <i32>(y < -t);
}

export function quantize(dtype: u32, rounding: u32, src: usize, n: u32, s: f32, dst: usize): void {
  let t = quantThreshold(rounding);
  if (dtype == BF16) quantizeOf<u16>(src, n, s, t, dst);
  else if (dtype == F16) quantizeOf<i16>(src, n, s, t, dst);
  else quantizeOf<f32>(src, n, s, t, dst);
}

function quantizeOf<T>(src: usize, n: u32, s: f32, t: f32, dst: usize): void {
  let i: usize = 0;
  let end = <usize>n;
  if (ASC_FEATURE_SIMD) {
    let sv = f32x4.splat(s);
    let tp = f32x4.splat(t);
    let tn = f32x4.splat(-t);
    for (; i + 16 <= end; i += 16) {
      let y0 = f32x4.mul(loadF32x4<T>(src, i), sv);
      let y1 = f32x4.mul(loadF32x4<T>(src, i + 4), sv);
      let y2 = f32x4.mul(loadF32x4<T>(src, i + 8), sv);
      let y3 = f32x4.mul(loadF32x4<T>(src, i + 12), sv);
      // all-ones masks narrowed to bytes stay all-ones (-1); N - P gives -1 / +1 / 0.
      let p = i8x16.narrow_i16x8_s(
        i16x8.narrow_i32x4_s(f32x4.gt(y0, tp), f32x4.gt(y1, tp)),
        i16x8.narrow_i32x4_s(f32x4.gt(y2, tp), f32x4.gt(y3, tp)));
      let m = i8x16.narrow_i16x8_s(
        i16x8.narrow_i32x4_s(f32x4.lt(y0, tn), f32x4.lt(y1, tn)),
        i16x8.narrow_i32x4_s(f32x4.lt(y2, tn), f32x4.lt(y3, tn)));
      v128.store(dst + i, i8x16.sub(m, p));
    }
  }
  for (; i < end; i++) store<i8>(dst + i, <i8>ternaryOf(loadF32<T>(src, i) * s, t));
}
