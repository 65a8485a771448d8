// countRows: for each of `rows` rows of `cols` i8 ternary values at src, the count of zeros and the sum
// of the values, as two i32 at dst + 8*r (from these, minus = (nonzero - sum) / 2, plus = (nonzero + sum) / 2).
// What the statistics of inspect and convert --report are counted from, at kernel speed.

export function countRows(src: usize, rows: u32, cols: u32, dst: usize): void {
  for (let r: u32 = 0; r < rows; r++) {
    let p = src + <usize>r * <usize>cols;
    let end = p + <usize>cols;
    let zeros: i32 = 0;
    let sum: i32 = 0;
    if (ASC_FEATURE_SIMD) {
      let acc = i32x4.splat(0);
      let zero = i8x16.splat(0);
      for (; p + 16 <= end; p += 16) {
        let v = v128.load(p);
        zeros += <i32>popcnt<u32>(i8x16.bitmask(i8x16.eq(v, zero)));
        acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(v)));
      }
      sum = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
    }
    for (; p < end; p++) {
      let v = <i32>load<i8>(p);
      sum += v;
      zeros += v == 0 ? 1 : 0;
    }
    store<i32>(dst + (<usize>r << 3), zeros);
    store<i32>(dst + (<usize>r << 3), sum, 4);
  }
}
