// unpackHfU8: one quarter of a Hugging Face packed BitNet weight back to i8 ternary values
// (the inverse of pack/hf-u8.ts; docs/formats.md section 1). Packed rows r0..r0+rows-1 (rows x cols
// bytes at src) give, for quarter q, the rows q*R + r0 .. of W: dst[i] = ((src[i] >> 2q) & 3) - 1.
//
// Code 3 is invalid (it would be +2): it is written as 2, and the index of the first one (within
// this chunk, row-major) is returned, -1 when there is none (the index fits an i32 for any chunk
// below 2 GiB).

export function unpackHfU8(src: usize, rows: u32, cols: u32, quarter: u32, dst: usize): i32 {
  let n = <usize>rows * <usize>cols;
  let shift = (quarter & 3) << 1;
  let first: i32 = -1;
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    let three = i8x16.splat(3);
    for (; i + 16 <= n; i += 16) {
      let c = v128.and(i8x16.shr_u(v128.load(src + i), shift), three);
      v128.store(dst + i, i8x16.sub(c, i8x16.splat(1)));
      let bad = i8x16.eq(c, three);
      if (v128.any_true(bad) && first < 0) first = <i32>(i + ctz<u32>(i8x16.bitmask(bad)));
    }
  }
  for (; i < n; i++) {
    let c = (<u32>load<u8>(src + i) >> shift) & 3;
    store<i8>(dst + i, <i8>(c - 1));
    if (c == 3 && first < 0) first = <i32>i;
  }
  return first;
}
