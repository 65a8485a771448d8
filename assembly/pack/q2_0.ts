// packQ2_0: GGUF Q2_0 (ggml type 42; docs/gguf.md section 7). Rows of cols % 64 == 0 values; each
// block of 64 values along a row is 18 bytes: the fp16 scale d first (its 16 bits are passed in and
// written in every block), then 16 bytes in which value j sits in byte j/4 at bits 2*(j%4) (first
// value in the LOW bits), as code q + 1. Rows are (cols / 64) * 18 bytes with nothing between them.
import { byteOf4, codes16, invalidCount, resetInvalid } from './ternary';

/** Returns how many inputs were not in {-1, 0, 1} (packed as 0). */
export function packQ2_0(src: usize, rows: u32, cols: u32, d: u32, dst: usize): u32 {
  let blocks = (<usize>rows * <usize>cols) >> 6; // rows never split a block: cols % 64 == 0
  resetInvalid();
  for (let b: usize = 0; b < blocks; b++) {
    let p = src + (b << 6);
    let out = dst + b * 18;
    store<u16>(out, <u16>d);
    if (ASC_FEATURE_SIMD) {
      // 16 codes, one a byte, give 4 bytes (codes 4k..4k+3 into byte k) by shifts on wider lanes:
      // in each i16 lane (c0 | c1 << 8), x | x >> 6 puts c1 beside c0 (bits 2-3); in each i32 lane of
      // that, y | y >> 12 puts the upper half's two codes at bits 4-7. Masked to the low byte, the
      // four i32 vectors narrow (no saturation: every lane is <= 255) to the 16 bytes in order.
      let b0 = fourBytes(codes16(p));
      let b1 = fourBytes(codes16(p + 16));
      let b2 = fourBytes(codes16(p + 32));
      let b3 = fourBytes(codes16(p + 48));
      v128.store(out + 2, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(b0, b1), i16x8.narrow_i32x4_u(b2, b3)));
    } else {
      for (let k: usize = 0; k < 16; k++) {
        let q = p + (k << 2);
        store<u8>(out + 2 + k, <u8>byteOf4(q, q + 1, q + 2, q + 3));
      }
    }
  }
  return invalidCount();
}

/** 16 codes (one a byte) -> 4 packed bytes, one in the low byte of each i32 lane, the rest zero. */
// @ts-ignore: decorator
@inline function fourBytes(c: v128): v128 {
  let x = v128.or(c, i16x8.shr_u(c, 6));
  x = v128.or(x, i32x4.shr_u(x, 12));
  return v128.and(x, i32x4.splat(0xff));
}
