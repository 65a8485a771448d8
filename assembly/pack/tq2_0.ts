// packTq2_0: GGUF TQ2_0 (ggml type 35; docs/gguf.md section 4). Rows of cols % 256 == 0 values; each
// block of 256 values along a row is 66 bytes: qs[64], then the fp16 scale d (its 16 bits are
// passed in and written in every block). Element j = 128h + 32n + m (h 0..1, n 0..3, m 0..31) of a
// block goes to qs[32h + m] at bits 2n (first group in the LOW bits), as code q + 1.
// Rows are (cols / 256) * 66 bytes with nothing between them, so a chunk of rows is contiguous.
import { bytesOf4x16, byteOf4, invalidCount, resetInvalid } from './ternary';

/** Returns how many inputs were not in {-1, 0, 1} (packed as 0). */
export function packTq2_0(src: usize, rows: u32, cols: u32, d: u32, dst: usize): u32 {
  let blocks = (<usize>rows * <usize>cols) >> 8; // rows never split a block: cols % 256 == 0
  resetInvalid();
  for (let b: usize = 0; b < blocks; b++) {
    let p = src + (b << 8);
    let out = dst + b * 66;
    for (let h: usize = 0; h < 2; h++) {
      let q = p + (h << 7);
      let m: usize = 0;
      if (ASC_FEATURE_SIMD) {
        for (; m < 32; m += 16) {
          v128.store(out + (h << 5) + m, bytesOf4x16(q + m, q + 32 + m, q + 64 + m, q + 96 + m));
        }
      }
      for (; m < 32; m++) store<u8>(out + (h << 5) + m, <u8>byteOf4(q + m, q + 32 + m, q + 64 + m, q + 96 + m));
    }
    store<u16>(out + 64, <u16>d);
  }
  return invalidCount();
}
