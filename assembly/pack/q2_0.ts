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
      // 64 codes, one a byte; gather bytes 4k..4k+3 into byte k: shuffle each lane's 4 codes of a
      // group together, then or the four groups, shifted 0, 2, 4, 6
      let c0 = codes16(p);
      let c1 = codes16(p + 16);
      let c2 = codes16(p + 32);
      let c3 = codes16(p + 48);
      // after the shuffles, lane k of gN holds code 4k + N of the block (k 0..15)
      let g0 = gather(c0, c1, c2, c3, 0);
      let g1 = gather(c0, c1, c2, c3, 1);
      let g2 = gather(c0, c1, c2, c3, 2);
      let g3 = gather(c0, c1, c2, c3, 3);
      let v = v128.or(g0, i8x16.shl(g1, 2));
      v = v128.or(v, i8x16.shl(g2, 4));
      v128.store(out + 2, v128.or(v, i8x16.shl(g3, 6)));
    } else {
      for (let k: usize = 0; k < 16; k++) {
        let q = p + (k << 2);
        store<u8>(out + 2 + k, <u8>byteOf4(q, q + 1, q + 2, q + 3));
      }
    }
  }
  return invalidCount();
}

/** Codes 4k + n (k 0..15) of the 64 in a..d (16 each): lanes 0..3 from a, 4..7 from b, 8..11 from c, 12..15 from d. */
// @ts-ignore: decorator
@inline function gather(a: v128, b: v128, c: v128, d: v128, n: u32): v128 {
  // within a pair of vectors, codes n, n+4, n+8, n+12 of each go to lanes 0..7 (lane indices must be constants)
  let ab = a;
  let cd = c;
  switch (n) {
    case 0: ab = i8x16.shuffle(a, b, 0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0); cd = i8x16.shuffle(c, d, 0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0); break;
    case 1: ab = i8x16.shuffle(a, b, 1, 5, 9, 13, 17, 21, 25, 29, 0, 0, 0, 0, 0, 0, 0, 0); cd = i8x16.shuffle(c, d, 1, 5, 9, 13, 17, 21, 25, 29, 0, 0, 0, 0, 0, 0, 0, 0); break;
    case 2: ab = i8x16.shuffle(a, b, 2, 6, 10, 14, 18, 22, 26, 30, 0, 0, 0, 0, 0, 0, 0, 0); cd = i8x16.shuffle(c, d, 2, 6, 10, 14, 18, 22, 26, 30, 0, 0, 0, 0, 0, 0, 0, 0); break;

    default: ab = i8x16.shuffle(a, b, 3, 7, 11, 15, 19, 23, 27, 31, 0, 0, 0, 0, 0, 0, 0, 0); cd = i8x16.shuffle(c, d, 3, 7, 11, 15, 19, 23, 27, 31, 0, 0, 0, 0, 0, 0, 0, 0);
  }
  return i64x2.shuffle(ab, cd, 0, 2);
}
