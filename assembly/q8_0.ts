// quantizeQ8_0: GGUF Q8_0 (ggml type 8; docs/gguf.md 7) of n float elements, n % 32 == 0, as n / 32
// blocks of 34 bytes: the fp16 scale d, then 32 i8. Byte for byte what ggml's quantize_row_q8_0_ref
// computes, all in f32:
//   amax = max |x| over the block;  d = amax / 127;  id = d != 0 ? 1 / d : 0  (from the f32 d);
//   d stored as fp16, round to nearest even (convert.ts f16Of);  q = roundf(x * id), ties away from 0.
// C leaves (int8_t) of roundf(+-Inf) undefined. It happens only when 1 / d overflows (amax below
// 127 / FLT_MAX, about 3.7e-37: d is then fp16 zero and the block decodes to zeros whatever q holds);
// q is clamped to +-127 there and 0 * Inf (NaN) gives 0. Everywhere else |x * id| <= 127 plus a few
// ulps, so the clamp changes nothing. The host refuses NaN and infinite inputs before calling this.
import { BF16, F16 } from './codes';
import { loadF32, loadF32x4 } from './common';
import { f16Of } from './convert';

export function quantizeQ8_0(dtype: u32, src: usize, n: u32, dst: usize): void {
  if (dtype == BF16) q8Of<u16>(src, n, dst);
  else if (dtype == F16) q8Of<i16>(src, n, dst);
  else q8Of<f32>(src, n, dst);
}

function q8Of<T>(src: usize, n: u32, dst: usize): void {
  let blocks = <usize>(n >> 5);
  for (let b: usize = 0; b < blocks; b++) {
    let i = b << 5;
    let out = dst + b * 34;
    if (ASC_FEATURE_SIMD) {
      let x0 = loadF32x4<T>(src, i);
      let x1 = loadF32x4<T>(src, i + 4);
      let x2 = loadF32x4<T>(src, i + 8);
      let x3 = loadF32x4<T>(src, i + 12);
      let x4 = loadF32x4<T>(src, i + 16);
      let x5 = loadF32x4<T>(src, i + 20);
      let x6 = loadF32x4<T>(src, i + 24);
      let x7 = loadF32x4<T>(src, i + 28);
      let m = f32x4.max(
        f32x4.max(f32x4.max(f32x4.abs(x0), f32x4.abs(x1)), f32x4.max(f32x4.abs(x2), f32x4.abs(x3))),
        f32x4.max(f32x4.max(f32x4.abs(x4), f32x4.abs(x5)), f32x4.max(f32x4.abs(x6), f32x4.abs(x7))),
      );
      let amax = max<f32>(max<f32>(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max<f32>(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
      let d: f32 = amax / 127;
      let id: f32 = d != 0 ? <f32>1 / d : 0;
      store<u16>(out, <u16>f16Of(reinterpret<u32>(d)));
      let s = f32x4.splat(id);
      let lo = i16x8.narrow_i32x4_s(q8x4(f32x4.mul(x0, s)), q8x4(f32x4.mul(x1, s)));
      let hi = i16x8.narrow_i32x4_s(q8x4(f32x4.mul(x2, s)), q8x4(f32x4.mul(x3, s)));
      v128.store(out + 2, i8x16.narrow_i16x8_s(lo, hi));
      lo = i16x8.narrow_i32x4_s(q8x4(f32x4.mul(x4, s)), q8x4(f32x4.mul(x5, s)));
      hi = i16x8.narrow_i32x4_s(q8x4(f32x4.mul(x6, s)), q8x4(f32x4.mul(x7, s)));
      v128.store(out + 18, i8x16.narrow_i16x8_s(lo, hi));
    } else {
      let amax: f32 = 0;
      for (let j: usize = 0; j < 32; j++) amax = max<f32>(amax, abs<f32>(loadF32<T>(src, i + j)));
      let d: f32 = amax / 127;
      let id: f32 = d != 0 ? <f32>1 / d : 0;
      store<u16>(out, <u16>f16Of(reinterpret<u32>(d)));
      for (let j: usize = 0; j < 32; j++) store<i8>(out + 2 + j, <i8>q8(loadF32<T>(src, i + j) * id));
    }
  }
}

/** roundf(v) (ties away from zero) clamped to +-127, NaN -> 0. The fraction v - trunc(v) is exact in f32. */
// @ts-ignore: decorator
@inline function q8(v: f32): i32 {
  let t = trunc<f32>(v);
  let r = abs<f32>(v - t) >= 0.5 ? t + copysign<f32>(1, v) : t;
  r = min<f32>(max<f32>(r, -127), 127);
  return r == r ? <i32>r : 0;
}

/** q8 of 4 lanes, as i32 (trunc_sat turns NaN into 0, as q8 does). */
// @ts-ignore: decorator
@inline function q8x4(v: v128): v128 {
  let t = f32x4.trunc(v);
  let up = f32x4.ge(f32x4.abs(f32x4.sub(v, t)), f32x4.splat(0.5));
  let one = v128.or(f32x4.splat(1), v128.and(v, i32x4.splat(0x80000000)));
  let r = f32x4.add(t, v128.and(up, one));
  r = f32x4.min(f32x4.max(r, f32x4.splat(-127)), f32x4.splat(127));
  return i32x4.trunc_sat_f32x4_s(r);
}
