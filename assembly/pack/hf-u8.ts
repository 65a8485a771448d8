// packHfU8: Hugging Face packed BitNet weights (transformers integrations/bitnet.py pack_weights;
// docs/formats.md section 1). A weight W [out, in] is stored as U8 [out/4, in]: with R = out/4, bits
// 2q..2q+1 of packed[r, c] hold W[q*R + r, c] + 1 (quarter q of the rows, not adjacent rows).
//
// Chunk contract: the host gathers packed rows r0..r0+rows-1 as four bands of rows*cols i8 each,
// band q (rows q*R + r0 ..) at src + q*rows*cols; dst[i] = sum over q of code(band_q[i]) << 2q
// writes rows*cols bytes, packed rows r0.. of the output. Per byte the element i of each band is
// independent of every other, so the whole chunk is one flat loop over i.
import { bytesOf4x16, byteOf4, invalidCount, resetInvalid } from './ternary';

/** Returns how many inputs were not in {-1, 0, 1} (packed as 0). */
export function packHfU8(src: usize, rows: u32, cols: u32, dst: usize): u32 {
  let n = <usize>rows * <usize>cols;
  resetInvalid();
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 16 <= n; i += 16) {
      let p = src + i;
      v128.store(dst + i, bytesOf4x16(p, p + n, p + 2 * n, p + 3 * n));
    }
  }
  for (; i < n; i++) {
    let p = src + i;
    store<u8>(dst + i, <u8>byteOf4(p, p + n, p + 2 * n, p + 3 * n));
  }
  return invalidCount();
}
