// packI2s: the code bytes of bitnet.cpp's I2_S (ggml type 36 in microsoft/BitNet's llama.cpp fork,
// x86 layout; docs/gguf.md section 4). cols % 128 == 0; with i = row*cols + col counted from src, the
// code q + 1 goes to byte 32*(i/128) + i%32 at bits 6 - 2*((i%128)/32): each group of 128 values
// is 32 bytes, its first 32 values in the HIGH bits (the opposite of TQ2_0). Writes rows*cols/4
// bytes; the host writes the tensor's 32-byte tail (f32 scale, then 28 zero bytes) after the last
// row. Groups never straddle rows, so a chunk of rows is the contiguous range from r0*cols/4.
import { bytesOf4x16, byteOf4, invalidCount, resetInvalid } from './ternary';

/** Returns how many inputs were not in {-1, 0, 1} (packed as 0). */
export function packI2s(src: usize, rows: u32, cols: u32, dst: usize): u32 {
  let groups = (<usize>rows * <usize>cols) >> 7;
  resetInvalid();
  for (let g: usize = 0; g < groups; g++) {
    let p = src + (g << 7);
    let out = dst + (g << 5);
    let m: usize = 0;
    if (ASC_FEATURE_SIMD) {
      for (; m < 32; m += 16) v128.store(out + m, bytesOf4x16(p + 96 + m, p + 64 + m, p + 32 + m, p + m));
    }
    for (; m < 32; m++) store<u8>(out + m, <u8>byteOf4(p + 96 + m, p + 64 + m, p + 32 + m, p + m));
  }
  return invalidCount();
}
