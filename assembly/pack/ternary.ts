// Ternary input shared by the packers: i8 values in {-1, 0, +1} become the 2-bit code v + 1
// (-1 -> 0, 0 -> 1, +1 -> 2). Any other byte is invalid: it is packed as 0 (code 1) and counted.
// v in {-1, 0, 1} <=> (v + 1) as an unsigned number <= 2 (v + 1 wraps to >= 2^32 - 127 or is 2..128).
//
// The count lives in a module global (the kernels are single-threaded and never re-entered): each
// packer calls resetInvalid() first and returns invalidCount(). The SIMD helper only touches it in
// a branch taken for vectors holding an invalid value, so valid input costs one any_true a vector.

let invalid: u32 = 0;

// @ts-ignore: decorator
@inline export function resetInvalid(): void {
  invalid = 0;
}

// @ts-ignore: decorator
@inline export function invalidCount(): u32 {
  return invalid;
}

/** Code of the i8 at p: v + 1, or 1 (counted) for a value outside {-1, 0, 1}. */
// @ts-ignore: decorator
@inline export function codeAt(p: usize): u32 {
  let c = <u32>(<i32>load<i8>(p) + 1);
  if (c > 2) {
    invalid++;
    c = 1;
  }
  return c;
}

/** codeAt for the 16 i8 at p, one code a byte (SIMD builds only). */
// @ts-ignore: decorator
@inline export function codes16(p: usize): v128 {
  let c = i8x16.add(v128.load(p), i8x16.splat(1));
  let bad = i8x16.gt_u(c, i8x16.splat(2));
  if (v128.any_true(bad)) {
    invalid += popcnt<u32>(i8x16.bitmask(bad));
    c = v128.bitselect(i8x16.splat(1), c, bad);
  }
  return c;
}

/** One byte of four codes, the first in the low bits: c(p0) | c(p1) << 2 | c(p2) << 4 | c(p3) << 6. */
// @ts-ignore: decorator
@inline export function byteOf4(p0: usize, p1: usize, p2: usize, p3: usize): u32 {
  return codeAt(p0) | (codeAt(p1) << 2) | (codeAt(p2) << 4) | (codeAt(p3) << 6);
}

/** byteOf4 for 16 consecutive bytes from each pointer (SIMD builds only). */
// @ts-ignore: decorator
@inline export function bytesOf4x16(p0: usize, p1: usize, p2: usize, p3: usize): v128 {
  let b = v128.or(codes16(p0), i8x16.shl(codes16(p1), 2));
  b = v128.or(b, i8x16.shl(codes16(p2), 4));
  return v128.or(b, i8x16.shl(codes16(p3), 6));
}
