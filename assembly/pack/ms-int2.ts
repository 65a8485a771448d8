// packMsInt2: the int2 weight layout of microsoft/BitNet's GPU kernels (gpu/pack_weight.py;
// docs/formats.md section 5), only the packing: the Q/K row un-permutation and the scales are the host's.
// src is i8 [rows, cols] with rows % 16 == 0 and cols % 32 == 0; dst gets rows*cols/4 bytes.
//
// The reference builds it in three steps on codes c = q + 2 (1, 2, 3):
//  1. tiles of 16 x 32 in order [rows/16][cols/32][16][32]; tile element (i, j) comes from row
//     (t//16)*8 + t%8 and column j%16 + 16*((t%16)//8) of the block, with t = 2i + j//16;
//  2. 4 codes a byte, code k of a byte at bits 2k;
//  3. each 4 bytes read as a u32 of 16 codes (code o at bits 2o) and code o moved to bit
//     (o%4)*8 + (o//4)*2; the bytes stay in tile order.
// Here directly: a tile row i holds 32 codes = 2 u32 words, and word w = 2i + j//16 of a tile is
// exactly t. Its 16 codes (j%16 = o = 0..15) are the 16 consecutive columns 16*((t%16)//8) + o of
// the single block row (t//16)*8 + t%8. After step 3, byte b of the word holds codes o = b, b+4,
// b+8, b+12 at bits 0, 2, 4, 6. So: word t of tile (R, C) is made of 16 consecutive source bytes,
// and the output is tile after tile, 128 bytes each, which makes a chunk of 16*m rows one
// contiguous range of the output (bytes r0*cols/4 ..).
//
// c = q + 2 = code + 1 with code = q + 1 in 0..2 (ternary.ts): the words are built from codes and
// 0x55 is added to every byte (+1 in each 2-bit field; no carry, as a field holds at most 2).
import { codeAt, codes16, invalidCount, resetInvalid } from './ternary';

/** Returns how many inputs were not in {-1, 0, 1} (packed as 0, i.e. code 2). */
export function packMsInt2(src: usize, rows: u32, cols: u32, dst: usize): u32 {
  let stride = <usize>cols;
  let tileRows = <usize>rows >> 4;
  let tileCols = stride >> 5;
  resetInvalid();
  let out = dst;
  for (let tr: usize = 0; tr < tileRows; tr++) {
    for (let tc: usize = 0; tc < tileCols; tc++) {
      let block = src + (tr << 4) * stride + (tc << 5);
      if (ASC_FEATURE_SIMD) {
        // 4 words a step: words t..t+3 (t % 4 == 0) come from rows r..r+3 of the block, all at
        // column half h; transposing the four 16-code vectors by 32-bit lanes gathers codes o,
        // o+4, o+8, o+12 of the four words in the lanes of a0, a1, a2, a3.
        for (let t: usize = 0; t < 32; t += 4) {
          let p = block + rowOfWord(t) * stride + colOfWord(t);
          let s0 = codes16(p);
          let s1 = codes16(p + stride);
          let s2 = codes16(p + 2 * stride);
          let s3 = codes16(p + 3 * stride);
          let lo01 = v128.shuffle<i32>(s0, s1, 0, 4, 1, 5); // s0[0] s1[0] s0[1] s1[1]
          let lo23 = v128.shuffle<i32>(s2, s3, 0, 4, 1, 5);
          let hi01 = v128.shuffle<i32>(s0, s1, 2, 6, 3, 7);
          let hi23 = v128.shuffle<i32>(s2, s3, 2, 6, 3, 7);
          let a0 = v128.shuffle<i64>(lo01, lo23, 0, 2); // lane k = word k's codes 0..3
          let a1 = v128.shuffle<i64>(lo01, lo23, 1, 3); // codes 4..7
          let a2 = v128.shuffle<i64>(hi01, hi23, 0, 2); // codes 8..11
          let a3 = v128.shuffle<i64>(hi01, hi23, 1, 3); // codes 12..15
          let w = v128.or(v128.or(a0, i8x16.shl(a1, 2)), v128.or(i8x16.shl(a2, 4), i8x16.shl(a3, 6)));
          v128.store(out + (t << 2), i8x16.add(w, i8x16.splat(0x55)));
        }
      } else {
        for (let t: usize = 0; t < 32; t++) {
          let p = block + rowOfWord(t) * stride + colOfWord(t);
          let w: u32 = 0;
          for (let o: u32 = 0; o < 16; o++) w |= codeAt(p + o) << ((o & 3) * 8 + (o >> 2) * 2);
          store<u32>(out + (t << 2), w + 0x55555555);
        }
      }
      out += 128;
    }
  }
  return invalidCount();
}

/** Block row of word t of a tile: (t//16)*8 + t%8. */
// @ts-ignore: decorator
@inline function rowOfWord(t: usize): usize {
  return ((t >> 4) << 3) + (t & 7);
}

/** First block column of word t of a tile: 16*((t%16)//8). */
// @ts-ignore: decorator
@inline function colOfWord(t: usize): usize {
  return ((t >> 3) & 1) << 4;
}
