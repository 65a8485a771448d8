// absSum: sum of |x| in f64, in a fixed order, so SIMD == scalar bit for bit.
//
// Why f64: the reference rule takes the mean of |W| over a whole weight tensor (up to ~330 M
// elements) and rounds it to f32 and then bf16; to match it bit for bit whatever the summation
// order, the sum should be EXACT. A bf16 / f16 |x| has an 8 / 11-bit significand, so adding it to
// an f64 partial (53 bits) is exact as long as every partial (<= the total) stays below 2^53 times
// the smallest last-place bit among the terms: for BF16 whenever total < 2^45 * (smallest nonzero
// |x|); for F16 whenever total < 2^29 (every f16 is a multiple of 2^-24), i.e. always for weights.
// Then every addition is exact, the result is the exact sum, and neither the order nor the way
// the host splits a tensor into chunks changes it (the chunk results add up exactly too).
// Limit (measured): large BF16 tensors of continuous weights miss the condition by a few tiny
// elements (N(0, 0.02)-like: about 6 elements below total * 2^-45 at 17.7 M elements, ~1900 at
// 330 M; the exact sum then needs more than 53 bits). The result is then within about an f64 ulp
// of the exact sum and chunk splits can change its last bit; the f32 mean differs only if the
// exact mean lies within ~2^-50 relative of an f32 rounding boundary. For F32 input the result
// is within about n * 2^-53 relative of the exact sum.
//
// Order (specified so that the result is reproducible even where additions round): 8 f64 lanes,
// lane = i % 8 (i counted from src), each lane adding |x_i| in index order, where x_i is the
// element widened exactly to f32, |x| is taken by clearing the sign bit, and the f32 is promoted
// to f64. Result = (((l0 + l1) + l2) + ... + l7), sequentially in lane order. NaN/Inf propagate
// into the result (the host checks it with isFinite). Empty input gives +0.
import { BF16, F16 } from './codes';
import { loadBits, loadF32x4 } from './common';

export function absSum(dtype: u32, src: usize, n: u32): f64 {
  if (dtype == BF16) return absSumOf<u16>(src, n);
  if (dtype == F16) return absSumOf<i16>(src, n);
  return absSumOf<f32>(src, n);
}

/** |x| by clearing the sign bit (also what f32x4.abs does), promoted to f64. */
// @ts-ignore: decorator
@inline function absAt<T>(p: usize, i: usize): f64 {
  return <f64>reinterpret<f32>(loadBits<T>(p, i) & 0x7FFFFFFF);
}

function absSumOf<T>(p: usize, n: u32): f64 {
  let l0: f64 = 0, l1: f64 = 0, l2: f64 = 0, l3: f64 = 0;
  let l4: f64 = 0, l5: f64 = 0, l6: f64 = 0, l7: f64 = 0;
  let i: usize = 0;
  let end = <usize>n;
  if (ASC_FEATURE_SIMD) {
    // a01 holds lanes 0, 1; a23 lanes 2, 3; a45 lanes 4, 5; a67 lanes 6, 7: per lane the same
    // f64 additions, in the same order, as the scalar loop.
    let a01 = f64x2.splat(0), a23 = f64x2.splat(0), a45 = f64x2.splat(0), a67 = f64x2.splat(0);
    for (; i + 8 <= end; i += 8) {
      let x = f32x4.abs(loadF32x4<T>(p, i));
      let y = f32x4.abs(loadF32x4<T>(p, i + 4));
      a01 = f64x2.add(a01, f64x2.promote_low_f32x4(x));
      a23 = f64x2.add(a23, f64x2.promote_low_f32x4(v128.shuffle<f32>(x, x, 2, 3, 2, 3)));
      a45 = f64x2.add(a45, f64x2.promote_low_f32x4(y));
      a67 = f64x2.add(a67, f64x2.promote_low_f32x4(v128.shuffle<f32>(y, y, 2, 3, 2, 3)));
    }
    l0 = f64x2.extract_lane(a01, 0); l1 = f64x2.extract_lane(a01, 1);
    l2 = f64x2.extract_lane(a23, 0); l3 = f64x2.extract_lane(a23, 1);
    l4 = f64x2.extract_lane(a45, 0); l5 = f64x2.extract_lane(a45, 1);
    l6 = f64x2.extract_lane(a67, 0); l7 = f64x2.extract_lane(a67, 1);
  } else {
    for (; i + 8 <= end; i += 8) {
      l0 += absAt<T>(p, i);     l1 += absAt<T>(p, i + 1);
      l2 += absAt<T>(p, i + 2); l3 += absAt<T>(p, i + 3);
      l4 += absAt<T>(p, i + 4); l5 += absAt<T>(p, i + 5);
      l6 += absAt<T>(p, i + 6); l7 += absAt<T>(p, i + 7);
    }
  }
  // Final partial group (< 8 elements): i % 8 == 0, so element i + k is lane k.
  let r = end - i;
  if (r > 0) l0 += absAt<T>(p, i);
  if (r > 1) l1 += absAt<T>(p, i + 1);
  if (r > 2) l2 += absAt<T>(p, i + 2);
  if (r > 3) l3 += absAt<T>(p, i + 3);
  if (r > 4) l4 += absAt<T>(p, i + 4);
  if (r > 5) l5 += absAt<T>(p, i + 5);
  if (r > 6) l6 += absAt<T>(p, i + 6);
  return ((((((l0 + l1) + l2) + l3) + l4) + l5) + l6) + l7;
}
