// widen: n input elements -> n f32 at dst (bit exact, NaN payloads kept).
import { BF16, F16 } from './codes';
import { loadBits, halfToF32x4 } from './common';

export function widen(dtype: u32, src: usize, n: u32, dst: usize): void {
  if (dtype == BF16) widenOf<u16>(src, n, dst);
  else if (dtype == F16) widenOf<i16>(src, n, dst);
  else memory.copy(dst, src, <usize>n << 2);
}

function widenOf<T>(src: usize, n: u32, dst: usize): void {
  let i: usize = 0;
  let end = <usize>n;
  if (ASC_FEATURE_SIMD) {
    // 8 elements per step: one 16-byte load, split into two i32x4 halves.
    for (; i + 8 <= end; i += 8) {
      let v = v128.load(src + (i << 1));
      let lo = i32x4.extend_low_i16x8_u(v);
      let hi = i32x4.extend_high_i16x8_u(v);
      if (isSigned<T>()) { // F16
        lo = halfToF32x4(lo);
        hi = halfToF32x4(hi);
      } else { // BF16
        lo = i32x4.shl(lo, 16);
        hi = i32x4.shl(hi, 16);
      }
      v128.store(dst + (i << 2), lo);
      v128.store(dst + (i << 2), hi, 16);
    }
  }
  for (; i < end; i++) store<u32>(dst + (i << 2), loadBits<T>(src, i));
}
