// firstNonFinite: the index of the first Inf or NaN among n elements, or n when all are finite.
//
// Why: a float tensor copied as stored (an embedding F16 -> F16) needs only this check, and the
// absSum it used cost a widening and an f64 sum per element. A value is non-finite when its
// exponent bits are all ones: F32 0x7F800000, BF16 0x7F80, F16 0x7C00 (per element, no arithmetic).
import { BF16, F16 } from './codes';

export function firstNonFinite(dtype: u32, src: usize, n: u32): u32 {
  if (dtype == BF16) return first16(src, n, 0x7F80);
  if (dtype == F16) return first16(src, n, 0x7C00);
  return first32(src, n);
}

function first16(p: usize, n: u32, exp: u16): u32 {
  let i: u32 = 0;
  if (ASC_FEATURE_SIMD) {
    const mask = i16x8.splat(exp);
    // 8 elements per vector; a vector with a hit is left to the scalar loop, which names the element
    for (; i + 8 <= n; i += 8) {
      if (v128.any_true(i16x8.eq(v128.and(v128.load(p + (<usize>i << 1)), mask), mask))) break;
    }
  }
  for (; i < n; i++) if ((load<u16>(p + (<usize>i << 1)) & exp) == exp) return i;
  return n;
}

function first32(p: usize, n: u32): u32 {
  let i: u32 = 0;
  if (ASC_FEATURE_SIMD) {
    const mask = i32x4.splat(0x7F800000);
    for (; i + 4 <= n; i += 4) {
      if (v128.any_true(i32x4.eq(v128.and(v128.load(p + (<usize>i << 2)), mask), mask))) break;
    }
  }
  for (; i < n; i++) if ((load<u32>(p + (<usize>i << 2)) & 0x7F800000) == 0x7F800000) return i;
  return n;
}
